package vault_test

import (
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestRekey: when the playbook says the provider held the unseal key
// shares, the run rekeys; the new shares are in the store (never in the
// report); after a seal, the old share no longer unseals and the new ones
// do. A second plan is empty.
func TestRekey(t *testing.T) {
	e := lockVault(t)
	v := e.Vault
	ctx := ctxFor(t, 5*time.Minute)
	_, pb := writePlaybook(t, pbOpts{rekey: true})
	res, store := connectortest.RunOnce(t, registry(), pb)
	var rekey *plan.Change
	for _, a := range res.Actions {
		if a.Change.Action == plan.InstallKey {
			ch := a.Change
			rekey = &ch
			if a.Result != plan.Applied || !a.Verified {
				t.Errorf("rekey: %s %s", a.Result, a.Error)
			}
			kinds := map[connector.CheckKind]bool{}
			for _, c := range a.Verification {
				kinds[c.Kind] = kinds[c.Kind] || c.OK
				t.Logf("check %s %s ok=%v %s", c.Kind, c.What, c.OK, c.Detail)
			}
			if !kinds[connector.NewWorks] || !kinds[connector.OldRejected] {
				t.Errorf("rekey: new-works %v, old-rejected %v", kinds[connector.NewWorks], kinds[connector.OldRejected])
			}
		}
	}
	if rekey == nil {
		t.Fatal("no rekey planned")
	}
	val, _, err := store.Get(ctx, rekey.SecretPath, 0)
	if err != nil {
		t.Fatalf("new shares in the store: %v", err)
	}
	newShares := strings.Fields(val.Reveal())
	oldShare := testenv.ReadSecret(t, v.UnsealKeyFile)
	if len(newShares) != 1 || newShares[0] == oldShare {
		t.Fatalf("the store holds %d new share(s), want 1 different from the old", len(newShares))
	}

	// check (a fresh session): the stored shares work, nothing drifted.
	var lg strings.Builder
	cr, err := session(t, pb, &lg).Check(ctx, engine.CheckOptions{Parallel: 1, NoBaseline: true})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, d := range cr.Drift {
		t.Errorf("check: %s %s: %s", d.Kind, d.Object, d.Detail)
	}

	root := client(t, e, v.RootTokenFile)
	if err := root.Sys().SealWithContext(ctx); err != nil {
		t.Fatalf("seal: %v", err)
	}
	st, err := root.Sys().UnsealWithContext(ctx, oldShare)
	if err == nil && !st.Sealed {
		t.Fatal("the old share still unseals the Vault")
	}
	t.Logf("unseal with the old share: %v", err)
	st, err = root.Sys().UnsealWithContext(ctx, newShares[0])
	if err != nil || st.Sealed {
		t.Fatalf("the new share does not unseal the Vault: %v (sealed %v)", err, st != nil && st.Sealed)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := root.Auth().Token().LookupSelfWithContext(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("vault not serving after the unseal: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, p := inventoryAndPlan(t, pb)
	for _, ch := range p.Changes {
		t.Errorf("second plan: %s %s", ch.Action, ch.Object)
	}
}
