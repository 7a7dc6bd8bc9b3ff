#!/usr/bin/env bash
# The mail measure: on the testenv mail host (component mailhost) with
# MAILBOXES extra mailboxes planted, side by side,
#   (m0) `handover inventory` of the mail target (read-only);
#   (m1) `handover run --yes` rotating every mailbox's password, with its
#        IMAP proofs (new works, old refused) and the rest of the mail
#        handover (master user, forwards);
#   (m2) the reference: a shell loop doing the rotations the way an admin
#        would, per mailbox one `ssh` running `doveadm pw` (the password on
#        stdin) and editing the passwd-file; then one auth cache flush, a
#        second for Dovecot to see the file, and per mailbox two
#        `curl imaps://` logins (new works, old refused);
# each from a freshly reset mail host. It prints wall time and peak RSS and
# writes the figures to bench/results/mail-latest.{txt,json}.
#
# Settings (environment): MAILBOXES (200), HANDOVER_TESTENV_DIR.
#
# The mail host is shared with other engineers' tests: the whole measure
# holds its test lock (exclusive) and resets the host when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$HOME/go/bin:$PATH

MAILBOXES=${MAILBOXES:-200}
export HANDOVER_TESTENV_DIR=${HANDOVER_TESTENV_DIR:-/var/tmp/handover-testenv}
D=$HANDOVER_TESTENV_DIR
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d /var/tmp/handover-bench-mail-"$stamp".XXXX)
results=bench/results
mkdir -p "$results"
log() { printf '%s bench-mail: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

TE=$work/bin/testenv
HO=$work/bin/handover
MEASURE=$work/bin/measure
go build -o "$HO" ./cmd/handover
go build -o "$TE" ./testenv/cmd/testenv
go build -o "$MEASURE" ./bench/cmd/measure
for tool in curl openssl ssh; do
	command -v "$tool" >/dev/null || { log "$tool is missing"; exit 1; }
done

HOST=127.0.3.1
DOMAIN=mairie-saint-exemple.test
KEY=$D/fleet/keys/operator_ed25519
KH=$D/mailhost/known_hosts
CA=$D/ca/ca.pem
SSH=(ssh -i "$KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes)
nolock() { "$@" 9>&-; }

exec 9>"$D/mailhost.tests.lock"
flock 9
trap 'nolock "$TE" reset -only mailhost >/dev/null 2>&1 || :' EXIT

# plant: reset the host, then add the bench mailboxes (passwords in
# 0600 files here, hashed locally with openssl on stdin; the users lines
# go to the host on ssh's stdin).
plant() {
	nolock "$TE" reset -only mailhost >/dev/null
	mkdir -p "$work/pw"
	chmod 700 "$work/pw"
	: >"$work/users"
	for i in $(seq -w 1 "$MAILBOXES"); do
		u=bench$i@$DOMAIN
		[ -f "$work/pw/$u" ] || (umask 077 && openssl rand -base64 18 | tr -d '/+=\n' >"$work/pw/$u")
		h=$(openssl passwd -6 -stdin <"$work/pw/$u")
		printf '%s:{SHA512-CRYPT}%s:5000:5000::/var/vmail/%s/bench%s::\n' "$u" "$h" "$DOMAIN" "$i" >>"$work/users"
	done
	nolock "${SSH[@]}" root@$HOST 'cat >> /etc/dovecot/users' <"$work/users"
}

playbook() {
	cat <<EOF
version: 1
handover:
  client: {name: Mairie de Saint-Exemple}
  outgoing: {name: Prestanet Informatique}
  date: 2026-11-23
state: $work/state
secrets:
  file: {path: $work/secrets.age, passphrase: "\${file:$D/operator/store-passphrase}"}
signing: {key: $D/operator/signing_ed25519, identity: dsi@mairie-saint-exemple.test}
outgoing:
  domains: [prestanet.test]
  accounts: ["prestanet*"]
policy:
  rotate: {admins: true}
targets:
  - name: messagerie
    type: mail
    host: $HOST
    system: mail
    ssh: {key_file: $KEY, known_hosts: $KH}
    ca_cert: $CA
    smtp: $HOST:25
    mailboxes:
EOF
	for f in "$work"/pw/*; do
		# shellcheck disable=SC2016 # a reference for handover, not for the shell
		printf '      - {login: %s, password: "${file:%s}"}\n' "$(basename "$f")" "$f"
	done
}

log "work directory: $work"
plant
playbook >"$work/playbook.yaml"
log "(m0) handover inventory, $MAILBOXES mailboxes"
nolock "$MEASURE" run -label "(m0) handover inventory" -o "$work/m0.json" -- \
	"$HO" inventory "$work/playbook.yaml" >"$work/m0.log" 2>&1
log "(m1) handover run, $MAILBOXES mailboxes"
nolock "$MEASURE" run -label "(m1) handover run" -o "$work/m1.json" -- \
	"$HO" run --yes "$work/playbook.yaml" >"$work/m1.log" 2>&1

# The reference loop: what an admin would script. Passwords never on a
# command line: doveadm pw reads them on stdin, curl from a netrc file.
cat >"$work/loop.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
work=$1 host=$2 key=$3 kh=$4 ca=$5
ssh=(ssh -i "$key" -o UserKnownHostsFile="$kh" -o StrictHostKeyChecking=yes -o BatchMode=yes)
umask 077
fails=0
mkdir -p "$work/new"
for f in "$work"/pw/*; do
	u=$(basename "$f")
	openssl rand -base64 18 | tr -d '/+=\n' >"$work/new/$u"
	# doveadm pw asks twice; the new hash replaces the user's line.
	{ cat "$work/new/$u"; echo; cat "$work/new/$u"; echo; } |
		"${ssh[@]}" root@"$host" "h=\$(doveadm pw -s SHA512-CRYPT) && awk -F: -v OFS=: -v u='$u' -v h=\"\$h\" '\$1 == u { \$2 = h } { print }' /etc/dovecot/users > /etc/dovecot/users.new && cat /etc/dovecot/users.new > /etc/dovecot/users && rm /etc/dovecot/users.new"
done
"${ssh[@]}" root@"$host" doveadm auth cache flush
sleep 1 # Dovecot looks at a passwd-file at most once a second
for f in "$work"/pw/*; do
	u=$(basename "$f")
	printf 'machine %s login %s password %s\n' "$host" "$u" "$(cat "$work/new/$u")" >"$work/netrc"
	curl -s --cacert "$ca" --netrc-file "$work/netrc" "imaps://$host/" >/dev/null || fails=$((fails + 1))
	printf 'machine %s login %s password %s\n' "$host" "$u" "$(cat "$f")" >"$work/netrc"
	if curl -s --cacert "$ca" --netrc-file "$work/netrc" "imaps://$host/" >/dev/null; then fails=$((fails + 1)); fi
	mv "$work/new/$u" "$f"
done
rm -f "$work/netrc"
echo "failed proofs: $fails"
[ "$fails" = 0 ]
EOF
chmod +x "$work/loop.sh"
plant
log "(m2) shell loop: ssh doveadm pw + curl imaps, $MAILBOXES mailboxes"
nolock "$MEASURE" run -label "(m2) shell loop (ssh doveadm pw, curl imaps)" -o "$work/m2.json" -- \
	"$work/loop.sh" "$work" "$HOST" "$KEY" "$KH" "$CA" >"$work/m2.log" 2>&1

python3 - "$work" "$MAILBOXES" "$results" <<'EOF'
import json, sys
work, n, results = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.load(open(f"{work}/{k}.json")) for k in ("m0", "m1", "m2")]
lines = [f"mail measure: {n} mailboxes on the testenv mail host", ""]
lines.append(f"{'':48} {'exit':>4} {'wall s':>8} {'CPU s':>7} {'peak RSS MB':>11}")
for r in rows:
    lines.append(f"{r['label']:48} {r['exit_code']:>4} {r['wall_s']:>8.2f} {r['cpu_s']:>7.2f} {r['tree_peak_rss_mb']:>11.1f}")
ratio = rows[2]["wall_s"] / rows[1]["wall_s"] if rows[1]["wall_s"] else 0
lines += ["", f"handover run vs the shell loop: {ratio:.2f} times faster (target: at least 1)"]
text = "\n".join(lines) + "\n"
print(text, end="")
open(f"{results}/mail-latest.txt", "w").write(text)
json.dump({"mailboxes": int(n), "records": rows}, open(f"{results}/mail-latest.json", "w"), indent=2)
EOF
tail -n 1 "$work/m2.log" >&2
log "logs, playbook, journal and reports in $work"
