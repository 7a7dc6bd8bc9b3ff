package ssh

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Verify proves a host's changes on a re-inventory: the one the removal
// script ran once its changes were done (after), else a fresh one. Each
// removed key, rule, entry and agent is absent (an agent: no package in
// any dpkg state, no unit, no process, no path), each locked account
// expired, the access key present, and each rotated password's shadow
// hash the stored password's.
//
// Long: one case per action, each the checks that prove it.
func (t *target) Verify(ctx context.Context, system string, done []connector.Done, after connector.Observation) ([]connector.Check, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data, _ := after.(*hostData)
	if data == nil {
		var err error
		if data, err = t.readHost(ctx, h, true); err != nil {
			return nil, fmt.Errorf("re-inventory: %w", err)
		}
	}
	sys, err := t.system(ctx, h, data)
	if err != nil {
		return nil, fmt.Errorf("re-inventory: %w", err)
	}
	now := t.now()
	var checks []connector.Check
	check := func(ch plan.Change, kind connector.CheckKind, what string, ok bool, detail string) {
		checks = append(checks, connector.Check{Change: ch.ID, Kind: kind, What: what, OK: ok, Detail: detail, At: now})
	}
	findingByID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		findingByID[f.ID] = f
	}
	account := func(name string) (connector.Account, bool) {
		for _, a := range sys.Accounts {
			if a.Name == name {
				return a, true
			}
		}
		return connector.Account{}, false
	}
	for _, d := range done {
		ch := d.Change
		switch ch.Action {
		case plan.InstallKey:
			fp := ""
			for _, f := range sys.Findings {
				if k, ok := f.Data.(keyData); ok && k.AccessKey && k.File == ch.Params["file"] {
					fp = k.Fingerprint
				}
			}
			check(ch, connector.Present, "access key in "+ch.Params["file"]+" (re-inventory)", fp != "", fp)
		case plan.RotatePassword:
			user := ch.Params["user"]
			held := connector.HeldUnknown
			if a, ok := account(user); ok && a.Password != nil {
				held = a.Password.Held
			}
			check(ch, connector.Present, "shadow hash of "+user+" is the stored password's (re-inventory)", held == connector.HeldCurrent, "store: "+string(held))
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron:
			_, still := findingByID[ch.Finding]
			check(ch, connector.Absent, string(ch.Action)+": "+ch.Finding+" (re-inventory)", !still, "")
		case plan.LockAccount:
			a, _ := account(ch.Params["user"])
			check(ch, connector.State, "account "+ch.Params["user"]+" locked and expired (re-inventory: shadow)", a.State == "expired", "state: "+a.State)
		case plan.RemoveAgent:
			a, _ := t.catalog.Lookup(ch.Params["agent"])
			for _, c := range agentGone(data, a) {
				check(ch, connector.Absent, c.what, c.ok, c.detail)
			}
		}
	}
	return checks, nil
}

func pkgList(ps []pkgInfo) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name+" ("+p.State+")")
	}
	return strings.Join(s, " ")
}

func procList(ps []agentProc) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s (pid %d, by %s: exe %s, cmdline %q, cwd %s)", p.Comm, p.PID, strings.Join(p.Signals, ", "), cmp.Or(p.Exe, "-"), p.Args, cmp.Or(p.Cwd, "-")))
	}
	return strings.Join(s, "; ")
}

// agentCheck is one check of an agent's absence.
type agentCheck struct {
	what, detail string
	ok           bool
}

// agentGone checks on a re-inventory that agent a left nothing, each
// check naming what it read. A check passes only when what it read was
// read: a host with dpkg or rpm lists packages, a running systemd lists
// units, every host lists processes (the inventory's own session at
// least); an empty list there is a failed read, not an absence.
func agentGone(h *hostData, a Agent) []agentCheck {
	m := findAgent(h, a)
	pkgDB := slices.ContainsFunc(h.PkgMgrs, func(s string) bool { return s == "dpkg" || s == "rpm" })
	pkgs := agentCheck{"agent " + a.Name + ": no package left (any dpkg state, rc included; the package database read anew)", pkgList(m.Packages), len(m.Packages) == 0}
	if pkgDB && len(h.Packages) == 0 {
		pkgs.ok, pkgs.detail = false, "the package database read as empty: not read"
	}
	units := agentCheck{"agent " + a.Name + ": no unit left (unit files in every unit directory, and the units a running systemd holds)", strings.Join(m.Units, " "), len(m.Units) == 0}
	if h.Systemd && (len(h.LiveUnits) == 0 || len(h.UnitFiles) == 0) {
		units.ok, units.detail = false, fmt.Sprintf("systemd runs, but %d units held and %d unit files were read: not read", len(h.LiveUnits), len(h.UnitFiles))
	}
	procs := agentCheck{"agent " + a.Name + ": no process left: exe, cmdline, cwd, open files, maps and cgroups of every process checked", procList(m.Processes), len(m.Processes) == 0}
	if len(h.Procs) == 0 {
		procs.ok, procs.detail = false, "no process read: the process table was not read"
	} else if procs.ok {
		procs.detail = fmt.Sprintf("%d processes read", len(h.Procs))
	}
	paths := agentCheck{"agent " + a.Name + ": no path left (each of the catalogue's paths, configs and cron files tested)", strings.Join(m.Paths, " "), len(m.Paths) == 0}
	return []agentCheck{pkgs, units, procs, paths}
}
