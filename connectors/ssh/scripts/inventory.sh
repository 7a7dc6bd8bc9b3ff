# handover inventory: reads, never writes. Runs as root under /bin/sh
# (dash, bash, busybox ash) on Debian/Ubuntu and RHEL-family hosts, with or
# without a running systemd. Output is sections "@@name [args]".
#
# A handover run executes this twice on every host, so it is written for
# the host's CPU: an external command costs about a millisecond, hence a
# fixed number of them whatever the number of processes, accounts or files
# (one awk for the small files, one grep and one find for the process
# table, two tars for every file it dumps) and shell builtins for the rest.
#
# Nothing a file, an account or a process holds can forge a section: file
# contents travel in tar archives (base64-encoded where tar is missing),
# and the process table is NUL-terminated records that each start with
# "/proc/".
#
# Set before this script by the connector, with its quoting:
#   catalog_paths  the path patterns of the agent catalogue, one a line;
#   proc_paths     the catalogue's install paths (paths:), one a line, and
#   proc_units     its unit patterns, one a line: what ties a process to
#                  an agent besides its name (see the section proc);
#   sshd_known     (a re-inventory only) sshd's settings as the inventory
#                  read them, with reinv=1.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
nl='
'
tab='	'
ifs=$IFS
sec() { printf '@@%s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
# readline FILE sets $l to the first line of FILE without a process; false
# if FILE cannot be read or is empty.
readline() { l=; { IFS= read -r l < "$1"; } 2>/dev/null || [ -n "$l" ]; }
b64() { if have base64; then base64 -w0 -- "$1" 2>/dev/null || base64 < "$1"; else od -An -v -tx1 -- "$1" | tr -d ' \n' | sed 's/^/hex:/'; fi; echo; }
dumpfile() { # KIND PATH; only where tar is missing
	[ -f "$2" ] && [ -r "$2" ] || return 0
	sec file "$1" "$(stat -L -c '%a %u %g' -- "$2" 2>/dev/null || echo '0 0 0')" "$2"
	b64 "$2"
	sec end
}

sec hostname
if readline /proc/sys/kernel/hostname; then printf '%s\n' "$l"; else hostname 2>/dev/null; fi
sec kernel
if readline /proc/sys/kernel/ostype && o=$l && readline /proc/sys/kernel/osrelease && r=$l && readline /proc/sys/kernel/arch; then
	printf '%s %s %s\n' "$o" "$r" "$l" # uname -srm, without a process
else
	uname -srm
fi
# Reading a TCP table makes the kernel walk its whole connection hash
# (4 ms on a large host): the awk below reads only a table with sockets.
# A re-inventory (reinv=1, set before this script) proves changes to keys,
# accounts, grants, cron and agents: it leaves out the hardware and the
# network, which no change touches.
reinv=${reinv:-}
tcpawk=
[ -n "$reinv" ] || for p in tcp tcp6; do
	k=TCP: f=/proc/net/sockstat inuse=
	[ "$p" = tcp6 ] && k=TCP6: f=/proc/net/sockstat6
	{ while read -r a b c x; do [ "$a $b" = "$k inuse" ] && inuse=$c; done < "$f"; } 2>/dev/null
	if [ "$inuse" = 0 ]; then sec net "$p"; else tcpawk="$tcpawk $p"; fi
done
# dpkg's status file is read by the awk below when nothing is pending in its
# journal (updates/, which only dpkg-query merges): dpkg-query costs 3 ms
# to print the same, in the same order.
status=
if have dpkg-query && [ -r /var/lib/dpkg/status ]; then
	status=/var/lib/dpkg/status
	for f in /var/lib/dpkg/updates/*; do [ -e "$f" ] && status= && break; done
fi
# One awk for the small files of /etc and /proc (rather than a cat each),
# then for every unit file that find lists on its input: a process per
# unit file would cost a second of CPU with systemd's few hundred units.
set --
for d in /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
	[ -d "$d" ] && set -- "$@" "$d"
done
{
	[ $# -eq 0 ] || find "$@" -maxdepth 1 \( -name '*.service' -o -name '*.socket' -o -name '*.timer' \) \( -type f -o -type l \) -printf '%f\t%p\t%l\n' 2>/dev/null
} | awk -F'\t' -v status="$status" -v tcp="$tcpawk" -v reinv="$reinv" '
# copy prints the lines of file that match re; -1 if it cannot be read.
function copy(file, re,   line, r) {
	while ((r = (getline line < file)) > 0)
		if (line ~ re) print line
	close(file)
	return r
}
# sockets prints the listening TCP or bound UDP sockets of a /proc/net
# table. Listening sockets come first (each followed by its half-open
# connections, 03, before Linux 4.4): a TCP table is read up to the first
# socket in another state.
function sockets(proto, state,   file, line, f) {
	print "@@net " proto
	file = "/proc/net/" proto
	while ((getline line < file) > 0) {
		if (split(line, f, " ") < 4 || f[1] == "sl") continue
		if (f[4] == state) print line
		else if (proto ~ /^tcp/ && f[4] != "03") break
	}
	close(file)
}
# packages prints what dpkg-query -W prints with the format
# "deb\t${db:Status-Abbrev}\t${Package}\t${Version}\n": every package not
# in state not-installed, its state as three letters (wanted, current, R
# for reinstall required).
function packages(file,   line, r, f, p, v, st) {
	print "@@packages"
	while ((r = (getline line < file)) >= 0) {
		if (r == 0 || line == "") {
			if (p != "" && split(st, f, " ") == 3 && f[3] != "not-installed")
				printf "deb\t%s%s%s\t%s\t%s\n", abbrev["want", f[1]], abbrev["status", f[3]], f[2] == "reinstreq" ? "R" : " ", p, v
			p = v = st = ""
			if (r == 0) break
		} else if (line ~ /^Package:/) p = field(line)
		else if (line ~ /^Version:/) v = field(line)
		else if (line ~ /^Status:/) st = field(line)
	}
	close(file)
}
# deps prints what the host depends on, as its configuration names it:
# "KIND<TAB>VALUE<TAB>FILE" per value. Only the value is printed, never a
# whole line: a line may hold a password (an LDAP bind password, a CIFS
# mount option).
function deps() {
	print "@@deps"
	depvalues("/etc/ldap/ldap.conf", "^[ \t]*URI[ \t]", "ldap-uri", " ")
	depvalues("/etc/openldap/ldap.conf", "^[ \t]*URI[ \t]", "ldap-uri", " ")
	depvalues("/etc/nslcd.conf", "^[ \t]*uri[ \t]", "ldap-uri", " ")
	depvalues("/etc/sssd/sssd.conf", "^[ \t]*(ldap_uri|ldap_backup_uri)[ \t]*=", "ldap-uri", "=")
	depvalues("/etc/sssd/sssd.conf", "^[ \t]*(ad_server|ipa_server|krb5_server)[ \t]*=", "directory-server", "=")
	depvalues("/etc/postfix/main.cf", "^[ \t]*relayhost[ \t]*=", "relayhost", "=")
	depvalues("/etc/resolv.conf", "^[ \t]*nameserver[ \t]", "nameserver", " ")
	mounts("/etc/fstab")
}
# depvalues prints the values of the lines of file matching re: what
# follows the key (up to sep), split at commas and blanks.
function depvalues(file, re, kind, sep,   line, i, n, v) {
	while ((getline line < file) > 0) {
		if (line !~ re) continue
		sub(/^[ \t]*[A-Za-z_]+/, "", line)
		if (sep == "=") sub(/^[ \t]*=/, "", line)
		n = split(line, v, /[ \t,]+/)
		for (i = 1; i <= n; i++)
			if (v[i] != "") printf "%s\t%s\t%s\n", kind, v[i], file
	}
	close(file)
}
# mounts prints the source of each network file system of fstab (its
# options, which may hold credentials, are not read).
function mounts(file,   line, f) {
	while ((getline line < file) > 0) {
		if (line ~ /^[ \t]*#/ || split(line, f, /[ \t]+/) < 3) continue
		if (f[1] == "") { f[1] = f[2]; f[3] = f[4] }
		if (f[3] ~ /^(nfs|nfs4|cifs|smb3|smbfs|glusterfs|ceph)$/)
			printf "mount-%s\t%s\t%s\n", f[3], f[1], file
	}
	close(file)
}
function field(line) {
	sub(/^[^:]*:[ \t]*/, "", line)
	sub(/[ \t]+$/, "", line)
	return line
}
BEGIN {
	split("unknown u install i hold h deinstall r purge p", a, " ")
	for (i = 1; i < 10; i += 2) abbrev["want", a[i]] = a[i+1]
	split("not-installed n config-files c half-installed H unpacked U half-configured F triggers-awaited W triggers-pending t installed i", a, " ")
	for (i = 1; i < 16; i += 2) abbrev["status", a[i]] = a[i+1]
	if (status != "") packages(status)
	print "@@os-release"
	if (copy("/etc/os-release", "") < 0) copy("/etc/redhat-release", "")
	if (reinv == "") {
		print "@@cpu";    copy("/proc/cpuinfo", "^(model name|processor)[ \t]*:")
		print "@@memory"; copy("/proc/meminfo", "^MemTotal:")
	}
	print "@@passwd"; copy("/etc/passwd", "")
	print "@@group";  copy("/etc/group", "")
	print "@@shadow"; copy("/etc/shadow", "")
	if (reinv == "") deps()
	n = split(tcp, t, " ")
	for (i = 1; i <= n; i++) sockets(t[i], "0A")
	if (reinv == "") { sockets("udp", "07"); sockets("udp6", "07") }
	print "@@unit-files"
}
# NAME PATH LINK of a unit file, and the command of its first ExecStart.
# (A re-inventory needs the names only: it does not read the files.)
{
	x = ""
	if (reinv == "") {
		while ((getline line < $2) > 0) {
			if (line ~ /^ExecStart=/) { sub(/^ExecStart=[-@+!:]*/, "", line); split(line, a, " "); x = a[1]; break }
		}
		close($2)
	}
	printf "%s\t%s\t%s\t%s\n", $1, $2, $3, x
}'
if [ -z "$reinv" ]; then
	sec dmi
	for f in sys_vendor product_name product_serial; do
		readline "/sys/class/dmi/id/$f" && printf '%s=%s\n' "$f" "$l"
	done
	sec disks
	for b in /sys/block/*; do
		[ -e "$b/size" ] || continue
		n=${b##*/}
		case $n in loop*|ram*|zram*|sr*|fd*) continue ;; esac
		readline "$b/size"; s=$l
		readline "$b/device/model"
		printf '%s\t%s\t%s\n' "$n" "$s" "$l"
	done
	if have ip; then
		sec ip-addr; ip -o addr show 2>/dev/null
	else
		sec ips; hostname -I 2>/dev/null | tr ' ' '\n'
	fi
fi

sec pkgmgr
for m in apt-get dnf yum zypper dpkg rpm; do have $m && echo $m; done
# Without dpkg's status file (read with the files of /etc), the package
# managers' own tools.
if [ -z "$status" ] && have dpkg-query; then
	sec packages
	dpkg-query -W -f='deb\t${db:Status-Abbrev}\t${Package}\t${Version}\n' 2>/dev/null
elif [ -z "$status" ] && have rpm; then
	sec packages
	rpm -qa --qf 'rpm\tii \t%{NAME}\t%{VERSION}-%{RELEASE}\n' 2>/dev/null
fi

sec systemd
st=offline
if [ -d /run/systemd/system ] && have systemctl; then
	case $(systemctl is-system-running 2>/dev/null) in running|degraded|starting|maintenance) st=running ;; esac
fi
echo "$st"
sec enabled
for f in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	echo "${f##*/}"
done
# The services and timers systemd holds that are active, activating,
# failed or have a job pending: "UNIT LOAD ACTIVE SUB DESCRIPTION". A unit
# can live on in the manager after its file is gone (until a reload), and
# one that keeps dying is "activating (auto-restart)", not running.
sec units
if [ -d /run/systemd/system ] && have systemctl; then
	systemctl list-units --type=service,timer --no-legend --plain 2>/dev/null
fi

# The process table in four processes whatever its size, as
# NUL-terminated records: "/proc/PID/comm:NAME\n", "/proc/PID/cmdline:ARG"
# (one per argument), "/proc/PID/exe:TARGET", "/proc/PID/cwd:TARGET",
# "/proc/PID/fd socket:[INODE]" and "/proc/PID/fd PATH" (a file open, kept
# only where it holds one of the agents' paths up to its first wildcard:
# grep -F, one test of each link rather than one per path), and the whole
# of "/proc/PID/maps:..." and "/proc/PID/cgroup:..." where either holds
# one of the agents' paths or units so cut (a few processes' maps, not
# every one's). The connector decides which process is an agent's. The
# globs of the greps are expanded by this shell before they fork, so no
# grep lists itself; the section's argument is this shell's own PID.
sec proc $$
grep -aHz '' /proc/[0-9]*/comm /proc/[0-9]*/cmdline 2>/dev/null
set --
IFS=$nl; set -f
# shellcheck disable=SC2154 # proc_paths and proc_units are set before this script
for p in $proc_paths $proc_units; do p=${p%%[*?]*}; [ -n "$p" ] && set -- "$@" -e "$p"; done
set +f; IFS=$ifs
find /proc/[0-9]*/exe /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 \( \( -name exe -o -name cwd \) -printf '%p:%l\0' \) -o \( \( -lname 'socket:*' -o -lname '/*' \) -printf '%h %l\0' \) 2>/dev/null |
	grep -azF -e /exe: -e /cwd: -e ' socket:[' "$@"
[ $# -eq 0 ] || grep -aHz -F "$@" /proc/[0-9]*/maps /proc/[0-9]*/cgroup 2>/dev/null
set --

# Every sshd that listens, "PID<TAB>CONFIG": the configuration each was
# started with (-f, else the main one). OpenSSH shows a listener's own
# command line in its title ("sshd: /usr/sbin/sshd -D -f FILE [listener]
# ..."), a session's is "sshd: USER@..." and is left out. One shell read
# per process, no process started.
sshd_insts=
for c in /proc/[0-9]*/comm; do
	readline "$c" || continue
	[ "$l" = sshd ] || continue
	p=${c%/comm}
	a=
	{ IFS= read -r a < "$p/cmdline"; } 2>/dev/null
	case $a in
	'sshd: '*'[listener]'*) a=${a#sshd: }; a=${a%%\[listener\]*} ;;
	sshd:*) continue ;;
	*) a=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue ;;
	esac
	f=/etc/ssh/sshd_config nextf=
	set -f
	for w in $a; do
		if [ -n "$nextf" ]; then f=$w nextf=; continue; fi
		case $w in -f) nextf=1 ;; -f?*) f=${w#-f} ;; esac
	done
	set +f
	case "$nl$sshd_insts$nl" in *"$tab$f$nl"*) continue ;; esac
	sshd_insts="$sshd_insts${sshd_insts:+$nl}${p#/proc/}$tab$f"
done
[ -n "$sshd_insts" ] || sshd_insts="-$tab/etc/ssh/sshd_config"

sec sshd
# One sshd -T (5 ms of CPU): the settings that matter, and where sshd
# looks for authorized keys.
sshd=/usr/sbin/sshd # where command -v would find it, without a subshell
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
	[ -f "$d/sshd" ] && [ -x "$d/sshd" ] && sshd=$d/sshd && break
done
# The re-inventory that proves a run's changes is given the settings the
# inventory read moments before (sshd_known): the run changes none of them.
if [ -n "${sshd_known:-}" ]; then conf=$sshd_known; else conf=$("$sshd" -T 2>/dev/null); fi
akf='' ca=''
IFS=$nl; set -f
for l in $conf; do
	case $l in
	authorizedkeysfile\ *) akf=${l#* } ;;
	trustedusercakeys\ *) ca=${l#* } ;;
	esac
	case $l in
	authorizedkeysfile\ *|authorizedkeyscommand\ *|passwordauthentication\ *|kbdinteractiveauthentication\ *|permitrootlogin\ *|usepam\ *|pubkeyauthentication\ *|pubkeyacceptedalgorithms\ *|pubkeyacceptedkeytypes\ *|trustedusercakeys\ *)
		printf '%s\n' "$l" ;;
	esac
done
set +f; IFS=$ifs
[ -n "$akf" ] || akf='.ssh/authorized_keys .ssh/authorized_keys2'
# sshd -T shows the global settings: a Match block can give some accounts
# other AuthorizedKeysFile or TrustedUserCAKeys values, which count as
# well. Every value the configuration files name is read too (sshd_config
# and the sshd_config.d/*.conf it includes on Debian and RHEL), so a key
# file read for a few accounts only is not missed.
cfgs=
for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf; do
	[ -f "$f" ] && cfgs="$cfgs$f$nl"
done
# The configurations of the other sshd instances: the key files and CAs
# they name let in as well.
IFS=$nl
for i in $sshd_insts; do
	f=${i#*"$tab"}
	case "$nl$cfgs" in *"$nl$f$nl"*) continue ;; esac
	[ -f "$f" ] && cfgs="$cfgs$f$nl"
done
IFS=$ifs
# Every account's authorized_keys candidates, "USER<TAB>PATH", expanding
# sshd's %h, %u, %U and %%; then "@ca<TAB>PATH" for the CA files that Match
# blocks name.
keyfiles=$(AKF=$akf CA=$ca CFGS=$cfgs awk -F: '
# addpat records a key file pattern for the accounts in scope (",a,b,"),
# or for every account (scope "").
function addpat(p, sc,   i) {
	if (p in idx) {
		i = idx[p]
		if (scope[i] != "" && sc != "") scope[i] = scope[i] substr(sc, 2)
		else scope[i] = ""
		return
	}
	idx[p] = ++np
	pats[np] = p
	scope[np] = sc
}
BEGIN {
	n = split(ENVIRON["AKF"], w, " ")
	for (i = 1; i <= n; i++) addpat(w[i], "")
	nc = split(ENVIRON["CFGS"], cfgs, "\n")
	for (c = 1; c <= nc; c++) {
		if (cfgs[c] == "") continue
		sc = ""
		while ((getline line < cfgs[c]) > 0) {
			sub(/^[ \t]+/, "", line)
			if (line ~ /^#/) continue
			gsub(/"/, "", line)
			n = split(line, w, /[ \t=]+/)
			key = tolower(w[1])
			if (key == "match") {
				# A block for named accounts only ("Match User a,b"):
				# its files are theirs. Any other condition may hold
				# for any account.
				sc = ""
				if (n == 3 && tolower(w[2]) == "user" && w[3] !~ /[*?!]/) sc = "," w[3] ","
			} else if (key == "authorizedkeysfile") {
				for (j = 2; j <= n; j++) if (w[j] != "") addpat(w[j], sc)
			} else if (key == "trustedusercakeys" && w[2] ~ /^\// && w[2] != ENVIRON["CA"]) {
				cas[w[2]] = 1
			}
		}
		close(cfgs[c])
	}
}
{
	for (i = 1; i <= np; i++) {
		p = pats[i]
		if (p == "" || p == "none") continue
		if (scope[i] != "" && index(scope[i], "," $1 ",") == 0) continue
		out = ""
		for (j = 1; j <= length(p); j++) {
			c = substr(p, j, 1)
			if (c == "%" && j < length(p)) {
				d = substr(p, ++j, 1)
				if (d == "h") out = out $6
				else if (d == "u") out = out $1
				else if (d == "U") out = out $3
				else if (d == "%") out = out "%"
				else out = out "%" d
			} else out = out c
		}
		if (substr(out, 1, 1) != "/") out = $6 "/" out
		print $1 "\t" out
	}
}
END { for (f in cas) print "@ca\t" f }' /etc/passwd)
# The keys sshd trusts as user certificate authorities (TrustedUserCAKeys)
# are read with the authorized_keys files, as the account "@ca": any
# certificate one of them signs logs in.
case $ca in ''|none) ;; /*) keyfiles="$keyfiles${keyfiles:+$nl}@ca$tab$ca" ;; esac

# Files /etc/sudoers includes besides /etc/sudoers.d (sudo's #include,
# @include, #includedir, @includedir; a relative path is /etc's), read with
# the shell's own read, one level deep; a directory as DIR/*.
sudoinc=
if [ -r /etc/sudoers ]; then
	# shellcheck disable=SC2034 # x takes the rest of the line: p is one word
	while read -r d p x; do
		case $d in '#include'|'@include'|'#includedir'|'@includedir') ;; *) continue ;; esac
		case $p in ''|*%*) continue ;; /*) ;; *) p=/etc/$p ;; esac
		[ "$p" = /etc/sudoers.d ] && continue
		# shellcheck disable=SC2125 # the glob expands where the list is used
		case $d in *dir) p=$p/* ;; esac
		sudoinc="$sudoinc$p$nl"
	done < /etc/sudoers
fi

# Root reads no authorized_keys file through a link an account controls:
# that account could point it at any file (/etc/shadow). Such a file, or
# a file in such a directory (~/.ssh), is listed instead, "USER<TAB>LINK
# <TAB>TARGET<TAB>FILE", and left unread. A link of root's in a directory
# only root writes to (a configuration tool's) is root's own: the file it
# leads to is read, under its real name.
sec key-links
keep=
IFS=$nl; set -f
for l in $keyfiles; do
	f=${l#*"$tab"} x=
	if [ -L "$f" ]; then x=$f; elif [ -L "${f%/*}" ]; then x=${f%/*}; fi
	if [ -z "$x" ]; then
		keep="$keep${keep:+$nl}$l"
	elif [ -n "$(find "$x" -maxdepth 0 -user 0 2>/dev/null)" ] && [ -n "$(find "${x%/*}/" -maxdepth 0 -user 0 ! -perm /022 2>/dev/null)" ]; then
		r=$(readlink -f -- "$f") && keep="$keep${keep:+$nl}${l%%"$tab"*}$tab$r"
	elif [ "$x" = "$f" ] || [ -e "$f" ]; then
		printf '%s\t%s\t%s\t%s\n' "${l%%"$tab"*}" "$x" "$(readlink -- "$x")" "$f"
	fi
done
set +f; IFS=$ifs
keyfiles=$keep
if have tar; then
	# Every file in two tar archives, written as they are (the parser
	# knows where each ends): the authorized_keys candidates (their
	# accounts are the section above), then sudoers, cron and the backup
	# configurations, separated by /dev/null. tar skips what is missing or unreadable; names are
	# NUL-terminated (--null) so that no file name can split one, and all
	# absolute (-P) so that none reads as an option. The first archive
	# stores a link as a link (no -h), should one appear after the check
	# above; the second stores a link's target, as sudo and cron follow
	# links in directories only root writes to.
	sec authorized-keys
	[ -z "$keyfiles" ] || printf '%s\n' "$keyfiles"
	sec archive
	{
		IFS=$nl; set -f
		for l in $keyfiles; do
			case ${l#*"$tab"} in /*) printf '%s\0' "${l#*"$tab"}" ;; esac
		done
		set +f; IFS=$ifs
	} | tar -c -f - -b 1 -P --numeric-owner --no-recursion --null -T - 2>/dev/null
	{
		printf '%s\0' /dev/null /etc/sudoers /etc/sudoers.d/*
		IFS=$nl
		for l in $sudoinc; do printf '%s\0' "$l"; done
		IFS=$ifs
		printf '%s\0' /dev/null /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/*
		# The backup agents' configurations (restic and borg environment
		# files, borgmatic, rsnapshot, Bacula and Bareos clients) and the
		# scripts cron runs from its hourly to monthly directories: where
		# the host's backups go (backup.go reads the targets, nothing
		# else, out of them). Patterns that match nothing stay as written,
		# and tar skips them.
		printf '%s\0' /dev/null /etc/restic/* /etc/default/restic* /root/.restic* /etc/borg/* /etc/default/borg* /etc/borgmatic/* /etc/borgmatic.d/* /etc/rsnapshot.conf /etc/bacula/bconsole.conf /etc/bacula/bacula-fd.conf /etc/bareos/bconsole.conf /etc/bareos/bareos-fd.conf /etc/bareos/bareos-fd.d/director/* /etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*
	} | tar -c -f - -b 1 -P -h --numeric-owner --no-recursion --null -T - 2>/dev/null
else
	[ -z "$keyfiles" ] || printf '%s\n' "$keyfiles" | sort -u | while IFS=$tab read -r u f; do
		if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
		sec owner "$u"
		dumpfile authorized_keys "$f"
	done
	dumpfile sudoers /etc/sudoers
	IFS=$nl
	for f in /etc/sudoers.d/* $sudoinc; do dumpfile sudoers "$f"; done
	IFS=$ifs
	dumpfile cron /etc/crontab
	for f in /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/*; do dumpfile cron "$f"; done
	for f in /etc/restic/* /etc/default/restic* /root/.restic* /etc/borg/* /etc/default/borg* /etc/borgmatic/* /etc/borgmatic.d/* /etc/rsnapshot.conf /etc/bacula/bconsole.conf /etc/bacula/bacula-fd.conf /etc/bareos/bconsole.conf /etc/bareos/bareos-fd.conf /etc/bareos/bareos-fd.d/director/* /etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*; do dumpfile backup "$f"; done
	sec files-read # what is not dumped is not there
fi
sec cron-scripts
for f in /etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*; do [ -f "$f" ] && echo "$f"; done
# The agent catalogue's paths that exist. * and ? are the patterns' only
# wildcards (the catalogue refuses brackets, backslashes and quotes), so
# they expand here as written; a pattern that matches nothing stays as it
# is, and is not there.
sec catalog-paths
IFS=$nl
# shellcheck disable=SC2154 # catalog_paths is set before this script
for p in $catalog_paths; do if [ -e "$p" ] || [ -L "$p" ]; then printf '%s\n' "$p"; fi; done
IFS=$ifs
sec catalog-end
