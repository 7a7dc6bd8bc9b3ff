package vault_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

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
