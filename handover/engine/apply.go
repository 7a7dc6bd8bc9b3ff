package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// mutationTimeout bounds one change on a target once started. A change in
// flight is not cancelled by Ctrl-C: it finishes (or times out) and is
// journaled, so nothing is left half-known.
const mutationTimeout = 2 * time.Minute

// Crash steps of the rotation protocol, in order. Tests kill the process at
// each to prove recovery.
const (
	StepPending = "pending" // new secret stored as pending
	StepIntent  = "intent"  // intent journaled
	StepSet     = "set"     // target changed
	StepOutcome = "outcome" // outcome journaled
	StepVerify  = "verify"  // verification journaled, before promotion
)

// runner applies one run's changes.
type runner struct {
	s       *Session
	store   secret.Store
	journal *journal.Journal
	run     string
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

func changeRecord(kind journal.Kind, ch plan.Change) journal.Record {
	return journal.Record{Kind: kind, Target: ch.Target, System: ch.System, Action: string(ch.Action), Object: ch.Object, Change: ch.ID}
}

// isCredential reports whether a change goes through the rotation protocol.
func isCredential(a plan.Action) bool {
	return a == plan.RotatePassword || a == plan.InstallKey
}

// applySystem applies one system's changes in order. It stops starting new
// changes when ctx is done; a failed new access key stops everything after
// it on that system, since removals could lock the operator out.
func (r *runner) applySystem(ctx context.Context, t *Target, changes []plan.Change) []report.Action {
	var out []report.Action
	// proven[i] receives the deferred checks of out[i].
	proven := make([]report.Action, len(changes))
	var oldChecks sync.WaitGroup
	blocked := ""
	e := r.s.engine
	e.progress(t.Spec.Name, changes[0].System, "running", "")
	failed := 0
	for _, ch := range changes {
		switch {
		case blocked != "":
			out = append(out, report.Action{Change: ch, Result: "skipped", Error: blocked, Started: r.now(), Finished: r.now()})
			continue
		case ctx.Err() != nil:
			out = append(out, report.Action{Change: ch, Result: "skipped", Error: "run interrupted before this change started", Started: r.now(), Finished: r.now()})
			continue
		}
		var a report.Action
		if isCredential(ch.Action) {
			var later func(*report.Action)
			a, later = r.rotate(ctx, t, ch)
			if later != nil {
				// Proving that the old credential fails is a failed login,
				// which PAM and directories slow down on purpose (about 2 s):
				// it runs beside the system's next changes.
				i := len(out)
				oldChecks.Add(1)
				go func() {
					defer oldChecks.Done()
					later(&proven[i])
				}()
			}
		} else {
			a = r.apply(ctx, t, ch)
		}
		if a.Result == "failed" {
			failed++
			if ch.Action == plan.InstallKey {
				blocked = "the new access key could not be verified on this system, so nothing that could lock the operator out was removed"
			}
		}
		if a.Result == "aborted" {
			blocked = "an earlier change's outcome is unknown: " + a.Error
		}
		out = append(out, a)
	}
	oldChecks.Wait()
	for i := range out {
		if p := proven[i]; len(p.Verification) > 0 {
			out[i].Verification = append(out[i].Verification, p.Verification...)
			out[i].Verified = out[i].Verified && p.Verified
		}
	}
	r.verifySystem(ctx, t, out)
	state := "done"
	if failed > 0 || blocked != "" {
		state = "failed"
	}
	e.progress(t.Spec.Name, changes[0].System, state, fmt.Sprintf("%d changes", len(changes)))
	return out
}

// apply makes a change that is not a credential rotation.
func (r *runner) apply(ctx context.Context, t *Target, ch plan.Change) report.Action {
	a := report.Action{Change: ch, Started: r.now(), Attempts: 1}
	ap, ok := t.Impl.(connector.Applier)
	if !ok {
		return r.fail(a, fmt.Errorf("the %s connector cannot apply %s", t.Spec.Type, ch.Action))
	}
	intent := changeRecord(journal.Intent, ch)
	intent.Detail = changeDetail(ch)
	if err := r.record(intent); err != nil {
		a.Result, a.Error, a.Finished = "aborted", err.Error(), r.now()
		return a
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mutationTimeout)
	defer cancel()
	out, err := ap.Apply(mctx, ch, storeReader{r.s})
	rec := changeRecord(journal.Outcome, ch)
	if err != nil {
		rec.Result, rec.Error = "failed", err.Error()
		_ = r.record(rec)
		return r.fail(a, err)
	}
	rec.Result = "applied"
	if out.Detail != "" {
		rec.Detail = map[string]string{"detail": out.Detail}
	}
	if err := r.record(rec); err != nil {
		a.Result, a.Error, a.Finished = "aborted", err.Error(), r.now()
		return a
	}
	a.Result, a.Finished = "applied", r.now()
	return a
}

func (r *runner) fail(a report.Action, err error) report.Action {
	a.Result, a.Error, a.Finished = "failed", err.Error(), r.now()
	r.s.engine.log().Error("change failed", "target", a.Change.Target, "system", a.Change.System, "action", a.Change.Action, "object", a.Change.Object, "error", err)
	return a
}

// changeDetail is what the journal keeps of a change so that recovery can
// redo its checks: the change itself, which never holds a secret.
func changeDetail(ch plan.Change) map[string]string {
	b, _ := json.Marshal(ch)
	return map[string]string{"change": string(b)}
}

// rotate runs the write-ahead protocol for one credential: generate, store
// as pending, journal the intent, change the target, journal the outcome,
// prove new works and old fails, promote to current, journal the proof. A
// rejection by the target is retried with a fresh secret, at most
// policy.retries times; any other failure is not retried.
func (r *runner) rotate(ctx context.Context, t *Target, ch plan.Change) (report.Action, func(*report.Action)) {
	a := report.Action{Change: ch, Started: r.now()}
	rot, ok := t.Impl.(connector.Rotator)
	if !ok {
		return r.fail(a, fmt.Errorf("the %s connector cannot rotate credentials", t.Spec.Type)), nil
	}
	path := ch.SecretPath
	if path == "" {
		path = connector.SecretPath(ch.Target, ch.System, ch.Object)
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mutationTimeout)
	defer cancel()

	old, haveOld, err := r.previous(mctx, rot, ch, path)
	if err != nil {
		return r.fail(a, fmt.Errorf("previous credential: %w", err)), nil
	}

	retries := r.s.Playbook.Policy.Retries
	for attempt := 1; attempt <= retries+1; attempt++ {
		if attempt > 1 && ctx.Err() != nil {
			return r.fail(a, fmt.Errorf("run interrupted after %d rejected attempts", attempt-1)), nil
		}
		a.Attempts = attempt
		next, err := r.generate(mctx, t, ch)
		if err != nil {
			return r.fail(a, fmt.Errorf("generate: %w", err)), nil
		}
		v, err := r.store.PutPending(mctx, path, next, map[string]string{
			"target": ch.Target, "system": ch.System, "object": ch.Object,
			"action": string(ch.Action), "change": ch.ID, "run": r.run,
		})
		if err != nil {
			// Nothing was changed: the store refused the write-ahead.
			a.Result, a.Error, a.Finished = "aborted", "secret store: "+err.Error(), r.now()
			return a, nil
		}
		ref := secret.RefOf(r.store, v).String()
		a.Secret = ref
		r.crash(StepPending, ch)
		intent := changeRecord(journal.Intent, ch)
		intent.Secret, intent.Attempt, intent.Detail = ref, attempt, changeDetail(ch)
		if err := r.record(intent); err != nil {
			_ = r.store.SetState(mctx, path, v.Version, secret.Failed)
			a.Result, a.Error, a.Finished = "aborted", err.Error(), r.now()
			return a, nil
		}
		r.crash(StepIntent, ch)

		setErr := rot.SetCredential(mctx, ch, next)
		r.crash(StepSet, ch)
		outcome := changeRecord(journal.Outcome, ch)
		outcome.Secret, outcome.Attempt = ref, attempt
		var rej *connector.ErrRejected
		switch {
		case errors.As(setErr, &rej):
			outcome.Result, outcome.Error = "rejected", rej.Reason
			_ = r.record(outcome)
			if err := r.store.SetState(mctx, path, v.Version, secret.Failed); err != nil {
				return r.fail(a, fmt.Errorf("rejected (%s), and marking the stored version failed: %w", rej.Reason, err)), nil
			}
			a.Error = rej.Error()
			r.s.engine.log().Warn("new credential rejected", "target", ch.Target, "system", ch.System, "object", ch.Object, "attempt", attempt, "reason", rej.Reason)
			continue
		case setErr != nil:
			// The target may or may not have taken it (a cut connection):
			// ask it, rather than guess.
			works, perr := rot.TryCredential(mctx, ch, next)
			if perr != nil || !works {
				outcome.Result, outcome.Error = "failed", setErr.Error()
				if perr != nil {
					outcome.Result = "unknown"
					outcome.Error += "; probing the new credential: " + perr.Error()
					_ = r.record(outcome)
					// Left pending: the next run's recovery settles it.
					a.Result, a.Error, a.Finished = "aborted", "outcome unknown, left for recovery: "+outcome.Error, r.now()
					return a, nil
				}
				_ = r.record(outcome)
				_ = r.store.SetState(mctx, path, v.Version, secret.Failed)
				return r.fail(a, setErr), nil
			}
			outcome.Detail = map[string]string{"note": "the connection failed after the change, but the new credential works: " + setErr.Error()}
		}
		outcome.Result = "applied"
		if err := r.record(outcome); err != nil {
			a.Result, a.Error, a.Finished = "aborted", err.Error(), r.now()
			return a, nil
		}
		r.crash(StepOutcome, ch)
		a.Error = ""
		return r.prove(mctx, rot, ch, a, path, v, next, old, haveOld)
	}
	a.Finished = r.now()
	a.Result = "failed"
	a.Error = fmt.Sprintf("the target rejected %d fresh credentials; the previous one stays current (last reason: %s)", a.Attempts, a.Error)
	return a, nil
}

// previous is the credential the rotation replaces: the store's current
// value, else what the playbook says was handed over.
func (r *runner) previous(ctx context.Context, rot connector.Rotator, ch plan.Change, path string) (secret.Secret, bool, error) {
	v, meta, err := r.store.Get(ctx, path, 0)
	if err == nil && meta.State == secret.Current {
		return v, true, nil
	}
	if err != nil && !errors.Is(err, secret.ErrNotFound) {
		return secret.Secret{}, false, err
	}
	if ch.Action == plan.InstallKey {
		return secret.Secret{}, false, nil
	}
	return rot.KnownCredential(ctx, ch)
}

func (r *runner) generate(ctx context.Context, t *Target, ch plan.Change) (secret.Secret, error) {
	if g, ok := t.Impl.(connector.Generator); ok {
		return g.NewCredential(ctx, ch, r.s.engine.rand())
	}
	p := r.s.Playbook.Policy.Password
	if t.Spec.Password != nil {
		p = *t.Spec.Password
	}
	if p.Length == 0 {
		p = secret.DefaultPolicy
	}
	return secret.Generate(r.s.engine.rand(), p)
}

// prove checks that the new credential works, makes it current, and
// returns the check that the old one no longer does, to run next. A new
// credential that works is made current even if the old one still works
// (the report says so): the store must hold what logs in.
func (r *runner) prove(ctx context.Context, rot connector.Rotator, ch plan.Change, a report.Action, path string, v secret.Version, next, old secret.Secret, haveOld bool) (report.Action, func(*report.Action)) {
	newOK, err := rot.TryCredential(ctx, ch, next)
	chk := connector.Check{Change: ch.ID, What: report.CheckNewWorks, OK: newOK, At: r.now()}
	if err != nil {
		chk.Detail = err.Error()
	}
	a.Verification = append(a.Verification, chk)
	ref := secret.RefOf(r.store, v).String()
	rec := changeRecord(journal.Verified, ch)
	rec.Secret = ref
	rec.Detail = map[string]string{"new_works": strconv.FormatBool(newOK)}
	if !newOK {
		rec.Result = "failed"
		_ = r.record(rec)
		// The target took the change (it said so) but the new credential
		// does not log in: keep it pending for recovery rather than lose it.
		a.Result, a.Error, a.Finished = "failed", "the target accepted the change but the new credential does not log in; left pending for recovery", r.now()
		return a, nil
	}
	rec.Result = "verified"
	if err := r.record(rec); err != nil {
		a.Result, a.Error, a.Finished = "aborted", err.Error(), r.now()
		return a, nil
	}
	r.crash(StepVerify, ch)
	if err := r.store.SetState(ctx, path, v.Version, secret.Current); err != nil {
		a.Result, a.Error, a.Finished = "aborted", "marking the new credential current: "+err.Error(), r.now()
		return a, nil
	}
	a.Result, a.Finished = "applied", r.now()
	switch {
	case ch.Action == plan.InstallKey:
		a.Verified = true // nothing is replaced
		return a, nil
	case !haveOld:
		a.Verification = append(a.Verification, connector.Check{Change: ch.ID, What: report.CheckOldRejected, OK: false, Detail: "the previous credential was not handed over, so it could not be tested", At: r.now()})
		return a, nil
	}
	a.Verified = true
	return a, func(p *report.Action) {
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mutationTimeout)
		defer cancel()
		oldOK, err := rot.TryCredential(octx, ch, old)
		c := connector.Check{Change: ch.ID, What: report.CheckOldRejected, OK: err == nil && !oldOK, At: r.now()}
		if err != nil {
			c.Detail = err.Error()
		} else if oldOK {
			c.Detail = "the target still accepts the previous credential"
		}
		p.Verification = append(p.Verification, c)
		p.Verified = c.OK
		rec := changeRecord(journal.Verified, ch)
		rec.Secret = ref
		rec.Result = "old-rejected"
		if !c.OK {
			rec.Result = "old-accepted"
			if err != nil {
				rec.Result, rec.Error = "old-untested", err.Error()
			}
		}
		rec.Detail = map[string]string{"old_rejected": strconv.FormatBool(c.OK)}
		_ = r.record(rec)
	}
}

// verifySystem lets the connector prove the system's changes (typically
// by re-inventory) and attaches each check to its action.
func (r *runner) verifySystem(ctx context.Context, t *Target, actions []report.Action) {
	vf, ok := t.Impl.(connector.Verifier)
	var applied []plan.Change
	for _, a := range actions {
		if a.Result == "applied" {
			applied = append(applied, a.Change)
		}
	}
	if len(applied) == 0 {
		return
	}
	byID := map[string]*report.Action{}
	for i := range actions {
		byID[actions[i].Change.ID] = &actions[i]
	}
	if !ok {
		// Credential changes were proven by login; the rest rests on the
		// connector's own outcome.
		for _, ch := range applied {
			if !isCredential(ch.Action) {
				byID[ch.ID].Verified = false
			}
		}
		return
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mutationTimeout)
	defer cancel()
	checks, err := vf.Verify(vctx, applied[0].System, applied)
	rec := journal.Record{Kind: journal.Verified, Target: t.Spec.Name, System: applied[0].System, Result: "verified"}
	if err != nil {
		rec.Result, rec.Error = "failed", err.Error()
	}
	okByChange := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range checks {
		if c.At.IsZero() {
			c.At = r.now()
		}
		if a := byID[c.Change]; a != nil {
			a.Verification = append(a.Verification, c)
			if !seen[c.Change] {
				okByChange[c.Change] = true
				seen[c.Change] = true
			}
			okByChange[c.Change] = okByChange[c.Change] && c.OK
		}
	}
	n, bad := 0, 0
	for _, ch := range applied {
		a := byID[ch.ID]
		if isCredential(ch.Action) {
			if seen[ch.ID] {
				a.Verified = a.Verified && okByChange[ch.ID]
			}
			continue
		}
		a.Verified = err == nil && seen[ch.ID] && okByChange[ch.ID]
		if err != nil {
			a.Verification = append(a.Verification, connector.Check{Change: ch.ID, What: "re-inventory", OK: false, Detail: err.Error(), At: r.now()})
		}
		n++
		if !a.Verified {
			bad++
		}
	}
	rec.Detail = map[string]string{"checks": strconv.Itoa(len(checks)), "changes": strconv.Itoa(n), "unproven": strconv.Itoa(bad)}
	if bad > 0 && rec.Result == "verified" {
		rec.Result = "unproven"
	}
	_ = r.record(rec)
}
