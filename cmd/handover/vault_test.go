package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// vaultPlaybook writes a playbook that rotates one fleet host's root
// password into the given Vault.
func vaultPlaybook(t *testing.T, env *testenv.Env, dir, address, prefix string) string {
	t.Helper()
	i := len(env.Fleet.Hosts) - 1
	h := env.Fleet.Hosts[i]
	pb := fmt.Sprintf(`version: 1
handover:
  client: {name: Mairie de Saint-Exemple}
  outgoing: {name: Prestanet Informatique}
state: %[1]s/state
secrets:
  vault:
    address: %[2]s
    prefix: %[3]s
    token: ${file:%[4]s}
    ca_cert: %[5]s
signing:
  key: %[6]s
  identity: %[7]s
outgoing:
  domains: [prestanet.test]
  key_comments: ["*@prestanet.test", "*prestanet*"]
policy:
  rotate: {admins: false, accounts: ["hote:root"]}
targets:
  - name: hote
    type: ssh
    hosts: [{name: %[8]s, address: %[9]s}]
    auth: {key_file: %[10]s}
    known_hosts: %[11]s
    access_key: false
    passwords:
      - {account: root, password: "${file:%[12]s}"}
`, dir, address, prefix, env.Vault.RootTokenFile, env.CACert, env.Operator.SigningKey, env.Operator.Identity,
		h.Name, strings.Split(h.Addr, ":")[0], env.Fleet.OperatorKey, env.Fleet.KnownHosts, h.RootPasswordFile)
	p := filepath.Join(dir, "playbook.yaml")
	if err := os.WriteFile(p, []byte(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func vaultClient(t *testing.T, env *testenv.Env) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = env.Vault.Addr
	if err := cfg.ConfigureTLS(&vault.TLSConfig{CACert: env.CACert}); err != nil {
		t.Fatal(err)
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(testenv.ReadSecret(t, env.Vault.RootTokenFile))
	return c
}

// TestVaultStore runs a rotation with the real Vault as the secret store,
// and proves that an unreachable or sealed Vault stops the run before any
// target is changed.
func TestVaultStore(t *testing.T) {
	env := testenv.Require(t)
	if env.Vault == nil || env.Fleet == nil || env.Operator == nil {
		t.Fatal("the test estate has no Vault or no fleet: run `make testenv-up`")
	}
	testenv.LockComponent(t, "fleet", true)
	testenv.LockComponent(t, "vault", true)
	h := env.Fleet.Hosts[len(env.Fleet.Hosts)-1]
	old := testenv.ReadSecret(t, h.RootPasswordFile)
	resetFleet(t)
	t.Cleanup(func() { resetFleet(t) })

	untouched := func(t *testing.T) {
		t.Helper()
		if !passwordWorks(t, env, h.Addr, "root", old) {
			t.Error("the host was changed although the secret store could not take the new credential")
		}
	}

	t.Run("unreachable", func(t *testing.T) {
		pb := vaultPlaybook(t, env, t.TempDir(), "https://127.0.0.1:1", "handover/unreachable")
		out, code, _ := handover(t, nil, "run", "--yes", pb)
		if code != exitError || !strings.Contains(out, "nothing was changed") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		untouched(t)
	})

	t.Run("sealed", func(t *testing.T) {
		c := vaultClient(t, env)
		if err := c.Sys().Seal(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := c.Sys().Unseal(testenv.ReadSecret(t, env.Vault.UnsealKeyFile)); err != nil {
				t.Errorf("unseal: %v", err)
			}
		})
		pb := vaultPlaybook(t, env, t.TempDir(), env.Vault.Addr, "handover/sealed")
		out, code, _ := handover(t, nil, "run", "--yes", pb)
		if code != exitError || !strings.Contains(out, "sealed") || !strings.Contains(out, "nothing was changed") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		untouched(t)
	})

	t.Run("rotation stored in Vault", func(t *testing.T) {
		dir := t.TempDir()
		prefix := "handover/" + filepath.Base(dir)
		pb := vaultPlaybook(t, env, dir, env.Vault.Addr, prefix)
		out, code, _ := handover(t, nil, "run", "--yes", pb)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		st, err := secret.OpenVaultStore(context.Background(), secret.VaultConfig{Address: env.Vault.Addr, Prefix: prefix, CACert: env.CACert,
			Token: secret.New(testenv.ReadSecret(t, env.Vault.RootTokenFile))})
		if err != nil {
			t.Fatal(err)
		}
		cur, v, err := st.Get(context.Background(), connector.SecretPath("hote", h.Name, "root"), 0)
		if err != nil || v.State != secret.Current {
			t.Fatalf("no current root credential in Vault: %v %+v", err, v)
		}
		if !passwordWorks(t, env, h.Addr, "root", cur.Reveal()) {
			t.Error("the password stored in Vault does not log in")
		}
		if passwordWorks(t, env, h.Addr, "root", old) {
			t.Error("the handed-over password still logs in")
		}
		out, code, _ = handover(t, nil, "secrets", "list", pb)
		if code != 0 || !strings.Contains(out, "vault") || !strings.Contains(out, "current") || strings.Contains(out, cur.Reveal()) {
			t.Errorf("secrets list: exit %d\n%s", code, out)
		}
	})
}
