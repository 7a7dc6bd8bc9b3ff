package ssh

import (
	"context"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// engineRun plays the engine's part for one host's changes: the
// write-ahead protocol for credentials (pending in the store, set, new
// works, old fails, current), Apply for the rest, then Verify.
// planAndRun plans from inv and applies every change as the engine does;
// the test ends there if any failed.
func planAndRun(t *testing.T, ctx context.Context, tg *target, store secret.Store, inv *connector.Inventory) {
	t.Helper()
	changes, err := tg.Plan(inv)
	if err != nil {
		t.Fatal(err)
	}
	engineRun(t, ctx, tg, store, changes)
	if t.Failed() {
		t.FailNow()
	}
}

// Long: the engine's sequence of calls, in its order, in one place.
func engineRun(t *testing.T, ctx context.Context, tg *target, store secret.Store, changes []plan.Change) {
	t.Helper()
	p := plan.Plan{Changes: changes}
	p.Sort()
	// As the engine calls a batch connector: the access key, then the
	// rotations, then the rest, each group in one call.
	var key, rotations, rest []plan.Change
	for _, ch := range p.Changes {
		switch ch.Action {
		case plan.InstallKey:
			key = append(key, ch)
		case plan.RotatePassword:
			rotations = append(rotations, ch)
		default:
			rest = append(rest, ch)
		}
	}
	system := p.Changes[0].System
	for _, group := range [][]plan.Change{key, rotations} {
		if len(group) == 0 {
			continue
		}
		var next, old []connector.Credential
		var versions []secret.Version
		for _, ch := range group {
			if ch.Action == plan.RotatePassword {
				o, haveOld, err := tg.KnownCredential(ctx, ch)
				if err != nil {
					t.Fatalf("%s %s: known credential: %v", ch.Action, ch.Object, err)
				}
				if haveOld {
					old = append(old, connector.Credential{Change: ch, Secret: o})
				}
			}
			n, err := tg.NewCredential(ctx, ch, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, err := store.PutPending(ctx, ch.SecretPath, n, map[string]string{"change": ch.ID})
			if err != nil {
				t.Fatal(err)
			}
			next, versions = append(next, connector.Credential{Change: ch, Secret: n}), append(versions, v)
		}
		for i, err := range tg.SetCredentials(ctx, system, next) {
			if err != nil {
				t.Fatalf("%s %s on %s: %v", group[i].Action, group[i].Object, system, err)
			}
		}
		// The new passwords' su logins ran in the script that set them,
		// and are taken (once) by TryCredentials.
		kept := func() int {
			tg.mu.Lock()
			defer tg.mu.Unlock()
			n := 0
			for _, c := range next {
				if _, ok := tg.proofs[proofKey(system, c.Change.Params["user"], c.Secret)]; ok {
					n++
				}
			}
			return n
		}
		if n, want := kept(), len(old); n != want {
			t.Errorf("%s: %d su proofs kept from the credential script, want %d", system, n, want)
		}
		for i, tr := range tg.TryCredentials(ctx, system, next) {
			if tr.Err != nil || !tr.Works {
				t.Fatalf("%s %s on %s: new credential works=%v err=%v", group[i].Action, group[i].Object, system, tr.Works, tr.Err)
			}
		}
		if n := kept(); n != 0 {
			t.Errorf("%s: %d su proofs left once taken", system, n)
		}
		for i, tr := range tg.TryCredentials(ctx, system, old) {
			if tr.Err != nil || tr.Works {
				t.Fatalf("%s %s on %s: old credential still works=%v err=%v", old[i].Change.Action, old[i].Change.Object, system, tr.Works, tr.Err)
			}
		}
		for i, ch := range group {
			if err := store.SetState(ctx, ch.SecretPath, versions[i].Version, secret.Current); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(rest) > 0 {
		for i, res := range tg.ApplyBatch(ctx, system, rest, storeReader{store}) {
			if res.Err != nil {
				t.Fatalf("%s %s on %s: %v", rest[i].Action, rest[i].Object, system, res.Err)
			}
		}
	}
	applied := p.Changes
	if len(applied) == 0 {
		return
	}
	checks, err := tg.Verify(ctx, applied[0].System, applied)
	if err != nil {
		t.Fatalf("verify %s: %v", applied[0].System, err)
	}
	proven := map[string]bool{}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("%s: check failed: %s (%s)", applied[0].System, c.What, c.Detail)
		}
		if strings.HasPrefix(c.What, "old and new passwords tested by") && !strings.Contains(c.What, "su login") {
			t.Errorf("%s: %s; want a su login", applied[0].System, c.What)
		}
		proven[c.Change] = true
	}
	for _, ch := range applied {
		if !proven[ch.ID] {
			t.Errorf("%s: no verification for %s %s", ch.System, ch.Action, ch.Object)
		}
	}
}
