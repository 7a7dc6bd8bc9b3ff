package ssh

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
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
	units := false        // a unit removed: systemd reloads its units once the files are gone
	var restarts []string // units a removed drop-in made run something else: restarted after the reload
	// The accounts are locked and their sessions ended first, whatever
	// the plan's order: an account still logged in while its files are
	// edited could swap them under the edit (which runs with its rights,
	// see scripts/batch.sh, but should not have to race it at all).
	for i, ch := range chs {
		if ch.Action != plan.LockAccount {
			continue
		}
		if u := ch.Params["user"]; !loginName.MatchString(u) {
			out[i].Err = fmt.Errorf("lock: %q is not a login name", u)
			continue
		}
		steps[i] = b.lock(ch.Params["user"], ch.Params["user"] != t.s.User && ch.Params["sessions"] != "keep")
		out[i].Detail = "password locked (usermod -L) and account expired (usermod -e 1)"
	}
	for i, ch := range chs {
		p := ch.Params
		switch ch.Action {
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron, plan.RemovePersistence, plan.RemoveForward:
			if (ch.Action == plan.RemovePersistence || ch.Action == plan.RemoveForward) && p["op"] == "" || p["op"] != "" && !strings.HasPrefix(p["file"], "/") {
				out[i].Err = fmt.Errorf("%s: no file and way to remove it", ch.Action)
				continue
			}
			// A unit is stopped and disabled, an init script's links
			// removed, before the file goes (its compare-and-swap below).
			switch p["op"] {
			case persistUnit:
				if !unitName.MatchString(p["unit"]) {
					out[i].Err = fmt.Errorf("%q is not a unit name", p["unit"])
					continue
				}
				b.call("unit_off", p["unit"], path.Dir(p["file"]), p["user"])
				units = true
			case persistDropIn:
				if !unitName.MatchString(p["unit"]) {
					out[i].Err = fmt.Errorf("%q is not a unit name", p["unit"])
					continue
				}
				units = true
				if p["restart"] == "yes" && !slices.Contains(restarts, p["unit"]) {
					restarts = append(restarts, p["unit"])
				}
			case persistInstance:
				if _, err := strconv.Atoi(p["pid"]); err != nil {
					out[i].Err = fmt.Errorf("%q is not a process id", p["pid"])
					continue
				}
				b.call("sshd_stop", p["pid"], p["file"])
			case persistInit:
				if !unitName.MatchString(p["unit"]) {
					out[i].Err = fmt.Errorf("%q is not an init script name", p["unit"])
					continue
				}
				b.call("init_off", p["unit"])
			}
			e := byFile[p["file"]]
			if e == nil {
				e = &fileEdit{path: p["file"]}
				byFile[e.path] = e
				edits = append(edits, e)
			}
			e.changes = append(e.changes, i)
		case plan.LockAccount: // above
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
	if units {
		b.call("units_reload")
	}
	for _, u := range restarts {
		b.call("unit_restart", u)
	}
	for i, s := range agentSteps(&b, agents) {
		steps[agents[i].index] = s
	}
	if b.steps == 0 {
		return connector.Applied{Results: out}
	}
	// The whole inventory runs again in the same session once the changes
	// are all done: it is returned for Verify, which need not open another,
	// and is the host's reading after the run (InventoryAfter), which need
	// not read it a third time.
	b.after = inventoryScript(t.catalog, nil)
	results, after, runErr := t.runBatch(ctx, r, &b)
	var seen *hostData
	if runErr == nil {
		seen = t.parseAfter(system, after, string(r.Client.ServerVersion()))
	}
	failedWrite := false
	for i, s := range steps {
		if s == "" {
			continue
		}
		if err := stepError(results, s, runErr); err != nil {
			out[i].Err = err
			if ch := chs[i]; ch.Action == plan.RemoveKey || ch.Action == plan.RemoveGrant || ch.Action == plan.RemoveCron || ch.Action == plan.RemovePersistence || ch.Action == plan.RemoveForward {
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
	check, deletable, cron, whole := "none", false, false, false
	var touched []int
	for _, i := range e.changes {
		ch := chs[i]
		var n int
		if op := ch.Params["op"]; op != "" {
			// Persistence: a line by its hash, or the whole file.
			if op == persistLine {
				data, n = removeLines(data, ch.Params["hash"])
				if n == 0 {
					out[i].Detail = "line already absent from " + e.path
					continue
				}
				out[i].Detail = fmt.Sprintf("removed %d line(s) from %s", n, e.path)
				// A login hook, a forward or a preload list that holds
				// nothing else goes; rc.local and PAM files stay.
				deletable = ch.Params["kind"] == "forward" || ch.Params["kind"] == "preload" || strings.HasSuffix(e.path, "/.ssh/rc")
			} else {
				whole = true
				out[i].Detail = "removed " + e.path
			}
			touched = append(touched, i)
			continue
		}
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
			data, n = removeLines(data, ch.Params["hash"])
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
	if whole || deletable && onlyCommentsLeft(data, cron) {
		for _, i := range touched {
			if !whole {
				out[i].Detail = "removed " + e.path + " (nothing else in it)"
			}
		}
		data = nil
	}
	var s string
	if whole && atSpool(e.path) {
		s = b.atRemove(e.path, st)
	} else {
		s = b.writeFile(e.path, st, data, check, false)
	}
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
// done together by remove_agents (scripts/remove-agents.sh): units
// stopped and disabled, vendor uninstallers run, packages purged,
// leftover processes ended, files and unit files removed. It sets the
// variables the script reads for each agent.
func agentSteps(b *batch, jobs []agentJob) []string {
	if len(jobs) == 0 {
		return nil
	}
	steps := make([]string, len(jobs))
	for i := range jobs {
		steps[i] = b.step()
	}
	var purge []string
	for i, j := range jobs {
		s := steps[i]
		b.set("units_"+s, strings.Join(j.units, " "))
		b.set("pkgs_"+s, strings.Join(j.packages, " "))
		b.set("procs_"+s, strings.Join(j.agent.Processes, "\n"))
		b.set("ppaths_"+s, strings.Join(j.agent.Paths, "\n"))
		b.set("cgunits_"+s, strings.Join(j.agent.Units, "\n"))
		b.set("uninst_"+s, strings.Join(j.agent.Removal.Uninstaller, " "))
		b.set("paths_"+s, strings.Join(mapStrings(removalPaths(j), globLine), "\n"))
		if j.agent.Removal.Purge && len(j.packages) > 0 {
			purge = append(purge, s)
		}
	}
	b.set("purge", strings.Join(purge, " "))
	b.agents = true
	b.call("remove_agents", steps...)
	return steps
}

// removalPaths are the paths an agent's removal deletes, sorted: those the
// inventory found, the catalogue's removal files, and its units' files and
// links in every unit directory.
func removalPaths(j agentJob) []string {
	var unitPaths []string
	for _, u := range slices.Concat(j.agent.Units, j.agent.Timers) {
		for _, d := range []string{"/etc/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"} {
			unitPaths = append(unitPaths, d+"/"+u)
		}
		unitPaths = append(unitPaths, "/etc/systemd/system/*.wants/"+u, "/etc/systemd/system/*.requires/"+u)
	}
	all := slices.Concat(j.paths, j.agent.Removal.Files, unitPaths)
	slices.Sort(all)
	return slices.Compact(all)
}

// globLine writes a path for remove_agents' list: one holding * or ? is a
// pattern, where those are the only wildcards (its \, [ and ] escaped);
// any other is taken as it is.
func globLine(p string) string {
	if !strings.ContainsAny(p, "*?") {
		return p
	}
	return strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(p)
}

func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
