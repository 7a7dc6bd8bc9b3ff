package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/crashpoint"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// mutationTimeout bounds one change on a target once started. A change in
// flight is not cancelled by Ctrl-C: it finishes (or times out) and is
// journaled, so nothing is left half-known.
var mutationTimeout = 2 * time.Minute

// SetChangeTimeout changes the time limit of one change (2 minutes). Only
// the test build's fault tests shorten it (HANDOVER_CHANGE_TIMEOUT), to
// prove what happens when a target answers too late.
func SetChangeTimeout(d time.Duration) {
	if d > 0 {
		mutationTimeout = d
	}
}

// groupTimeout bounds a group of n changes made together: each keeps its
// own allowance (a host's agents, each with its vendor uninstaller, are
// removed by one script).
func groupTimeout(n int) time.Duration { return time.Duration(max(n, 1)) * mutationTimeout }

// Crash steps of the rotation protocol, in order. Tests kill the process at
// each to prove recovery.
const (
	StepPending = "pending" // new secret stored as pending
	StepIntent  = "intent"  // intent journaled
	StepSet     = "set"     // target changed
	StepOutcome = "outcome" // outcome journaled
	StepVerify  = "verify"  // verification journaled, before promotion
	// Other changes (removals, locks): a group's intents are journaled,
	// the connector applies it, its outcomes are journaled.
	StepApplyIntent  = "apply-intent"  // intents journaled, target not yet called
	StepApplyOutcome = "apply-outcome" // outcomes journaled
	// Recovery of an earlier run's pending credential: tested, its
	// outcome decided, the store not yet updated.
	StepRecover = "recover"
	// The run ended (run-end journaled), its report not yet written.
	StepReport = "report"
)

// runner applies one run's changes.
type runner struct {
	s       *Session
	store   secret.Store
	journal *journal.Journal
	run     string
	// seen is, per target and system, the connector's reading made by
	// the system's last group of changes (systemRun.after), for the
	// reading after the run.
	seen map[string]map[string]connector.Observation
}

func (r *runner) now() time.Time { return r.s.engine.now() }

func (r *runner) crash(step string, ch plan.Change) {
	if c := r.s.engine.Crash; c != nil {
		c(step, ch)
	}
}

// record appends to the journal. A journal that cannot be written stops
// the run: no change may happen without its record.
func (r *runner) record(rec journal.Record) error {
	rec.Run = r.run
	if _, err := r.journal.Append(rec); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// recordAll appends records with one fsync; the same rule as record.
func (r *runner) recordAll(recs []journal.Record) error {
	for i := range recs {
		recs[i].Run = r.run
	}
	if _, err := r.journal.AppendAll(recs); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func changeRecord(kind journal.Kind, ch plan.Change) journal.Record {
	return journal.Record{Kind: kind, Target: ch.Target, System: ch.System, Action: string(ch.Action), Object: ch.Object, Change: ch.ID}
}

// isCredential reports whether a change goes through the rotation protocol.
func isCredential(a plan.Action) bool {
	return a == plan.RotatePassword || a == plan.InstallKey
}

// segments splits a system's changes, in plan order, into the groups the
// connector takes at once: consecutive credential changes (the new access
// key and the rotations), or consecutive other changes. Changes marked
// last stay apart from the others.
func segments(changes []plan.Change) [][]plan.Change {
	var out [][]plan.Change
	for i := 0; i < len(changes); {
		cred := isCredential(changes[i].Action)
		j := i + 1
		for j < len(changes) && isCredential(changes[j].Action) == cred && changes[j].Last == changes[i].Last {
			j++
		}
		out = append(out, changes[i:j])
		i = j
	}
	return out
}

// systemRun is one system's changes under way. They are applied in two
// passes over the whole estate: first every system's new access and
// rotated credentials (the leading credential segments), then every
// system's removals and last rotations, and its verification. The new
// access is in place everywhere before anything is taken away, and the
// proofs that old credentials fail, slow on purpose (PAM and directories
// delay a failed login by seconds), run beside the second pass instead of
// adding their delay to the end of the run.
type systemRun struct {
	t         *Target
	changes   []plan.Change
	segs      [][]plan.Change
	next      int // first segment not yet run
	out       []report.Action
	proven    []report.Action // proven[i] receives the deferred checks of out[i]
	oldChecks sync.WaitGroup
	blocked   string
	// after is the connector's reading of the system made by the last
	// group applied, while no later group has run.
	after connector.Observation
}

func (r *runner) newSystemRun(t *Target, changes []plan.Change) *systemRun {
	return &systemRun{t: t, changes: changes, segs: segments(changes), out: make([]report.Action, 0, len(changes)), proven: make([]report.Action, len(changes))}
}

// credentialsFirst runs the system's leading credential segments.
func (r *runner) credentialsFirst(ctx context.Context, sr *systemRun) {
	r.s.engine.progress(sr.t.Spec.Name, sr.changes[0].System, Running, "")
	for sr.next < len(sr.segs) && isCredential(sr.segs[sr.next][0].Action) && !sr.segs[sr.next][0].Last {
		r.runSegment(ctx, sr, sr.segs[sr.next])
		sr.next++
	}
}

// rest runs the system's remaining segments and verifies the system. It
// stops starting new segments when ctx is done; a failed new access key
// stops everything after it, since removals could lock the operator out.
func (r *runner) rest(ctx context.Context, sr *systemRun) {
	for ; sr.next < len(sr.segs); sr.next++ {
		r.runSegment(ctx, sr, sr.segs[sr.next])
	}
	r.verifySystem(ctx, sr.t, sr.out, sr.after)
}

func (r *runner) runSegment(ctx context.Context, sr *systemRun, seg []plan.Change) {
	switch {
	case sr.blocked != "":
		sr.skip(r, seg, sr.blocked)
		return
	case ctx.Err() != nil:
		sr.skip(r, seg, "run interrupted before this change started")
		return
	}
	var acts []report.Action
	sr.after = nil
	if isCredential(seg[0].Action) {
		var later func([]report.Action)
		acts, later = r.rotate(ctx, sr.t, seg)
		if later != nil {
			proven := sr.proven[len(sr.out) : len(sr.out)+len(seg)]
			sr.oldChecks.Add(1)
			go func() {
				defer sr.oldChecks.Done()
				later(proven)
			}()
		}
	} else {
		acts, sr.after = r.apply(ctx, sr.t, seg)
	}
	for _, a := range acts {
		if a.Result == plan.Failed && a.Change.Action == plan.InstallKey {
			sr.blocked = "the new access key could not be verified on this system, so nothing that could lock the operator out was removed"
		}
		if a.Result == plan.Aborted {
			sr.blocked = "an earlier change's outcome is unknown: " + a.Error
		}
	}
	sr.out = append(sr.out, acts...)
}

func (sr *systemRun) skip(r *runner, seg []plan.Change, why string) {
	for _, ch := range seg {
		sr.out = append(sr.out, report.Action{Change: ch, Result: plan.Skipped, Error: why, Started: r.now(), Finished: r.now()})
	}
}

// finish waits for the system's old-credential proofs and completes its
// actions with them.
func (r *runner) finish(sr *systemRun) []report.Action {
	sr.oldChecks.Wait()
	failed := sr.blocked != ""
	for i := range sr.out {
		if p := sr.proven[i]; len(p.Verification) > 0 {
			sr.out[i].Verification = append(sr.out[i].Verification, p.Verification...)
			sr.out[i].Verified = sr.out[i].Verified && p.Verified
		}
		if sr.out[i].Result == plan.Failed {
			failed = true
		}
	}
	state := Done
	if failed {
		state = Failing
	}
	r.s.engine.progress(sr.t.Spec.Name, sr.changes[0].System, state, fmt.Sprintf("%d changes", len(sr.changes)))
	return sr.out
}

// apply makes changes that are not credential rotations: every intent is
// journaled, the connector applies them together, and every outcome is
// journaled. It returns the connector's reading of the system after them.
func (r *runner) apply(ctx context.Context, t *Target, chs []plan.Change) ([]report.Action, connector.Observation) {
	out := make([]report.Action, len(chs))
	for i, ch := range chs {
		out[i] = report.Action{Change: ch, Started: r.now(), Attempts: 1}
	}
	ap, ok := t.Impl.(connector.Applier)
	if !ok {
		for i := range out {
			out[i] = r.fail(out[i], fmt.Errorf("the %s connector cannot apply %s", t.Spec.Type, out[i].Change.Action))
		}
		return out, nil
	}
	intents := make([]journal.Record, len(chs))
	for i, ch := range chs {
		intents[i] = changeRecord(journal.Intent, ch)
		intents[i].Detail = changeDetail(ch)
	}
	if err := r.recordAll(intents); err != nil {
		return r.aborted(out, err), nil
	}
	for _, ch := range chs {
		r.crash(StepApplyIntent, ch)
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout(len(chs)))
	defer cancel()
	exit := crashpoint.Enter("apply", actionsOf(chs)...)
	done := ap.Apply(mctx, chs[0].System, chs, storeReader{r.s})
	exit()
	res := fit(done.Results, len(chs), func(err error) connector.ChangeResult { return connector.ChangeResult{Err: err} })
	recs := make([]journal.Record, len(chs))
	for i, ch := range chs {
		recs[i] = changeRecord(journal.Outcome, ch)
		if err := res[i].Err; err != nil {
			recs[i].Result, recs[i].Error = plan.Failed, err.Error()
			continue
		}
		recs[i].Result = plan.Applied
		if d := res[i].Detail; d != "" {
			recs[i].Detail = map[string]string{"detail": d}
		}
	}
	if err := r.recordAll(recs); err != nil {
		return r.aborted(out, err), nil
	}
	for _, ch := range chs {
		r.crash(StepApplyOutcome, ch)
	}
	for i := range out {
		if err := res[i].Err; err != nil {
			out[i] = r.fail(out[i], err)
			continue
		}
		out[i].Result, out[i].Finished = plan.Applied, r.now()
	}
	return out, done.After
}

// actionsOf lists the actions of a group of changes, and "last" for the
// group made last (the connector's own login), for a test build's
// in-flight kill (crashpoint).
func actionsOf(chs []plan.Change) []string {
	out := make([]string, 0, len(chs)+1)
	last := false
	for _, ch := range chs {
		out = append(out, string(ch.Action))
		last = last || ch.Last
	}
	if last {
		out = append(out, "last")
	}
	return out
}

// aborted marks every action of a group aborted: the journal could not
// record it, so the run stops changing this system.
func (r *runner) aborted(as []report.Action, err error) []report.Action {
	for i := range as {
		if as[i].Result == "" || as[i].Result == plan.Applied {
			as[i].Result, as[i].Error = plan.Aborted, err.Error()
		}
		as[i].Finished = r.now()
	}
	return as
}

func (r *runner) fail(a report.Action, err error) report.Action {
	a.Result, a.Error, a.Finished = plan.Failed, err.Error(), r.now()
	r.s.engine.log().Error("change failed", "target", a.Change.Target, "system", a.Change.System, "action", a.Change.Action, "object", a.Change.Object, "error", err)
	return a
}

// changeDetail is what the journal keeps of a change so that recovery can
// redo its checks: the change itself, which never holds a secret.
func changeDetail(ch plan.Change) map[string]string {
	b, _ := json.Marshal(ch)
	return map[string]string{"change": string(b)}
}
