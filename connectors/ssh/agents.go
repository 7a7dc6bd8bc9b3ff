package ssh

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// agentMatch is what the inventory found of one catalogue agent.
type agentMatch struct {
	Packages  []pkgInfo
	Units     []string
	Processes []agentProc
	Paths     []string
}

// agentProc is a process tied to an agent, and by what (procSignals).
type agentProc struct {
	procInfo
	Signals []string
}

func (m agentMatch) empty() bool {
	return len(m.Packages)+len(m.Units)+len(m.Processes)+len(m.Paths) == 0
}

func globMatch(pats []string, s string) bool {
	for _, p := range pats {
		// Most patterns are plain names or start with one: compare that
		// first, path.Match only what can still match (a host has hundreds
		// of packages and units, the catalogue hundreds of patterns).
		i := strings.IndexAny(p, "*?[\\")
		if i < 0 {
			if p == s {
				return true
			}
			continue
		}
		if !strings.HasPrefix(s, p[:i]) {
			continue
		}
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// unitName is what systemd accepts in a unit's name: a file named
// otherwise in a unit directory is no unit, and never reaches a command.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+$`)

// procSignals lists what ties process p to agent a, each signal on its
// own, since an agent may run as an interpreter (java, mono, python, a
// shell wrapper) from its install directory, under an exec -a name, its
// executable deleted:
//   - comm: its name matches the catalogue's process patterns;
//   - exe: its executable (" (deleted)" or not) has such a name, or lies
//     under the agent's paths;
//   - cmdline: its argv[0] has such a name (exec -a), or a word of any
//     argument is a path under the agent's paths (a script, a jar, the
//     command a wrapper runs);
//   - cwd: its working directory is under the agent's paths;
//   - fd, maps: a file it holds open or maps is under them;
//   - cgroup: it is in the cgroup of one of the agent's units.
//
// The removal script (scripts/remove-agents.sh, scan) ends processes by
// the same signals.
func procSignals(a Agent, p procInfo) []string {
	var why []string
	if globMatch(a.Processes, p.Comm) {
		why = append(why, "comm")
	}
	if exe := exeOf(p); exe != "" && (globMatch(a.Processes, path.Base(exe)) || underPaths(a.Paths, exe)) {
		why = append(why, "exe")
	}
	if argvMatch(a, p.Argv) {
		why = append(why, "cmdline")
	}
	if underPaths(a.Paths, p.Cwd) {
		why = append(why, "cwd")
	}
	if slices.ContainsFunc(p.FDs, func(f string) bool { return underPaths(a.Paths, f) }) {
		why = append(why, "fd")
	}
	if slices.ContainsFunc(p.Maps, func(f string) bool { return underPaths(a.Paths, f) }) {
		why = append(why, "maps")
	}
	if slices.ContainsFunc(p.Cgroups, func(cg string) bool {
		return slices.ContainsFunc(strings.Split(cg, "/"), func(c string) bool { return c != "" && globMatch(a.Units, c) })
	}) {
		why = append(why, "cgroup")
	}
	return why
}

// argvMatch: argv[0] (whole, or its first word) has the name of one of
// a's processes, or a word of an argument is a path under a's paths.
func argvMatch(a Agent, argv []string) bool {
	if len(argv) > 0 {
		first, _, _ := strings.Cut(argv[0], " ")
		if globMatch(a.Processes, path.Base(argv[0])) || globMatch(a.Processes, path.Base(first)) {
			return true
		}
	}
	for _, arg := range argv {
		if !strings.Contains(arg, "/") {
			continue
		}
		if underPaths(a.Paths, arg) {
			return true
		}
		for _, w := range strings.Fields(arg) {
			if _, v, ok := strings.Cut(w, "=/"); ok {
				w = "/" + v
			}
			if underPaths(a.Paths, strings.Trim(w, `'"();&|`)) {
				return true
			}
		}
	}
	return false
}

// underPaths reports whether p (absolute; " (deleted)" ignored) is one of
// pats or under one of them. * and ? do not cross a slash: each of p's
// ancestors is matched.
func underPaths(pats []string, p string) bool {
	p = strings.TrimSuffix(p, " (deleted)")
	if len(pats) == 0 || !strings.HasPrefix(p, "/") {
		return false
	}
	for q := path.Clean(p); q != "/"; q = path.Dir(q) {
		if globMatch(pats, q) {
			return true
		}
	}
	return false
}

// findAgent matches one catalogue entry against a host.
func findAgent(h *hostData, a Agent) agentMatch {
	var m agentMatch
	for _, p := range h.Packages {
		if globMatch(a.Packages, p.Name) && p.State != "un" && p.State != "pn" {
			m.Packages = append(m.Packages, p)
		}
	}
	units := append(slices.Clone(a.Units), a.Timers...)
	for _, u := range h.UnitFiles {
		// The catalogue's patterns first: the name's check is a regexp,
		// and a host has hundreds of units for every catalogue entry.
		if globMatch(units, u.Name) && unitName.MatchString(u.Name) && !slices.Contains(m.Units, u.Name) {
			m.Units = append(m.Units, u.Name)
		}
	}
	// A unit systemd still runs, restarts or holds as failed counts even
	// without its file.
	for _, u := range slices.Sorted(maps.Keys(h.LiveUnits)) {
		if globMatch(units, u) && unitName.MatchString(u) && !slices.Contains(m.Units, u) {
			m.Units = append(m.Units, u)
		}
	}
	for _, p := range h.Procs {
		if why := procSignals(a, p); len(why) > 0 {
			m.Processes = append(m.Processes, agentProc{p, why})
		}
	}
	pathPats := slices.Concat(a.Paths, a.Configs, a.Cron)
	for _, p := range h.CatalogPaths {
		if globMatch(pathPats, p) && !slices.Contains(m.Paths, p) {
			m.Paths = append(m.Paths, p)
		}
	}
	return m
}

// live reports whether the agent can run on the host: a process of it
// runs, one of its units is enabled or held by systemd, or one of its
// packages is installed (not only its configuration files left).
func (m agentMatch) live(h *hostData) bool {
	if len(m.Processes) > 0 {
		return true
	}
	for _, u := range m.Units {
		if _, held := h.LiveUnits[u]; held || h.Enabled[u] {
			return true
		}
	}
	for _, p := range m.Packages {
		if p.State != "rc" {
			return true
		}
	}
	return false
}

func agentFindings(h *hostData, hc hostContext) []connector.Finding {
	if hc.Catalog == nil {
		return nil
	}
	var out []connector.Finding
	for _, a := range hc.Catalog.Agents {
		m := findAgent(h, a)
		if m.empty() {
			continue
		}
		var what, reasons []string
		var pkgs, units, procs []string
		for _, p := range m.Packages {
			pkgs = append(pkgs, p.Name)
			if p.State == "rc" {
				what = append(what, fmt.Sprintf("package %s removed, configuration files remain (dpkg rc)", p.Name))
			} else {
				what = append(what, fmt.Sprintf("package %s %s (%s)", p.Name, p.Version, p.State))
			}
		}
		for _, u := range m.Units {
			units = append(units, u)
			state := "unit file present"
			if h.Enabled[u] {
				state = "enabled"
			}
			if st, ok := h.LiveUnits[u]; ok {
				if !slices.ContainsFunc(h.UnitFiles, func(f unitFile) bool { return f.Name == u }) {
					state = "without a unit file"
				}
				state += fmt.Sprintf(", %s (%s) in systemd", st.Active, st.Sub)
			}
			what = append(what, fmt.Sprintf("unit %s %s", u, state))
		}
		for _, p := range m.Processes {
			procs = append(procs, fmt.Sprintf("%d:%s", p.PID, p.Comm))
			what = append(what, fmt.Sprintf("process %s running (pid %d; by %s)", p.Comm, p.PID, strings.Join(p.Signals, ", ")))
		}
		for _, p := range m.Paths {
			what = append(what, "path "+p)
		}
		reasons = append(reasons, fmt.Sprintf("catalogue entry %s (%s, %s)", a.Name, a.Vendor, a.Source))
		selected := hc.Outgoing.Agent(a.Name)
		if selected {
			reasons = append(reasons, "selected for removal by outgoing.agents")
		}
		detail := map[string]string{
			"packages":  strings.Join(pkgs, " "),
			"units":     strings.Join(units, " "),
			"processes": strings.Join(procs, " "),
			"paths":     strings.Join(m.Paths, "\n"),
			"source":    a.Source,
		}
		if m.live(h) {
			// The service the agent connects the host to: a link of the
			// schéma (system.go).
			detail["service"] = a.Title
		}
		out = append(out, connector.Finding{
			ID:       "agent:" + a.Name,
			Kind:     connector.KindAgent,
			Object:   a.Name,
			Summary:  fmt.Sprintf("%s (%s): %s", a.Title, a.Vendor, strings.Join(what, "; ")),
			Provider: selected,
			Reasons:  reasons,
			Detail:   detail,
			Data:     agentData{Packages: pkgs, Units: units, Paths: m.Paths, Processes: procs},
			Volatile: []string{"processes"},
		})
	}
	return out
}

// processFindings are the running processes whose command line names the
// provider and that no agent finding accounts for: a reverse tunnel to
// the provider's bastion (ssh -R, autossh), a session of its account, a
// script of its own. Reported, not ended here: locking the provider's
// account ends its processes; others come from a unit, a cron job or an
// agent that the rest of the handover removes. The finding's id follows
// the command line, not the PID, so that a check run later sees the same
// process as the same finding.
func processFindings(h *hostData, hc hostContext, agents []connector.Finding) []connector.Finding {
	agentPIDs := map[string]bool{}
	for _, a := range agents {
		d, _ := a.Data.(agentData)
		for _, p := range d.Processes {
			pid, _, _ := strings.Cut(p, ":")
			agentPIDs[pid] = true
		}
	}
	var out []connector.Finding
	seen := map[string]bool{}
	for _, p := range h.Procs {
		args := strings.TrimSpace(p.Args)
		if args == "" || agentPIDs[strconv.Itoa(p.PID)] {
			continue
		}
		why := hc.Outgoing.Text(args)
		if len(why) == 0 {
			continue
		}
		id := "process:" + shortHash(args)
		if seen[id] {
			continue
		}
		seen[id] = true
		shown := redactArgs(args)
		if len(shown) > 200 {
			shown = shown[:200] + "…"
		}
		out = append(out, connector.Finding{
			ID: id, Kind: connector.KindProcess, Object: p.Comm, Provider: true, Reasons: why,
			Summary:  fmt.Sprintf("process %s (pid %d) runs %q", p.Comm, p.PID, shown),
			Detail:   map[string]string{"pid": strconv.Itoa(p.PID), "exe": exeOf(p)},
			Volatile: []string{"pid"},
		})
	}
	return out
}
