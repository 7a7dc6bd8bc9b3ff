#!/usr/bin/env bash
# The benchmark (make bench): on a fleet of HOSTS testenv hosts, side by side,
#   (a)  the floor: a bare OpenSSH login running `true` on every host;
#   (a') the same floor with handover's key exchange (curve25519-sha256);
#   (b0) `handover inventory` alone (read-only: the first phase of (b));
#   (b)  `handover run --yes` doing the whole handover of the fleet;
#   (b0') `handover inventory` and (b1) `handover check` on the estate (b)
#        left, side by side (check's target: at most 1.2x that inventory);
#   (c)  ansible-playbook doing the inventory, rotation, key and agent work;
# each from a freshly reset fleet and at the same parallelism; then the
# LDAP inventory of a directory of LDAP_USERS users, and the Vault measure
# (bench/vault.sh, VAULT_TOKENS tokens). It prints a table and
# writes the figures to bench/results/ (latest.{txt,md,json} and a copy
# under the run's date); the logs, playbooks, journal and reports stay in
# the work directory it prints.
#
# Then the mail measure (bench/mail.sh: MAILBOXES mailboxes, 200; 0 to skip
# it), whose figures go to bench/results/mail-latest.*.
#
# Settings (environment): HOSTS (100), PARALLEL (16), LDAP_USERS (10000,
# 0 to skip the LDAP measure), VAULT_TOKENS (10000, 0 to skip the Vault
# measure; VAULT_CONCURRENCY, 16), SETTLE (seconds to wait after each fleet
# reset before measuring, 10), REPEAT (3: runs of (a), (a'), (b0) and (b),
# the median one reported; Ansible runs once), HANDOVER_TESTENV_DIR.
#
# The fleet and the directory are shared with other engineers' tests: the
# whole fleet part holds the fleet's test lock (exclusive), the LDAP part
# the slapd one, and what was changed is put back before each is released
# (fleet reset to its planted state and to the size it had, at least 5
# hosts; directory back to 50 users).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH

HOSTS=${HOSTS:-100}
REPEAT=${REPEAT:-3}
PARALLEL=${PARALLEL:-16}
LDAP_USERS=${LDAP_USERS:-10000}
DEFAULT_HOSTS=5
DEFAULT_LDAP_USERS=50
export HANDOVER_TESTENV_DIR=${HANDOVER_TESTENV_DIR:-/var/tmp/handover-testenv}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d /var/tmp/handover-bench-"$stamp".XXXX)
results=bench/results
mkdir -p "$results" "$HANDOVER_TESTENV_DIR"
log() { printf '%s bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# The binaries measured are built into the work directory from the tree as
# it is now: bin/ may be rebuilt by someone else during the run.
TE=$work/bin/testenv
HO=$work/bin/handover
MEASURE=$work/bin/measure
FLEETBOOK=$work/bin/fleetbook
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
# What is measured, said now: the tree may change while the benchmark runs.
built="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd handover connectors 2>/dev/null || echo ' with uncommitted changes in cmd, handover or connectors')"
go build -ldflags "-X main.version=$version" -o "$HO" ./cmd/handover
go build -o "$TE" ./testenv/cmd/testenv
go build -o "$MEASURE" ./bench/cmd/measure
go build -o "$FLEETBOOK" ./bench/cmd/fleetbook
command -v ansible-playbook >/dev/null || { log "ansible-playbook is missing: run make deps"; exit 1; }

# Every command started while a lock is held runs with fd 9 closed: a
# process that inherits it (a fleet host started by testenv, an ssh
# ControlPersist master) would hold the lock after this script ends.
nolock() { "$@" 9>&-; }

env_json=$HANDOVER_TESTENV_DIR/env.json
fleet_size() { [ -f "$env_json" ] && jq '.fleet.hosts // [] | length' "$env_json" || echo 0; }

# reset_fleet puts every host back to its planted state. A host that fails
# to boot during the reset is started again by `up`, which is idempotent.
reset_fleet() {
	if ! nolock "$TE" reset -only fleet >>"$work/testenv.log" 2>&1; then
		log "reset left some hosts down (see $work/testenv.log); starting them again"
		nolock "$TE" up -only fleet >>"$work/testenv.log" 2>&1
	fi
	# Restarting 100 hosts leaves the kernel busy for a few seconds
	# (reclaiming the old overlays' pages): let it settle before measuring.
	sleep "${SETTLE:-10}"
}

# --- the fleet -------------------------------------------------------------
exec 9>>"$HANDOVER_TESTENV_DIR/fleet.tests.lock"
log "waiting for the fleet's test lock (other tests may be using the fleet)"
flock 9
prior=$(fleet_size)
fleet_done=0
restore_fleet() {
	[ "$fleet_done" = 1 ] && return
	fleet_done=1
	want=$((prior > DEFAULT_HOSTS ? prior : DEFAULT_HOSTS))
	if [ "$(fleet_size)" -gt "$want" ]; then
		log "fleet back to $want hosts"
		nolock "$TE" down -only fleet >>"$work/testenv.log" 2>&1
		nolock "$TE" up -only fleet -hosts "$want" >>"$work/testenv.log" 2>&1
	fi
	reset_fleet
	exec 9>&-
}
trap 'restore_fleet' EXIT

log "fleet of $HOSTS hosts (it had $prior)"
nolock "$TE" up -only fleet -hosts "$HOSTS" >>"$work/testenv.log" 2>&1
nolock "$FLEETBOOK" -hosts "$HOSTS" -parallel "$PARALLEL" -out "$work"
key=$(jq -r .fleet.operator_key "$env_json")
known=$(jq -r .fleet.known_hosts "$env_json")

floor() { # floor LABEL OUT [ssh options]
	local label=$1 out=$2
	shift 2
	nolock "$MEASURE" run -label "$label" -o "$out" -servers "fleet:$HOSTS" -- \
		xargs -a "$work/hosts.txt" -P "$PARALLEL" -I{} \
		ssh -i "$key" -o UserKnownHostsFile="$known" -o BatchMode=yes "$@" root@{} true
}

# median NAME: of the REPEAT runs NAME.1.json ... measured, the one with
# the median wall time becomes NAME.json, the table's; every run's wall
# time is listed in runs.txt.
median() {
	local name=$1 files=()
	for i in $(seq 1 "$REPEAT"); do [ -f "$work/$name.$i.json" ] && files+=("$work/$name.$i.json"); done
	[ ${#files[@]} -gt 0 ] || return 0
	jq -s 'sort_by(.wall_s) | .[(length - 1) / 2 | floor]' "${files[@]}" >"$work/$name.json"
	printf '%s: %s\n' "$(jq -r .label "$work/$name.json")" "$(jq -rs 'map(.wall_s * 100 | round / 100 | tostring) | join(" ")' "${files[@]}")" >>"$work/runs.txt"
}
: >"$work/runs.txt"

reset_fleet
for i in $(seq 1 "$REPEAT"); do
	log "(a) floor: ssh root@host true on $HOSTS hosts, $PARALLEL at once ($i/$REPEAT)"
	floor "(a) ssh true" "$work/a.$i.json" >"$work/a.$i.log" 2>&1 || true
	log "(a') floor with -o KexAlgorithms=curve25519-sha256 ($i/$REPEAT)"
	floor "(a') ssh true, curve25519" "$work/a-kex.$i.json" -o KexAlgorithms=curve25519-sha256 >"$work/a-kex.$i.log" 2>&1 || true
done
median a
median a-kex

# Read-only, so on the planted fleet as it is: the inventory part of (b).
for i in $(seq 1 "$REPEAT"); do
	log "(b0) handover inventory on $HOSTS hosts ($i/$REPEAT, log: $work/b0.$i.log)"
	nolock "$MEASURE" run -label "(b0) handover inventory" -o "$work/b0.$i.json" -servers "fleet:$HOSTS" -- \
		"$HO" inventory "$work/fleet.yaml" >"$work/b0.$i.log" 2>&1 || true
done
median b0

# Each run on a freshly reset fleet, with a state directory (secret store,
# journal, reports) of its own.
for i in $(seq 1 "$REPEAT"); do
	reset_fleet
	nolock "$FLEETBOOK" -hosts "$HOSTS" -parallel "$PARALLEL" -out "$work/b.$i" >/dev/null
	log "(b) handover run --yes on $HOSTS hosts ($i/$REPEAT, log: $work/b.$i.log)"
	nolock "$MEASURE" run -label "(b) handover run" -o "$work/b.$i.json" -servers "fleet:$HOSTS" -- \
		"$HO" run --yes "$work/b.$i/fleet.yaml" >"$work/b.$i.log" 2>&1 || true
	grep -E '^Result:' "$work/b.$i.log" >&2 || log "(b) printed no result: see $work/b.$i.log"
done
median b

# Read-only again, on the estate the last run left, side by side:
# (b0') `handover inventory` and (b1) `handover check` of the same playbook
# (against that run's signed report: the baseline verified, a read-only
# pass trying every stored credential, the dossier diff). The target:
# (b1) costs at most 1.2x (b0'), the inventory of the same hosts in the
# same state, with the same credentials (the store opened, the rotated
# access key). Alternated, so a drift of the machine's speed hits both.
for i in $(seq 1 "$REPEAT"); do
	log "(b0') handover inventory after the run on $HOSTS hosts ($i/$REPEAT, log: $work/b0after.$i.log)"
	nolock "$MEASURE" run -label "(b0') handover inventory after the run" -o "$work/b0after.$i.json" -servers "fleet:$HOSTS" -- \
		"$HO" inventory "$work/b.$REPEAT/fleet.yaml" >"$work/b0after.$i.log" 2>&1 || true
	log "(b1) handover check on $HOSTS hosts ($i/$REPEAT, log: $work/b1.$i.log)"
	nolock "$MEASURE" run -label "(b1) handover check" -o "$work/b1.$i.json" -servers "fleet:$HOSTS" -- \
		"$HO" check -o "$work/b1.$i.check.json" "$work/b.$REPEAT/fleet.yaml" >"$work/b1.$i.log" 2>&1 || true
	grep -E 'drift item' "$work/b1.$i.log" >&2 || log "(b1) printed no summary: see $work/b1.$i.log"
done
median b0after
median b1
if [ -f "$work/b1.json" ] && [ -f "$work/b0after.json" ]; then
	jq -rn --slurpfile c "$work/b1.json" --slurpfile i "$work/b0after.json" \
		'"(b1)/(b0\u0027) check over inventory of the same hosts: \($c[0].wall_s / $i[0].wall_s * 100 | round / 100)x wall, \($c[0].cpu_s / $i[0].cpu_s * 100 | round / 100)x CPU, \(($c[0].cpu_s + $c[0].server_cpu_s) / ($i[0].cpu_s + $i[0].server_cpu_s) * 100 | round / 100)x CPU with the servers\u0027 (target: at most 1.2x) -- \(if $c[0].wall_s <= 1.2 * $i[0].wall_s then "MET" else "MISSED" end)"' | tee -a "$work/runs.txt" >&2
fi

reset_fleet
log "(c) ansible-playbook on $HOSTS hosts, $PARALLEL forks (log: $work/c.log)"
mkdir -p "$work/ansible-creds"
ANSIBLE_CONFIG=$PWD/bench/ansible/ansible.cfg nolock "$MEASURE" run -label "(c) ansible-playbook" -o "$work/c.json" -servers "fleet:$HOSTS" -- \
	ansible-playbook -i "$work/inventory.yml" -f "$PARALLEL" -e creds_dir="$work/ansible-creds" bench/ansible/handover.yml >"$work/c.log" 2>&1 || true
sed -n '/^PLAY RECAP/,$p' "$work/c.log" | awk '/ ok=/ {n++; if (!/unreachable=0 +failed=0 /) bad++}
	END {print "(c) " n " host(s) in the recap, " bad + 0 " failed or unreachable"}' >&2

restore_fleet
trap - EXIT

# --- the directory ---------------------------------------------------------
ldap_args=()
if [ "$LDAP_USERS" -gt 0 ]; then
	exec 8>>"$HANDOVER_TESTENV_DIR/slapd.tests.lock"
	log "waiting for the directory's test lock"
	flock 8
	restore_ldap() {
		log "directory back to $DEFAULT_LDAP_USERS users"
		"$TE" up -only slapd -ldap-users "$DEFAULT_LDAP_USERS" >>"$work/testenv.log" 2>&1 8>&-
		exec 8>&-
	}
	trap 'restore_ldap' EXIT
	log "directory of $LDAP_USERS users"
	start=$(date +%s.%N)
	"$TE" up -only slapd -ldap-users "$LDAP_USERS" >>"$work/testenv.log" 2>&1 8>&-
	log "directory of $(jq .ldap.users "$env_json") accounts loaded in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s"
	"$FLEETBOOK" -hosts 0 -parallel "$PARALLEL" -out "$work/ldap" 8>&-
	log "handover inventory of the directory (log: $work/ldap.log)"
	"$MEASURE" run -label "LDAP inventory, $LDAP_USERS users" -o "$work/ldap.json" -servers ldap -- \
		"$HO" inventory -o "$work/ldap-inventory.json" "$work/ldap/ldap.yaml" >"$work/ldap.log" 2>&1 8>&- || true
	restore_ldap
	trap - EXIT
	ldap_args=(-ldap "$work/ldap.json")
fi

# --- the figures -----------------------------------------------------------
{
	echo "handover benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "command:   make bench   (HOSTS=$HOSTS PARALLEL=$PARALLEL LDAP_USERS=$LDAP_USERS REPEAT=$REPEAT)"
	echo "handover:  $("$HO" version 2>/dev/null), $built"
	echo "ansible:   $(ansible-playbook --version | head -n 1)"
	echo "openssh:   $(ssh -V 2>&1)"
	echo "machine:   $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GB, $(uname -sr)"
	echo "work dir:  $work"
	echo "runs:      wall s of each run; the table shows the median one"
	sed 's/^/           /' "$work/runs.txt"
	echo
} >"$work/header.txt"
nolock "$MEASURE" table -floor "$work/a.json" -floor-kex "$work/a-kex.json" -inventory "$work/b0.json" -handover "$work/b.json" -ansible "$work/c.json" "${ldap_args[@]}" \
	-json "$work/results.json" -md "$work/results.md" >"$work/table.txt"
cat "$work/header.txt" "$work/table.txt" >"$results/latest.txt"
{ sed 's/^/    /' "$work/header.txt"; cat "$work/results.md"; } >"$results/latest.md"
cp "$work/results.json" "$results/latest.json"
mkdir -p "$results/$stamp"
cp "$results/latest.txt" "$results/latest.md" "$results/latest.json" "$results/$stamp/"
cat "$results/latest.txt"

# --- Vault -----------------------------------------------------------------
# Its own script and table (bench/results/vault-latest.md); VAULT_TOKENS=0
# skips it.
if [ "${VAULT_TOKENS:-10000}" -gt 0 ]; then
	VAULT_BENCH_WORK=$work/vault nolock bash bench/vault.sh || log "the Vault measure failed: see $work/vault"
fi

failed=$(jq '[.records[] | select(.exit_code != 0)] | length' "$results/latest.json")
if [ "$failed" -gt 0 ]; then
	log "$failed run(s) did not exit 0: see the logs in $work"
	exit 1
fi

if [ "${MAILBOXES:-200}" != 0 ]; then
	log "mail measure: bench/mail.sh"
	bash bench/mail.sh
fi
