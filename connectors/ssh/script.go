package ssh

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"
)

//go:embed inventory.sh
var inventoryBase string

// inventoryScript is the whole inventory in one script, one round trip
// per host: the fixed part, then a check of every catalogue path pattern.
// Patterns are quoted so that only * and ? expand. sshd, when not empty,
// holds sshd's settings as an earlier inventory of the host read them
// (`sshd -T`, the keys the script keeps): the script is then a
// re-inventory, which reuses them and leaves out the hardware and network.
func inventoryScript(c *Catalog, sshd map[string]string) string {
	var b strings.Builder
	if len(sshd) > 0 {
		keys := slices.Sorted(maps.Keys(sshd))
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k + " " + sshd[k]
		}
		b.WriteString("sshd_known=" + shellQuote(strings.Join(lines, "\n")) + " reinv=1\n")
	}
	b.WriteString(inventoryBase)
	b.WriteString("sec catalog-paths\n")
	var pats []string
	for _, a := range c.Agents {
		for _, p := range slices.Concat(a.Paths, a.Configs, a.Cron) {
			if !slices.Contains(pats, p) {
				pats = append(pats, p)
			}
		}
	}
	for i := 0; i < len(pats); i += 16 {
		chunk := pats[i:min(i+16, len(pats))]
		b.WriteString("for p in")
		for _, p := range chunk {
			b.WriteString(" " + shellGlob(p))
		}
		b.WriteString("; do if [ -e \"$p\" ] || [ -L \"$p\" ]; then printf '%s\\n' \"$p\"; fi; done\n")
	}
	b.WriteString("sec catalog-end\n")
	return b.String()
}

// shadowHashScript prints an account's shadow hash.
const shadowHashScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
getent shadow "$1" | cut -d: -f2
`

// perlCryptScript compares a password with a hash of any scheme the host's
// libcrypt knows (yescrypt, ...), both read on stdin.
const perlCryptScript = `export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec perl -e 'my $p = <STDIN>; my $h = <STDIN>; chomp($p); chomp($h); my $c = crypt($p, $h); print((defined($c) && $c eq $h) ? "match\n" : "nomatch\n")'
`

// agentJob is one agent a batch removes.
type agentJob struct {
	index    int // the change's index in the batch
	agent    Agent
	packages []string
	units    []string
	paths    []string
}

// agentSteps adds the removal of agents to a batch, one step per agent,
// done together: their units stopped and disabled in one systemctl call
// each where systemd runs (elsewhere their links are removed with their
// files), vendor uninstallers run, their packages purged in one package
// manager call (one by one if that fails, to tell whose failed), their
// leftover processes ended (TERM, then KILL after 3 s), their files and
// unit files removed. Every value is quoted; only catalogue * and ?
// expand.
func agentSteps(b *batch, jobs []agentJob) []string {
	if len(jobs) == 0 {
		return nil
	}
	steps := make([]string, len(jobs))
	for i := range jobs {
		steps[i] = b.step()
	}
	w := &b.body
	q := func(ss []string) string { return shellQuote(strings.Join(ss, " ")) }
	w.WriteString(`sysd=no
if [ -d /run/systemd/system ] && have systemctl; then
	case $(systemctl is-system-running 2>/dev/null) in running|degraded|starting|maintenance) sysd=yes ;; esac
fi
unitdirs='/etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /lib/systemd/system /usr/lib/systemd/system'
`)
	fmt.Fprintf(w, "agents=%s\n", shellQuote(strings.Join(steps, " ")))
	for i, j := range jobs {
		s := steps[i]
		fmt.Fprintf(w, "units_%s=%s pkgs_%s=%s failed_%s=\n", s, q(j.units), s, q(j.packages), s)
		if len(j.agent.Processes) > 0 {
			fmt.Fprintf(w, "match_%s() { case $1 in %s) return 0 ;; esac; return 1; }\n", s, strings.Join(mapStrings(j.agent.Processes, shellGlob), "|"))
		} else {
			fmt.Fprintf(w, "match_%s() { return 1; }\n", s)
		}
	}
	w.WriteString(`# Units: stopped (when systemd runs: every unit the inventory saw,
# with or without its file), then disabled (those with a file), all in
# one call each.
set -f
units= known=
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
if [ -n "${known# }" ] && [ $sysd = yes ]; then
	systemctl stop $known >/dev/null 2>&1
	if [ -z "$units" ] || systemctl disable $units >/dev/null 2>&1; then
		for s in $agents; do eval "us=\$units_$s"; [ -n "$us" ] && log "$s" "stopped and disabled $us"; done
	else
		for u in $units; do systemctl disable "$u" >/dev/null 2>&1; done
	fi
fi
set +f
`)
	for i, j := range jobs {
		if u := j.agent.Removal.Uninstaller; len(u) > 0 {
			args := make([]string, len(u))
			for k, a := range u {
				args[k] = shellQuote(a)
			}
			fmt.Fprintf(w, "if [ -x %s ]; then timeout 300 %s </dev/null >/dev/null 2>&1; log %s \"ran the vendor uninstaller (exit $?)\"; fi\n", shellQuote(u[0]), strings.Join(args, " "), steps[i])
		}
	}
	var purge []string
	for i, j := range jobs {
		if j.agent.Removal.Purge && len(j.packages) > 0 {
			purge = append(purge, steps[i])
		}
	}
	if len(purge) > 0 {
		fmt.Fprintf(w, "purge=%s\n", shellQuote(strings.Join(purge, " ")))
		w.WriteString(`# Packages: every agent's in one call; one by one if it fails.
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
l=$present present=
for p in $l; do present="$present$p "; done
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
`)
	}
	w.WriteString(`# Processes left over: TERM, up to 3 s to end, then KILL.
scan() {
	found=
	for s in $agents; do eval "pids_$s="; done
	while IFS='	' read -r d e; do
		[ -n "$d" ] || continue
		pid=${d#/proc/}
		pid=${pid%/exe}
		[ "$pid" = "$$" ] && continue
		c=
		read -r c < "/proc/$pid/comm" 2>/dev/null || continue
		e=${e% (deleted)}
		e=${e##*/}
		for s in $agents; do
			if "match_$s" "$c" || { [ -n "$e" ] && "match_$s" "$e"; }; then
				eval "pids_$s=\"\$pids_$s \$pid\""
				found="$found $pid"
			fi
		done
	done <<HANDOVER_PROCS
$(find /proc/[0-9]*/exe -maxdepth 0 -printf '%h\t%l\n' 2>/dev/null)
HANDOVER_PROCS
}
scan
for sig in TERM KILL; do
	[ -n "$found" ] || break
	for s in $agents; do eval "p=\$pids_$s"; [ -n "$p" ] && log "$s" "sent $sig to$p"; done
	kill -$sig $found 2>/dev/null
	n=0
	while [ $n -lt 30 ]; do
		sleep 0.1 2>/dev/null || sleep 1
		alive=
		for p in $found; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
		[ -n "$alive" ] || break
		n=$((n + 1))
	done
	# Whatever is left (or came back) is looked for again.
	if [ -n "$alive" ]; then scan; else found=; fi
done
`)
	// Leftover files: every agent's in one rm, each agent's listed in its
	// own log.
	w.WriteString("set --\n")
	for i, j := range jobs {
		var unitPaths []string
		for _, u := range slices.Concat(j.agent.Units, j.agent.Timers) {
			for _, d := range []string{"/etc/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
				unitPaths = append(unitPaths, d+"/"+u)
			}
			unitPaths = append(unitPaths, "/etc/systemd/system/*.wants/"+u, "/etc/systemd/system/*.requires/"+u)
		}
		all := slices.Concat(j.paths, j.agent.Removal.Files, unitPaths)
		slices.Sort(all)
		all = slices.Compact(all)
		fmt.Fprintf(w, "rm_%s=\nfor p in %s; do\n", steps[i], strings.Join(mapStrings(all, shellGlob), " "))
		fmt.Fprintf(w, `	[ -e "$p" ] || [ -L "$p" ] || continue
	case $p in /|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/*bin|/usr/lib|/usr/local|/usr/share|/var|/var/lib) continue ;; esac
	case "$rm_%s " in *" $p "*) continue ;; esac
	set -- "$@" "$p"
	rm_%s="$rm_%s $p"
done
`, steps[i], steps[i], steps[i])
	}
	w.WriteString(`if [ $# -gt 0 ]; then
	if msg=$(rm -rf -- "$@" 2>&1); then m=removed; else m="rm: $msg;"; fi
	for s in $agents; do eval "r=\$rm_$s"; [ -n "$r" ] && log "$s" "$m$r"; done
fi
`)
	// Once their files are gone, systemd forgets the units on a reload,
	// except a failed one, which it keeps until told.
	w.WriteString(`if [ $sysd = yes ]; then
	systemctl daemon-reload >/dev/null 2>&1
	set -f
	[ -z "${known# }" ] || systemctl reset-failed $known >/dev/null 2>&1
	set +f
fi
for s in $agents; do
	eval "f=\$failed_$s"
	if [ -n "$f" ]; then fail "$s" "package removal failed:$f"; else ok "$s"; fi
done
`)
	return steps
}

func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
