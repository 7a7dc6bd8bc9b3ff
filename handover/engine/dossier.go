package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

// DossierUpdateOptions tune a dossier update.
type DossierUpdateOptions struct {
	Parallel int
	// Reason is why the drift is accepted; journaled with each item.
	Reason string
	// Confirm is shown the drift the update accepts before anything is
	// written; nil means yes.
	Confirm func(accepted []drift.Item) (bool, error)
}

// DossierUpdate re-issues the dossier after a person reviewed the drift:
// it verifies the current baseline (the newest signed report, if any),
// inventories every target without changing anything, journals each drift
// item it accepts as the new truth, and writes a signed report of mode
// "dossier-update" whose dossier is that inventory, chained to the
// previous report by its digest. Freshness checks then compare with it.
func (s *Session) DossierUpdate(ctx context.Context, opts DossierUpdateOptions) (*Result, error) {
	e := s.engine
	res := &Result{RunID: e.NewRunID()}
	unlock, err := s.lock(res.RunID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	prev, info, err := s.Baseline(ctx, "")
	if err != nil && !errors.Is(err, ErrNoBaseline) {
		return nil, err
	}
	store, err := s.Store(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	started := e.now()
	res.Dossier = s.Inventory(ctx, opts.Parallel)
	res.Plan = s.Plan(res.Dossier)
	var accepted []drift.Item
	if prev != nil {
		accepted = drift.Compare(drift.FromReport(prev), res.Dossier)
	}
	if opts.Confirm != nil {
		ok, err := opts.Confirm(accepted)
		if err != nil {
			return nil, err
		}
		if !ok {
			res.Declined = true
			return res, nil
		}
	}
	res.Journal = filepath.Join(s.runsDir(), res.RunID, "journal.jsonl")
	j, err := journal.Create(res.Journal, res.RunID, s.Operator(), e.now)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	rn := &runner{s: s, store: store, journal: j, run: res.RunID}
	start := map[string]string{"mode": "dossier-update", "playbook": s.Playbook.File, "playbook_sha256": s.Playbook.Hash, "tool_version": e.Version}
	if info != nil {
		start["previous_report"], start["previous_sha256"] = info.RunID, info.SHA256
	}
	if opts.Reason != "" {
		start["reason"] = opts.Reason
	}
	if err := rn.record(journal.Record{Kind: journal.RunStart, Detail: start}); err != nil {
		return nil, err
	}
	var recs []journal.Record
	for _, inv := range res.Dossier {
		d := map[string]string{"fingerprint": inv.Fingerprint(), "systems": strconv.Itoa(len(inv.Systems))}
		recs = append(recs, journal.Record{Kind: journal.Inventory, Target: inv.Target, Result: plan.Done, Detail: d})
	}
	// Accepting drift is explicit: each item the new dossier takes as
	// true is a journal record, covered by the report's signature.
	for _, it := range accepted {
		recs = append(recs, journal.Record{Kind: journal.Event, Target: it.Target, System: it.System, Object: it.Object, Result: plan.Done,
			Detail: map[string]string{"event": "drift-accepted", "kind": it.Kind, "change": string(it.Change), "id": it.ID, "from": it.From, "to": it.To, "detail": it.Detail, "reason": opts.Reason}})
	}
	if err := rn.recordAll(recs); err != nil {
		return nil, err
	}
	r := s.buildReport(ctx, rn, res, "dossier-update", started)
	if info != nil {
		r.Previous = &report.Previous{RunID: info.RunID, SHA256: info.SHA256, Accepted: len(accepted)}
	}
	res.Report = r
	if err := rn.end(r.Run.Result, nil); err != nil {
		return nil, err
	}
	jrecs, head, err := journal.VerifyFile(res.Journal)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r.Journal = report.Journal{File: "journal.jsonl", Head: head, Records: jrecs}
	res.ReportDir = filepath.Join(s.reportDir(), res.RunID)
	write := e.WriteReport
	if write == nil {
		write = writeReportJSON
	}
	files, err := write(context.WithoutCancel(ctx), res.ReportDir, r, res.Journal)
	if err != nil {
		return res, fmt.Errorf("report: %w (the journal %s holds the update's record)", err, res.Journal)
	}
	res.Files = files
	return res, nil
}
