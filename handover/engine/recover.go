package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// runsDir holds one directory per run with its journal.
func (s *Session) runsDir() string { return filepath.Join(s.StateDir(), "runs") }

// intents indexes every journaled intent of every earlier run by secret
// reference. A journal cut by a crash may end with a torn line; records
// are read line by line and unreadable ones ignored, since an intent is
// only acted on after its line was fsync'd.
func (s *Session) intents() (map[string]journal.Record, error) {
	out := map[string]journal.Record{}
	files, err := filepath.Glob(filepath.Join(s.runsDir(), "*", "journal.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
		for sc.Scan() {
			var r journal.Record
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue
			}
			if r.Kind == journal.Intent && r.Secret != "" {
				out[r.Secret] = r
			}
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return out, nil
}

// recover settles every credential an earlier run left pending. The store
// is the source of truth: a pending version is exactly a rotation whose
// end was not recorded. It returns the report actions for what it did and
// the systems that must not be touched this run.
func (r *runner) recover(ctx context.Context) ([]report.Action, map[string]string, error) {
	versions, err := r.store.List(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("secret store: %w", err)
	}
	// Only this playbook's runs: a store shared with other playbooks holds
	// their pending versions too, which are theirs to settle.
	ours := map[string]bool{}
	if runs, err := os.ReadDir(r.s.runsDir()); err == nil {
		for _, d := range runs {
			ours[d.Name()] = true
		}
	}
	var pending []secret.Version
	for _, v := range versions {
		// A rotation outside --limit stays pending for a run that covers it.
		if v.State == secret.Pending && ours[v.Meta["run"]] && r.s.inScope(v.Meta["target"], v.Meta["system"]) {
			pending = append(pending, v)
		}
	}
	if len(pending) == 0 {
		return nil, nil, nil
	}
	sort.Slice(pending, func(i, j int) bool {
		if pending[i].Path != pending[j].Path {
			return pending[i].Path < pending[j].Path
		}
		return pending[i].Version < pending[j].Version
	})
	intents, err := r.s.intents()
	if err != nil {
		return nil, nil, fmt.Errorf("reading earlier journals: %w", err)
	}
	blocked := map[string]string{}
	var actions []report.Action
	for _, v := range pending {
		a := r.recoverOne(ctx, v, intents)
		if a.Result == plan.Unresolved {
			blocked[a.Change.Target+"\x00"+a.Change.System] = a.Error
		}
		actions = append(actions, a)
	}
	return actions, blocked, nil
}

func (r *runner) recoverOne(ctx context.Context, v secret.Version, intents map[string]journal.Record) report.Action {
	ref := secret.RefOf(r.store, v).String()
	ch := plan.Change{Target: v.Meta["target"], System: v.Meta["system"], Object: v.Meta["object"], Action: plan.Action(v.Meta["action"]), ID: v.Meta["change"]}
	a := report.Action{Change: ch, Started: r.now(), Secret: ref}
	rec := journal.Record{Kind: journal.Recovered, Target: ch.Target, System: ch.System, Action: string(ch.Action), Object: ch.Object, Change: ch.ID, Secret: ref}
	decided := func() { r.crash(StepRecover, ch) }
	finish := func(result plan.Result, detail string) report.Action {
		a.Result, a.Finished = result, r.now()
		if result == plan.Unresolved {
			a.Error = detail
		}
		rec.Result = result
		if detail != "" {
			rec.Detail = map[string]string{"detail": detail}
		}
		if err := r.record(rec); err != nil {
			a.Result, a.Error = plan.Unresolved, err.Error()
		}
		r.s.engine.log().Info("recovery", "secret", ref, "target", ch.Target, "system", ch.System, "object", ch.Object, "result", result, "detail", detail)
		return a
	}
	intent, ok := intents[ref]
	if !ok {
		// Write-ahead order: the intent is journaled before the target is
		// touched, so without one the target never saw this value.
		decided()
		if err := r.store.SetState(ctx, v.Path, v.Version, secret.Failed); err != nil {
			return finish(plan.Unresolved, "marking the never-applied version failed: "+err.Error())
		}
		return finish(plan.NeverApplied, "no intent was journaled for it: the target was not changed")
	}
	rec.Resolves = intent.Run + "/" + strconv.Itoa(intent.Seq)
	if js := intent.Detail["change"]; js != "" {
		var full plan.Change
		if err := json.Unmarshal([]byte(js), &full); err == nil {
			ch = full
			a.Change = full
		}
	}
	t := r.s.target(ch.Target)
	if t == nil {
		return finish(plan.Unresolved, fmt.Sprintf("target %q is no longer in the playbook", ch.Target))
	}
	rot, ok := t.Impl.(connector.Rotator)
	if !ok {
		return finish(plan.Unresolved, fmt.Sprintf("the %s connector cannot test credentials", t.Spec.Type))
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mutationTimeout)
	defer cancel()
	next, _, err := r.store.Get(pctx, v.Path, v.Version)
	if err != nil {
		return finish(plan.Unresolved, "reading the pending version: "+err.Error())
	}
	tried := tryOne(pctx, rot, connector.Credential{Change: ch, Secret: next})
	if tried.Err != nil {
		return finish(plan.Unresolved, "testing the pending credential: "+tried.Err.Error())
	}
	works := tried.Works
	a.Verification = append(a.Verification, newCheck(ch, tried, r.now()))
	old, haveOld, err := r.previous(pctx, rot, ch, v.Path)
	if err != nil {
		return finish(plan.Unresolved, "reading the previous credential: "+err.Error())
	}
	if works {
		if haveOld {
			c := oldCheck(ch, tryOne(pctx, rot, connector.Credential{Change: ch, Secret: old}), r.now())
			a.Verification = append(a.Verification, c)
			a.Verified = c.OK
		} else {
			a.Verified = ch.Action == plan.InstallKey
		}
		decided()
		if err := r.store.SetState(pctx, v.Path, v.Version, secret.Current); err != nil {
			return finish(plan.Unresolved, "promoting the pending version: "+err.Error())
		}
		return finish(plan.Recovered, "the target had taken the new credential; it is now current")
	}
	if !haveOld && ch.Action != plan.InstallKey {
		// Nothing to compare with: the pending value is proven not to be
		// the account's credential, and nothing more is known. It is not
		// kept pending (nothing would ever settle it), the system is not
		// blocked, and the fresh plan rotates the account again.
		decided()
		if err := r.store.SetState(pctx, v.Path, v.Version, secret.Failed); err != nil {
			return finish(plan.Unresolved, "marking the pending version failed: "+err.Error())
		}
		return finish(plan.Discarded, "the pending credential does not log in, and no previous one was handed over to try: it is marked failed, and this run rotates the account again")
	}
	if ch.Action == plan.InstallKey || haveOld {
		oldOK := ch.Action == plan.InstallKey
		if haveOld {
			tr := tryOne(pctx, rot, connector.Credential{Change: ch, Secret: old})
			if tr.Err != nil {
				return finish(plan.Unresolved, "testing the previous credential: "+tr.Err.Error())
			}
			oldOK = tr.Works
			a.Verification = append(a.Verification, connector.Check{Change: ch.ID, Kind: connector.State, What: withMethod("previous credential still logs in", tr.Method), OK: oldOK, Detail: tr.Detail, At: r.now()})
		}
		if oldOK {
			decided()
			if err := r.store.SetState(pctx, v.Path, v.Version, secret.Failed); err != nil {
				return finish(plan.Unresolved, "marking the pending version failed: "+err.Error())
			}
			return finish(plan.RolledBack, "the target kept the previous credential; this run plans the change again")
		}
	}
	return finish(plan.Unresolved, "neither the pending nor the previous credential logs in; the system is left untouched until this is looked at (see `handover secrets list`)")
}

// inScope says whether the session covers a target's system: the target
// is in the playbook and, under --limit, the system is one it kept.
func (s *Session) inScope(target, system string) bool {
	t := s.target(target)
	if t == nil {
		return false
	}
	sc, ok := t.Impl.(connector.Scoper)
	if s.Limit == nil || !ok {
		return true
	}
	return slices.ContainsFunc(sc.Systems(), func(r connector.SystemRef) bool { return r.Name == system })
}

func (s *Session) target(name string) *Target {
	for _, t := range s.Targets {
		if t.Spec.Name == name {
			return t
		}
	}
	return nil
}
