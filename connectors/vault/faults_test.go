package vault_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// Faults: a sealed Vault, a CA that did not sign its certificate, a
// token without the capabilities needed, an address nothing answers on.
// Each is a clear error naming what happened, and nothing is planned.

func TestSealedVault(t *testing.T) {
	e := lockVault(t)
	ctx := ctxFor(t, time.Minute)
	root := client(t, e, e.Vault.RootTokenFile)
	if err := root.Sys().SealWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	_, pb := writePlaybook(t, pbOpts{})
	sys, p := inventoryAndPlan(t, pb)
	if !strings.Contains(sys.Error, "is sealed") {
		t.Errorf("inventory error %q, want it to say the Vault is sealed", sys.Error)
	}
	if len(p.Changes) != 0 || len(p.Problems) != 1 || !strings.Contains(p.Problems[0].Error, "sealed") {
		t.Errorf("plan: %d changes, problems %+v; want none and the sealed Vault", len(p.Changes), p.Problems)
	}
}

func TestWrongCA(t *testing.T) {
	testenv.RequireVault(t, true)
	dir := t.TempDir()
	ca := filepath.Join(dir, "other-ca.pem")
	writeCA(t, ca)
	_, pb := writePlaybook(t, pbOpts{caCert: ca})
	sys, p := inventoryAndPlan(t, pb)
	if !strings.Contains(sys.Error, "TLS verification failed") {
		t.Errorf("inventory error %q, want a TLS verification failure", sys.Error)
	}
	if len(p.Changes) != 0 {
		t.Errorf("%d changes planned on an unverified Vault", len(p.Changes))
	}
}

func TestUnreachable(t *testing.T) {
	testenv.RequireVault(t, true)
	_, pb := writePlaybook(t, pbOpts{address: "https://127.0.0.1:18299"})
	sys, p := inventoryAndPlan(t, pb)
	if !strings.Contains(sys.Error, "unreachable") {
		t.Errorf("inventory error %q, want unreachable", sys.Error)
	}
	if len(p.Changes) != 0 || len(p.Problems) != 1 {
		t.Errorf("plan: %d changes, problems %+v", len(p.Changes), p.Problems)
	}
}

// limitedPolicy reads everything a plain read can, but has no sudo: the
// token accessors and the audit devices stay unread, and no removal can
// be made.
const limitedPolicy = `path "*" {
  capabilities = ["read", "list"]
}
`

func TestTokenLackingCapabilities(t *testing.T) {
	e := lockVault(t)
	ctx := ctxFor(t, 2*time.Minute)
	root := client(t, e, e.Vault.RootTokenFile)
	if err := root.Sys().PutPolicyWithContext(ctx, "handover-limited", limitedPolicy); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"handover-limited"}, TTL: "1h", DisplayName: "handover-limited"})
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok.Auth.ClientToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, pb := writePlaybook(t, pbOpts{tokenFile: tokFile})
	sys, _ := inventoryAndPlan(t, pb)
	if sys.Error != "" {
		t.Fatalf("inventory error: %s", sys.Error)
	}
	unread := map[string]string{}
	for _, f := range sys.Findings {
		if f.Kind == KindUnreadForTest {
			unread[f.Detail["path"]] = f.Detail["capability"]
			t.Logf("%s", f.Summary)
		}
	}
	for path, cap := range map[string]string{"auth/token/accessors": "sudo", "sys/audit": "sudo"} {
		if unread[path] != cap {
			t.Errorf("not-read %s: capability %q, want %q", path, unread[path], cap)
		}
	}
	// A run: every change the token cannot make fails naming the
	// capability and path; the provider's login is still there (nothing
	// half-changed is claimed).
	res, _ := connectortest.RunOnce(t, registry(), pb)
	found := false
	for _, a := range res.Actions {
		if strings.Contains(a.Error, `the connector's token needs "delete" on auth/userpass/users/`+e.Vault.ProviderUser) {
			found = true
		}
		if a.Result == "applied" && a.Verified && a.Change.Action != "rotate-password" {
			t.Errorf("%s %s claimed applied with a read-only token", a.Change.Action, a.Change.Object)
		}
	}
	if !found {
		for _, a := range res.Actions {
			t.Logf("%s %s: %s %s", a.Change.Action, a.Change.Object, a.Result, a.Error)
		}
		t.Error("no action error names the capability and path the token lacked")
	}
	if s, err := root.Logical().ReadWithContext(ctx, "auth/userpass/users/"+e.Vault.ProviderUser); err != nil || s == nil {
		t.Errorf("the provider's user is gone although the token could not delete it: %v", err)
	}
}

func writeCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the testenv CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnreachableMidRun: the Vault stops answering right after the
// rotations' intents are journaled (its process stopped, as a host gone).
// The run fails what it cannot do and claims nothing; the credentials are
// left pending in the store, never lost. Once the Vault answers again, the
// next run settles them, makes the rest, and proves it.
func TestUnreachableMidRun(t *testing.T) {
	e := lockVault(t)
	ctx := ctxFor(t, 5*time.Minute)
	dir, pb := writePlaybook(t, pbOpts{})
	text, err := os.ReadFile(pb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pb, []byte(strings.Replace(string(text), "    type: vault\n", "    type: vault\n    request_timeout: 2s\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = dir
	var restore func()
	var lg strings.Builder
	eng := newEngine(&lg)
	eng.Crash = func(step string, _ plan.Change) {
		if step == engine.StepIntent && restore == nil {
			restore = cut(t)
		}
	}
	sess, err := eng.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sess.Run(ctx, engine.RunOptions{Parallel: 1})
	sess.Close()
	if restore == nil {
		t.Fatal("the run reached no rotation")
	}
	restore()
	if err == nil {
		for _, a := range res.Actions {
			if a.Verified {
				t.Errorf("%s %s claimed verified while the Vault did not answer", a.Change.Action, a.Change.Object)
			}
		}
	}
	t.Logf("the run with the Vault gone: %v", err)

	res2, _ := connectortest.RunOnce(t, registry(), pb)
	if len(res2.Recovered) == 0 {
		t.Error("the next run recovered nothing")
	}
	for _, a := range res2.Actions {
		if a.Result != plan.Applied || !a.Verified {
			t.Errorf("next run: %s %s: %s (verified %v) %s", a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error)
		}
	}
	if _, err := client(t, e, e.Vault.ProviderTokenFile).Auth().Token().LookupSelfWithContext(ctx); err == nil {
		t.Error("the provider's token still works after the next run")
	}
	_, p := inventoryAndPlan(t, pb)
	for _, ch := range p.Changes {
		t.Errorf("plan after recovery: %s %s", ch.Action, ch.Object)
	}
}
