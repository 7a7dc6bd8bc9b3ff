package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/crashpoint"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// lane is one credential of a rotation group, through the protocol.
type lane struct {
	a       report.Action
	path    string
	old     secret.Secret
	haveOld bool
	v       secret.Version
	next    secret.Secret
	ref     string
	state   laneState
	// proven is the proof that next works, from setting it or a try.
	proven *connector.Tried
}

type laneState int

const (
	laneActive   laneState = iota // to be set (again, after a rejection)
	laneRejected                  // the target refused this attempt's value
	laneApplied                   // the target took the value, to be proven
	laneDone                      // finished: a.Result says how
)

// rotate runs the write-ahead protocol for a group of credentials of one
// system: generate, store as pending, journal the intents, change the
// target, journal the outcomes, prove the new values work, promote them to
// current, journal the proofs; and returns the proof that the old values
// fail, to run next. Each credential is settled on its own: a rejection by
// the target is retried with a fresh secret, at most policy.retries times;
// any other failure is not retried.
func (r *runner) rotate(ctx context.Context, t *Target, chs []plan.Change) ([]report.Action, func([]report.Action)) {
	lanes := make([]*lane, len(chs))
	for i, ch := range chs {
		path := ch.SecretPath
		if path == "" {
			path = connector.SecretPath(ch.Target, ch.System, ch.Object)
		}
		lanes[i] = &lane{a: report.Action{Change: ch, Started: r.now()}, path: path}
	}
	results := func() []report.Action {
		out := make([]report.Action, len(lanes))
		for i, l := range lanes {
			out[i] = l.a
		}
		return out
	}
	rot, ok := t.Impl.(connector.Rotator)
	if !ok {
		for _, l := range lanes {
			l.a = r.fail(l.a, fmt.Errorf("the %s connector cannot rotate credentials", t.Spec.Type))
		}
		return results(), nil
	}
	try := trier(rot)
	system := chs[0].System
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout(len(chs)))
	defer cancel()

	for _, l := range lanes {
		var err error
		l.old, l.haveOld, err = r.previous(mctx, rot, l.a.Change, l.path)
		if err != nil {
			l.a, l.state = r.fail(l.a, fmt.Errorf("previous credential: %w", err)), laneDone
		}
	}
	retries := r.s.Playbook.Policy.Retries
	for attempt := 1; attempt <= retries+1; attempt++ {
		active := r.lanesIn(lanes, laneActive, laneRejected)
		if len(active) == 0 {
			break
		}
		if attempt > 1 && ctx.Err() != nil {
			for _, l := range active {
				l.a, l.state = r.fail(l.a, fmt.Errorf("run interrupted after %d rejected attempts", attempt-1)), laneDone
			}
			break
		}
		r.setAttempt(mctx, t, rot, active, attempt, try, system)
	}
	for _, l := range r.lanesIn(lanes, laneRejected) {
		l.a.Finished, l.a.Result, l.state = r.now(), plan.Failed, laneDone
		l.a.Error = fmt.Sprintf("the target rejected %d fresh credentials; the previous one stays current (last reason: %s)", l.a.Attempts, l.a.Error)
	}
	applied := r.lanesIn(lanes, laneApplied)
	if len(applied) == 0 {
		return results(), nil
	}
	old := r.prove(mctx, applied, try, system)
	if len(old) == 0 {
		return results(), nil
	}
	return results(), func(proven []report.Action) {
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout(len(old)))
		defer cancel()
		creds := make([]connector.Credential, len(old))
		for i, l := range old {
			creds[i] = connector.Credential{Change: l.a.Change, Secret: l.old}
		}
		tried := try(octx, system, creds)
		recs := make([]journal.Record, len(old))
		for i, l := range old {
			c := oldCheck(l.a.Change, tried[i], r.now())
			p := &proven[slices.Index(lanes, l)]
			p.Verification = append(p.Verification, c)
			p.Verified = c.OK
			rec := changeRecord(journal.Verified, l.a.Change)
			rec.Secret = l.ref
			rec.Result = plan.OldRejected
			if !c.OK {
				rec.Result = plan.OldAccepted
				if tried[i].Err != nil {
					rec.Result, rec.Error = plan.OldUntested, tried[i].Err.Error()
				}
			}
			rec.Detail = map[string]string{"old_rejected": strconv.FormatBool(c.OK)}
			recs[i] = rec
		}
		_ = r.recordAll(recs)
	}
}

func (r *runner) lanesIn(lanes []*lane, states ...laneState) []*lane {
	var out []*lane
	for _, l := range lanes {
		if slices.Contains(states, l.state) {
			out = append(out, l)
		}
	}
	return out
}

// setAttempt makes one attempt for every lane still to be set: fresh
// values, stored pending and journaled before the target changes.
func (r *runner) setAttempt(ctx context.Context, t *Target, rot connector.Rotator, active []*lane, attempt int, try tryFunc, system string) {
	var ready []*lane
	var puts []secret.Put
	for _, l := range active {
		l.a.Attempts = attempt
		next, err := r.generate(ctx, t, l.a.Change)
		if err != nil {
			l.a, l.state = r.fail(l.a, fmt.Errorf("generate: %w", err)), laneDone
			continue
		}
		ch := l.a.Change
		l.next = next
		ready = append(ready, l)
		puts = append(puts, secret.Put{Path: l.path, Value: next, Meta: map[string]string{
			"target": ch.Target, "system": ch.System, "object": ch.Object,
			"action": string(ch.Action), "change": ch.ID, "run": r.run,
		}})
	}
	vs, errs := r.putPending(ctx, puts)
	var stored []*lane
	for i, l := range ready {
		if errs[i] != nil {
			// Nothing was changed: the store refused the write-ahead.
			l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Aborted, "secret store: "+errs[i].Error(), r.now(), laneDone
			continue
		}
		l.v, l.ref = vs[i], secret.RefOf(r.store, vs[i]).String()
		l.a.Secret = l.ref
		stored = append(stored, l)
		r.crash(StepPending, l.a.Change)
	}
	if len(stored) == 0 {
		return
	}
	intents := make([]journal.Record, len(stored))
	for i, l := range stored {
		intents[i] = changeRecord(journal.Intent, l.a.Change)
		intents[i].Secret, intents[i].Attempt, intents[i].Detail = l.ref, attempt, changeDetail(l.a.Change)
	}
	if err := r.recordAll(intents); err != nil {
		_ = r.setStates(ctx, stateChanges(stored, secret.Failed))
		for _, l := range stored {
			l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Aborted, err.Error(), r.now(), laneDone
		}
		return
	}
	for _, l := range stored {
		r.crash(StepIntent, l.a.Change)
	}

	creds := credentials(stored, func(l *lane) secret.Secret { return l.next })
	chs := make([]plan.Change, len(stored))
	for i, l := range stored {
		chs[i] = l.a.Change
	}
	exit := crashpoint.Enter("set", actionsOf(chs)...)
	sets := fit(rot.SetCredentials(ctx, system, creds), len(creds), func(err error) connector.Set { return connector.Set{Err: err} })
	exit()
	setErrs := make([]error, len(sets))
	for i, l := range stored {
		setErrs[i], l.proven = sets[i].Err, sets[i].Proven
		r.crash(StepSet, l.a.Change)
	}
	// A failure that is not a rejection (a cut connection) may or may not
	// have changed the target: ask it, rather than guess.
	var unsure []*lane
	for i, l := range stored {
		var rej *connector.ErrRejected
		if setErrs[i] != nil && !errors.As(setErrs[i], &rej) {
			unsure = append(unsure, l)
		}
	}
	probed := map[*lane]connector.Tried{}
	if len(unsure) > 0 {
		for i, tr := range try(ctx, system, credentials(unsure, func(l *lane) secret.Secret { return l.next })) {
			probed[unsure[i]] = tr
		}
	}
	outcomes := make([]journal.Record, len(stored))
	var failed, rejected []*lane
	for i, l := range stored {
		ch := l.a.Change
		o := changeRecord(journal.Outcome, ch)
		o.Secret, o.Attempt = l.ref, attempt
		var rej *connector.ErrRejected
		switch setErr := setErrs[i]; {
		case errors.As(setErr, &rej):
			o.Result, o.Error = plan.Rejected, rej.Reason
			l.a.Error, l.state = rej.Error(), laneRejected
			rejected = append(rejected, l)
			r.s.engine.log().Warn("new credential rejected", "target", ch.Target, "system", ch.System, "object", ch.Object, "attempt", attempt, "reason", rej.Reason)
		case setErr != nil:
			tr := probed[l]
			switch {
			case tr.Err != nil:
				o.Result, o.Error = plan.Unknown, setErr.Error()+"; probing the new credential: "+tr.Err.Error()
				// Left pending: the next run's recovery settles it.
				l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Aborted, "outcome unknown, left for recovery: "+o.Error, r.now(), laneDone
			case !tr.Works:
				o.Result, o.Error = plan.Failed, setErr.Error()
				l.a, l.state = r.fail(l.a, setErr), laneDone
				failed = append(failed, l)
			default:
				o.Result = plan.Applied
				o.Detail = map[string]string{"note": "the connection failed after the change, but the new credential works: " + setErr.Error()}
				l.proven, l.state = &tr, laneApplied
			}
		default:
			o.Result, l.state = plan.Applied, laneApplied
		}
		outcomes[i] = o
	}
	if err := r.recordAll(outcomes); err != nil {
		for _, l := range stored {
			if l.state == laneApplied {
				l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Aborted, err.Error(), r.now(), laneDone
			}
		}
	}
	if len(rejected)+len(failed) > 0 {
		if err := r.setStates(ctx, stateChanges(append(rejected, failed...), secret.Failed)); err != nil {
			for _, l := range rejected {
				l.a, l.state = r.fail(l.a, fmt.Errorf("%s, and marking the stored version failed: %w", l.a.Error, err)), laneDone
			}
		}
	}
	for _, l := range stored {
		if l.state == laneApplied {
			l.a.Error = ""
			r.crash(StepOutcome, l.a.Change)
		}
	}
}

// prove checks that the new credentials work (with the proof the
// connector returned from setting them, else a fresh try), makes them
// current, and returns the lanes whose old credential is to be tried next.
// A new credential that works is made current even if the old one still
// works (the report says so): the store must hold what logs in.
func (r *runner) prove(ctx context.Context, applied []*lane, try tryFunc, system string) []*lane {
	var ask []*lane
	for _, l := range applied {
		if l.proven == nil {
			ask = append(ask, l)
		}
	}
	if len(ask) > 0 {
		for i, tr := range try(ctx, system, credentials(ask, func(l *lane) secret.Secret { return l.next })) {
			ask[i].proven = &tr
		}
	}
	recs := make([]journal.Record, len(applied))
	var works []*lane
	for i, l := range applied {
		ch := l.a.Change
		chk := newCheck(ch, *l.proven, r.now())
		l.a.Verification = append(l.a.Verification, chk)
		rec := changeRecord(journal.Verified, ch)
		rec.Secret = l.ref
		rec.Detail = map[string]string{"new_works": strconv.FormatBool(chk.OK), "method": chk.What}
		rec.Result = plan.Verified
		if !chk.OK {
			rec.Result = plan.Failed
			// The target took the change (it said so) but the new credential
			// does not log in: keep it pending for recovery rather than lose it.
			l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Failed, "the target accepted the change but the new credential does not log in; left pending for recovery", r.now(), laneDone
		} else {
			works = append(works, l)
		}
		recs[i] = rec
	}
	if err := r.recordAll(recs); err != nil {
		for _, l := range works {
			l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Aborted, err.Error(), r.now(), laneDone
		}
		return nil
	}
	for _, l := range works {
		r.crash(StepVerify, l.a.Change)
	}
	if err := r.setStates(ctx, stateChanges(works, secret.Current)); err != nil {
		for _, l := range works {
			l.a.Result, l.a.Error, l.a.Finished, l.state = plan.Aborted, "marking the new credential current: "+err.Error(), r.now(), laneDone
		}
		return nil
	}
	var old []*lane
	for _, l := range works {
		l.a.Result, l.a.Finished, l.state = plan.Applied, r.now(), laneDone
		switch {
		case l.a.Change.Action == plan.InstallKey:
			l.a.Verified = true // nothing is replaced
		case !l.haveOld:
			l.a.Verification = append(l.a.Verification, connector.Check{Change: l.a.Change.ID, Kind: connector.OldRejected, What: "previous credential refused", OK: false, Detail: "the previous credential was not handed over, so it could not be tested", At: r.now()})
		default:
			l.a.Verified = true
			old = append(old, l)
		}
	}
	return old
}

// newCheck is the proof that a new credential works, from a try.
func newCheck(ch plan.Change, tr connector.Tried, at time.Time) connector.Check {
	what := "new credential logs in"
	if ch.Action == plan.InstallKey {
		what = "new access key logs in"
	}
	c := connector.Check{Change: ch.ID, Kind: connector.NewWorks, What: withMethod(what, tr.Method), OK: tr.Works && tr.Err == nil, Detail: tr.Detail, At: at}
	if tr.Err != nil {
		c.Detail = tr.Err.Error()
	}
	return c
}

// oldCheck is the proof that a previous credential fails, from a try.
func oldCheck(ch plan.Change, tr connector.Tried, at time.Time) connector.Check {
	c := connector.Check{Change: ch.ID, Kind: connector.OldRejected, What: withMethod("previous credential refused", tr.Method), OK: tr.Err == nil && !tr.Works, Detail: tr.Detail, At: at}
	switch {
	case tr.Err != nil:
		c.Detail = tr.Err.Error()
	case tr.Works:
		c.Detail = cmp.Or(tr.Detail, "the target still accepts the previous credential")
	}
	return c
}

func withMethod(what, method string) string {
	if method == "" {
		return what
	}
	return what + " (" + method + ")"
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
	// Passwords follow the playbook's password policy, whatever the
	// connector; a connector makes the credentials that are not passwords.
	if g, ok := t.Impl.(connector.Generator); ok && ch.Action != plan.RotatePassword {
		return g.NewCredential(ctx, ch, r.s.engine.rand())
	}
	return secret.Generate(r.s.engine.rand(), passwordPolicy(r.s.Playbook.Policy, t.Spec))
}
