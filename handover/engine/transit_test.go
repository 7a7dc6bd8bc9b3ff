package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/testenv"
)

// TestVaultTransitSigning signs with an ed25519 key of the testenv Vault's
// transit engine (signing.vault_transit) and checks the signature with
// the stock `ssh-keygen -Y verify`, offline, from the public key alone. An
// RSA transit key is refused at the setting.
func TestVaultTransitSigning(t *testing.T) {
	e := testenv.RequireVault(t, false)
	testenv.LockComponent(t, "vault", true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conf := api.DefaultConfig()
	conf.Address = e.Vault.Addr
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: e.CACert}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(testenv.ReadSecret(t, e.Vault.RootTokenFile))
	b := make([]byte, 4)
	rand.Read(b)
	mount := "transit-test-" + hex.EncodeToString(b)
	if err := c.Sys().MountWithContext(ctx, mount, &api.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("mount transit: %v", err)
	}
	t.Cleanup(func() { _ = c.Sys().Unmount(mount) })
	for name, typ := range map[string]string{"reports": "ed25519", "rsa": "rsa-2048"} {
		if _, err := c.Logical().WriteWithContext(ctx, mount+"/keys/"+name, map[string]any{"type": typ}); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	playbookWith := func(key string) string {
		pb := filepath.Join(dir, key+".yaml")
		text := fmt.Sprintf(`version: 1
handover:
  client: {name: Mairie}
  outgoing: {name: Prestanet}
  date: 2026-01-01
state: %[1]s/state
secrets:
  vault:
    address: %[2]s
    ca_cert: %[3]s
    token: ${file:%[4]s}
    prefix: transit-test
signing:
  vault_transit: {mount: %[5]s, key: %[6]s}
  identity: dsi@mairie-saint-exemple.test
outgoing: {names: [Prestanet]}
targets:
  - {name: fake, type: fake, file: %[1]s/estate.json}
`, dir, e.Vault.Addr, e.CACert, e.Vault.RootTokenFile, mount, key)
		if err := os.WriteFile(pb, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return pb
	}
	load := func(pb string) *engine.Session {
		s, err := (&engine.Engine{Registry: connector.NewRegistry(fakeConnector{}), Version: "test"}).Load(ctx, pb)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	signer, err := load(playbookWith("reports")).Signer(ctx)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	data := []byte(`{"report":"the handover of the Mairie"}`)
	sig, err := signer.Sign(ctx, data)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte(report.AllowedSignersLine(signer.Identity(), signer.PublicKey())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(dir, "data.sig")
	if err := os.WriteFile(sigFile, sig, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(content []byte) error {
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", signer.Identity(), "-n", report.Namespace, "-s", sigFile)
		cmd.Stdin = strings.NewReader(string(content))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := verify(data); err != nil {
		t.Errorf("ssh-keygen -Y verify refuses the transit signature: %v", err)
	}
	if err := verify(append(data, ' ')); err == nil {
		t.Error("ssh-keygen -Y verify accepts changed data")
	}

	_, err = load(playbookWith("rsa")).Signer(ctx)
	if err == nil || !strings.Contains(err.Error(), "ed25519") || !strings.Contains(err.Error(), "rsa.yaml:") {
		t.Errorf("an RSA transit key: %v, want an error at the playbook's vault_transit asking for ed25519", err)
	}
}
