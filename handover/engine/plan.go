package engine

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
)

// Plan derives the changes from inventories. It does no I/O: each
// connector's Plan is a pure function of its inventory, and the engine only
// applies waivers and records what could not be covered.
func (s *Session) Plan(invs []*connector.Inventory) *plan.Plan {
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Created:       s.engine.now(),
		Playbook:      s.Playbook.File,
		PlaybookHash:  s.Playbook.Hash,
		Fingerprints:  map[string]string{},
	}
	if s.Limit != nil {
		p.Limit = s.Limit.Pattern
	}
	byName := map[string]*Target{}
	for _, t := range s.Targets {
		byName[t.Spec.Name] = t
	}
	for _, inv := range invs {
		p.Fingerprints[inv.Target] = inv.Fingerprint()
		for _, sys := range inv.Systems {
			if sys.Error != "" {
				p.Problems = append(p.Problems, plan.Problem{Target: inv.Target, System: sys.Name, Error: sys.Error})
			}
		}
		t := byName[inv.Target]
		if t == nil {
			continue
		}
		d := Decide(s.Playbook.Policy, inv.Target, inv, s.engine.now())
		changes, err := t.Impl.Plan(inv, d)
		if err != nil {
			p.Problems = append(p.Problems, plan.Problem{Target: inv.Target, Error: "plan: " + err.Error()})
			continue
		}
		for _, ch := range changes {
			if ch.Action == plan.RotatePassword && ch.Finding == "" {
				// What a waiver names: the account's credential.
				ch.Finding = connector.KindCredAge + ":" + ch.Object
			}
			if _, ok := d.Rotation(ch.System, ch.Object); ch.Action == plan.RotatePassword && !ok {
				// The engine decides rotations; a connector that plans
				// another has a bug, and the change is not made.
				p.Problems = append(p.Problems, plan.Problem{Target: inv.Target, System: ch.System,
					Error: fmt.Sprintf("plan: the %s connector planned a rotation of %s that the policy did not decide", inv.Type, ch.Object)})
				continue
			}
			ch.Target = inv.Target
			ch.MakeID()
			if w, ok := s.waiverFor(ch, inv); ok {
				if !w.Expires.IsZero() && w.Expires.Before(p.Created) {
					p.Problems = append(p.Problems, plan.Problem{Target: ch.Target, System: ch.System, Kind: plan.ProblemWaiverExpired,
						Error: fmt.Sprintf("waiver at %s for %q expired on %s: the change is planned again", w.Pos, w.Finding, w.Expires.Format("2006-01-02"))})
				} else {
					p.Waived = append(p.Waived, plan.Waived{Change: ch, Justification: w.Justification, Approver: w.Approver, Expires: w.Expires})
					continue
				}
			}
			p.Changes = append(p.Changes, ch)
		}
	}
	p.Sort()
	p.Manual = s.manualSteps(p.Created)
	p.Manual = append(p.Manual, s.connectorSteps(invs, byName)...)
	return p
}

// connectorSteps are the steps connectors see but cannot make, awaiting
// a person. A declared item of the same id stands for one (it is listed
// with the declared items, with its attestation), so that the step is
// attested like any declared item.
func (s *Session) connectorSteps(invs []*connector.Inventory, byName map[string]*Target) []plan.Manual {
	var out []plan.Manual
	for _, inv := range invs {
		t := byName[inv.Target]
		if t == nil {
			continue
		}
		ms, ok := t.Impl.(connector.ManualStepper)
		if !ok {
			continue
		}
		for _, m := range ms.ManualSteps(inv) {
			if _, declared := s.declared(m.Item); declared {
				continue
			}
			m.Target = inv.Target
			m.Status = string(report.DeclaredAwaiting)
			out = append(out, m)
		}
	}
	return out
}

// waiverFor finds the waiver covering a change: same target, and the
// waiver's finding pattern matches the change's finding id, its object, or
// "system/finding".
func (s *Session) waiverFor(ch plan.Change, _ *connector.Inventory) (playbook.Waiver, bool) {
	for _, w := range s.Playbook.Waivers {
		if w.Target != ch.Target {
			continue
		}
		for _, cand := range []string{ch.Finding, ch.Object, ch.System + "/" + ch.Finding, ch.System + "/" + ch.Object} {
			if cand == "" || strings.HasPrefix(cand, "/") {
				continue
			}
			if glob(w.Finding, cand) {
				return w, true
			}
		}
	}
	return playbook.Waiver{}, false
}

// glob matches s against a pattern where * is any run of characters
// (slashes included: finding ids hold base64 fingerprints) and ? one.
func glob(pattern, s string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(s)
}
