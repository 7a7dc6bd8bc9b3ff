# Reads what the configuration names, as root, without changing anything.
# Each argument is KIND:PATH:
#   file:PATH       the file's content ("@@file" record), or "@@absent",
#                   "@@link" (a symbolic link: not followed)
#   dir:PATH        every *.sieve file of a directory (sieve_before...)
#   glob:PATTERN    every file a pattern names (an !include of Dovecot's)
#   postmap:T:PATH  the entries Postfix uses (postmap -s T:PATH)
#   postalias:T:PATH  the same for an aliases table (postalias -s)
#   forwards:-      every .forward file of root and of /home
#   du:PATH         the size of a directory in KiB (du -sk)
#   acls:PATH       every dovecot-acl file under a mail directory (the acl
#                   plugin's vfile backend), links not followed
#   logins:PATH     from a Dovecot log, the last login line of each user
# Records are "@@KIND NAME CONTENT", NAME and CONTENT in base64.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rec() {
	printf '@@%s %s ' "$1" "$(printf '%s' "$2" | base64 -w0)"
	base64 -w0
	echo
}
readfile() {
	if [ -L "$1" ]; then
		printf '' | rec link "$1"
	elif [ ! -f "$1" ]; then
		printf '' | rec absent "$1"
	else
		# shellcheck disable=SC2094 # rec writes to stdout, not to the file
		rec file "$1" <"$1"
	fi
}
for arg in "$@"; do
	kind=${arg%%:*}
	rest=${arg#*:}
	case $kind in
	file) readfile "$rest" ;;
	dir)
		if [ -d "$rest" ]; then
			for f in "$rest"/*.sieve; do
				[ -e "$f" ] && readfile "$f"
			done
		else
			readfile "$rest"
		fi
		;;
	glob)
		# shellcheck disable=SC2086 # the pattern is meant to expand
		for f in $rest; do
			{ [ -e "$f" ] || [ -L "$f" ]; } && readfile "$f"
		done
		;;
	postmap) postmap -s "$rest" 2>&1 | rec postmap "$rest" ;;
	postalias) postalias -s "$rest" 2>&1 | rec postalias "$rest" ;;
	du)
		if [ -d "$rest" ]; then
			du -sk -- "$rest" 2>/dev/null | cut -f1 | rec du "$rest"
		fi
		;;
	acls)
		if [ -d "$rest" ] && [ ! -L "$rest" ]; then
			find "$rest" -name dovecot-acl \( -type f -o -type l \) 2>/dev/null | while read -r f; do
				readfile "$f"
			done
		fi
		;;
	logins)
		if [ -f "$rest" ]; then
			awk -F'user=<' '/-login: Info: Login: user=</ { split($2, a, ">"); last[a[1]] = $0 } END { for (u in last) print last[u] }' "$rest" | rec logins "$rest"
		fi
		;;
	forwards)
		for f in /root/.forward /home/*/.forward; do
			[ -e "$f" ] && readfile "$f"
		done
		;;
	esac
done
true
