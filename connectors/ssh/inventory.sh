# handover inventory: reads, never writes. Runs as root under /bin/sh
# (dash, bash, busybox ash) on Debian/Ubuntu and RHEL-family hosts, with or
# without a running systemd. Output is sections "@@name [args]"; file
# contents are base64 between "@@file KIND MODE UID GID PATH" and "@@end",
# so nothing a file holds can forge a section.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
sec() { printf '@@%s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
b64() { if have base64; then base64 -w0 -- "$1" 2>/dev/null || base64 < "$1"; else od -An -v -tx1 -- "$1" | tr -d ' \n' | sed 's/^/hex:/'; fi; echo; }
dumpfile() { # KIND PATH
	[ -f "$2" ] && [ -r "$2" ] || return 0
	sec file "$1" "$(stat -c '%a %u %g' -- "$2" 2>/dev/null || echo '0 0 0')" "$2"
	b64 "$2"
	sec end
}

sec hostname; hostname 2>/dev/null || cat /proc/sys/kernel/hostname
sec os-release; cat /etc/os-release 2>/dev/null || cat /etc/redhat-release 2>/dev/null
sec kernel; uname -srm
sec cpu; grep -E '^(model name|processor)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
sec memory; grep '^MemTotal:' /proc/meminfo 2>/dev/null
sec dmi
for f in sys_vendor product_name product_serial; do
	[ -r /sys/class/dmi/id/$f ] && printf '%s=%s\n' "$f" "$(cat /sys/class/dmi/id/$f 2>/dev/null)"
done
sec disks
for b in /sys/block/*; do
	[ -e "$b/size" ] || continue
	n=${b##*/}
	case $n in loop*|ram*|zram*|sr*|fd*) continue ;; esac
	printf '%s\t%s\t%s\n' "$n" "$(cat "$b/size" 2>/dev/null)" "$(cat "$b/device/model" 2>/dev/null)"
done
sec ips
if have ip; then ip -o addr show 2>/dev/null | awk '{print $4}'; else hostname -I 2>/dev/null | tr ' ' '\n'; fi

sec pkgmgr
for m in apt-get dnf yum zypper dpkg rpm; do have $m && echo $m; done
sec packages
if have dpkg-query; then
	dpkg-query -W -f='deb\t${db:Status-Abbrev}\t${Package}\t${Version}\n' 2>/dev/null
elif have rpm; then
	rpm -qa --qf 'rpm\tii \t%{NAME}\t%{VERSION}-%{RELEASE}\n' 2>/dev/null
fi

sec systemd
st=offline
if [ -d /run/systemd/system ] && have systemctl; then
	case $(systemctl is-system-running 2>/dev/null) in running|degraded|starting|maintenance) st=running ;; esac
fi
echo "$st"
sec unit-files
# One find and one awk for every unit file: a process per file costs a
# second of CPU on a host with systemd's few hundred units.
set --
for d in /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
	[ -d "$d" ] && set -- "$@" "$d"
done
[ $# -gt 0 ] && find "$@" -maxdepth 1 \( -name '*.service' -o -name '*.socket' -o -name '*.timer' \) \( -type f -o -type l \) -printf '%f\t%p\t%l\n' 2>/dev/null |
	awk -F'\t' '{
		x = ""
		while ((getline line < $2) > 0) {
			if (line ~ /^ExecStart=/) { sub(/^ExecStart=[-@+!:]*/, "", line); split(line, a, " "); x = a[1]; break }
		}
		close($2)
		printf "%s\t%s\t%s\t%s\n", $1, $2, $3, x
	}'
sec enabled
for f in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	echo "${f##*/}"
done
sec running-units
if [ -d /run/systemd/system ] && have systemctl; then
	systemctl list-units --type=service --state=running --no-legend --plain 2>/dev/null | awk '{print $1}'
fi
sec processes
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = "$$" ] && continue
	comm=$(cat "$p/comm" 2>/dev/null) || continue
	exe=$(readlink "$p/exe" 2>/dev/null)
	args=$(tr '\0\t\n' '   ' < "$p/cmdline" 2>/dev/null)
	printf '%s\t%s\t%s\t%s\n' "$pid" "$comm" "$exe" "$args"
done
sec sockets
find /proc/[0-9]*/fd -lname 'socket:*' -printf '%h %l\n' 2>/dev/null
for f in tcp tcp6 udp udp6; do
	sec net "$f"
	cat /proc/net/$f 2>/dev/null
done

sec passwd; cat /etc/passwd
sec group; cat /etc/group
sec shadow; cat /etc/shadow 2>/dev/null
sec sshd
sshd=$(command -v sshd || echo /usr/sbin/sshd)
"$sshd" -T 2>/dev/null | grep -Ei '^(authorizedkeysfile|authorizedkeyscommand|passwordauthentication|kbdinteractiveauthentication|permitrootlogin|usepam|pubkeyauthentication) '
akf=$("$sshd" -T 2>/dev/null | awk 'tolower($1)=="authorizedkeysfile"{ $1=""; print }')
[ -n "$akf" ] || akf='.ssh/authorized_keys .ssh/authorized_keys2'
AKF=$akf awk -F: '{
	n = split(ENVIRON["AKF"], pats, " ")
	for (i = 1; i <= n; i++) {
		p = pats[i]
		if (p == "" || p == "none") continue
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
}' /etc/passwd | sort -u | while IFS='	' read -r u f; do
	[ -f "$f" ] || continue
	sec owner "$u"
	dumpfile authorized_keys "$f"
done

dumpfile sudoers /etc/sudoers
for f in /etc/sudoers.d/*; do dumpfile sudoers "$f"; done
dumpfile cron /etc/crontab
for f in /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/*; do dumpfile cron "$f"; done
sec cron-scripts
for f in /etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*; do [ -f "$f" ] && echo "$f"; done
