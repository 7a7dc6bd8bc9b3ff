# shellcheck disable=SC2317 # the functions are called from the batch's steps, through eval
# handover agent removal: the function remove_agents, for the batch script
# (batch.sh), which defines the helpers it calls (have, ok, fail, log).
#
# remove_agents STEP...: removes agents, one step each, together: their
# units stopped and disabled in one systemctl call each where systemd
# runs (elsewhere their links are removed with their files), vendor
# uninstallers run, their packages purged in one package manager call
# (one by one if that fails, to tell whose failed), their leftover
# processes ended (TERM, then KILL after 3 s, then looked for again), their files and unit files
# removed.
#
# Set before the call by the connector, with its quoting, for each STEP:
#   units_STEP   the units the inventory saw, space-separated;
#   pkgs_STEP    the packages the inventory saw, space-separated;
#   procs_STEP   the catalogue's process name patterns, one a line;
#   ppaths_STEP  its install paths (paths:), one a line, and
#   cgunits_STEP its unit patterns, one a line: a process under those
#                paths (executable, arguments, working directory, open or
#                mapped files) or in such a unit's cgroup is the agent's;
#   uninst_STEP  the vendor uninstaller and its arguments, space-separated,
#                or "";
#   paths_STEP   the paths to remove, one a line: a line holding * or ? is
#                a pattern (its \, [ and ] escaped by a backslash), any
#                other a path as it is;
# and purge: the STEPs whose packages are purged, space-separated.
# The catalogue's patterns hold no brackets, backslashes or quotes: * and
# ? are their only wildcards.
#
remove_agents() {
	agents=$*
	sysd=no
	if [ -d /run/systemd/system ] && have systemctl; then
		case $(systemctl is-system-running 2>/dev/null) in running|degraded|starting|maintenance) sysd=yes ;; esac
	fi
	unitdirs='/etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system'
	for s in $agents; do eval "failed_$s="; done
	# Units: stopped (when systemd runs: every unit the inventory saw,
	# with or without its file), then disabled (those with a file), all in
	# one call each.
	set -f
	units='' known=''
	for s in $agents; do
		eval "us=\$units_$s"
		known="$known $us"
		for u in $us; do
			for d in $unitdirs; do
				if [ -e "$d/$u" ] || [ -L "$d/$u" ]; then units="$units $u"; break; fi
			done
		done
	done
	# Without a running manager, disabling a unit is removing its links in
	# *.wants and *.requires, which the paths below include.
	# shellcheck disable=SC2086 # one word per unit
	if [ -n "${known# }" ] && [ $sysd = yes ]; then
		systemctl stop $known >/dev/null 2>&1
		if [ -z "$units" ] || systemctl disable $units >/dev/null 2>&1; then
			for s in $agents; do eval "us=\$units_$s"; [ -n "$us" ] && log "$s" "stopped and disabled $us"; done
		else
			for u in $units; do systemctl disable "$u" >/dev/null 2>&1; done
		fi
	fi
	# Vendor uninstallers, each given its arguments as the catalogue
	# writes them.
	for s in $agents; do
		eval "u=\$uninst_$s"
		[ -n "$u" ] || continue
		# shellcheck disable=SC2086 # one word per argument
		set -- $u
		if [ -x "$1" ]; then timeout 300 "$@" </dev/null >/dev/null 2>&1; log "$s" "ran the vendor uninstaller (exit $?)"; fi
	done
	set +f
	[ -z "$purge" ] || purge_packages
	end_processes
	remove_paths
	# Once their files are gone, systemd forgets the units on a reload,
	# except a failed one, which it keeps until told.
	if [ $sysd = yes ]; then
		systemctl daemon-reload >/dev/null 2>&1
		set -f
		# shellcheck disable=SC2086 # one word per unit
		[ -z "${known# }" ] || systemctl reset-failed $known >/dev/null 2>&1
		set +f
	fi
	for s in $agents; do
		eval "f=\$failed_$s l=\$left_$s"
		if [ -n "$f" ]; then fail "$s" "package removal failed:$f"
		elif [ -n "$l" ]; then fail "$s" "processes still running after KILL:$l"
		else ok "$s"; fi
	done
}

# purge_packages: the packages of the agents in $purge, in one call; one
# by one if it fails.
# shellcheck disable=SC2154 # ps is set through eval
purge_packages() {
	want=
	for s in $purge; do eval "want=\"\$want \$pkgs_$s\""; done
	present=
	if have dpkg; then
		# The packages the inventory found a moment ago, in any state; dpkg
		# only warns about one that is gone since.
		present=$want
		remove() { msg=$(dpkg --purge "$@" 2>&1 >/dev/null); }
	elif have rpm; then
		for p in $want; do rpm -q --quiet "$p" 2>/dev/null && present="$present $p"; done
		if have dnf; then remove() { msg=$(dnf -y -q remove "$@" 2>&1 >/dev/null); }
		elif have yum; then remove() { msg=$(yum -y -q remove "$@" 2>&1 >/dev/null); }
		else remove() { msg=$(rpm -e "$@" 2>&1 >/dev/null); }
		fi
	fi
	l=$present present=''
	for p in $l; do present="$present$p "; done
	# shellcheck disable=SC2086 # one word per package
	if [ -n "${present% }" ] && ! remove $present; then
		for p in $present; do
			remove "$p" || for s in $purge; do
				eval "ps=\" \$pkgs_$s \""
				case $ps in *" $p "*) eval "failed_$s=\"\$failed_$s \$p: \$msg\"" ;; esac
			done
		done
	fi
	for s in $purge; do
		eval "ps=\$pkgs_$s f=\$failed_$s"
		gone=
		for p in $ps; do
			case " $present" in *" $p "*) case $f in *"$p: "*) ;; *) gone="$gone $p" ;; esac ;; esac
		done
		[ -n "$gone" ] && log "$s" "purged$gone"
	done
}

# inlist VAR NAME: whether NAME matches one of the patterns in $VAR, one a
# line.
# shellcheck disable=SC2154 # nl and ifs are batch.sh's; pats is set through eval
inlist() {
	eval "pats=\$$1"
	IFS=$nl
	set -f
	for pat in $pats; do
		# shellcheck disable=SC2254 # pat is a pattern
		case $2 in $pat) IFS=$ifs; set +f; return 0 ;; esac
	done
	IFS=$ifs
	set +f
	return 1
}

# match STEP NAME: whether NAME matches one of the process patterns of
# agent STEP.
match() { inlist "procs_$1" "$2"; }

# under STEP PATH: whether PATH (" (deleted)" ignored) is one of the
# install paths of agent STEP, or under one.
under() {
	v=${2% (deleted)}
	case $v in /*) ;; *) return 1 ;; esac
	eval "pats=\$ppaths_$1"
	IFS=$nl
	set -f
	for pat in $pats; do
		# shellcheck disable=SC2254 # pat is a pattern
		case $v in $pat|$pat/*) IFS=$ifs; set +f; return 0 ;; esac
	done
	IFS=$ifs
	set +f
	return 1
}

# pmatch STEP KIND VALUE ARGV0: whether a record of the process table ties
# its process to agent STEP. The signals are the inventory's (agents.go,
# procSignals): its name (comm), its executable's name or place (exe,
# deleted or not), its argv[0] (ARGV0=yes) naming it or any word of an
# argument under its paths (cmdline), its working directory (cwd), a file
# it holds open (fd/N) or maps (maps), the cgroup of one of its units
# (cgroup). Lines of maps and cgroup records are separated by $soh.
pmatch() {
	case $2 in
	comm) match "$1" "${3%"$soh"}" ;;
	exe) v=${3% (deleted)}; under "$1" "$v" || match "$1" "${v##*/}" ;;
	cwd|fd/*) under "$1" "$3" ;;
	cmdline)
		if [ "$4" = yes ]; then
			w=${3%% *}
			match "$1" "${3##*/}" || match "$1" "${w##*/}" && return 0
		fi
		case $3 in */*) ;; *) return 1 ;; esac
		under "$1" "$3" && return 0
		IFS=" 	$soh"
		set -f
		# shellcheck disable=SC2086 # one word per word of the argument
		set -- "$1" $3
		IFS=$ifs
		set +f
		s1=$1
		shift
		for w in "$@"; do
			case $w in */*) ;; *) continue ;; esac
			case $w in *=/*) w=/${w#*=/} ;; esac
			while :; do case $w in [\'\"\(\;\&\|\)]*) w=${w#?} ;; *[\'\"\(\;\&\|\)]) w=${w%?} ;; *) break ;; esac; done
			under "$s1" "$w" && return 0
		done
		return 1 ;;
	maps)
		IFS=$soh
		set -f
		# shellcheck disable=SC2086 # one word per line
		set -- "$1" $3
		IFS=$ifs
		set +f
		s1=$1
		shift
		for l in "$@"; do
			case $l in */*) under "$s1" "/${l#*/}" && return 0 ;; esac
		done
		return 1 ;;
	cgroup)
		IFS="$soh/"
		set -f
		# shellcheck disable=SC2086 # one word per line and path component
		set -- "$1" $3
		IFS=$ifs
		set +f
		s1=$1
		shift
		for c in "$@"; do
			[ -n "$c" ] && inlist "cgunits_$s1" "$c" && return 0
		done
		return 1 ;;
	*) return 1 ;;
	esac
}

# procs prints the process table as records, one a line (a newline in a
# value made $soh): "/proc/PID/comm:NAME", "/proc/PID/cmdline:ARG" (each
# argument, in order), "/proc/PID/exe:TARGET", "/proc/PID/cwd:TARGET",
# "/proc/PID/fd/N:PATH" for the files that may be under an agent's paths,
# and the whole maps and cgroup of the processes that may name an agent's
# path or unit (as the inventory reads them).
procs() {
	{
		grep -aHz '' /proc/[0-9]*/comm /proc/[0-9]*/cmdline
		set --
		IFS=$nl
		set -f
		for s in $agents; do
			eval "l=\"\$ppaths_$s\$nl\$cgunits_$s\""
			for p in $l; do p=${p%%[*?]*}; [ -n "$p" ] && set -- "$@" -e "$p"; done
		done
		set +f
		IFS=$ifs
		find /proc/[0-9]*/exe /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 \( -name exe -o -name cwd -o -lname '/*' \) -printf '%p:%l\0' |
			grep -azF -e /exe: -e /cwd: "$@"
		[ $# -eq 0 ] || grep -aHz -F "$@" /proc/[0-9]*/maps /proc/[0-9]*/cgroup
	} 2>/dev/null | tr '\n\0' '\001\n'
}

# scan lists the processes of the agents, as pids_STEP and found: each
# process that one record of procs ties to an agent. PID 1, this shell
# and its ancestors (the session running it) are never listed.
scan() {
	found=
	for s in $agents; do eval "pids_$s="; done
	keep=" 1 $$ "
	p=$$
	while [ "$p" -gt 1 ]; do
		pp=
		{ while read -r k v; do [ "$k" = PPid: ] && pp=$v && break; done < "/proc/$p/status"; } 2>/dev/null
		case $pp in ''|*[!0-9]*) break ;; esac
		keep="$keep$pp "
		p=$pp
	done
	last=
	while IFS= read -r r; do
		case $r in /proc/[0-9]*/*:*) ;; *) continue ;; esac
		pid=${r#/proc/}
		pid=${pid%%/*}
		case $pid in *[!0-9]*) continue ;; esac
		case $keep in *" $pid "*) continue ;; esac
		k=${r#/proc/"$pid"/}
		v=${k#*:}
		k=${k%%:*}
		a0=no
		if [ "$k" = cmdline ] && [ "$last" != "$pid" ]; then a0=yes last=$pid; fi
		# Most records can tie nothing: an argument past argv[0] that is no
		# path, a link that could not be read.
		case $k$a0$v in cmdlineno*/*) ;; cmdlineno*|exeno|cwdno) continue ;; esac
		for s in $agents; do
			eval "p=\" \$pids_$s \""
			case $p in *" $pid "*) continue ;; esac
			if pmatch "$s" "$k" "$v" $a0; then
				eval "pids_$s=\"\$pids_$s \$pid\""
				case "$found " in *" $pid "*) ;; *) found="$found $pid" ;; esac
			fi
		done
	done <<HANDOVER_PROCS
$(procs)
HANDOVER_PROCS
}

# end_processes: the agents' processes get TERM, up to 3 s to end, then
# what is left (or came back) KILL; what a last scan still finds is left
# running (left_STEP), and fails its agent.
end_processes() {
	soh=$(printf '\001')
	scan
	for sig in TERM KILL; do
		[ -n "$found" ] || break
		for s in $agents; do eval "p=\$pids_$s"; [ -n "$p" ] && log "$s" "sent $sig to$p"; done
		# shellcheck disable=SC2086 # one word per PID
		kill -$sig $found 2>/dev/null
		n=0
		while [ $n -lt 30 ]; do
			sleep 0.1 2>/dev/null || sleep 1
			alive=
			for p in $found; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
			[ -n "$alive" ] || break
			n=$((n + 1))
		done
		scan
	done
	for s in $agents; do eval "left_$s=\$pids_$s"; done
}

# remove_paths: every agent's leftover files in one rm, each agent's
# listed in its own log.
# shellcheck disable=SC2154 # nl and ifs are batch.sh's
remove_paths() {
	set --
	for s in $agents; do
		eval "l=\$paths_$s"
		r=
		IFS=$nl
		set -f
		for e in $l; do
			case $e in *[*?]*) set +f ;; esac
			for p in $e; do
				[ -e "$p" ] || [ -L "$p" ] || continue
				case $p in /|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/*bin|/usr/lib|/usr/local|/usr/share|/var|/var/lib) continue ;; esac
				case "$r " in *" $p "*) continue ;; esac
				set -- "$@" "$p"
				r="$r $p"
			done
			set -f
		done
		set +f
		IFS=$ifs
		eval "rm_$s=\$r"
	done
	if [ $# -gt 0 ]; then
		if msg=$(rm -rf -- "$@" 2>&1); then m=removed; else m="rm: $msg;"; fi
		for s in $agents; do eval "r=\$rm_$s"; [ -n "$r" ] && log "$s" "$m$r"; done
	fi
}
