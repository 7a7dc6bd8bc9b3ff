package ssh

import (
	"context"
	"fmt"
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
			m := findAgent(data, a)
			check(ch, connector.Absent, "agent "+a.Name+": no package left (any dpkg state, rc included)", len(m.Packages) == 0, pkgList(m.Packages))
			check(ch, connector.Absent, "agent "+a.Name+": no unit left (no unit file, none held by systemd)", len(m.Units) == 0, strings.Join(m.Units, " "))
			check(ch, connector.Absent, "agent "+a.Name+": no process left", len(m.Processes) == 0, procList(m.Processes))
			check(ch, connector.Absent, "agent "+a.Name+": no path left", len(m.Paths) == 0, strings.Join(m.Paths, " "))
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

func procList(ps []procInfo) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
	}
	return strings.Join(s, " ")
}
