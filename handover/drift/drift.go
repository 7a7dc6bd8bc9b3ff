// Package drift owns the comparison of a fresh inventory with the dossier
// of a signed report: what appeared, vanished or changed since, typed by
// what it is (a system, an admin, a finding of a given kind, packages, a
// listening port, a service) and located by target and system.
//
// Findings are compared generically, by their kind and their ID (which a
// connector keeps stable across inventories): a connector's findings are
// diffed without this package knowing the connector. A finding is
// "changed" when its Object, its Provider flag or a Detail value differs,
// except the Detail keys it names Volatile.
package drift

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

// Change says how an item differs from the dossier.
type Change string

const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// Item kinds, beside finding kinds (connector.KindSSHKey, ...), which an
// item about a finding carries as its Kind.
const (
	KindSystem      = "system"      // a system appeared or vanished
	KindUnreachable = "unreachable" // a system the dossier read is not readable now
	KindAdmin       = "admin"       // an account became or stopped being an admin
	KindAccount     = "account-entry"
	KindPackages    = "packages" // the counts of a system's package changes
	KindPackage     = "package"  // a remote-access package, itemised
	KindPort        = "listening"
	KindServiceUnit = "service-unit"
)

// Item is one difference between the estate now and the dossier.
type Item struct {
	Target string `json:"target"`
	System string `json:"system,omitempty"`
	// Kind is what the item is about: one of the Kind constants above, or
	// the finding's kind for a finding.
	Kind   string `json:"kind"`
	Change Change `json:"change"`
	// Object names the thing (an account, a port, a finding's object).
	Object string `json:"object,omitempty"`
	// ID is the item's stable identity: the finding's id, "account:NAME",
	// "port:tcp:0.0.0.0:22"... Waivers match it.
	ID string `json:"id"`
	// From and To are the value in the dossier and now ("" when absent).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Provider is set when the item is the outgoing provider's (by the
	// connector's attribution now, or in the dossier).
	Provider bool `json:"provider,omitempty"`
	// Detail says in plain words what changed.
	Detail string `json:"detail"`
}

// Baseline is what the estate is expected to be: the dossier of a signed
// report, less what the report's run removed.
type Baseline struct {
	Dossier []connector.Inventory
	// gone are findings ("target\x00system\x00id") the run removed or
	// locked: their absence is expected, their presence is drift.
	gone map[string]string
	// touched are accounts ("target\x00system\x00name") an applied change
	// acted on: their state and admin rights in the dossier are from
	// before the change.
	touched map[string]bool
	// packages, units and processes of agents the run removed, per system.
	goneAgents map[string]*agentParts
	// after are the systems ("target\x00system") whose baseline is the
	// re-inventory after the run's changes.
	after map[string]bool
}

type agentParts struct {
	packages, units, processes map[string]bool
}

// FromReport is the baseline a report sets: its dossier, with the
// provider's footholds its run removed expected absent (and the packages,
// units and processes of the agents it removed), and the accounts its
// changes acted on not compared on state and admin rights.
//
// A report whose run re-inventoried the estate after its changes (After)
// sets that estate as the baseline, system by system (a system the
// re-inventory could not read keeps the dossier's reading, with the
// expectations above).
func FromReport(r *report.Report) *Baseline {
	b := &Baseline{Dossier: r.Dossier, gone: map[string]string{}, touched: map[string]bool{}, goneAgents: map[string]*agentParts{}}
	after := map[string]bool{} // "target\x00system" read after the changes
	b.after = after
	if len(r.After) > 0 {
		b.Dossier = mergeAfter(r.Dossier, r.After, after)
	}
	for _, a := range r.Actions {
		if !a.Result.OK() {
			continue
		}
		ch := a.Change
		if after[key(ch.Target, ch.System)] {
			// The re-inventory shows the account as the change left it.
			if removes(ch.Action) && ch.Finding != "" {
				b.gone[key(ch.Target, ch.System, ch.Finding)] = fmt.Sprintf("%s by run %s (change %s)", ch.Action, r.Run.ID, ch.ID)
			}
			continue
		}
		b.touched[key(ch.Target, ch.System, ch.Object)] = true
		if removes(ch.Action) && ch.Finding != "" {
			b.gone[key(ch.Target, ch.System, ch.Finding)] = fmt.Sprintf("%s by run %s (change %s)", ch.Action, r.Run.ID, ch.ID)
		}
	}
	for _, o := range r.Outgoing {
		if o.Fate != report.FateRemoved {
			continue // a locked account's finding stays, as the account does
		}
		k := key(o.Target, o.System, o.Finding.ID)
		if _, ok := b.gone[k]; !ok {
			b.gone[k] = fmt.Sprintf("%s by run %s", o.Fate, r.Run.ID)
		}
		if o.Finding.Kind == connector.KindAgent && o.Fate == report.FateRemoved {
			sk := o.Target + "\x00" + o.System
			p := b.goneAgents[sk]
			if p == nil {
				p = &agentParts{packages: map[string]bool{}, units: map[string]bool{}, processes: map[string]bool{}}
				b.goneAgents[sk] = p
			}
			for _, n := range strings.Fields(o.Finding.Detail["packages"]) {
				p.packages[n] = true
			}
			for _, n := range strings.Fields(o.Finding.Detail["units"]) {
				p.units[n] = true
			}
			for _, n := range strings.Fields(o.Finding.Detail["processes"]) {
				_, comm, _ := strings.Cut(n, ":")
				p.processes[comm] = true
			}
		}
	}
	return b
}

// removes says whether an applied change of the action leaves its finding
// gone: a removal does; a rotation, a lock or an installation does not.
func removes(a plan.Action) bool {
	switch a {
	case plan.RotatePassword, plan.LockAccount, plan.InstallKey:
		return false
	}
	return true
}

func key(parts ...string) string { return strings.Join(parts, "\x00") }

// mergeAfter is the dossier with each system replaced by its reading
// after the changes, where that reading succeeded; after records which.
func mergeAfter(dossier, re []connector.Inventory, after map[string]bool) []connector.Inventory {
	sys := map[string]connector.System{}
	for _, inv := range re {
		for _, s := range inv.Systems {
			if s.Error == "" {
				sys[key(inv.Target, s.Name)] = s
			}
		}
	}
	out := make([]connector.Inventory, len(dossier))
	for i, inv := range dossier {
		out[i] = inv
		out[i].Systems = slices.Clone(inv.Systems)
		for j, s := range out[i].Systems {
			if a, ok := sys[key(inv.Target, s.Name)]; ok {
				out[i].Systems[j] = a
				after[key(inv.Target, s.Name)] = true
			}
		}
	}
	return out
}

// Compare lists how the fresh inventories differ from the baseline, for
// the targets both know (a target added to the playbook since has no
// baseline and is reported as one item per system appeared). Fresh
// findings' Data is not compared (Detail says what a reader needs).
func Compare(b *Baseline, fresh []*connector.Inventory) []Item {
	var out []Item
	old := map[string]*connector.Inventory{}
	for i := range b.Dossier {
		old[b.Dossier[i].Target] = &b.Dossier[i]
	}
	for _, inv := range fresh {
		base := old[inv.Target]
		if base == nil {
			base = &connector.Inventory{Target: inv.Target}
		}
		out = append(out, b.target(base, inv)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, c := out[i], out[j]
		return cmp.Or(cmp.Compare(a.Target, c.Target), cmp.Compare(a.System, c.System), cmp.Compare(a.Kind, c.Kind), cmp.Compare(a.ID, c.ID)) < 0
	})
	return out
}

func (b *Baseline) target(base, now *connector.Inventory) []Item {
	var out []Item
	was := map[string]*connector.System{}
	for i := range base.Systems {
		was[base.Systems[i].Name] = &base.Systems[i]
	}
	seen := map[string]bool{}
	for i := range now.Systems {
		s := &now.Systems[i]
		seen[s.Name] = true
		w := was[s.Name]
		switch {
		case w == nil:
			what := s.Kind
			if s.Error != "" {
				what += ", not readable: " + s.Error
			}
			out = append(out, Item{Target: now.Target, System: s.Name, Kind: KindSystem, Change: Added, Object: s.Name, ID: "system:" + s.Name,
				To: s.Address, Detail: fmt.Sprintf("%s %s (%s) is not in the dossier", s.Kind, s.Name, what)})
		case s.Error != "" && w.Error == "":
			out = append(out, Item{Target: now.Target, System: s.Name, Kind: KindUnreachable, Change: Changed, Object: s.Name, ID: "system:" + s.Name,
				From: "read", To: s.Error, Detail: fmt.Sprintf("%s was read for the dossier and cannot be now: %s", s.Name, s.Error)})
		case s.Error == "" && w.Error == "":
			out = append(out, b.system(now.Target, w, s)...)
		}
	}
	for _, w := range base.Systems {
		if !seen[w.Name] {
			out = append(out, Item{Target: now.Target, System: w.Name, Kind: KindSystem, Change: Removed, Object: w.Name, ID: "system:" + w.Name,
				From: w.Address, Detail: fmt.Sprintf("%s %s of the dossier is no longer in the inventory", w.Kind, w.Name)})
		}
	}
	return out
}

func (b *Baseline) system(target string, was, now *connector.System) []Item {
	var out []Item
	add := func(it Item) {
		it.Target, it.System = target, now.Name
		out = append(out, it)
	}
	b.accounts(was, now, target, add)
	b.findings(was, now, target, add)
	b.packages(was, now, target, add)
	b.ports(was, now, target, add)
	b.services(was, now, target, add)
	return out
}

func via(a connector.Account) string {
	if len(a.AdminVia) == 0 {
		return "admin"
	}
	return strings.Join(a.AdminVia, "; ")
}

func (b *Baseline) accounts(was, now *connector.System, target string, add func(Item)) {
	old := map[string]connector.Account{}
	for _, a := range was.Accounts {
		old[a.Name] = a
	}
	cur := map[string]bool{}
	for _, a := range now.Accounts {
		cur[a.Name] = true
		o, existed := old[a.Name]
		touched := b.touched[key(target, now.Name, a.Name)]
		id := "account:" + a.Name
		switch {
		case a.Admin && (!existed || !o.Admin):
			from, was := "not in the dossier", "a new account"
			if existed {
				from, was = "not an admin", "not an admin in the dossier"
			}
			add(Item{Kind: KindAdmin, Change: Added, Object: a.Name, ID: id, From: from, To: via(a), Provider: a.Provider,
				Detail: fmt.Sprintf("%s is an admin now, by %s (%s)", a.Name, via(a), was)})
		case !a.Admin && existed && o.Admin && !touched:
			add(Item{Kind: KindAdmin, Change: Removed, Object: a.Name, ID: id, From: via(o), To: "not an admin",
				Detail: fmt.Sprintf("%s is no longer an admin (the dossier has it admin by %s)", a.Name, via(o))})
		case a.Admin && o.Admin && via(a) != via(o) && !touched:
			add(Item{Kind: KindAdmin, Change: Changed, Object: a.Name, ID: id, From: via(o), To: via(a), Provider: a.Provider,
				Detail: fmt.Sprintf("%s is an admin by another path: %s, was %s", a.Name, via(a), via(o))})
		case !existed:
			add(Item{Kind: KindAccount, Change: Added, Object: a.Name, ID: id, To: cmp.Or(a.State, "present"), Provider: a.Provider,
				Detail: fmt.Sprintf("account %s is not in the dossier", a.Name)})
		}
		if existed && !touched && a.State != o.State && a.State != "" && o.State != "" {
			add(Item{Kind: KindAccount, Change: Changed, Object: a.Name, ID: id, From: o.State, To: a.State, Provider: a.Provider,
				Detail: fmt.Sprintf("account %s is %s, was %s", a.Name, a.State, o.State)})
		}
	}
	for _, o := range was.Accounts {
		if cur[o.Name] || b.touched[key(target, now.Name, o.Name)] {
			continue
		}
		k := KindAccount
		if o.Admin {
			k = KindAdmin
		}
		add(Item{Kind: k, Change: Removed, Object: o.Name, ID: "account:" + o.Name, From: cmp.Or(o.State, "present"),
			Detail: fmt.Sprintf("account %s of the dossier is gone", o.Name)})
	}
}

func (b *Baseline) findings(was, now *connector.System, target string, add func(Item)) {
	old := map[string]connector.Finding{}
	for _, f := range was.Findings {
		old[f.ID] = f
	}
	cur := map[string]bool{}
	for _, f := range now.Findings {
		cur[f.ID] = true
		o, existed := old[f.ID]
		// Without a reading after the changes, the dossier still has what
		// the run removed: present now, it is back.
		if why, gone := b.gone[key(target, now.Name, f.ID)]; gone && (!existed || !b.after[key(target, now.Name)]) {
			add(Item{Kind: f.Kind, Change: Added, Object: f.Object, ID: f.ID, From: "removed: " + why, To: f.Summary, Provider: true,
				Detail: fmt.Sprintf("%s is back (it was %s): %s", f.ID, why, f.Summary)})
			continue
		}
		if !existed {
			add(Item{Kind: f.Kind, Change: Added, Object: f.Object, ID: f.ID, To: f.Summary, Provider: f.Provider,
				Detail: "new " + f.Kind + ": " + f.Summary})
			continue
		}
		if from, to, ok := findingDiff(o, f); ok {
			add(Item{Kind: f.Kind, Change: Changed, Object: f.Object, ID: f.ID, From: from, To: to, Provider: f.Provider || o.Provider,
				Detail: fmt.Sprintf("%s %s changed: %s", f.Kind, f.ID, f.Summary)})
		}
	}
	for _, o := range was.Findings {
		if cur[o.ID] {
			continue
		}
		if _, gone := b.gone[key(target, now.Name, o.ID)]; gone {
			continue
		}
		add(Item{Kind: o.Kind, Change: Removed, Object: o.Object, ID: o.ID, From: o.Summary, Provider: o.Provider,
			Detail: fmt.Sprintf("%s %s of the dossier is gone: %s", o.Kind, o.ID, o.Summary)})
	}
}

// findingDiff says how two readings of one finding differ, if they do.
func findingDiff(o, f connector.Finding) (from, to string, differ bool) {
	volatile := map[string]bool{}
	for _, k := range append(slices.Clone(o.Volatile), f.Volatile...) {
		volatile[k] = true
	}
	var fs, ts []string
	if o.Object != f.Object {
		fs, ts = append(fs, "object "+o.Object), append(ts, "object "+f.Object)
	}
	if o.Provider != f.Provider {
		fs, ts = append(fs, fmt.Sprintf("provider's %t", o.Provider)), append(ts, fmt.Sprintf("provider's %t", f.Provider))
	}
	keys := slices.Sorted(maps.Keys(o.Detail))
	for k := range f.Detail {
		if _, ok := o.Detail[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if volatile[k] || o.Detail[k] == f.Detail[k] {
			continue
		}
		fs, ts = append(fs, fmt.Sprintf("%s=%q", k, o.Detail[k])), append(ts, fmt.Sprintf("%s=%q", k, f.Detail[k]))
	}
	return strings.Join(fs, ", "), strings.Join(ts, ", "), len(fs) > 0
}

// remoteAccess are the packages that an agent finding names, on this
// system now or in the dossier: itemised rather than counted.
func remoteAccess(ss ...*connector.System) map[string]bool {
	out := map[string]bool{}
	for _, s := range ss {
		for _, f := range s.Findings {
			if f.Kind == connector.KindAgent {
				for _, p := range strings.Fields(f.Detail["packages"]) {
					out[p] = true
				}
			}
		}
	}
	return out
}

func (b *Baseline) packages(was, now *connector.System, target string, add func(Item)) {
	if len(was.Software) == 0 && len(now.Software) == 0 {
		return
	}
	gone := b.goneAgents[key(target, now.Name)]
	remote := remoteAccess(was, now)
	old := map[string]string{}
	for _, p := range was.Software {
		old[p.Name] = p.Version
	}
	var added, removed, upgraded []string
	cur := map[string]bool{}
	for _, p := range now.Software {
		cur[p.Name] = true
		v, existed := old[p.Name]
		switch {
		case !existed:
			if remote[p.Name] {
				add(Item{Kind: KindPackage, Change: Added, Object: p.Name, ID: "package:" + p.Name, To: p.Version,
					Detail: fmt.Sprintf("remote-access package %s %s installed", p.Name, p.Version)})
			}
			added = append(added, p.Name)
		case v != p.Version:
			upgraded = append(upgraded, p.Name+" "+v+" -> "+p.Version)
		}
	}
	for _, p := range was.Software {
		if cur[p.Name] || (gone != nil && gone.packages[p.Name]) {
			continue
		}
		if remote[p.Name] {
			add(Item{Kind: KindPackage, Change: Removed, Object: p.Name, ID: "package:" + p.Name, From: p.Version,
				Detail: fmt.Sprintf("remote-access package %s %s removed", p.Name, p.Version)})
		}
		removed = append(removed, p.Name)
	}
	if len(added)+len(removed)+len(upgraded) == 0 {
		return
	}
	var parts []string
	for _, g := range []struct {
		what  string
		names []string
	}{{"added", added}, {"removed", removed}, {"upgraded", upgraded}} {
		if len(g.names) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(g.names), g.what, clip(g.names, 5)))
		}
	}
	add(Item{Kind: KindPackages, Change: Changed, Object: now.Name, ID: "packages",
		From: fmt.Sprintf("%d packages", len(was.Software)), To: fmt.Sprintf("%d packages", len(now.Software)),
		Detail: strings.Join(parts, "; ")})
}

func clip(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, ", ")
	}
	return strings.Join(ss[:n], ", ") + fmt.Sprintf(", and %d more", len(ss)-n)
}

func portID(p connector.Port) string { return "port:" + p.Proto + ":" + p.Addr }

// pidSuffix is the process id a connector may add to a port's process
// ("sshd (pid 1)"): it changes at every restart, the process does not.
var pidSuffix = regexp.MustCompile(`\s*\(pid \d+\)$`)

func procName(s string) string { return pidSuffix.ReplaceAllString(s, "") }

func (b *Baseline) ports(was, now *connector.System, target string, add func(Item)) {
	gone := b.goneAgents[key(target, now.Name)]
	old := map[string]connector.Port{}
	for _, p := range was.Ports {
		old[portID(p)] = p
	}
	cur := map[string]bool{}
	for _, p := range now.Ports {
		id := portID(p)
		cur[id] = true
		o, existed := old[id]
		switch {
		case !existed:
			add(Item{Kind: KindPort, Change: Added, Object: p.Proto + " " + p.Addr, ID: id, To: p.Process,
				Detail: fmt.Sprintf("%s %s is listening (%s), not in the dossier", p.Proto, p.Addr, cmp.Or(p.Process, "process unknown"))})
		case procName(o.Process) != procName(p.Process) && o.Process != "" && p.Process != "":
			add(Item{Kind: KindPort, Change: Changed, Object: p.Proto + " " + p.Addr, ID: id, From: o.Process, To: p.Process,
				Detail: fmt.Sprintf("%s %s is served by %s, was %s", p.Proto, p.Addr, p.Process, o.Process)})
		}
	}
	for _, o := range was.Ports {
		if cur[portID(o)] || (gone != nil && gone.processes[procName(o.Process)]) {
			continue
		}
		add(Item{Kind: KindPort, Change: Removed, Object: o.Proto + " " + o.Addr, ID: portID(o), From: o.Process,
			Detail: fmt.Sprintf("%s %s (%s) of the dossier no longer listens", o.Proto, o.Addr, cmp.Or(o.Process, "process unknown"))})
	}
}

func (b *Baseline) services(was, now *connector.System, target string, add func(Item)) {
	gone := b.goneAgents[key(target, now.Name)]
	old := map[string]connector.Service{}
	for _, s := range was.Services {
		old[s.Name] = s
	}
	cur := map[string]bool{}
	enabled := func(on bool) string {
		if on {
			return "enabled"
		}
		return "disabled"
	}
	for _, s := range now.Services {
		cur[s.Name] = true
		o, existed := old[s.Name]
		switch {
		case !existed:
			add(Item{Kind: KindServiceUnit, Change: Added, Object: s.Name, ID: "unit:" + s.Name, To: enabled(s.Enabled),
				Detail: fmt.Sprintf("service %s (%s) is not in the dossier", s.Name, enabled(s.Enabled))})
		case o.Enabled != s.Enabled:
			add(Item{Kind: KindServiceUnit, Change: Changed, Object: s.Name, ID: "unit:" + s.Name, From: enabled(o.Enabled), To: enabled(s.Enabled),
				Detail: fmt.Sprintf("service %s is %s, was %s", s.Name, enabled(s.Enabled), enabled(o.Enabled))})
		}
	}
	for _, o := range was.Services {
		if cur[o.Name] || (gone != nil && gone.units[o.Name]) {
			continue
		}
		add(Item{Kind: KindServiceUnit, Change: Removed, Object: o.Name, ID: "unit:" + o.Name, From: enabled(o.Enabled),
			Detail: fmt.Sprintf("service %s of the dossier is gone", o.Name)})
	}
}
