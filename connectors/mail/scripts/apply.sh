# Functions that change the mail server, as root, one step each. Each step
# prints "@@ok STEP" or "@@fail STEP REASON" (REASON in base64) and the
# next step runs whatever the outcome. The connector appends the calls
# with quoted arguments, then "finish". Contents come in base64 arguments
# of the script itself, which reaches sh on stdin: no password and no hash
# is ever on a command line.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
failed=0
ok() { echo "@@ok $1"; }
fail() {
	printf '@@fail %s %s\n' "$1" "$(printf '%s' "$2" | base64 -w0)"
	failed=1
}

# write_file STEP PATH EXPECT_SHA256 CONTENT_B64: replaces PATH with the
# content if it still has the content that was read (EXPECT_SHA256),
# through a temporary file in the same directory with PATH's owner and
# mode, renamed over it. A symbolic link (the file or a directory on its
# path) is refused: the edit never follows one.
write_file() {
	step=$1 path=$2 expect=$3 content=$4
	case $path in
	/*) ;;
	*) fail "$step" "$path: not an absolute path" && return ;;
	esac
	if [ -L "$path" ]; then
		fail "$step" "$path is a symbolic link: not followed" && return
	fi
	if [ "$(readlink -f -- "$path")" != "$path" ]; then
		fail "$step" "a directory on the path of $path is a symbolic link: not followed" && return
	fi
	if [ ! -f "$path" ]; then
		fail "$step" "$path is not a regular file" && return
	fi
	cur=$(sha256sum <"$path" | cut -d' ' -f1)
	if [ "$cur" != "$expect" ]; then
		fail "$step" "$path changed since it was read: nothing written" && return
	fi
	dir=$(dirname -- "$path")
	tmp=$(mktemp "$dir/.handover.XXXXXX") || {
		fail "$step" "cannot make a temporary file in $dir" && return
	}
	if printf '%s' "$content" | base64 -d >"$tmp" &&
		chown --reference="$path" -- "$tmp" &&
		chmod --reference="$path" -- "$tmp" &&
		sync -- "$tmp" 2>/dev/null; then
		if mv -f -- "$tmp" "$path"; then
			ok "$step"
			return
		fi
	fi
	rm -f -- "$tmp"
	fail "$step" "could not replace $path"
}

# sieve_replace STEP USER SCRIPT BACKUP EXPECT_SHA256 OLD_B64 NEW_B64:
# if the user's script is still the one that was read (EXPECT_SHA256 of
# doveadm -f json sieve get), keeps it under the name BACKUP (inactive),
# then replaces it with the new content once sievec has compiled it. The
# script's active state is kept.
sieve_replace() {
	step=$1 user=$2 script=$3 backup=$4 expect=$5 old=$6 new=$7
	cur=$(doveadm -f json sieve get -u "$user" "$script" 2>/dev/null | sha256sum | cut -d' ' -f1)
	if [ "$cur" != "$expect" ]; then
		fail "$step" "the script changed since it was read: nothing written"
		return
	fi
	work=$(mktemp -d) || {
		fail "$step" "cannot make a temporary directory" && return
	}
	printf '%s' "$old" | base64 -d >"$work/old.sieve"
	printf '%s' "$new" | base64 -d >"$work/new.sieve"
	if ! sievec "$work/new.sieve" "$work/new.svbin" >"$work/err" 2>&1; then
		fail "$step" "sievec refused the rewritten script: $(head -n 3 "$work/err" | tr '\n' ' ')"
		rm -rf -- "$work"
		return
	fi
	if ! doveadm sieve put -u "$user" "$backup" <"$work/old.sieve" 2>"$work/err"; then
		fail "$step" "keeping the backup $backup: $(head -n 1 "$work/err")"
		rm -rf -- "$work"
		return
	fi
	if ! doveadm sieve put -u "$user" "$script" <"$work/new.sieve" 2>"$work/err"; then
		fail "$step" "doveadm sieve put: $(head -n 1 "$work/err")"
		rm -rf -- "$work"
		return
	fi
	rm -rf -- "$work"
	ok "$step"
}

# sieve_global STEP PATH BACKUP EXPECT_SHA256 OLD_B64 NEW_B64: a global
# script (sieve_before...), root's file: the new content compiled by
# sievec first, the old one kept as BACKUP (a name Dovecot does not run),
# the file replaced (write_file), then compiled in place for Dovecot.
sieve_global() {
	gstep=$1 gpath=$2 gbackup=$3 gexpect=$4 gold=$5 gnew=$6
	work=$(mktemp -d) || {
		fail "$gstep" "cannot make a temporary directory" && return
	}
	printf '%s' "$gnew" | base64 -d >"$work/new.sieve"
	if ! sievec "$work/new.sieve" "$work/new.svbin" >"$work/err" 2>&1; then
		fail "$gstep" "sievec refused the rewritten script: $(head -n 3 "$work/err" | tr '\n' ' ')"
		rm -rf -- "$work"
		return
	fi
	rm -rf -- "$work"
	if [ -e "$gbackup" ] || [ -L "$gbackup" ]; then
		fail "$gstep" "$gbackup exists already" && return
	fi
	if ! (umask 022 && printf '%s' "$gold" | base64 -d >"$gbackup"); then
		fail "$gstep" "keeping the backup $gbackup" && return
	fi
	write_file "$gstep" "$gpath" "$gexpect" "$gnew"
	sievec "$gpath" >/dev/null 2>&1 || :
}

# conf_replace STEP PATH EXPECT_SHA256 BACKUP CONTENT_B64: a file of
# Dovecot's configuration replaced (write_file) once its old content is
# kept as BACKUP (a name no !include of Dovecot's matches); doveconf -n
# must then read the whole configuration, else the old file is put back
# and nothing is reloaded; then Dovecot reloads it.
conf_replace() {
	cstep=$1 cpath=$2 cexpect=$3 cbackup=$4 cnew=$5
	if [ -e "$cbackup" ] || [ -L "$cbackup" ]; then
		fail "$cstep" "$cbackup exists already" && return
	fi
	if [ -L "$cpath" ] || ! cp -p -- "$cpath" "$cbackup"; then
		fail "$cstep" "keeping the backup $cbackup" && return
	fi
	wout=$(write_file "$cstep" "$cpath" "$cexpect" "$cnew")
	case $wout in
	"@@ok "*) ;;
	*)
		echo "$wout"
		failed=1
		rm -f -- "$cbackup"
		return
		;;
	esac
	if ! err=$(doveconf -n 2>&1 >/dev/null); then
		if cp -p -- "$cbackup" "$cpath.handover-restore" && mv -f -- "$cpath.handover-restore" "$cpath"; then
			fail "$cstep" "doveconf -n refused the edited configuration; the old file was put back, nothing reloaded: $(printf '%s' "$err" | head -n 3 | tr '\n' ' ')"
		else
			fail "$cstep" "doveconf -n refused the edited configuration and the old file could not be put back from $cbackup: $(printf '%s' "$err" | head -n 3 | tr '\n' ' ')"
		fi
		return
	fi
	if ! err=$(doveadm reload 2>&1); then
		fail "$cstep" "the configuration was edited and doveconf -n reads it, but doveadm reload failed: $err"
		return
	fi
	# Until Dovecot answers again (its services restart), 10 s at most.
	i=0
	while [ "$i" -lt 50 ] && ! doveadm who >/dev/null 2>&1; do
		sleep 0.2
		i=$((i + 1))
	done
	ok "$cstep"
}

# forward_write STEP PATH EXPECT_SHA256 BACKUP CONTENT_B64: a .forward
# replaced, its old content kept as BACKUP (a name the mail system does not
# read); an empty CONTENT_B64 removes it instead. In a directory an
# account owns (its home), the whole edit runs as that account (setpriv,
# no PAM), so that a link it swaps in meanwhile gives the edit no right the
# account lacks; in root's own directory, as root (write_file).
forward_write() {
	fstep=$1 fpath=$2 fexpect=$3 fbackup=$4 fnew=$5
	fdir=$(dirname -- "$fpath")
	if [ -L "$fdir" ] || [ -L "$fpath" ]; then
		fail "$fstep" "$fpath or its directory is a symbolic link: not followed, not touched" && return
	fi
	if ! fowner=$(stat -c %u -- "$fdir") || ! fgroup=$(stat -c %g -- "$fdir"); then
		fail "$fstep" "cannot read the owner of $fdir" && return
	fi
	if [ "$fowner" = 0 ]; then
		if [ "$(sha256sum <"$fpath" | cut -d' ' -f1)" != "$fexpect" ]; then
			fail "$fstep" "$fpath changed since it was read: nothing written" && return
		fi
		if [ -e "$fbackup" ] || ! cp -p -- "$fpath" "$fbackup"; then
			fail "$fstep" "keeping the backup $fbackup" && return
		fi
		if [ -n "$fnew" ]; then
			write_file "$fstep" "$fpath" "$fexpect" "$fnew"
		elif rm -f -- "$fpath"; then
			ok "$fstep"
		else
			fail "$fstep" "cannot remove $fpath"
		fi
		return
	fi
	if ! command -v setpriv >/dev/null 2>&1; then
		fail "$fstep" "setpriv is not installed: $fpath is not edited as its owner (uid $fowner), so not at all" && return
	fi
	if out=$(printf '%s' "$fnew" | base64 -d | setpriv --reuid="$fowner" --regid="$fgroup" --clear-groups -- /bin/sh -c "$forward_as_owner" sh "$fpath" "$fexpect" "$fbackup" "${fnew:+write}" 2>&1); then
		ok "$fstep"
	else
		fail "$fstep" "as uid $fowner, who owns $fdir: $out"
	fi
}
# shellcheck disable=SC2016 # expanded by the shell that runs it
forward_as_owner='cd / || exit 1
f=$1 want=$2 backup=$3 op=$4
d=$(dirname -- "$f")
umask 077
if [ -L "$f" ] || [ ! -f "$f" ]; then echo "$f is a symbolic link or not a regular file: not touched"; exit 1; fi
have=$(sha256sum < "$f" | cut -d" " -f1)
[ "$have" = "$want" ] || { echo "$f changed since it was read: not touched"; exit 1; }
set -C
cat "$f" > "$backup" || { echo "cannot keep the backup $backup"; exit 1; }
set +C
if [ "$op" != write ]; then rm -f -- "$f"; exit; fi
tmp=$(mktemp "$d/.handover.XXXXXX") || exit 1
cat > "$tmp" && chmod --reference="$f" -- "$tmp" && mv -f -- "$tmp" "$f" || { rm -f -- "$tmp"; exit 1; }'

# run STEP COMMAND...: one command as a step.
run() {
	step=$1
	shift
	if out=$("$@" 2>&1); then
		ok "$step"
	else
		fail "$step" "$*: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
	fi
}

# try STEP COMMAND...: a command whose failure is reported, not fatal to
# anything (doveadm kick of a user with no session).
try() {
	step=$1
	shift
	"$@" >/dev/null 2>&1 || :
	ok "$step"
}

# kick_users STEP USER...: ends the open sessions of the users that have
# one (doveadm who), with one doveadm kick each of those only.
kick_users() {
	kstep=$1
	shift
	present=$(mktemp) || {
		fail "$kstep" "cannot make a temporary file" && return
	}
	doveadm who -1 2>/dev/null | awk 'NR > 1 { print $1 }' | sort -u >"$present"
	printf '%s\n' "$@" | sort -u | comm -12 - "$present" | while read -r u; do
		doveadm kick "$u" >/dev/null 2>&1 || :
	done
	rm -f -- "$present"
	ok "$kstep"
}

finish() {
	echo "@@end $failed"
}
