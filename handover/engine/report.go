package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// buildReport assembles the report from the run's data: an allow-list of
// fields, none of which can hold a secret value.
func (s *Session) buildReport(ctx context.Context, rn *runner, res *Result, mode string, started time.Time) *report.Report {
	pb := s.Playbook
	h := pb.Handover
	h.Operator = s.Operator()
	r := &report.Report{
		FormatVersion: report.FormatVersion,
		Tool:          report.Tool{Name: "handover", Version: s.engine.Version},
		Lang:          pb.Report.Lang,
		Handover:      h,
		Playbook:      report.PlaybookInfo{File: pb.File, Hash: pb.Hash},
		Run:           report.Run{ID: res.RunID, Mode: mode, Operator: h.Operator, Started: started, Finished: s.engine.now()},
		Actions:       append(append([]report.Action{}, res.Recovered...), res.Actions...),
	}
	for _, inv := range res.Dossier {
		r.Dossier = append(r.Dossier, dossierCopy(inv))
	}
	for _, inv := range res.After {
		r.After = append(r.After, dossierCopy(inv))
	}
	r.Presentation = report.Present(r.Dossier, s.describe)
	r.Credentials = s.credentials(ctx, rn.store, res.Dossier)
	r.Outgoing = outgoingFates(res)
	r.Deviations = deviations(res)
	r.Deviations.Residual = append(r.Deviations.Residual, connectorSteps(res)...)
	r.Summary = summary(res)
	r.Run.Result = runResult(res)
	r.Formats = formats(pb.Report.Formats)
	s.declaredReport(rn, r, res)
	r.Handoffs = s.handoffs(r)
	return r
}

// declaredReport puts the declared items, the attestation journal they
// were read from and the completeness figure in the report, pins the
// attestation journal's head in the run's journal, and lists every item
// not done as a deviation.
func (s *Session) declaredReport(rn *runner, r *report.Report, res *Result) {
	if len(s.Playbook.Declared) == 0 {
		r.Completeness = completeness(res, nil)
		return
	}
	att := s.ReadAttestations()
	r.Attestations = att
	r.Declared = s.DeclaredStatus(att, s.engine.now())
	r.Completeness = completeness(res, r.Declared)
	detail := map[string]string{"event": "attestations", "file": att.File, "head": att.Head, "records": fmt.Sprint(len(att.Records))}
	if att.Error != "" {
		detail["error"] = att.Error
		r.Deviations.Failures = append(r.Deviations.Failures, report.Failure{Target: "declared", Error: "attestation journal " + att.File + ": " + att.Error})
	}
	_ = rn.record(journal.Record{Kind: journal.Event, Detail: detail})
	for _, it := range r.Declared {
		switch it.Status {
		case report.DeclaredAwaiting, report.DeclaredStale:
			r.Deviations.Residual = append(r.Deviations.Residual, fmt.Sprintf("declared %s (%s, %s): %s", it.Item.ID, it.Item.Kind, it.Item.Name, it.Detail))
		}
	}
}

// describe is how the connector of a target says its systems read in the
// report, if it says.
func (s *Session) describe(target string) (connector.Presentation, bool) {
	for _, t := range s.Targets {
		if t.Spec.Name != target {
			continue
		}
		if d, ok := t.Connector.(connector.Describer); ok {
			return d.Describe(), true
		}
	}
	return connector.Presentation{}, false
}

// formats are the report's formats as report.formats asks (json always
// first); nil for all three, the default (and what an unset list means).
func formats(asked []string) []string {
	if len(asked) == 0 {
		return nil
	}
	out := []string{"json"}
	for _, f := range []string{"html", "md"} {
		if slices.Contains(asked, f) {
			out = append(out, f)
		}
	}
	if len(out) == 3 {
		return nil
	}
	return out
}

// credentials says where each admin account's current credential is, and
// lists every credential the store holds for this playbook's targets.
func (s *Session) credentials(ctx context.Context, st secret.Store, invs []*connector.Inventory) []report.Credential {
	versions, err := st.List(ctx)
	if err != nil {
		s.engine.log().Warn("listing the secret store for the report", "error", err)
	}
	targets := map[string]bool{}
	for _, t := range s.Targets {
		targets[t.Spec.Name] = true
	}
	var out []report.Credential
	stored := map[string]bool{}
	for _, v := range versions {
		if v.State != secret.Current || !targets[v.Meta["target"]] {
			continue
		}
		stored[v.Path] = true
		out = append(out, report.Credential{
			Target: v.Meta["target"], System: v.Meta["system"], Account: v.Meta["object"],
			Store: st.Kind(), Where: st.Location(), Path: v.Path, Version: v.Version, Changed: v.Created,
		})
	}
	for _, inv := range invs {
		for _, sys := range inv.Systems {
			for _, a := range sys.Accounts {
				if !a.Admin || stored[connector.SecretPath(inv.Target, sys.Name, a.Name)] {
					continue
				}
				c := report.Credential{Target: inv.Target, System: sys.Name, Account: a.Name}
				if a.PasswordChanged != nil {
					c.Changed = *a.PasswordChanged
				}
				out = append(out, c)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.System != b.System {
			return a.System < b.System
		}
		return a.Account < b.Account
	})
	return out
}

// outgoingFates lists each of the provider's footholds and what became of
// it.
func outgoingFates(res *Result) []report.ProviderAccess {
	type key struct{ target, system, finding string }
	fate := map[key]report.ProviderAccess{}
	if res.Plan != nil {
		for _, w := range res.Plan.Waived {
			fate[key{w.Change.Target, w.Change.System, w.Change.Finding}] = report.ProviderAccess{Fate: report.FateWaived, Change: w.Change.ID}
		}
	}
	for _, a := range res.Actions {
		if a.Change.Finding == "" {
			continue
		}
		k := key{a.Change.Target, a.Change.System, a.Change.Finding}
		f := report.FateFailed
		switch {
		case a.Result == plan.Applied && a.Change.Action == plan.LockAccount:
			f = report.FateLocked
		case a.Result == plan.Applied:
			f = report.FateRemoved
		case a.Result == plan.Skipped:
			f = report.FateRemaining
		}
		prev, seen := fate[k]
		// A finding acted on by several changes (key removed from two files)
		// is only gone when all of them succeeded.
		if seen && prev.Fate != f && (prev.Fate == report.FateFailed || prev.Fate == report.FateRemaining) {
			continue
		}
		if seen && prev.Fate == report.FateRemoved && f == report.FateLocked {
			f = report.FateRemoved
		}
		fate[k] = report.ProviderAccess{Fate: f, Change: a.Change.ID}
	}
	var out []report.ProviderAccess
	for _, inv := range res.Dossier {
		for _, sys := range inv.Systems {
			for _, fd := range sys.Findings {
				if !fd.Provider {
					continue
				}
				pa, ok := fate[key{inv.Target, sys.Name, fd.ID}]
				if !ok {
					pa.Fate = report.FateRemaining
				}
				pa.Target, pa.System, pa.Finding = inv.Target, sys.Name, plainFinding(fd)
				out = append(out, pa)
			}
		}
	}
	return out
}

// connectorSteps are the steps a connector saw but could not make (plan
// Manual with a Target), each a deviation: left for a person, not done by
// this run.
func connectorSteps(res *Result) []string {
	if res.Plan == nil {
		return nil
	}
	var out []string
	for _, m := range res.Plan.Manual {
		if m.Target == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s: manual step %s (%s, %s), not made by handover: %s", m.Target, m.Item, m.Action, m.Name, m.Detail))
	}
	return out
}

func deviations(res *Result) report.Deviations {
	var d report.Deviations
	if res.Plan != nil {
		d.Waivers = res.Plan.Waived
		for _, p := range res.Plan.Problems {
			d.Failures = append(d.Failures, report.Failure{Target: p.Target, System: p.System, Error: p.Error})
			d.Residual = append(d.Residual, fmt.Sprintf("%s/%s was not covered by this run (%s): check it by hand or run again once it is reachable", p.Target, p.System, p.Error))
		}
	}
	for _, a := range append(append([]report.Action{}, res.Recovered...), res.Actions...) {
		switch {
		case a.Result.Settled():
			for _, c := range a.Verification {
				if !c.OK {
					d.Residual = append(d.Residual, fmt.Sprintf("%s/%s %s %s: not proven: %s %s", a.Change.Target, a.Change.System, a.Change.Action, a.Change.Object, c.What, c.Detail))
				}
			}
		default:
			d.Failures = append(d.Failures, report.Failure{Target: a.Change.Target, System: a.Change.System, Change: a.Change.ID,
				Error: fmt.Sprintf("%s %s: %s: %s", a.Change.Action, a.Change.Object, a.Result, a.Error)})
		}
	}
	return d
}

func summary(res *Result) report.Summary {
	var out report.Summary
	idx := map[string]int{}
	for _, inv := range res.Dossier {
		ts := report.TargetSummary{Target: inv.Target, Type: inv.Type, Systems: len(inv.Systems)}
		for _, sys := range inv.Systems {
			if sys.Error == "" {
				ts.Reached++
			}
			for _, f := range sys.Findings {
				if f.Provider {
					ts.Findings++
				}
			}
		}
		idx[inv.Target] = len(out.Targets)
		out.Targets = append(out.Targets, ts)
	}
	if res.Plan != nil {
		for _, ch := range res.Plan.Changes {
			if i, ok := idx[ch.Target]; ok {
				out.Targets[i].Planned++
			}
		}
		for _, w := range res.Plan.Waived {
			if i, ok := idx[w.Change.Target]; ok {
				out.Targets[i].Waived++
			}
		}
	}
	for _, a := range res.Actions {
		i, ok := idx[a.Change.Target]
		if !ok {
			continue
		}
		switch a.Result {
		case plan.Applied:
			out.Targets[i].Applied++
			if a.Verified {
				out.Targets[i].Verified++
			}
		default:
			out.Targets[i].Failed++
		}
	}
	return out
}

// runResult: success when every change was applied and proven, no-changes
// when there was nothing to do, failed when nothing could be applied,
// partial otherwise.
func runResult(res *Result) report.RunResult {
	applied, bad := 0, 0
	for _, a := range append(append([]report.Action{}, res.Recovered...), res.Actions...) {
		switch {
		case a.Result.OK():
			applied++
			if !a.Verified {
				bad++
			}
		case a.Result.Settled():
		default:
			bad++
		}
	}
	problems := res.Plan != nil && len(res.Plan.Problems) > 0
	switch {
	case applied == 0 && bad == 0 && !problems:
		return report.RunNoChanges
	case bad == 0 && !problems:
		return report.RunSuccess
	case applied == 0 && bad > 0:
		return report.RunFailed
	}
	return report.RunPartial
}

// dossierCopy is an inventory as report.json holds it: what a connector's
// plan reads of a finding (Finding.Data, a value of the connector's own
// type) becomes plain JSON data, so that the signed report reads back and
// encodes again to the same bytes (sorted keys), as canonical form asks.
func dossierCopy(inv *connector.Inventory) connector.Inventory {
	out := *inv
	out.Systems = slices.Clone(inv.Systems)
	for i := range out.Systems {
		fs := slices.Clone(out.Systems[i].Findings)
		for j := range fs {
			fs[j] = plainFinding(fs[j])
		}
		out.Systems[i].Findings = fs
	}
	return out
}

// plainFinding is f with its Data as plain JSON data (see dossierCopy).
func plainFinding(f connector.Finding) connector.Finding {
	if f.Data == nil {
		return f
	}
	var plain any
	if b, err := json.Marshal(f.Data); err == nil && json.Unmarshal(b, &plain) == nil {
		f.Data = plain
	} else {
		f.Data = nil
	}
	return f
}
