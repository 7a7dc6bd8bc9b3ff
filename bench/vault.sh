#!/usr/bin/env bash
# The Vault measure (part of make bench, or on its own): the testenv's Vault
# holding VAULT_TOKENS tokens, side by side,
#   (v)  `handover inventory` of a playbook with only the Vault target: the
#        whole inventory (tokens by LIST auth/token/accessors + one
#        lookup-accessor each, VAULT_CONCURRENCY in flight, plus policies,
#        logins, identity, KV metadata...);
#   (vr) the reference a user would write (bench/vault-reference.sh): curl
#        listing the accessors, then one curl process looking every accessor
#        up, VAULT_CONCURRENCY transfers in parallel (curl --parallel), token
#        from a 0600 header file, never on a command line;
# each measured by bench/cmd/measure (wall, CPU, peak RSS of the tree). To
# show memory stays flat in the number of tokens, handover's inventory is
# also measured at VAULT_TOKENS/10 first.
#
# At full size each is measured VAULT_ROUNDS times (3), alternating, the
# Vault's CPU let settle before each, and the median kept.
#
# Settings (environment): VAULT_TOKENS (10000), VAULT_CONCURRENCY (16),
# VAULT_ROUNDS (3), HANDOVER_TESTENV_DIR. The Vault is shared with other engineers' tests: the
# measure holds its test lock (exclusive) and resets it before releasing it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH

VAULT_TOKENS=${VAULT_TOKENS:-10000}
VAULT_CONCURRENCY=${VAULT_CONCURRENCY:-16}
export HANDOVER_TESTENV_DIR=${HANDOVER_TESTENV_DIR:-/var/tmp/handover-testenv}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=${VAULT_BENCH_WORK:-$(mktemp -d /var/tmp/handover-bench-vault-"$stamp".XXXX)}
mkdir -p "$work/bin"
log() { printf '%s bench vault: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

TE=$work/bin/testenv
HO=$work/bin/handover
MEASURE=$work/bin/measure
TOKENS=$work/bin/vaulttokens
go build -o "$HO" ./cmd/handover
go build -o "$TE" ./testenv/cmd/testenv
go build -o "$MEASURE" ./bench/cmd/measure
go build -o "$TOKENS" ./bench/cmd/vaulttokens

env_json=$HANDOVER_TESTENV_DIR/env.json
exec 8>>"$HANDOVER_TESTENV_DIR/vault.tests.lock"
log "waiting for the Vault's test lock"
flock 8
restore() {
	log "Vault back to its planted state"
	"$TE" reset -only vault >>"$work/testenv.log" 2>&1 8>&- || log "reset failed: see $work/testenv.log"
}
trap restore EXIT

addr=$(jq -r .vault.addr "$env_json")
ca=$(jq -r .ca_cert "$env_json")
root=$(jq -r .vault.root_token_file "$env_json")
umask 077
printf 'X-Vault-Token: %s\n' "$(cat "$root")" >"$work/header"
printf 'bench store passphrase, not a secret\n' >"$work/passphrase"

cat >"$work/vault.yaml" <<YAML
version: 1
handover:
  client: {name: Bench}
  outgoing: {name: Prestanet Informatique}
  date: 2026-01-01
state: $work/state
secrets:
  file:
    path: $work/secrets.age
    passphrase: \${file:$work/passphrase}
outgoing:
  names: [Prestanet Informatique]
  domains: [prestanet.test]
  accounts: ["prestanet*"]
targets:
  - name: coffre
    type: vault
    address: $addr
    ca_cert: $ca
    token: \${file:$root}
    concurrency: $VAULT_CONCURRENCY
YAML

vault_pid() { jq -r .vault.pid "$env_json"; }
# settle waits until the Vault's CPU is quiet (under 5 % of a core over a
# second, at most 30 s): creating thousands of tokens leaves Vault work to
# finish (leases registered, garbage), which would otherwise be charged to
# whichever measure runs first.
settle() {
	local pid a b i
	pid=$(vault_pid)
	for i in $(seq 1 30); do
		a=$(awk '{print $14+$15}' "/proc/$pid/stat")
		sleep 1
		b=$(awk '{print $14+$15}' "/proc/$pid/stat")
		[ $((b - a)) -lt 5 ] && return 0
	done
	log "the Vault did not settle in 30 s"
}

# measure_at N TAG ROUNDS: a fresh Vault with N more tokens, then ROUNDS
# rounds of handover's inventory and the reference, alternating, the
# Vault settled before each; the median round of each is kept.
measure_at() {
	local n=$1 tag=$2 rounds=$3 i
	"$TE" reset -only vault >>"$work/testenv.log" 2>&1 8>&-
	log "creating $n tokens"
	"$TOKENS" -addr "$addr" -ca "$ca" -token-file "$root" -n "$n" 8>&-
	for i in $(seq 1 "$rounds"); do
		settle
		log "handover inventory ($n tokens, round $i)"
		"$MEASURE" run -label "handover inventory, Vault with $n tokens" -servers vault -o "$work/v-$tag-$i.json" -- \
			"$HO" inventory -o "$work/inventory-$tag.json" "$work/vault.yaml" >"$work/v-$tag.log" 2>&1 8>&-
		jq -r '.[0].systems[0].facts[] | select(.name=="tokens") | "  handover saw tokens: \(.value)"' "$work/inventory-$tag.json" >&2 || true
		[ "$tag" = small ] && continue
		settle
		log "reference: curl list + lookup-accessor ($n tokens, round $i)"
		"$MEASURE" run -label "curl LIST accessors + lookup-accessor each, $VAULT_CONCURRENCY in parallel" -servers vault -o "$work/vr-$tag-$i.json" -- \
			bash bench/vault-reference.sh "$ca" "$work/header" "$addr" "$work" "$VAULT_CONCURRENCY" >"$work/vr-$tag.log" 2>&1 8>&-
		tail -n 1 "$work/vr-$tag.log" >&2
	done
	jq -s 'sort_by(.wall_s) | .[(length - 1) / 2 | floor]' "$work"/v-"$tag"-*.json >"$work/v-$tag.json"
	if [ "$tag" != small ]; then
		jq -s 'sort_by(.wall_s) | .[(length - 1) / 2 | floor]' "$work"/vr-"$tag"-*.json >"$work/vr-$tag.json"
	fi
}

small=$((VAULT_TOKENS / 10))
measure_at "$small" small 1
measure_at "$VAULT_TOKENS" full "${VAULT_ROUNDS:-3}"

row() { jq -r '"| \(.label) | \(.wall_s * 100 | round / 100) s | \(.cpu_s * 100 | round / 100) s | \(.server_cpu_s * 100 | round / 100) s | \(.max_rss_mb * 10 | round / 10) MB | \(.exit_code) |"' "$1"; }
{
	echo "Vault measure ($stamp, $(git rev-parse --short HEAD)): VAULT_TOKENS=$VAULT_TOKENS VAULT_CONCURRENCY=$VAULT_CONCURRENCY, median of ${VAULT_ROUNDS:-3} alternating rounds"
	echo
	echo "| what | wall | CPU (controller) | CPU (Vault) | peak RSS (largest process) | exit |"
	echo "|---|---|---|---|---|---|"
	row "$work/v-small.json"
	row "$work/v-full.json"
	row "$work/vr-full.json"
	echo
	echo "Memory flat in the number of tokens: handover's peak RSS at $small and at $VAULT_TOKENS tokens above."
} | tee "$work/vault.md"
mkdir -p bench/results
cp "$work/vault.md" bench/results/vault-latest.md
log "work directory: $work"
