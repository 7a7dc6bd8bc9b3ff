package ssh

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// fileEdit is the edits a batch makes to one file.
type fileEdit struct {
	path    string
	changes []int // indexes in the batch
}

// Apply makes a host's changes that are not credential rotations in
// one script: the edits of each file computed here and written back with
// a compare-and-swap, accounts locked, agents removed together.
//
// Long: sorting a host's changes into steps, one run, then each change's result, in one place.
func (t *target) Apply(ctx context.Context, system string, chs []plan.Change, _ connector.SecretReader) connector.Applied {
	out := make([]connector.ChangeResult, len(chs))
	r, _, err := t.runnerForSystem(ctx, system)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return connector.Applied{Results: out}
	}
	var b batch
	steps := make([]string, len(chs)) // "": settled without the host
	var edits []*fileEdit
	byFile := map[string]*fileEdit{}
	var agents []agentJob
	for i, ch := range chs {
		p := ch.Params
		switch ch.Action {
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron:
			e := byFile[p["file"]]
			if e == nil {
				e = &fileEdit{path: p["file"]}
				byFile[e.path] = e
				edits = append(edits, e)
			}
			e.changes = append(e.changes, i)
		case plan.LockAccount:
			if !loginName.MatchString(p["user"]) {
				out[i].Err = fmt.Errorf("lock: %q is not a login name", p["user"])
				continue
			}
			steps[i] = b.lock(p["user"], p["user"] != t.s.User)
			out[i].Detail = "password locked (usermod -L) and account expired (usermod -e 1)"
		case plan.RemoveAgent:
			a, ok := t.catalog.Lookup(p["agent"])
			if !ok {
				out[i].Err = fmt.Errorf("agent %q is not in the catalogue", p["agent"])
				continue
			}
			agents = append(agents, agentJob{index: i, agent: a, packages: strings.Fields(p["packages"]), units: strings.Fields(p["units"]), paths: nonEmptyLines(p["paths"])})
		default:
			out[i].Err = fmt.Errorf("the ssh connector does not apply %s", ch.Action)
		}
	}

	written := map[string]remoteFile{}
	if len(edits) > 0 {
		paths := make([]string, len(edits))
		for i, e := range edits {
			paths[i] = e.path
		}
		states, err := t.fileStates(ctx, r, system, paths, false)
		if err != nil {
			for _, e := range edits {
				for _, i := range e.changes {
					out[i].Err = err
				}
			}
			edits = nil
		}
		for _, e := range edits {
			st := states[e.path]
			if f, data, ok := planFileEdit(chs, e, st, out, &b, steps); ok {
				f.Data = data
				written[e.path] = f
			}
		}
	}
	for i, s := range agentSteps(&b, agents) {
		steps[agents[i].index] = s
	}
	if b.steps == 0 {
		return connector.Applied{Results: out}
	}
	// A re-inventory runs in the same session once the changes are all
	// done: it is returned for Verify, which need not open another.
	b.after = t.reinventoryScript(system)
	results, after, runErr := t.runBatch(ctx, r, &b)
	var seen *hostData
	if runErr == nil {
		seen = t.parseReinventory(system, after, string(r.c.ServerVersion()))
	}
	failedWrite := false
	for i, s := range steps {
		if s == "" {
			continue
		}
		if err := stepError(results, s, runErr); err != nil {
			out[i].Err = err
			if ch := chs[i]; ch.Action == plan.RemoveKey || ch.Action == plan.RemoveGrant || ch.Action == plan.RemoveCron {
				failedWrite = true
			}
			continue
		}
		if res := results[s]; res != nil && len(res.logs) > 0 {
			out[i].Detail = joinDetail(out[i].Detail, strings.Join(res.logs, "; "))
		}
	}
	if seen == nil { // else the cache holds what the re-inventory read
		t.remember(system, written, failedWrite)
		return connector.Applied{Results: out}
	}
	return connector.Applied{Results: out, After: seen}
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// planFileEdit applies a file's edits in memory, in plan order, and adds
// the write to the batch when the content changed. It returns the file as
// it will be, to remember once written.
func planFileEdit(chs []plan.Change, e *fileEdit, st remoteFileState, out []connector.ChangeResult, b *batch, steps []string) (remoteFile, []byte, bool) {
	if st.Absent {
		for _, i := range e.changes {
			out[i].Detail = e.path + " no longer exists"
		}
		return remoteFile{}, nil, false
	}
	data := st.Data
	check, deletable, cron := "none", false, false
	var touched []int
	for _, i := range e.changes {
		ch := chs[i]
		var n int
		switch ch.Action {
		case plan.RemoveKey:
			data, n = removeKeys(data, map[string]bool{ch.Params["fingerprint"]: true})
			if n == 0 {
				out[i].Detail = "key already absent from " + e.path
				continue
			}
			out[i].Detail = fmt.Sprintf("removed %d line(s) from %s, mode %s kept", n, e.path, st.Mode)
		case plan.RemoveGrant:
			check, deletable = "sudoers", strings.HasPrefix(e.path, "/etc/sudoers.d/")
			data, n = removeSudoersRule(data, ch.Params["text"], ch.Params["replace"])
			if n == 0 {
				out[i].Detail = "entry already absent from " + e.path
				continue
			}
			if r := ch.Params["replace"]; r != "" {
				out[i].Detail = fmt.Sprintf("rule rewritten in %s without the provider's users: %s (checked with visudo)", e.path, r)
			} else {
				out[i].Detail = fmt.Sprintf("removed %d rule(s) from %s (checked with visudo)", n, e.path)
			}
		case plan.RemoveCron:
			cron = true
			deletable = strings.HasPrefix(e.path, "/etc/cron.d/") || strings.HasPrefix(e.path, "/var/spool/cron/")
			data, n = removeLines(data, ch.Params["text"])
			if n == 0 {
				out[i].Detail = "entry already absent from " + e.path
				continue
			}
			out[i].Detail = fmt.Sprintf("removed %d line(s) from %s", n, e.path)
		}
		touched = append(touched, i)
	}
	if len(touched) == 0 {
		return remoteFile{}, nil, false
	}
	if data == nil {
		data = []byte{} // emptied, not deleted
	}
	if bytes.IndexByte(data, 0) >= 0 {
		for _, i := range touched {
			out[i].Err = fmt.Errorf("%s holds a NUL byte: not a text file handover edits", e.path)
		}
		return remoteFile{}, nil, false
	}
	if deletable && onlyCommentsLeft(data, cron) {
		for _, i := range touched {
			out[i].Detail = "removed " + e.path + " (nothing else in it)"
		}
		data = nil
	}
	s := b.writeFile(e.path, st, data, check, false)
	for _, i := range touched {
		steps[i] = s
	}
	return remoteFile{Path: e.path, Mode: st.Mode, UID: st.UID, GID: st.GID}, data, true
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// onlyCommentsLeft reports whether data holds nothing but blank lines,
// comments and (for cron) variable assignments: a file that no longer
// does anything.
func onlyCommentsLeft(data []byte, allowAssignments bool) bool {
	for _, line := range splitLines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if allowAssignments && isCronAssignment(s) {
			continue
		}
		return false
	}
	return true
}

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
