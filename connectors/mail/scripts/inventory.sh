# Reads the mail server, as root, without changing anything: Dovecot's
# and Postfix's versions and configuration (doveconf -n, postconf -n) and
# every user's Sieve scripts (doveadm sieve list -A, then each script with
# doveadm -f json sieve get: the only output form that holds a script
# exactly).
# With the argument "auth", only the versions and doveconf -n (what a
# rotation needs).
# Each record is "@@KIND NAME CONTENT": NAME and CONTENT in base64 on one
# line (an empty NAME is "-"); "@@status KIND CODE" gives a command's exit
# status.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rec() {
	name=-
	[ -z "$2" ] || name=$(printf '%s' "$2" | base64 -w0)
	printf '@@%s %s ' "$1" "$name"
	base64 -w0
	echo
}
for tool in doveconf doveadm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "@@missing $tool"
		exit 0
	fi
done
hostname -f 2>/dev/null | rec hostname ""
dovecot --version 2>&1 | rec dovecot-version ""
doveconf -n 2>&1 | rec doveconf ""
if command -v postconf >/dev/null 2>&1; then
	postconf -h mail_version 2>&1 | rec postfix-version ""
	postconf -n 2>&1 | rec postconf ""
fi
[ "${1-}" != auth ] || exit 0
list=$(mktemp) || exit 1
doveadm sieve list -A >"$list" 2>&1
echo "@@status sieve-list $?"
rec sieve-list "" <"$list"
while read -r user rest; do
	script=${rest% ACTIVE}
	if [ -z "$user" ] || [ -z "$script" ]; then
		continue
	fi
	doveadm -f json sieve get -u "$user" "$script" 2>/dev/null | rec sieve "$user
$script"
done <"$list"
rm -f "$list"
