package ssh

import (
	"context"
	"fmt"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

func (t *target) Verify(ctx context.Context, system string, applied []plan.Change) ([]connector.Check, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data := t.takeReinventory(system)
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
	check := func(ch plan.Change, what string, ok bool, detail string) {
		checks = append(checks, connector.Check{Change: ch.ID, What: what, OK: ok, Detail: detail, At: now})
	}
	findingByID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		findingByID[f.ID] = f
	}
	for _, ch := range applied {
		switch ch.Action {
		case plan.InstallKey:
			fp := ""
			for _, f := range sys.Findings {
				if f.Kind == connector.KindSSHKey && f.Detail[detailAccessKey] == "true" && f.Detail[detailFile] == ch.Params["file"] {
					fp = f.Detail["fingerprint"]
				}
			}
			check(ch, "access key present in "+ch.Params["file"]+" on re-inventory", fp != "", fp)
			if m := t.method(ch.ID); m != "" {
				check(ch, "access key proven by "+m, true, "")
			}
		case plan.RotatePassword:
			f, ok := findingByID["credential-age:"+ch.Params["user"]]
			state := f.Detail[detailInStore]
			check(ch, "shadow hash of "+ch.Params["user"]+" matches the stored password on re-inventory", ok && state == "current", "store: "+state)
			if m := t.method(ch.ID); m != "" {
				check(ch, "old and new passwords tested by "+m, true, "")
			}
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron:
			_, still := findingByID[ch.Finding]
			check(ch, string(ch.Action)+": "+ch.Finding+" absent on re-inventory", !still, "")
		case plan.LockAccount:
			st := ""
			for _, a := range sys.Accounts {
				if a.Name == ch.Params["user"] {
					st = a.State
				}
			}
			check(ch, "account "+ch.Params["user"]+" locked and expired on re-inventory", st == "expired", "state: "+st)
		case plan.RemoveAgent:
			a, _ := t.catalog.Lookup(ch.Params["agent"])
			m := findAgent(data, a)
			check(ch, "agent "+a.Name+": no package left (any dpkg state, rc included)", len(m.Packages) == 0, pkgList(m.Packages))
			check(ch, "agent "+a.Name+": no unit left (no unit file, none held by systemd)", len(m.Units) == 0, strings.Join(m.Units, " "))
			check(ch, "agent "+a.Name+": no process left", len(m.Processes) == 0, procList(m.Processes))
			check(ch, "agent "+a.Name+": no path left", len(m.Paths) == 0, strings.Join(m.Paths, " "))
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
