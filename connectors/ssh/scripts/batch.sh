# shellcheck disable=SC2317 # the functions are called from $steps, through eval
# handover batch: a host's changes as one script, in one SSH session. Runs
# as root under /bin/sh (dash, bash, busybox ash).
#
# Set before this script by the connector, with its quoting:
#   steps  the steps, one line each: a call of a function below (wf,
#          lock_account, set_hashes, su_check, su_after, remove_agents,
#          presum, wait) with quoted arguments, or an assignment of the
#          data remove_agents reads;
#   after  "" or a script run once the steps are done, in a subshell of its
#          own; its output follows the line "@@after";
#   cr     a carriage return (a literal one would not survive editors).
#
# Each step reports its own result ("@@result STEP ok|fail MESSAGE", and
# "@@log STEP MESSAGE" lines), so one failure does not hide the others.
# Only the script's own printf writes to its standard output; every
# command's output goes elsewhere, so nothing on the host (a package's
# maintainer script) can forge a result.
export LC_ALL=C DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
have() { command -v "$1" >/dev/null 2>&1; }
nl='
'
# shellcheck disable=SC2034 # ifs is used by remove-agents.sh, to restore IFS
ifs=$IFS
# oneline sets m to $1 on one line (a message must not forge a result line).
# shellcheck disable=SC2154 # cr is set before this script
oneline() {
	m=$1
	case $m in *"$nl"*|*"$cr"*) m=$(printf '%s' "$m" | tr '\n\r' '  ') ;; esac
}
ok() { printf '@@result %s ok\n' "$1"; eval "done_$1=1"; }
fail() { oneline "$2"; printf '@@result %s fail %s\n' "$1" "$m"; }
log() { oneline "$2"; printf '@@log %s %s\n' "$1" "$m"; }
# wf STEP PATH WANT UMASK CHMOD UID GID CHECK OP MKDIR TMP CONTENT:
# replace PATH with CONTENT if it still has the SHA-256 WANT ("absent": it
# must not exist): a new file TMP in the same directory, created
# exclusively with the old mode (through UMASK, or CHMOD when the mode has
# bits a umask cannot give) and owner, checked (visudo for sudoers),
# renamed over PATH. OP "delete" removes PATH instead. The content is
# written by the shell's own printf: no process per file but sha256sum,
# stat and mv.
#
# Root never follows a link another account controls. dirctl finds who
# can change PATH's directories: when only root can (/etc/sudoers.d,
# /root/.ssh, cron's spool), root edits the file, refusing a PATH that is
# a link. When an account can (its home, its ~/.ssh), the whole edit runs
# as that account (uwf, through setpriv or perl, no PAM: the account may
# be locked already), so that whatever it swaps in while the edit runs
# (a link to /etc/shadow), the kernel lets the edit do nothing that
# account could not do itself. Checking each name and then acting on it
# as root would leave a race that the shell cannot close (it has no
# openat or fchown); dropping to the account's rights closes it whole.
wf() {
	s=$1 f=$2 want=$3 um=$4 mode=$5 uid=$6 gid=$7 check=$8 op=$9
	shift 9
	mk=$1 tmp=$2 content=$3
	d=${f%/*}
	[ -n "$d" ] || d=/
	dirctl "$d" || { fail "$s" "$why: $f not touched"; return; }
	if [ "$du" != 0 ]; then
		[ "$check" = none ] || { fail "$s" "uid $du owns a directory of $f, which is checked with $check: not touched"; return; }
		[ "$uid" = "$du" ] || gid=$dg
		if msg=$(printf '%s' "$content" | asuser "$du" "$gid" /bin/sh -c "$uwf" sh "$op" "$f" "$want" "$um" "$mode" "$mk" "$tmp" 2>&1); then
			[ "$uid" = "$du" ] || [ "$op" = delete ] || log "$s" "$f now belongs to uid $du (was $uid), who owns its directory"
			ok "$s"
		elif [ "$msg" = changed ]; then
			fail "$s" "$f changed since it was read; not touched"
		else
			fail "$s" "as uid $du, who owns its directory: $msg"
		fi
		return
	fi
	if [ -L "$f" ]; then fail "$s" "$f is a symbolic link: not followed, not touched"; return; fi
	if [ -e "$f" ]; then
		[ -f "$f" ] || { fail "$s" "$f is not a regular file: not touched"; return; }
		eval "have=\${sum_$s-}"
		if [ -z "$have" ]; then
			have=$(sha256sum < "$f") || { fail "$s" "cannot read $f"; return; }
			have=${have%% *}
		fi
	else
		have=absent
	fi
	[ "$have" = "$want" ] || { fail "$s" "$f changed since it was read; not touched"; return; }
	if [ "$op" = delete ]; then
		# shellcheck disable=SC2015 # ok does not fail
		rm -f -- "$f" && ok "$s" || fail "$s" "cannot remove $f"
		return
	fi
	if [ ! -d "$d" ]; then
		[ "$mk" = yes ] || { fail "$s" "$d does not exist"; return; }
		# shellcheck disable=SC2015 # any of the three failing fails the step
		mkdir -p -- "$d" && chmod 700 "$d" && chown -h "$uid:$gid" "$d" || { fail "$s" "cannot create $d"; return; }
	fi
	# A name with a dot: sudo skips it in sudoers.d while it is checked.
	tmp=$d/.handover.$tmp
	umask "$um"
	set -C
	printf '%s' "$content" 2>/dev/null > "$tmp"
	r=$?
	set +C
	umask 077
	if [ "$r" -ne 0 ]; then fail "$s" "cannot create $tmp"; return; fi
	if { [ "$mode" != - ] && ! chmod "$mode" "$tmp"; } || { [ "$uid:$gid" != 0:0 ] && ! chown -h "$uid:$gid" "$tmp"; }; then
		rm -f -- "$tmp"
		fail "$s" "cannot set the owner and mode of $tmp"
		return
	fi
	if [ "$check" = sudoers ] && ! msg=$(visudo -c -q -f "$tmp" 2>&1); then
		rm -f -- "$tmp"
		fail "$s" "visudo refused the edited $f, which was not replaced: $msg"
		return
	fi
	if have restorecon && [ -e "$f" ]; then chcon -h --reference="$f" "$tmp" 2>/dev/null; fi
	mv -f -- "$tmp" "$f" || { rm -f -- "$tmp"; fail "$s" "cannot replace $f"; return; }
	case $f in /var/spool/cron/*) touch -c -- "$d" ;; esac
	ok "$s"
}
# dirctl DIR sets du to 0 when only root can change DIR and the
# directories above it, else to the uid of the one account that can (dg:
# the group of the first directory it owns). It fails, with why, when the
# path has "." or "..", a link below a directory an account owns, or a
# directory writable by others than its owner (a sticky directory of
# root's, as cron's spool, excepted: nobody but root renames root's
# files there), or when two accounts own directories on the way. A path
# through a link of root's is looked at again as the link resolves, so
# that a link of root's into an account's directory counts as that
# directory.
dirctl() {
	du=0 dg=0 why='' linked='' dir=$1
	case /$1/ in */./*|*/../*) why="$1 has . or .. in it"; return 1 ;; esac
	r=${1#/} p=
	set -- /
	while [ -n "$r" ]; do
		c=${r%%/*}
		r=${r#"$c"}
		r=${r#/}
		[ -n "$c" ] || continue
		p=$p/$c
		[ -e "$p" ] || [ -L "$p" ] || break
		set -- "$@" "$p"
	done
	info=$(stat -c '%u %g %a %F' -- "$@" 2>&1) || { why="cannot read $p: $info"; return 1; }
	while read -r u g a t; do
		case $t in
		directory)
			if [ "$u" != 0 ]; then
				if [ "$du" != 0 ] && [ "$du" != "$u" ]; then why="$1 and a directory above it belong to different accounts"; return 1; fi
				[ "$du" != 0 ] || dg=$g
				du=$u
			fi
			if [ $((0$a & 022)) -ne 0 ] && { [ "$u" != 0 ] || [ $((0$a & 01000)) -eq 0 ]; }; then
				why="$1 is writable by others than its owner"
				return 1
			fi
			;;
		'symbolic link')
			# A link root made where only root writes is root's own.
			if [ "$du" != 0 ] || [ "$u" != 0 ]; then why="$1 is a symbolic link: not followed"; return 1; fi
			linked=1
			;;
		*) why="$1 is not a directory"; return 1 ;;
		esac
		shift
	done <<HANDOVER_EOF
$info
HANDOVER_EOF
	if [ -n "$linked" ] && [ -z "${resolved-}" ]; then
		resolved=$(readlink -f -- "$dir") || { resolved=; why="cannot resolve $dir"; return 1; }
		dirctl "$resolved"
		r=$?
		resolved=
		return "$r"
	fi
}
# asuser UID GID COMMAND...: COMMAND as UID and GID, with no other group,
# without PAM (setpriv, else perl: perl-base is on every Debian).
asuser() {
	au=$1 ag=$2
	shift 2
	if have setpriv; then setpriv --reuid="$au" --regid="$ag" --clear-groups -- "$@"
	elif have perl; then
		perl -e '($u, $g) = splice @ARGV, 0, 2; $) = "$g $g"; $( = $g; ($<, $>) = ($u, $u); die "cannot become uid $u\n" if $< != $u || $> != $u; exec { $ARGV[0] } @ARGV; die "$ARGV[0]: $!\n"' "$au" "$ag" "$@"
	else echo "neither setpriv nor perl is installed, to edit it as that account"; return 1; fi
}
# uwf, run as the account that owns the file's directory (sh -c, the
# content on stdin): wf's compare-and-swap with that account's rights.
# Prints "changed" when the file changed since it was read, or why it
# failed.
# shellcheck disable=SC2016 # expanded by the shell that runs it
uwf='cd / || exit 1
op=$1 f=$2 want=$3 um=$4 mode=$5 mk=$6
d=${f%/*} tmp=${f%/*}/.handover.$7
if [ -L "$f" ]; then echo "$f is a symbolic link: not followed, not touched"; exit 1; fi
if [ -e "$f" ]; then
	[ -f "$f" ] || { echo "$f is not a regular file: not touched"; exit 1; }
	have=$(sha256sum < "$f") || exit 1
	have=${have%% *}
else
	have=absent
fi
[ "$have" = "$want" ] || { echo changed; exit 1; }
if [ "$op" = delete ]; then rm -f -- "$f"; exit; fi
if [ ! -d "$d" ]; then
	[ "$mk" = yes ] || { echo "$d does not exist"; exit 1; }
	(umask 077 && mkdir -p -- "$d") || exit 1
fi
umask "$um"
set -C
cat > "$tmp" || exit 1
set +C
if [ "$mode" != - ] && ! chmod "$mode" "$tmp"; then rm -f -- "$tmp"; exit 1; fi
if command -v restorecon >/dev/null 2>&1 && [ -e "$f" ]; then chcon -h --reference="$f" "$tmp" 2>/dev/null; fi
mv -f -- "$tmp" "$f" || { rm -f -- "$tmp"; exit 1; }'
# presum STEP PATH ...: the SHA-256 of the regular files (not links)
# among the PATHs that wf steps edit, from one sha256sum rather than one
# each, as sum_STEP. A line is taken only for the name it was expected
# for: wf computes its own sum wherever none was set (a file sha256sum
# could not read, a name it would escape).
presum() {
	n=$# want=
	while [ "$n" -gt 1 ]; do
		s=$1 f=$2
		shift 2
		n=$((n - 2))
		case $f in *\\*|*"$nl"*|*"$cr"*) continue ;; esac
		[ -f "$f" ] && [ ! -L "$f" ] && set -- "$@" "$f" && want="$want $s"
	done
	[ $# -gt 0 ] || return 0
	out=$(sha256sum -- "$@" 2>/dev/null)
	for s in $want; do
		line=${out%%"$nl"*}
		out=${out#"$line"}
		out=${out#"$nl"}
		h=${line%% *} name=${line#* }
		name=${name#[ *]}
		[ "$name" = "$1" ] && [ ${#h} -eq 64 ] && eval "sum_$s=\$h"
		shift
	done
}
# tsu STEP USER: a su login as USER with the password on stdin, started as
# nobody so that PAM asks for it. Prints ok, "fail rejected" when PAM
# refused it, or fail with what su said.
tsu() {
	cd / || return
	if have setpriv; then set -- "$1" "$2" setpriv --reuid=65534 --regid=65534 --clear-groups --
	elif have runuser; then set -- "$1" "$2" runuser -u nobody --
	else fail "$1" "neither setpriv nor runuser is installed"; return; fi
	have su || { fail "$1" "su is not installed"; return; }
	s=$1 u=$2
	shift 2
	o=$("$@" su -s /bin/sh -c 'echo handover-su-ok' "$u" 2>&1)
	case $o in
	*handover-su-ok*) ok "$s" ;;
	*"Authentication failure"*|*"incorrect password"*) printf '@@result %s fail rejected\n' "$s" ;;
	*) fail "$s" "su: $o" ;;
	esac
}
# lock_account STEP USER END: locks USER's password and expires the
# account. With END "yes", its processes are then killed: its open
# sessions (a provider logged in right now, a tunnel it left running) end
# with its access. Not for the account the connector itself logs in as.
lock_account() {
	if msg=$(usermod -L -e 1 "$2" 2>&1); then
		if [ "$3" = yes ]; then
			pids='' l=$(pgrep -u "$2" 2>/dev/null)
			for p in $l; do pids="$pids $p"; done
			# shellcheck disable=SC2086 # one word per PID
			if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; log "$1" "ended its processes (open sessions included):$pids"; fi
		fi
		ok "$1"
	else fail "$1" "usermod -L -e 1: $msg"; fi
}
# set_hashes STEP USER:HASH [STEP USER:HASH ...]: sets accounts' password
# hashes, one step per account: one chpasswd for all of them, and one per
# account if that fails, to tell whose failed. The hashes reach chpasswd
# on its standard input, never on a command line.
set_hashes() {
	lines=
	for a in "$@"; do
		case $a in *:*) lines="$lines${lines:+$nl}$a" ;; esac
	done
	if msg=$(chpasswd -e 2>&1 <<HANDOVER_EOF
$lines
HANDOVER_EOF
	); then
		while [ $# -gt 1 ]; do ok "$1"; shift 2; done
	else
		while [ $# -gt 1 ]; do
			if msg=$(chpasswd -e 2>&1 <<HANDOVER_EOF
$2
HANDOVER_EOF
			); then ok "$1"; else fail "$1" "chpasswd -e: $msg"; fi
			shift 2
		done
	fi
}
# su_check STEP USER PASSWORD: tsu with PASSWORD on its standard input,
# in the background beside the batch's other su logins (a refused one
# takes PAM's delay, seconds): the steps must end with "wait".
su_check() {
	tsu "$1" "$2" <<HANDOVER_EOF &
$3
HANDOVER_EOF
}
# shadow_hashes STEP USER...: logs "USER HASH" for each USER's entry of
# /etc/shadow, read by the shell itself (no process started). Read by the
# connector beside a su login that was refused, never reported.
shadow_hashes() {
	s=$1
	shift
	while IFS=: read -r n h _; do
		for u in "$@"; do
			[ "$n" = "$u" ] && printf '@@log %s %s %s\n' "$s" "$u" "$h"
		done
	done </etc/shadow
	ok "$s"
}
# su_after DONE STEP USER PASSWORD: su_check, only when step DONE
# succeeded.
su_after() {
	eval "d=\${done_$1-}"
	[ -n "$d" ] || return 0
	shift
	su_check "$@"
}

# unit_off UNIT DIR USER: stops and disables a unit about to be removed
# (its file goes in a wf step after this). A unit of the system's: through
# a running systemd, else its links in /etc/systemd/system removed. A unit
# of an account's (DIR in its home): stopped in its user manager if that
# runs, its links removed with the account's rights (asuser), never
# root's. Nothing here fails a step: the re-inventory proves the unit gone.
unit_off() {
	# dirctl sets u, g, a, t, p, r and c: the unit's name is kept as unit.
	unit=$1 d=$2 un=$3
	dirctl "$d" || return 0
	u=$unit
	if [ "$du" = 0 ]; then
		if [ -d /run/systemd/system ] && have systemctl; then systemctl disable --now -- "$u" >/dev/null 2>&1; fi
		for l in /etc/systemd/system/*.wants/"$u" /etc/systemd/system/*.requires/"$u"; do
			if [ -L "$l" ]; then rm -f -- "$l"; fi
		done
		return 0
	fi
	if [ -n "$un" ] && [ -d /run/systemd/system ] && have systemctl; then
		systemctl --user --machine="$un@" disable --now -- "$u" >/dev/null 2>&1
	fi
	# shellcheck disable=SC2016 # expanded by the shell that runs it
	asuser "$du" "$dg" /bin/sh -c 'cd / || exit 1; for l in "$1"/*.wants/"$2" "$1"/*.requires/"$2"; do if [ -L "$l" ]; then rm -f -- "$l"; fi; done' sh "$d" "$u" >/dev/null 2>&1
	return 0
}
# init_off NAME: removes an init script's rc links (update-rc.d, chkconfig,
# or the links themselves), without running the script: its stop action
# would be the provider's code, run as root.
init_off() {
	if have update-rc.d; then update-rc.d -f "$1" remove >/dev/null 2>&1; fi
	if have chkconfig; then chkconfig --del "$1" >/dev/null 2>&1; fi
	for l in /etc/rc[0-6S].d/[SK][0-9][0-9]"$1" /etc/rc.d/rc[0-6].d/[SK][0-9][0-9]"$1"; do
		if [ -L "$l" ]; then rm -f -- "$l"; fi
	done
	return 0
}
# at_rm STEP FILE WANT: removes an at job from at's spool if it still has
# the SHA-256 WANT. The spool is group-writable for at's daemon, which wf
# refuses; removing a name there follows no link (rm removes a link
# itself), so root does it, the spool directory itself not a link.
at_rm() {
	s=$1 f=$2 want=$3 d=${2%/*}
	case $d in /var/spool/cron/atjobs|/var/spool/at|/var/spool/at/spool) ;; *) fail "$s" "$f is not in at's spool: not touched"; return ;; esac
	if [ -L "$d" ] || [ -L "${d%/*}" ] || [ -L "$f" ]; then fail "$s" "$f or its directory is a symbolic link: not followed, not touched"; return; fi
	if [ ! -e "$f" ]; then log "$s" "$f already gone"; ok "$s"; return; fi
	have=$(sha256sum < "$f") || { fail "$s" "cannot read $f"; return; }
	[ "${have%% *}" = "$want" ] || { fail "$s" "$f changed since it was read; not touched"; return; }
	# shellcheck disable=SC2015 # ok does not fail
	rm -f -- "$f" && ok "$s" || fail "$s" "cannot remove $f"
}
# sshd_stop PID CONF: ends the sshd listener PID if it still is the sshd
# started with the configuration CONF, and not one that handover's own
# session runs under; logs nothing, fails nothing (the re-inventory proves
# the instance gone). Its sessions keep running until they end.
sshd_stop() {
	[ -r "/proc/$1/comm" ] || return 0
	read -r c < "/proc/$1/comm" 2>/dev/null
	[ "$c" = sshd ] || return 0
	case " $(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null) " in *" $2 "*|*" -f$2 "*) ;; *) return 0 ;; esac
	p=$$
	while [ "$p" -gt 1 ]; do
		[ "$p" = "$1" ] && return 0
		read -r st < "/proc/$p/stat" 2>/dev/null || break
		st=${st##*) }
		# shellcheck disable=SC2086 # the fields of stat, one word each
		set -- "$1" "$2" $st
		p=$4
	done
	kill -TERM "$1" 2>/dev/null
	n=0
	while [ -d "/proc/$1" ] && [ "$n" -lt 20 ]; do sleep 0.1 2>/dev/null || sleep 1; n=$((n + 1)); done
	return 0
}
# units_reload: systemd reads its unit files again, once removed units'
# files are gone.
units_reload() {
	if [ -d /run/systemd/system ] && have systemctl; then systemctl daemon-reload >/dev/null 2>&1; fi
	return 0
}
# unit_restart UNIT: restarts UNIT if it runs (after units_reload: a
# removed drop-in had made it run something else); fails nothing (the
# re-inventory reads the unit's state anew).
unit_restart() {
	if [ -d /run/systemd/system ] && have systemctl; then systemctl try-restart -- "$1" >/dev/null 2>&1; fi
	return 0
}

# The steps run with /dev/null as their standard input (the script itself
# arrives on the shell's), and only once sh has read the whole script: a
# script cut in transit runs nothing.
main() {
	# shellcheck disable=SC2154 # steps is set before this script
	eval "$steps"
}
main </dev/null
if [ -n "${after-}" ]; then
	printf '@@after\n'
	(eval "$after") </dev/null
fi
exit 0
