package testenv_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/vault"
)

// Vault is checked the way a connector sees it: through the official API
// client, TLS verified with the testenv CA.

func vaultClient(t *testing.T, env *testenv.Env, tokenFile string) *api.Client {
	t.Helper()
	c, err := vault.Client(env.CACert, tokenFile)
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	return c
}

func vaultCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestVaultHealth(t *testing.T) {
	env := testenv.RequireVault(t, true)
	c := vaultClient(t, env, env.Vault.RootTokenFile)
	h, err := c.Sys().HealthWithContext(vaultCtx(t))
	if err != nil {
		t.Fatalf("sys/health: %v", err)
	}
	if !h.Initialized || h.Sealed || h.Standby {
		t.Errorf("health = %+v, want initialised, unsealed, active", h)
	}
	if h.Version != "1.21.0" {
		t.Errorf("version = %q, want 1.21.0", h.Version)
	}
	if env.Vault.Addr != "https://"+testenv.VaultAddr {
		t.Errorf("env addr = %q", env.Vault.Addr)
	}
}

func TestVaultSecretFilesArePrivate(t *testing.T) {
	env := testenv.RequireVault(t, true)
	for _, f := range []string{
		env.Vault.RootTokenFile, env.Vault.ProviderPasswordFile, env.Vault.ProviderTokenFile,
		env.Vault.UnsealKeyFile, env.Vault.ProviderRoleIDFile, env.Vault.ProviderSecretIDFile,
	} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}

func TestVaultKV(t *testing.T) {
	env := testenv.RequireVault(t, true)
	ctx := vaultCtx(t)
	c := vaultClient(t, env, env.Vault.RootTokenFile)
	kv := c.KVv2(env.Vault.KVMount)
	path := "testenv-check/" + randomHex(t)
	t.Cleanup(func() { _ = kv.DeleteMetadata(context.Background(), path) })

	for _, v := range []string{"one", "two"} {
		if _, err := kv.Put(ctx, path, map[string]any{"v": v}); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	latest, err := kv.Get(ctx, path)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if latest.Data["v"] != "two" || latest.VersionMetadata.Version != 2 {
		t.Errorf("latest = %v (version %d), want two (version 2)", latest.Data, latest.VersionMetadata.Version)
	}
	first, err := kv.GetVersion(ctx, path, 1)
	if err != nil {
		t.Fatalf("get version 1: %v", err)
	}
	if first.Data["v"] != "one" {
		t.Errorf("version 1 = %v, want one", first.Data)
	}
	md, err := kv.GetMetadata(ctx, path)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if md.CurrentVersion != 2 || len(md.Versions) != 2 {
		t.Errorf("metadata: current %d with %d versions, want 2 and 2", md.CurrentVersion, len(md.Versions))
	}
}

func TestVaultPlanted(t *testing.T) {
	env := testenv.RequireVault(t, true)
	ctx := vaultCtx(t)
	c := vaultClient(t, env, env.Vault.RootTokenFile)
	want := []string{"secret/infra/wifi", "secret/infra/nas", "secret/infra/firewall"}
	if !slices.Equal(env.Vault.ClientSecrets, want) {
		t.Errorf("client secrets = %v, want %v", env.Vault.ClientSecrets, want)
	}
	kv := c.KVv2(env.Vault.KVMount)
	for _, p := range env.Vault.ClientSecrets {
		s, err := kv.Get(ctx, p[len(env.Vault.KVMount)+1:])
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(s.Data) == 0 {
			t.Errorf("%s: no data", p)
		}
	}
	md, err := kv.GetMetadata(ctx, "infra/wifi")
	if err != nil {
		t.Fatal(err)
	}
	if md.CurrentVersion != 2 {
		t.Errorf("infra/wifi has %d versions, want 2 (the passphrase was changed once)", md.CurrentVersion)
	}
	pol, err := c.Sys().GetPolicyWithContext(ctx, env.Vault.ProviderPolicy)
	if err != nil || pol == "" {
		t.Fatalf("policy %s: %q, %v", env.Vault.ProviderPolicy, pol, err)
	}
	auths, err := c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"userpass/", "approle/"} {
		if _, ok := auths[m]; !ok {
			t.Errorf("auth method %s not enabled", m)
		}
	}
}

func TestVaultProviderToken(t *testing.T) {
	env := testenv.RequireVault(t, true)
	c := vaultClient(t, env, env.Vault.ProviderTokenFile)
	s, err := c.Auth().Token().LookupSelfWithContext(vaultCtx(t))
	if err != nil {
		t.Fatalf("lookup-self with the provider's token: %v", err)
	}
	if got := s.Data["accessor"]; got != env.Vault.ProviderTokenAccessor {
		t.Errorf("accessor = %v, want %s", got, env.Vault.ProviderTokenAccessor)
	}
	policies, err := s.TokenPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(policies, env.Vault.ProviderPolicy) {
		t.Errorf("policies = %v, want %s among them", policies, env.Vault.ProviderPolicy)
	}
}

func TestVaultProviderLogins(t *testing.T) {
	env := testenv.RequireVault(t, true)
	tests := []struct {
		name string
		path string
		data map[string]any
	}{
		{"userpass", "auth/userpass/login/" + env.Vault.ProviderUser, map[string]any{"password": testenv.ReadSecret(t, env.Vault.ProviderPasswordFile)}},
		{"approle", "auth/approle/login", map[string]any{
			"role_id":   testenv.ReadSecret(t, env.Vault.ProviderRoleIDFile),
			"secret_id": testenv.ReadSecret(t, env.Vault.ProviderSecretIDFile),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := vaultClient(t, env, env.Vault.RootTokenFile)
			c.ClearToken()
			s, err := c.Logical().WriteWithContext(vaultCtx(t), tt.path, tt.data)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
				t.Fatalf("login returned no token")
			}
			if !slices.Contains(s.Auth.TokenPolicies, env.Vault.ProviderPolicy) {
				t.Errorf("token policies = %v, want %s among them", s.Auth.TokenPolicies, env.Vault.ProviderPolicy)
			}
		})
	}
}

// Reset brings back a fresh, planted Vault: what a test wrote is gone, what
// it revoked is back, and the tokens handed out keep their ids.
func TestVaultReset(t *testing.T) {
	env := testenv.RequireVault(t, false)
	testenv.LockComponent(t, "vault", true)
	ctx := vaultCtx(t)
	root := vaultClient(t, env, env.Vault.RootTokenFile)
	if _, err := root.KVv2(env.Vault.KVMount).Put(ctx, "testenv-check/reset", map[string]any{"v": "x"}); err != nil {
		t.Fatal(err)
	}
	provider := vaultClient(t, env, env.Vault.ProviderTokenFile)
	if err := provider.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		t.Fatalf("revoke the provider's token: %v", err)
	}

	resetVault(t, env)

	env = testenv.RequireVault(t, false)
	root = vaultClient(t, env, env.Vault.RootTokenFile)
	if _, err := root.KVv2(env.Vault.KVMount).Get(ctx, "testenv-check/reset"); err == nil {
		t.Error("a secret written before the reset is still there")
	}
	provider = vaultClient(t, env, env.Vault.ProviderTokenFile)
	s, err := provider.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		t.Fatalf("provider token after reset: %v", err)
	}
	if s.Data["accessor"] != env.Vault.ProviderTokenAccessor {
		t.Errorf("env.json accessor %s is not the new token's %v", env.Vault.ProviderTokenAccessor, s.Data["accessor"])
	}
}

// resetVault runs `testenv reset -only vault`, which takes the state
// directory's lock and rewrites env.json.
func resetVault(t *testing.T, env *testenv.Env) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./testenv/cmd/testenv", "reset", "-only", "vault", "-dir", env.Dir)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "HANDOVER_TESTENV_DIR="+env.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv reset -only vault: %v\n%s", err, out)
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestVaultPlantedMore: the rest of the provider's foothold and what the
// client keeps are planted as docs/testenv/vault.md says.
func TestVaultPlantedMore(t *testing.T) {
	env := testenv.RequireVault(t, true)
	v := env.Vault
	ctx := vaultCtx(t)
	for _, tok := range []struct{ file, accessor string }{
		{v.ProviderAppRoleTokenFile, v.ProviderAppRoleTokenAccessor},
		{v.ProviderLoginTokenFile, v.ProviderLoginTokenAccessor},
		{v.ProviderChildTokenFile, v.ProviderChildTokenAccessor},
		{v.ProviderPeriodicTokenFile, v.ProviderPeriodicAccessor},
		{v.ProviderRootTokenFile, v.ProviderRootTokenAccessor},
	} {
		s, err := vaultClient(t, env, tok.file).Auth().Token().LookupSelfWithContext(ctx)
		if err != nil {
			t.Errorf("%s: %v", tok.file, err)
			continue
		}
		if s.Data["accessor"] != tok.accessor {
			t.Errorf("%s: accessor %v, env.json says %s", tok.file, s.Data["accessor"], tok.accessor)
		}
	}
	root := vaultClient(t, env, env.Vault.RootTokenFile)
	child, err := root.Logical().WriteWithContext(ctx, "auth/token/lookup-accessor", map[string]any{"accessor": v.ProviderChildTokenAccessor})
	if err != nil || child.Data["orphan"] != false {
		t.Errorf("the child token: %v, orphan %v", err, child)
	}
	periodic, err := root.Logical().WriteWithContext(ctx, "auth/token/lookup-accessor", map[string]any{"accessor": v.ProviderPeriodicAccessor})
	if err != nil || periodic.Data["orphan"] != true || fmt.Sprint(periodic.Data["period"]) == "0" {
		t.Errorf("the periodic token: %v %v", err, periodic)
	}
	devs, err := root.Sys().ListAuditWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := devs[v.ProviderAuditPath]; !ok {
		t.Errorf("audit device %s not enabled", v.ProviderAuditPath)
	}
	anon := vaultClient(t, env, env.Vault.RootTokenFile)
	anon.ClearToken()
	for path, data := range map[string]map[string]any{
		"auth/" + v.ProviderOpsMount + "/login/" + v.ProviderOpsUser: {"password": testenv.ReadSecret(t, v.ProviderOpsPasswordFile)},
		"auth/userpass/login/" + v.ClientUser:                        {"password": testenv.ReadSecret(t, v.ClientPasswordFile)},
		"auth/approle/login":                                         {"role_id": testenv.ReadSecret(t, v.ClientRoleIDFile), "secret_id": testenv.ReadSecret(t, v.ClientSecretIDFile)},
	} {
		s, err := anon.Logical().WriteWithContext(ctx, path, data)
		if err != nil {
			t.Errorf("login %s: %v", path, err)
			continue
		}
		c := vaultClient(t, env, env.Vault.RootTokenFile)
		c.SetToken(s.Auth.ClientToken)
		_ = c.Auth().Token().RevokeSelfWithContext(ctx, "")
	}
	ent, err := root.Logical().ReadWithContext(ctx, "identity/entity/name/"+v.ProviderEntity)
	if err != nil || ent == nil {
		t.Fatalf("entity %s: %v", v.ProviderEntity, err)
	}
	if aliases, _ := ent.Data["aliases"].([]any); len(aliases) != 2 {
		t.Errorf("entity %s has %d aliases, want 2 (one per userpass mount)", v.ProviderEntity, len(aliases))
	}
	g, err := root.Logical().ReadWithContext(ctx, "identity/group/name/"+v.ClientGroup)
	if err != nil || g == nil {
		t.Fatalf("group %s: %v", v.ClientGroup, err)
	}
	if got := fmt.Sprint(g.Data["policies"]); got != "["+v.ClientPolicy+" "+v.ProviderPolicy+"]" {
		t.Errorf("group %s: policies %s", v.ClientGroup, got)
	}
	// The LDAP auth method on the test slapd, bound as the provider's
	// directory account; Vault never returns its bind password.
	conf, err := root.Logical().ReadWithContext(ctx, "auth/"+v.LDAPAuthMount+"/config")
	if err != nil || conf == nil {
		t.Fatalf("auth/%s/config: %v", v.LDAPAuthMount, err)
	}
	if conf.Data["url"] != v.LDAPAuthURL || conf.Data["binddn"] != v.LDAPAuthBindDN {
		t.Errorf("auth/%s/config: url %v, binddn %v", v.LDAPAuthMount, conf.Data["url"], conf.Data["binddn"])
	}
	if strings.Contains(fmt.Sprint(conf.Data), testenv.ReadSecret(t, v.LDAPAuthBindPassFile)) {
		t.Errorf("auth/%s/config returns the bind password", v.LDAPAuthMount)
	}
}
