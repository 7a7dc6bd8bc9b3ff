package engine

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

// RunOptions tune a run.
type RunOptions struct {
	// Parallel bounds concurrent systems (0: the policy's, else 20).
	Parallel int
	// Plan, when set, is applied instead of a fresh one; it is refused if
	// the playbook or any target's inventory changed since it was made.
	Plan *plan.Plan
	// Confirm is asked before any change is made; nil means yes.
	Confirm func(*plan.Plan) (bool, error)
	// RecoverOnly settles what earlier runs left unfinished, and stops.
	RecoverOnly bool
}

// Result is what a run did.
type Result struct {
	RunID   string
	Plan    *plan.Plan
	Dossier []*connector.Inventory
	// After is the re-inventory taken once the changes were made (nil
	// when nothing was applied): the dossier freshness checks compare with.
	After     []*connector.Inventory
	Recovered []report.Action
	Actions   []report.Action
	Report    *report.Report
	ReportDir string
	Files     []string
	Journal   string
	Declined  bool
}

// Failed reports whether anything went wrong: a failed or unproven
// change, an unresolved recovery, or a target that could not be covered.
func (r *Result) Failed() bool {
	if r.Report != nil && r.Report.Run.Result != report.RunSuccess && r.Report.Run.Result != report.RunNoChanges {
		return true
	}
	for _, a := range append(append([]report.Action{}, r.Recovered...), r.Actions...) {
		if !a.Result.Settled() {
			return true
		}
	}
	return r.Plan != nil && len(r.Plan.Problems) > 0
}

// NewRunID names a run: its UTC start time and a random suffix, so runs
// sort by time and never collide. Both come from the engine's clock and
// randomness, so a test that injects them gets the same id every time.
func (e *Engine) NewRunID() string {
	var b [3]byte
	// crypto/rand does not fail; an injected reader that runs dry leaves
	// zeros, and the time still names the run.
	_, _ = io.ReadFull(e.rand(), b[:])
	return e.now().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Run makes the handover: lock the state, check the secret store, settle
// what earlier runs left unfinished, inventory, plan (or check a given
// plan), confirm, apply under the write-ahead journal, verify, and write
// the report. It returns an error only when it could not run at all; what
// failed inside the run is in the Result.
func (s *Session) Run(ctx context.Context, opts RunOptions) (*Result, error) {
	e := s.engine
	res := &Result{RunID: e.NewRunID()}
	unlock, err := s.lock(res.RunID)
	if err != nil {
		return nil, err
	}
	defer unlock()

	store, err := s.Store(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w (nothing was changed)", err)
	}
	if err := store.Check(ctx); err != nil {
		return nil, fmt.Errorf("secret store %s at %s cannot take new credentials, so nothing was changed: %w", store.Kind(), store.Location(), err)
	}

	res.Journal = filepath.Join(s.runsDir(), res.RunID, "journal.jsonl")
	j, err := journal.Create(res.Journal, res.RunID, s.Operator(), e.now)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	s.mu.Lock()
	s.journal = j
	early := s.events
	s.events = nil
	s.mu.Unlock()
	rn := &runner{s: s, store: store, journal: j, run: res.RunID}
	mode := "run"
	if opts.RecoverOnly {
		mode = "resume"
	}
	start := map[string]string{
		"mode": mode, "playbook": s.Playbook.File, "playbook_sha256": s.Playbook.Hash, "tool_version": e.Version,
		"store": store.Kind() + ":" + store.Location(),
	}
	if s.Limit != nil {
		start["limit"] = s.Limit.Pattern
	}
	if err := rn.record(journal.Record{Kind: journal.RunStart, Detail: start}); err != nil {
		return nil, err
	}
	for _, ev := range early {
		_ = rn.record(ev)
	}
	started := e.now()

	recovered, blocked, err := rn.recover(ctx)
	if err != nil {
		rn.end(report.RunFailed, err)
		return nil, err
	}
	res.Recovered = recovered

	if !opts.RecoverOnly {
		if err := s.planAndApply(ctx, rn, res, opts, blocked); err != nil {
			rn.end(report.RunFailed, err)
			return nil, err
		}
	}
	if res.Declined {
		rn.end("declined", nil)
		return res, nil
	}
	if err := s.reinventory(ctx, rn, res, opts.Parallel); err != nil {
		rn.end(report.RunFailed, err)
		return nil, err
	}
	res.Report = s.buildReport(ctx, rn, res, mode, started)
	if err := rn.end(res.Report.Run.Result, nil); err != nil {
		return nil, err
	}
	recs, head, err := journal.VerifyFile(res.Journal)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	res.Report.Journal = report.Journal{File: "journal.jsonl", Head: head, Records: recs}
	res.ReportDir = filepath.Join(s.reportDir(), res.RunID)
	rn.crash(StepReport, plan.Change{})
	write := e.WriteReport
	if write == nil {
		write = writeReportJSON
	}
	// The report is written even after Ctrl-C: it records what was done.
	files, err := write(context.WithoutCancel(ctx), res.ReportDir, res.Report, res.Journal)
	if err != nil {
		return res, fmt.Errorf("report: %w (the journal %s holds the run's record)", err, res.Journal)
	}
	res.Files = files
	return res, nil
}

// end journals the end of the run and closes the journal.
func (r *runner) end(result report.RunResult, err error) error {
	// The run-end record carries the run's result.
	rec := journal.Record{Kind: journal.RunEnd, Result: plan.Result(result)}
	if err != nil {
		rec.Error = err.Error()
	}
	aerr := r.record(rec)
	r.s.mu.Lock()
	r.s.journal = nil
	r.s.mu.Unlock()
	cerr := r.journal.Close()
	if aerr != nil {
		return aerr
	}
	return cerr
}

func (s *Session) planAndApply(ctx context.Context, rn *runner, res *Result, opts RunOptions, blocked map[string]string) error {
	invs := s.Inventory(ctx, opts.Parallel)
	res.Dossier = invs
	for _, inv := range invs {
		d := map[string]string{"fingerprint": inv.Fingerprint(), "systems": strconv.Itoa(len(inv.Systems))}
		var errs []string
		for _, sys := range inv.Systems {
			if sys.Error != "" {
				errs = append(errs, sys.Name+": "+sys.Error)
			}
		}
		rec := journal.Record{Kind: journal.Inventory, Target: inv.Target, Result: plan.Done, Detail: d}
		if len(errs) > 0 {
			rec.Result, rec.Error = plan.Partial, strings.Join(errs, "; ")
		}
		if err := rn.record(rec); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted after the inventory, before any change: %w", err)
	}
	fresh := s.Plan(invs)
	p := fresh
	if opts.Plan != nil {
		if err := checkPlan(opts.Plan, fresh); err != nil {
			return err
		}
		p = opts.Plan
		p.Problems = fresh.Problems
		// The declared steps are no part of what the plan applies: they
		// read as they stand now (attested since the plan was made).
		p.Manual = fresh.Manual
	}
	res.Plan = p
	if err := rn.record(journal.Record{Kind: journal.Planned, Result: plan.Done, Detail: map[string]string{
		"changes": strconv.Itoa(len(p.Changes)), "waived": strconv.Itoa(len(p.Waived)), "problems": strconv.Itoa(len(p.Problems)),
	}}); err != nil {
		return err
	}
	if len(p.Changes) > 0 && opts.Confirm != nil {
		ok, err := opts.Confirm(p)
		if err != nil {
			return err
		}
		if !ok {
			res.Declined = true
			return nil
		}
	}
	// No system is changed by two runs at once (targetlock.go).
	held, release := s.systemLocks(ctx, rn.store, rn.run, invs, p)
	defer release()
	res.Actions = s.apply(ctx, rn, p, opts.Parallel, blocked, held)
	return nil
}

// checkPlan refuses a saved plan that no longer describes the estate.
func checkPlan(saved, fresh *plan.Plan) error {
	if saved.PlaybookHash != fresh.PlaybookHash {
		return fmt.Errorf("the plan was made from another version of the playbook (sha256 %.12s, now %.12s): make a new plan", saved.PlaybookHash, fresh.PlaybookHash)
	}
	if saved.Limit != fresh.Limit {
		describe := func(l string) string {
			if l == "" {
				return "without --limit"
			}
			return fmt.Sprintf("with --limit %q", l)
		}
		return fmt.Errorf("the plan was made %s and this run is %s: apply it with the same limit, or make a new plan", describe(saved.Limit), describe(fresh.Limit))
	}
	var stale []string
	for t, fp := range saved.Fingerprints {
		if fresh.Fingerprints[t] != fp {
			stale = append(stale, t)
		}
	}
	for t := range fresh.Fingerprints {
		if _, ok := saved.Fingerprints[t]; !ok {
			stale = append(stale, t)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("the estate changed since the plan was made (targets: %s): make a new plan", strings.Join(stale, ", "))
	}
	return nil
}

// apply runs the plan's changes, each system's in plan order: its new
// credentials in a first pass over every system, the rest in a second,
// systems in parallel (bounded) in each.
func (s *Session) apply(ctx context.Context, rn *runner, p *plan.Plan, parallel int, blocked, held map[string]string) []report.Action {
	type group struct {
		t       *Target
		changes []plan.Change
	}
	var groups []*group
	index := map[string]*group{}
	for _, ch := range p.Changes {
		key := ch.Target + "\x00" + ch.System
		g := index[key]
		if g == nil {
			g = &group{t: s.target(ch.Target)}
			index[key] = g
			groups = append(groups, g)
		}
		g.changes = append(g.changes, ch)
	}
	runs := make([]*systemRun, len(groups))
	results := make([][]report.Action, len(groups))
	for _, g := range groups {
		s.engine.progress(g.changes[0].Target, g.changes[0].System, Pending, "")
	}
	for i, g := range groups {
		first := g.changes[0]
		why, isBlocked := blocked[first.Target+"\x00"+first.System]
		switch {
		case g.t == nil:
			why, isBlocked = fmt.Sprintf("target %q is not in the playbook", first.Target), true
		case isBlocked:
			why = "an earlier rotation on this system is unresolved: " + why
		case held[first.Target+"\x00"+first.System] != "":
			why, isBlocked = held[first.Target+"\x00"+first.System], true
		}
		if isBlocked {
			for _, ch := range g.changes {
				results[i] = append(results[i], report.Action{Change: ch, Result: plan.Skipped, Error: why, Started: s.engine.now(), Finished: s.engine.now()})
			}
			s.engine.progress(first.Target, first.System, Failing, why)
			continue
		}
		runs[i] = rn.newSystemRun(g.t, g.changes)
	}
	// Two passes, each systems in parallel (bounded): new credentials
	// everywhere, then the rest; see systemRun.
	for _, pass := range []func(context.Context, *systemRun){rn.credentialsFirst, rn.rest} {
		eg := errgroup.Group{}
		eg.SetLimit(s.parallel(parallel))
		for _, sr := range runs {
			if sr != nil {
				eg.Go(func() error {
					pass(ctx, sr)
					return nil
				})
			}
		}
		eg.Wait()
	}
	for _, sr := range runs {
		if sr == nil || sr.after == nil {
			continue
		}
		if rn.seen == nil {
			rn.seen = map[string]map[string]connector.Observation{}
		}
		tn := sr.t.Spec.Name
		if rn.seen[tn] == nil {
			rn.seen[tn] = map[string]connector.Observation{}
		}
		rn.seen[tn][sr.changes[0].System] = sr.after
	}
	var out []report.Action
	for i, sr := range runs {
		if sr != nil {
			results[i] = rn.finish(sr)
		}
		out = append(out, results[i]...)
	}
	return out
}

// reinventory reads every target again once changes were applied, so the
// report holds the estate as the run left it (report.After): what
// `handover check` compares with. Read-only, like the first inventory;
// journaled; skipped when nothing was applied or the run was interrupted.
// A system whose last changes' session read it again after them (a
// connector's Applied.After) is taken from that reading where the
// connector is a Reobserver.
func (s *Session) reinventory(ctx context.Context, rn *runner, res *Result, parallel int) error {
	applied := false
	for _, a := range append(append([]report.Action{}, res.Recovered...), res.Actions...) {
		applied = applied || a.Result.OK()
	}
	if !applied || ctx.Err() != nil {
		return nil
	}
	res.After = s.inventory(ctx, parallel, rn.seen)
	rn.seen = nil // the readings are in res.After now: not held through the report's writing
	var recs []journal.Record
	for _, inv := range res.After {
		d := map[string]string{"phase": "after", "fingerprint": inv.Fingerprint(), "systems": strconv.Itoa(len(inv.Systems))}
		rec := journal.Record{Kind: journal.Inventory, Target: inv.Target, Result: plan.Done, Detail: d}
		var errs []string
		for _, sys := range inv.Systems {
			if sys.Error != "" {
				errs = append(errs, sys.Name+": "+sys.Error)
			}
		}
		if len(errs) > 0 {
			rec.Result, rec.Error = plan.Partial, strings.Join(errs, "; ")
		}
		recs = append(recs, rec)
	}
	return rn.recordAll(recs)
}

// reportDir is where each run's report directory goes.
func (s *Session) reportDir() string {
	if d := s.Playbook.Report.Dir; d != "" {
		return s.path(d)
	}
	return filepath.Join(s.StateDir(), "reports")
}

// writeReportJSON is the fallback report writer: report.json, unsigned,
// written whole and, like a signed one, never over another.
func writeReportJSON(_ context.Context, dir string, r *report.Report, _ string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, report.JSONFile)
	return []string{p}, atomicfile.Create(p, append(b, '\n'), 0o644)
}
