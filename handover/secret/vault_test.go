package secret_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/handover/secret/storetest"
	"github.com/handoverhq/handover/testenv"
)

// These tests run against the testenv's Vault. Each store lives under a
// prefix of its own, removed afterwards.

func vaultCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// rootClient is an API client with the root token, for setting up and
// inspecting what the store wrote.
func rootClient(t *testing.T, env *testenv.Env) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = env.Vault.Addr
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: env.CACert}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(testenv.ReadSecret(t, env.Vault.RootTokenFile))
	return c
}

// testPrefix returns a fresh prefix, deleted with everything under it when
// the test ends.
func testPrefix(t *testing.T, env *testenv.Env) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "handover-test/" + hex.EncodeToString(b)
	c := rootClient(t, env)
	t.Cleanup(func() { deleteTree(t, c, "secret", prefix+"/") })
	return prefix
}

func deleteTree(t *testing.T, c *api.Client, mount, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Logical().ListWithContext(ctx, mount+"/metadata/"+dir)
	if err != nil || resp == nil {
		return
	}
	keys, _ := resp.Data["keys"].([]any)
	for _, k := range keys {
		name, _ := k.(string)
		if strings.HasSuffix(name, "/") {
			deleteTree(t, c, mount, dir+name)
			continue
		}
		if _, err := c.Logical().DeleteWithContext(ctx, mount+"/metadata/"+dir+name); err != nil {
			t.Logf("cleanup %s%s: %v", dir, name, err)
		}
	}
}

func vaultConfig(t *testing.T, env *testenv.Env, prefix string) secret.VaultConfig {
	return secret.VaultConfig{
		Address: env.Vault.Addr,
		Mount:   "secret",
		Prefix:  prefix,
		CACert:  env.CACert,
		Token:   secret.New(testenv.ReadSecret(t, env.Vault.RootTokenFile)),
	}
}

func openVault(t *testing.T, cfg secret.VaultConfig) *secret.VaultStore {
	t.Helper()
	s, err := secret.OpenVaultStore(vaultCtx(t), cfg)
	if err != nil {
		t.Fatalf("OpenVaultStore: %v", err)
	}
	return s
}

func TestVaultStore(t *testing.T) {
	env := testenv.RequireVault(t, true)
	storetest.Run(t, func(t *testing.T) secret.Store {
		return openVault(t, vaultConfig(t, env, testPrefix(t, env)))
	})
}

// tokenWithPolicy creates a token with the given policy (and Vault's
// default policy, which lets a token look itself up).
func tokenWithPolicy(t *testing.T, c *api.Client, name, hcl string) secret.Secret {
	t.Helper()
	ctx := vaultCtx(t)
	if err := c.Sys().PutPolicyWithContext(ctx, name, hcl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Sys().DeletePolicyWithContext(context.Background(), name) })
	s, err := c.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{name}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Auth.ClientToken
	t.Cleanup(func() { _ = c.Auth().Token().RevokeTreeWithContext(context.Background(), tok) })
	return secret.New(tok)
}

func TestVaultStoreCheck(t *testing.T) {
	env := testenv.RequireVault(t, true)
	root := rootClient(t, env)
	prefix := testPrefix(t, env)
	storePolicy := fmt.Sprintf(`
path "secret/data/%[1]s/*"     { capabilities = ["create", "update", "read"] }
path "secret/metadata/%[1]s/*" { capabilities = ["read", "update", "list", "delete"] }
`, prefix)
	readOnly := fmt.Sprintf(`
path "secret/data/%[1]s/*"     { capabilities = ["read"] }
path "secret/metadata/%[1]s/*" { capabilities = ["read", "list"] }
`, prefix)
	storeToken := tokenWithPolicy(t, root, "handover-test-store-"+filepath.Base(prefix), storePolicy)
	readOnlyToken := tokenWithPolicy(t, root, "handover-test-ro-"+filepath.Base(prefix), readOnly)
	otherCA := writeOtherCA(t)

	tests := []struct {
		name    string
		change  func(*secret.VaultConfig)
		wantErr error  // nil: Check passes
		wantMsg string // in the message
	}{
		{"root token", func(*secret.VaultConfig) {}, nil, ""},
		{"token with the store's policy", func(c *secret.VaultConfig) { c.Token = storeToken }, nil, ""},
		{"bad token", func(c *secret.VaultConfig) { c.Token = secret.New("testenv-no-such-token") }, secret.ErrVaultToken, "rejected the token"},
		{"read-only token", func(c *secret.VaultConfig) { c.Token = readOnlyToken }, secret.ErrVaultPermission, "create, update"},
		{"wrong CA", func(c *secret.VaultConfig) { c.CACert = otherCA }, secret.ErrVaultTLS, "not trusted"},
		{"unreachable", func(c *secret.VaultConfig) { c.Address = "https://127.0.0.1:1" }, secret.ErrVaultUnreachable, "unreachable"},
		{"not a KV mount", func(c *secret.VaultConfig) { c.Mount = "cubbyhole" }, nil, "not KV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := vaultConfig(t, env, prefix)
			tt.change(&cfg)
			err := openVault(t, cfg).Check(vaultCtx(t))
			t.Logf("Check: %v", err)
			switch {
			case tt.wantErr == nil && tt.wantMsg == "":
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("Check: err = %v, want %v", err, tt.wantErr)
			case !strings.Contains(fmt.Sprint(err), tt.wantMsg):
				t.Fatalf("Check: err = %v, want a message with %q", err, tt.wantMsg)
			}
			if err != nil && strings.Contains(err.Error(), cfg.Token.Reveal()) {
				t.Errorf("the token leaked into the error")
			}
		})
	}
}

// writeOtherCA writes a CA certificate that did not sign Vault's.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "some other CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A sealed Vault is refused by Check with a message that says so. The
// server is then reset (restarted and planted again, so nothing needs
// cleaning under the prefix) for the other tests.
func TestVaultStoreSealed(t *testing.T) {
	env := testenv.RequireVault(t, false)
	// Exclusive: other packages' Vault tests wait; the reset below runs
	// before the lock is released.
	testenv.LockComponent(t, "vault", true)
	t.Cleanup(func() { resetVault(t, env) })
	s := openVault(t, vaultConfig(t, env, "handover-test/sealed"))
	root := rootClient(t, env)
	if err := root.Sys().SealWithContext(vaultCtx(t)); err != nil {
		t.Fatalf("seal: %v", err)
	}
	err := s.Check(vaultCtx(t))
	if !errors.Is(err, secret.ErrVaultSealed) || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Check on a sealed Vault: err = %v, want one saying it is sealed", err)
	}
}

// resetVault runs `testenv reset -only vault` (the component's Reset, under
// the state directory's lock; it rewrites env.json).
func resetVault(t *testing.T, env *testenv.Env) {
	t.Helper()
	testenv.Reset(t, "vault")
}

// The layout in Vault is documented: one KV version per store version, the
// value and meta in its data, the states in custom_metadata, check-and-set
// required.
func TestVaultStoreLayout(t *testing.T) {
	env := testenv.RequireVault(t, true)
	ctx := vaultCtx(t)
	prefix := testPrefix(t, env)
	s := openVault(t, vaultConfig(t, env, prefix))
	for _, v := range []string{"v1", "v2", "v3"} {
		if _, err := s.PutPending(ctx, "ldap/cn=admin", secret.New(v), map[string]string{"target": "ldap"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []struct {
		v int
		s secret.State
	}{{1, secret.Current}, {2, secret.Failed}, {3, secret.Current}} {
		if err := s.SetState(ctx, "ldap/cn=admin", st.v, st.s); err != nil {
			t.Fatal(err)
		}
	}
	kv := rootClient(t, env).KVv2("secret")
	md, err := kv.GetMetadata(ctx, prefix+"/ldap/cn=admin")
	if err != nil {
		t.Fatal(err)
	}
	if !md.CASRequired || md.MaxVersions != 60 || md.CurrentVersion != 3 {
		t.Errorf("metadata: cas_required %v, max_versions %d, current_version %d; want true, 60, 3", md.CASRequired, md.MaxVersions, md.CurrentVersion)
	}
	want := map[string]any{"handover-state-1": "superseded", "handover-state-2": "failed", "handover-state-3": "current"}
	if fmt.Sprint(md.CustomMetadata) != fmt.Sprint(want) {
		t.Errorf("custom_metadata = %v, want %v", md.CustomMetadata, want)
	}
	v2, err := kv.GetVersion(ctx, prefix+"/ldap/cn=admin", 2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(v2.Data) != fmt.Sprint(map[string]any{"value": "v2", "meta": map[string]any{"target": "ldap"}}) {
		t.Errorf("data of version 2 is not {value, meta}")
	}
	// A writer that missed the latest version is refused by Vault itself.
	if _, err := kv.Put(ctx, prefix+"/ldap/cn=admin", map[string]any{"value": "x"}, api.WithCheckAndSet(2)); err == nil {
		t.Error("a stale check-and-set write succeeded")
	}
}

// KV keeps 60 versions per secret: the states of deleted versions are
// dropped, and a new version that would delete the current one is refused.
func TestVaultStoreVersionWindow(t *testing.T) {
	env := testenv.RequireVault(t, true)
	ctx := vaultCtx(t)
	prefix := testPrefix(t, env)
	s := openVault(t, vaultConfig(t, env, prefix))

	// 65 failed attempts: KV keeps versions 6..65.
	for i := 1; i <= 65; i++ {
		v, err := s.PutPending(ctx, "churn", secret.New(fmt.Sprint(i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetState(ctx, "churn", v.Version, secret.Failed); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 60 || vs[0].Version != 6 || vs[59].Version != 65 || vs[0].State != secret.Failed {
		t.Errorf("List: %d versions from %d to %d, want 60 from 6 to 65, failed", len(vs), vs[0].Version, vs[len(vs)-1].Version)
	}
	md, err := rootClient(t, env).KVv2("secret").GetMetadata(ctx, prefix+"/churn")
	if err != nil {
		t.Fatal(err)
	}
	if len(md.CustomMetadata) > 60 {
		t.Errorf("custom_metadata holds %d keys, want at most 60", len(md.CustomMetadata))
	}
	if _, _, err := s.Get(ctx, "churn", 5); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get of a version KV deleted: err = %v, want ErrNotFound", err)
	}

	// A current version 1, then 59 pending ones: the 60th would push it out.
	if _, err := s.PutPending(ctx, "kept", secret.New("current"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "kept", 1, secret.Current); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 60; i++ {
		if _, err := s.PutPending(ctx, "kept", secret.New(fmt.Sprint(i)), nil); err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
	}
	if _, err := s.PutPending(ctx, "kept", secret.New("one too many"), nil); err == nil || !strings.Contains(err.Error(), "current version 1") {
		t.Fatalf("PutPending that would delete the current version: err = %v", err)
	}
	val, v, err := s.Get(ctx, "kept", 0)
	if err != nil || val.Reveal() != "current" || v.Version != 1 {
		t.Errorf("current version after the refusal: %+v, %v", v, err)
	}
}

func TestReadVaultKV(t *testing.T) {
	env := testenv.RequireVault(t, true)
	ctx := vaultCtx(t)
	root := vaultConfig(t, env, "")
	tests := []struct {
		name, path, key string
		want            string
		wantErr         error
	}{
		{"latest version", "secret/infra/wifi", "psk", "Automne2023!", nil},
		{"other secret", "secret/infra/nas", "username", "admin", nil},
		{"leading slash", "/secret/infra/nas", "username", "admin", nil},
		{"missing key", "secret/infra/nas", "nope", "", secret.ErrNotFound},
		{"missing secret", "secret/infra/nope", "k", "", secret.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := secret.ReadVaultKV(ctx, root, tt.path, tt.key)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Reveal() != tt.want {
				t.Errorf("ReadVaultKV(%s#%s) returned another value", tt.path, tt.key)
			}
		})
	}
	if _, err := secret.ReadVaultKV(ctx, root, "sys/policy/default", "k"); err == nil || !strings.Contains(err.Error(), "not KV") {
		t.Errorf("reading outside a KV engine: err = %v", err)
	}
}

// Empty settings come from the environment as with the Vault CLI, the
// token last from ~/.vault-token.
func TestVaultConfigFromEnvironment(t *testing.T) {
	env := testenv.RequireVault(t, true)
	ctx := vaultCtx(t)
	token := testenv.ReadSecret(t, env.Vault.RootTokenFile)
	tests := []struct {
		name      string
		envToken  string
		tokenFile bool
	}{
		{"VAULT_TOKEN", token, false},
		{"~/.vault-token", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("VAULT_ADDR", env.Vault.Addr)
			t.Setenv("VAULT_CACERT", env.CACert)
			t.Setenv("VAULT_TOKEN", tt.envToken)
			if tt.tokenFile {
				if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte(token+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			v, err := secret.ReadVaultKV(ctx, secret.VaultConfig{}, "secret/infra/nas", "username")
			if err != nil {
				t.Fatalf("ReadVaultKV with settings from the environment: %v", err)
			}
			if v.Reveal() != "admin" {
				t.Errorf("read another value")
			}
			s := openVault(t, secret.VaultConfig{Prefix: "handover-test"})
			if err := s.Check(ctx); err != nil {
				t.Errorf("Check with settings from the environment: %v", err)
			}
			if s.Location() != env.Vault.Addr+"/v1/secret/data/handover-test" {
				t.Errorf("Location = %s", s.Location())
			}
		})
	}
}
