package vault_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
)

// TestStoreTokenKept: when the Vault target is also the secret store,
// the plan never revokes the store's token nor deletes a policy it
// carries, even one of the provider's.
func TestStoreTokenKept(t *testing.T) {
	e := lockVault(t)
	v := e.Vault
	ctx := ctxFor(t, 2*time.Minute)
	root := client(t, e, v.RootTokenFile)
	// The store's token carries the provider's policy: the worst case.
	tok, err := root.Auth().Token().CreateOrphanWithContext(ctx, &api.TokenCreateRequest{Policies: []string{v.ProviderPolicy}, TTL: "2h", DisplayName: "handover-store"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "store-token")
	if err := os.WriteFile(tokFile, []byte(tok.Auth.ClientToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "playbook.yaml")
	head := fmt.Sprintf(`version: 1
handover:
  client: {name: Conformance Client}
  outgoing: {name: Conformance Provider}
  date: 2026-01-01
state: %s/state
secrets:
  vault:
    address: %s
    ca_cert: %s
    token: ${file:%s}
    prefix: handover-store-test
`, dir, v.Addr, e.CACert, tokFile)
	if err := os.WriteFile(pb, []byte(head+playbookFor(e, pbOpts{})), 0o600); err != nil {
		t.Fatal(err)
	}
	// The engine's own store opening: the Vault store of secrets.vault.
	sess, err := (&engine.Engine{Registry: registry(), Version: "test"}).Load(ctx, pb)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer sess.Close()
	invs := sess.Inventory(ctx, 1)
	p := sess.Plan(invs)
	if len(p.Problems) > 0 {
		t.Fatalf("problems: %+v", p.Problems)
	}
	kept := false
	for _, f := range invs[0].Systems[0].Findings {
		if f.ID == "token:"+tok.Auth.Accessor {
			kept = strings.Contains(f.Summary, "kept: the secret store's token") && !f.Provider
		}
	}
	if !kept {
		t.Error("the store's token is not reported as kept")
	}
	for _, ch := range p.Changes {
		if ch.Params["accessor"] == tok.Auth.Accessor {
			t.Errorf("the store's token is planned: %s", ch.Object)
		}
		if ch.Action == plan.RemoveGrant && ch.Object == "policy "+v.ProviderPolicy {
			t.Errorf("the store token's policy is planned for deletion")
		}
	}
}

// TestDocumentedPolicy: the policy docs/connectors/vault.md gives the
// connector's token reads everything and makes every change.
func TestDocumentedPolicy(t *testing.T) {
	e := lockVault(t)
	ctx := ctxFor(t, 3*time.Minute)
	doc, err := os.ReadFile("../../docs/connectors/vault.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```hcl\n")
	hcl, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no hcl block in docs/connectors/vault.md")
	}
	root := client(t, e, e.Vault.RootTokenFile)
	if err := root.Sys().PutPolicyWithContext(ctx, "handover", hcl); err != nil {
		t.Fatalf("the documented policy: %v", err)
	}
	tok, err := root.Auth().Token().CreateOrphanWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"handover"}, TTL: "1h", DisplayName: "handover"})
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok.Auth.ClientToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, pb := writePlaybook(t, pbOpts{tokenFile: tokFile, rekey: true})
	sys, _ := inventoryAndPlan(t, pb)
	if sys.Error != "" {
		t.Fatalf("inventory: %s", sys.Error)
	}
	for _, f := range sys.Findings {
		if f.Kind == KindUnreadForTest {
			t.Errorf("with the documented policy: %s", f.Summary)
		}
	}
	res, _ := connectortest.RunOnce(t, registry(), pb)
	for _, a := range res.Actions {
		if a.Result != plan.Applied || !a.Verified {
			t.Errorf("with the documented policy: %s %s: %s (verified %v) %s", a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error)
		}
	}
	if len(res.Actions) < 10 {
		t.Errorf("only %d changes made", len(res.Actions))
	}
}
