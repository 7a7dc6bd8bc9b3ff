// Package vault runs the testenv's Vault: the server built from
// testenv/vaultserver (Vault's own packages, in memory, TLS on
// 127.0.0.1:18200), planted with the client's KV secrets and the outgoing
// provider's foothold (a broad policy, a userpass login, an AppRole and a
// token).
package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// What is planted.
const (
	KVMount        = "secret"
	ProviderPolicy = "prestanet-admin"
	ProviderUser   = "prestanet"
	ProviderRole   = "prestanet-backup"

	ProviderOpsMount  = "userpass-ops"
	ProviderOpsUser   = "prestanet-ops"
	ProviderEntity    = "prestanet"
	ProviderGroup     = "prestanet-admins"
	ProviderAuditPath = "prestanet-siem/"

	ClientPolicy    = "mairie-admin"
	ClientAppPolicy = "mairie-app"
	ClientGroup     = "mairie-admins"
	ClientUser      = "mairie-admin"
	ClientRole      = "mairie-app"

	// LDAPAuthMount is an LDAP auth method backed by the client's
	// directory (the test slapd), bound as the provider's directory
	// account.
	LDAPAuthMount  = "ldap"
	LDAPAuthURL    = "ldap://" + testenv.LDAPAddr
	LDAPAuthBindDN = "uid=prestanet-admin,ou=partners,dc=mairie-saint-exemple,dc=test"
)

// clientPolicy is the client's own administrators' policy.
const clientPolicy = `# Mairie de Saint-Exemple: administrators
path "secret/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "sys/policies/acl/*" {
  capabilities = ["read", "list"]
}
`

// clientAppPolicy lets the client's application read its secrets.
const clientAppPolicy = `path "secret/data/infra/*" {
  capabilities = ["read"]
}
`

// providerPolicy is what outgoing providers typically keep: everything.
const providerPolicy = `# Prestanet Informatique: full administration (contract 2019-042)
path "*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"]
}
`

// clientSecrets are the client's own secrets, kept in Vault by the
// provider. Each is a list of versions, oldest first.
var clientSecrets = []struct {
	path     string
	versions []map[string]any
}{
	{"infra/wifi", []map[string]any{
		{"ssid": "MAIRIE-STAFF", "psk": "Printemps2021!"},
		{"ssid": "MAIRIE-STAFF", "psk": "Automne2023!"},
	}},
	{"infra/nas", []map[string]any{
		{"username": "admin", "password": "Syno-Mairie-42", "url": "https://nas.mairie-saint-exemple.test:5001"},
	}},
	{"infra/firewall", []map[string]any{
		{"username": "admin", "password": "Fw!Stormshield-2022"},
	}},
}

// binName is the binary's name prefix in the cache; proc.Stop matches it.
const binName = "vaultserver"

// Component runs vault.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "vault" }

type paths struct {
	pidFile, logFile string
	cert, key        string
	secrets          string
	rootToken        string
	unsealKey        string
	providerPassword string
	providerToken    string
	providerAccessor string // not a secret: env.json carries it too
	providerRoleID   string
	providerSecretID string
	// More of the provider's foothold, and what the client keeps.
	providerAppRoleToken, providerLoginToken, providerChildToken string
	providerPeriodicToken, providerRootToken                     string
	providerOpsPassword                                          string
	auditDir, providerAudit                                      string
	clientPassword, clientRoleID, clientSecretID                 string
	ldapBindPass                                                 string
	sources                                                      string // testenv/vaultserver in the repository
	cacheDir                                                     string
}

func pathsOf(o component.Options) paths {
	sec := filepath.Join(o.Dir, "secrets")
	return paths{
		pidFile:          filepath.Join(o.Dir, "vault.pid"),
		logFile:          filepath.Join(o.Dir, "vault.log"),
		cert:             filepath.Join(o.Dir, "tls", "cert.pem"),
		key:              filepath.Join(o.Dir, "tls", "key.pem"),
		secrets:          sec,
		rootToken:        filepath.Join(sec, "root-token"),
		unsealKey:        filepath.Join(sec, "unseal-key"),
		providerPassword: filepath.Join(sec, "prestanet-password"),
		providerToken:    filepath.Join(sec, "prestanet-token"),
		providerAccessor: filepath.Join(sec, "prestanet-token-accessor"),
		providerRoleID:   filepath.Join(sec, "prestanet-backup-role-id"),
		providerSecretID: filepath.Join(sec, "prestanet-backup-secret-id"),

		providerAppRoleToken:  filepath.Join(sec, "prestanet-backup-token"),
		providerLoginToken:    filepath.Join(sec, "prestanet-login-token"),
		providerChildToken:    filepath.Join(sec, "prestanet-child-token"),
		providerPeriodicToken: filepath.Join(sec, "prestanet-periodic-token"),
		providerRootToken:     filepath.Join(sec, "prestanet-root-token"),
		providerOpsPassword:   filepath.Join(sec, "prestanet-ops-password"),
		auditDir:              filepath.Join(o.Dir, "audit"),
		providerAudit:         filepath.Join(o.Dir, "audit", "prestanet-siem.log"),
		clientPassword:        filepath.Join(sec, "mairie-admin-password"),
		clientRoleID:          filepath.Join(sec, "mairie-app-role-id"),
		clientSecretID:        filepath.Join(sec, "mairie-app-secret-id"),
		ldapBindPass:          filepath.Join(sec, "ldap-auth-bindpass"),
		sources:               filepath.Join(o.RepoDir, "testenv", "vaultserver"),
		cacheDir:              o.CacheDir,
	}
}

// Up builds the server if its sources changed, leaves a running, healthy
// and planted Vault as it is, and (re)starts anything else.
func (c Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	p := pathsOf(o)
	bin, err := ensureBinary(ctx, o, p)
	if err != nil {
		return err
	}
	if pid := proc.ReadPID(p.pidFile); proc.Alive(pid) && strings.Contains(proc.Cmdline(pid), binName) {
		if err := c.planted(ctx, o, p); err == nil {
			return fillEnv(env, p, pid)
		}
		if err := proc.Stop(p.pidFile, binName, 10*time.Second); err != nil {
			return err
		}
	}
	return c.start(ctx, o, p, bin, env)
}

// Reset restarts the server: it keeps everything in memory, so the new
// process is a fresh Vault, planted again in well under a second. A build
// (when the sources changed) happens before the old server stops.
func (c Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	p := pathsOf(o)
	bin, err := ensureBinary(ctx, o, p)
	if err != nil {
		return err
	}
	if err := proc.Stop(p.pidFile, binName, 10*time.Second); err != nil {
		return err
	}
	return c.start(ctx, o, p, bin, env)
}

func (Component) Down(ctx context.Context, o component.Options) error {
	return proc.Stop(pathsOf(o).pidFile, binName, 10*time.Second)
}

func (c Component) start(ctx context.Context, o component.Options, p paths, bin string, env *testenv.Env) error {
	if err := os.MkdirAll(p.secrets, 0o700); err != nil {
		return err
	}
	// The root token and the provider's token keep their ids across resets,
	// so that a client holding them keeps working.
	for _, f := range []string{p.rootToken, p.providerToken, p.providerPeriodicToken, p.providerRootToken} {
		if err := ensureRandomFile(f, "testenv-"); err != nil {
			return err
		}
	}
	if err := o.CA.Issue(p.cert, p.key, "vault.testenv", []string{"127.0.0.1"}, []string{"localhost"}); err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	if err := stopOrphans(p); err != nil {
		return err
	}
	os.Remove(p.logFile)
	// The new server writes the unseal key once initialised: its presence
	// tells our server from any other answering on the port.
	os.Remove(p.unsealKey)
	pid, err := proc.Start(p.pidFile, p.logFile, nil, bin,
		"-addr", testenv.VaultAddr,
		"-tls-cert", p.cert, "-tls-key", p.key,
		"-root-token-file", p.rootToken,
		"-unseal-key-file", p.unsealKey)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ready := func(ctx context.Context) error {
		if _, err := os.Stat(p.unsealKey); err != nil {
			return fmt.Errorf("not initialised yet: %w", err)
		}
		return healthProbe(o.CA.CertFile)(ctx)
	}
	if err := proc.WaitReady(wctx, pid, p.logFile, ready); err != nil {
		_ = proc.Stop(p.pidFile, binName, 10*time.Second)
		return fmt.Errorf("vault: %w", err)
	}
	if err := plant(wctx, o, p); err != nil {
		_ = proc.Stop(p.pidFile, binName, 10*time.Second)
		return fmt.Errorf("vault: plant: %w", err)
	}
	return fillEnv(env, p, pid)
}

// stopOrphans stops servers of this state directory whose pidfile is gone
// (a crashed testenv command): they hold the port. They are recognised by
// their command line, which names this directory's root token file.
func stopOrphans(p paths) error {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !proc.Alive(pid) {
			continue
		}
		if cmd := proc.Cmdline(pid); strings.Contains(cmd, binName) && strings.Contains(cmd, p.rootToken) {
			if err := proc.Kill(pid, 10*time.Second); err != nil {
				return fmt.Errorf("stop orphaned server %d: %w", pid, err)
			}
		}
	}
	return nil
}

func fillEnv(env *testenv.Env, p paths, pid int) error {
	accessor, err := os.ReadFile(p.providerAccessor)
	if err != nil {
		return err
	}
	env.Vault = &testenv.VaultEnv{
		Addr:                  "https://" + testenv.VaultAddr,
		RootTokenFile:         p.rootToken,
		ProviderPolicy:        ProviderPolicy,
		ProviderUser:          ProviderUser,
		ProviderPasswordFile:  p.providerPassword,
		ProviderTokenFile:     p.providerToken,
		ProviderTokenAccessor: strings.TrimSpace(string(accessor)),
		PID:                   pid,
		UnsealKeyFile:         p.unsealKey,
		KVMount:               KVMount,
		ProviderAppRole:       ProviderRole,
		ProviderRoleIDFile:    p.providerRoleID,
		ProviderSecretIDFile:  p.providerSecretID,
	}
	for _, s := range clientSecrets {
		env.Vault.ClientSecrets = append(env.Vault.ClientSecrets, KVMount+"/"+s.path)
	}
	accessorOf := func(tokenFile string) (string, error) {
		b, err := os.ReadFile(tokenFile + "-accessor")
		return strings.TrimSpace(string(b)), err
	}
	v := env.Vault
	for _, f := range []struct {
		file    string
		id, acc *string
	}{
		{p.providerAppRoleToken, &v.ProviderAppRoleTokenFile, &v.ProviderAppRoleTokenAccessor},
		{p.providerLoginToken, &v.ProviderLoginTokenFile, &v.ProviderLoginTokenAccessor},
		{p.providerChildToken, &v.ProviderChildTokenFile, &v.ProviderChildTokenAccessor},
		{p.providerPeriodicToken, &v.ProviderPeriodicTokenFile, &v.ProviderPeriodicAccessor},
		{p.providerRootToken, &v.ProviderRootTokenFile, &v.ProviderRootTokenAccessor},
	} {
		a, err := accessorOf(f.file)
		if err != nil {
			return err
		}
		*f.id, *f.acc = f.file, a
	}
	v.ProviderOpsMount, v.ProviderOpsUser, v.ProviderOpsPasswordFile = ProviderOpsMount, ProviderOpsUser, p.providerOpsPassword
	v.ProviderEntity, v.ProviderGroup = ProviderEntity, ProviderGroup
	v.ProviderAuditPath, v.ProviderAuditFile, v.AuditDir = ProviderAuditPath, p.providerAudit, p.auditDir
	v.ClientPolicy, v.ClientAppPolicy, v.ClientGroup = ClientPolicy, ClientAppPolicy, ClientGroup
	v.ClientUser, v.ClientPasswordFile = ClientUser, p.clientPassword
	v.ClientAppRole, v.ClientRoleIDFile, v.ClientSecretIDFile = ClientRole, p.clientRoleID, p.clientSecretID
	v.LDAPAuthMount, v.LDAPAuthURL, v.LDAPAuthBindDN, v.LDAPAuthBindPassFile = LDAPAuthMount, LDAPAuthURL, LDAPAuthBindDN, p.ldapBindPass
	return nil
}

// healthProbe is the readiness check: sys/health answers 200 (initialised,
// unsealed, active) over TLS verified with the testenv CA.
func healthProbe(caFile string) func(context.Context) error {
	return func(ctx context.Context) error {
		client, err := httpClient(caFile)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+testenv.VaultAddr+"/v1/sys/health", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("sys/health: %s", resp.Status)
		}
		return nil
	}
}

func httpClient(caFile string) (*http.Client, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		Timeout:   10 * time.Second,
	}, nil
}

// Client returns an API client for the testenv Vault with the given token
// file, TLS verified with the testenv CA.
func Client(caFile, tokenFile string) (*api.Client, error) {
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, conf.Error
	}
	conf.Address = "https://" + testenv.VaultAddr
	conf.MaxRetries = 0
	conf.Timeout = 10 * time.Second
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: caFile}); err != nil {
		return nil, err
	}
	c, err := api.NewClient(conf)
	if err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	c.SetToken(strings.TrimSpace(string(tok)))
	return c, nil
}

// plant writes what the estate holds on a fresh server.
func plant(ctx context.Context, o component.Options, p paths) error {
	c, err := Client(o.CA.CertFile, p.rootToken)
	if err != nil {
		return err
	}
	kv := c.KVv2(KVMount)
	for _, s := range clientSecrets {
		for _, data := range s.versions {
			if _, err := kv.Put(ctx, s.path, data); err != nil {
				return fmt.Errorf("kv %s: %w", s.path, err)
			}
		}
	}
	if err := c.Sys().PutPolicyWithContext(ctx, ProviderPolicy, providerPolicy); err != nil {
		return fmt.Errorf("policy %s: %w", ProviderPolicy, err)
	}

	// The provider's userpass login.
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, "userpass", &api.EnableAuthOptions{Type: "userpass", Description: "Prestanet staff logins"}); err != nil {
		return fmt.Errorf("enable userpass: %w", err)
	}
	if err := ensureRandomFile(p.providerPassword, "Presta-"); err != nil {
		return err
	}
	password, err := readTrimmed(p.providerPassword)
	if err != nil {
		return err
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/userpass/users/"+ProviderUser, map[string]any{
		"password":       password,
		"token_policies": ProviderPolicy,
	}); err != nil {
		return fmt.Errorf("userpass user %s: %w", ProviderUser, err)
	}

	// The provider's AppRole, used by its backup scripts.
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, "approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		return fmt.Errorf("enable approle: %w", err)
	}
	role := "auth/approle/role/" + ProviderRole
	if _, err := c.Logical().WriteWithContext(ctx, role, map[string]any{
		"token_policies": ProviderPolicy,
		"token_ttl":      "1h",
	}); err != nil {
		return fmt.Errorf("approle %s: %w", ProviderRole, err)
	}
	rid, err := c.Logical().ReadWithContext(ctx, role+"/role-id")
	if err != nil {
		return fmt.Errorf("approle %s role-id: %w", ProviderRole, err)
	}
	sid, err := c.Logical().WriteWithContext(ctx, role+"/secret-id", map[string]any{"metadata": `{"host":"backup.prestanet.test"}`})
	if err != nil {
		return fmt.Errorf("approle %s secret-id: %w", ProviderRole, err)
	}
	roleID, _ := rid.Data["role_id"].(string)
	secretID, _ := sid.Data["secret_id"].(string)
	if roleID == "" || secretID == "" {
		return fmt.Errorf("approle %s: empty role_id or secret_id", ProviderRole)
	}
	if err := writeSecret(p.providerRoleID, roleID); err != nil {
		return err
	}
	if err := writeSecret(p.providerSecretID, secretID); err != nil {
		return err
	}

	// The provider's long-lived token, id from its file.
	tokenID, err := readTrimmed(p.providerToken)
	if err != nil {
		return err
	}
	tok, err := c.Auth().Token().CreateOrphanWithContext(ctx, &api.TokenCreateRequest{
		ID:          tokenID,
		Policies:    []string{ProviderPolicy},
		DisplayName: ProviderUser,
		Metadata:    map[string]string{"owner": "Prestanet Informatique", "purpose": "supervision"},
		TTL:         "720h",
		Renewable:   boolPtr(true),
	})
	if err != nil {
		return fmt.Errorf("provider token: %w", err)
	}
	if err := os.WriteFile(p.providerAccessor, []byte(tok.Auth.Accessor+"\n"), 0o600); err != nil {
		return err
	}
	return plantMore(ctx, c, p, roleID, secretID, password)
}

// plantMore adds the rest of what a provider leaves behind, and what the
// client keeps (docs/testenv/vault.md).
func plantMore(ctx context.Context, c *api.Client, p paths, roleID, secretID, password string) error {
	lw := func(path string, data map[string]any) (*api.Secret, error) {
		s, err := c.Logical().WriteWithContext(ctx, path, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	}
	// A second userpass mount, with the provider's operations login.
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, ProviderOpsMount, &api.EnableAuthOptions{Type: "userpass", Description: "Prestanet on-call"}); err != nil {
		return fmt.Errorf("enable %s: %w", ProviderOpsMount, err)
	}
	if err := ensureRandomFile(p.providerOpsPassword, "Ops-"); err != nil {
		return err
	}
	opsPassword, err := readTrimmed(p.providerOpsPassword)
	if err != nil {
		return err
	}
	if _, err := lw("auth/"+ProviderOpsMount+"/users/"+ProviderOpsUser, map[string]any{"password": opsPassword, "token_policies": ProviderPolicy}); err != nil {
		return err
	}
	// The provider's entity with an alias on each userpass mount, its
	// group, and the client's administrators' group that also carries
	// the provider's policy.
	auths, err := c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return err
	}
	ent, err := lw("identity/entity/name/"+ProviderEntity, map[string]any{
		"metadata": map[string]string{"organization": "Prestanet Informatique", "email": "support@prestanet.test"},
		"policies": []string{ProviderPolicy},
	})
	if err != nil {
		return err
	}
	var entityID string
	if ent != nil {
		entityID, _ = ent.Data["id"].(string)
	}
	if entityID == "" {
		got, err := c.Logical().ReadWithContext(ctx, "identity/entity/name/"+ProviderEntity)
		if err != nil || got == nil {
			return fmt.Errorf("entity %s: %v", ProviderEntity, err)
		}
		entityID, _ = got.Data["id"].(string)
	}
	// Its aliases exist before any login, which would otherwise create an
	// entity of its own for each user.
	for mount, user := range map[string]string{"userpass/": ProviderUser, ProviderOpsMount + "/": ProviderOpsUser} {
		a, ok := auths[mount]
		if !ok {
			return fmt.Errorf("auth %s not enabled", mount)
		}
		if err := moveAlias(ctx, c, a.Accessor, user, entityID); err != nil {
			return err
		}
	}
	if _, err := lw("identity/group/name/"+ProviderGroup, map[string]any{
		"policies": []string{ProviderPolicy}, "member_entity_ids": []string{entityID},
		"metadata": map[string]string{"owner": "Prestanet Informatique"},
	}); err != nil {
		return err
	}
	if _, err := lw("identity/group/name/"+ClientGroup, map[string]any{
		"policies": []string{ClientPolicy, ProviderPolicy},
		"metadata": map[string]string{"owner": "Mairie de Saint-Exemple"},
	}); err != nil {
		return err
	}
	// A token issued by the provider's AppRole (its backup script's).
	login, err := lw("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
	if err != nil {
		return err
	}
	if err := keepToken(p.providerAppRoleToken, login.Auth); err != nil {
		return err
	}
	// The provider's userpass login, and a token created as its child.
	login, err = lw("auth/userpass/login/"+ProviderUser, map[string]any{"password": password})
	if err != nil {
		return err
	}
	if err := keepToken(p.providerLoginToken, login.Auth); err != nil {
		return err
	}
	{
		cl, err := c.Clone()
		if err != nil {
			return err
		}
		cl.SetToken(login.Auth.ClientToken)
		child, err := cl.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
			Policies: []string{ProviderPolicy}, DisplayName: "prestanet-script", TTL: "720h",
		})
		if err != nil {
			return fmt.Errorf("child of the provider's login token: %w", err)
		}
		if err := keepToken(p.providerChildToken, child.Auth); err != nil {
			return err
		}
	}
	// A periodic orphan token (renewed by its supervision forever) and a
	// root token, ids from their files.
	for _, t := range []struct {
		file string
		req  api.TokenCreateRequest
	}{
		{p.providerPeriodicToken, api.TokenCreateRequest{
			Policies: []string{ProviderPolicy}, DisplayName: "prestanet-monitoring", Period: "24h",
			Metadata: map[string]string{"owner": "Prestanet Informatique", "contact": "noc@prestanet.test"},
		}},
		{p.providerRootToken, api.TokenCreateRequest{
			Policies: []string{"root"}, DisplayName: "prestanet-break-glass",
			Metadata: map[string]string{"contact": "noc@prestanet.test"},
		}},
	} {
		id, err := readTrimmed(t.file)
		if err != nil {
			return err
		}
		req := t.req
		req.ID = id
		tok, err := c.Auth().Token().CreateOrphanWithContext(ctx, &req)
		if err != nil {
			return fmt.Errorf("token %s: %w", req.DisplayName, err)
		}
		if err := os.WriteFile(t.file+"-accessor", []byte(tok.Auth.Accessor+"\n"), 0o600); err != nil {
			return err
		}
	}
	// The client's policies, admin login and application AppRole.
	for name, text := range map[string]string{ClientPolicy: clientPolicy, ClientAppPolicy: clientAppPolicy} {
		if err := c.Sys().PutPolicyWithContext(ctx, name, text); err != nil {
			return fmt.Errorf("policy %s: %w", name, err)
		}
	}
	if err := ensureRandomFile(p.clientPassword, "Mairie-"); err != nil {
		return err
	}
	clientPassword, err := readTrimmed(p.clientPassword)
	if err != nil {
		return err
	}
	if _, err := lw("auth/userpass/users/"+ClientUser, map[string]any{"password": clientPassword, "token_policies": ClientPolicy}); err != nil {
		return err
	}
	role := "auth/approle/role/" + ClientRole
	if _, err := lw(role, map[string]any{"token_policies": ClientAppPolicy, "token_ttl": "1h", "secret_id_bound_cidrs": "127.0.0.0/8"}); err != nil {
		return err
	}
	rid, err := c.Logical().ReadWithContext(ctx, role+"/role-id")
	if err != nil {
		return err
	}
	sid, err := lw(role+"/secret-id", map[string]any{"metadata": `{"host":"app.mairie-saint-exemple.test"}`})
	if err != nil {
		return err
	}
	if err := writeSecret(p.clientRoleID, fmt.Sprint(rid.Data["role_id"])); err != nil {
		return err
	}
	if err := writeSecret(p.clientSecretID, fmt.Sprint(sid.Data["secret_id"])); err != nil {
		return err
	}
	// The client's admin and application have logged in before: their
	// entities exist (a first login creates one).
	for _, l := range []struct {
		path string
		data map[string]any
	}{
		{"auth/userpass/login/" + ClientUser, map[string]any{"password": clientPassword}},
		{"auth/approle/login", map[string]any{"role_id": rid.Data["role_id"], "secret_id": sid.Data["secret_id"]}},
		{"auth/" + ProviderOpsMount + "/login/" + ProviderOpsUser, map[string]any{"password": opsPassword}},
	} {
		s, err := lw(l.path, l.data)
		if err != nil {
			return err
		}
		if _, err := c.Logical().WriteWithContext(ctx, "auth/token/revoke-accessor", map[string]any{"accessor": s.Auth.Accessor}); err != nil {
			return err
		}
	}
	// An audit device whose log the provider's SIEM collects.
	if err := os.MkdirAll(p.auditDir, 0o755); err != nil {
		return err
	}
	if err := c.Sys().EnableAuditWithOptionsWithContext(ctx, ProviderAuditPath, &api.EnableAuditOptions{
		Type: "file", Description: "Prestanet SIEM forwarding (siem.prestanet.test)",
		Options: map[string]string{"file_path": p.providerAudit},
	}); err != nil {
		return fmt.Errorf("audit device %s: %w", ProviderAuditPath, err)
	}
	return plantLDAPAuth(ctx, c, p)
}

// plantLDAPAuth enables an LDAP auth method on the client's directory,
// configured with a bind password Vault keeps (and never returns), and
// the directory's admins group mapped to the client's policy. Vault does
// not reach the directory until someone logs in through it.
func plantLDAPAuth(ctx context.Context, c *api.Client, p paths) error {
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, LDAPAuthMount, &api.EnableAuthOptions{Type: "ldap", Description: "Directory logins (annuaire)"}); err != nil {
		return fmt.Errorf("enable %s: %w", LDAPAuthMount, err)
	}
	if err := ensureRandomFile(p.ldapBindPass, "Bind-"); err != nil {
		return err
	}
	bindPass, err := readTrimmed(p.ldapBindPass)
	if err != nil {
		return err
	}
	base := "dc=mairie-saint-exemple,dc=test"
	if _, err := c.Logical().WriteWithContext(ctx, "auth/"+LDAPAuthMount+"/config", map[string]any{
		"url": LDAPAuthURL, "binddn": LDAPAuthBindDN, "bindpass": bindPass,
		"userdn": "ou=people," + base, "userattr": "uid",
		"groupdn": "ou=groups," + base, "groupfilter": "(&(objectClass=groupOfNames)(member={{.UserDN}}))", "groupattr": "cn",
	}); err != nil {
		return fmt.Errorf("auth/%s/config: %w", LDAPAuthMount, err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/"+LDAPAuthMount+"/groups/admins", map[string]any{"policies": ClientPolicy}); err != nil {
		return fmt.Errorf("auth/%s/groups/admins: %w", LDAPAuthMount, err)
	}
	return nil
}

// moveAlias points the alias of user on the auth mount (by its accessor)
// at entityID, creating it if no login made one yet.
func moveAlias(ctx context.Context, c *api.Client, mountAccessor, user, entityID string) error {
	s, err := c.Logical().WriteWithContext(ctx, "identity/lookup/entity", map[string]any{"alias_name": user, "alias_mount_accessor": mountAccessor})
	if err != nil {
		return fmt.Errorf("lookup alias %s: %w", user, err)
	}
	data := map[string]any{"name": user, "mount_accessor": mountAccessor, "canonical_id": entityID}
	if s != nil {
		if aliases, ok := s.Data["aliases"].([]any); ok {
			for _, a := range aliases {
				am, _ := a.(map[string]any)
				if am["mount_accessor"] == mountAccessor && am["name"] == user {
					_, err := c.Logical().WriteWithContext(ctx, "identity/entity-alias/id/"+fmt.Sprint(am["id"]), data)
					if err != nil {
						return fmt.Errorf("move alias %s: %w", user, err)
					}
					return nil
				}
			}
		}
	}
	if _, err := c.Logical().WriteWithContext(ctx, "identity/entity-alias", data); err != nil {
		return fmt.Errorf("alias %s: %w", user, err)
	}
	return nil
}

// keepToken writes a token's id to file and its accessor beside it.
func keepToken(file string, a *api.SecretAuth) error {
	if a == nil || a.ClientToken == "" {
		return fmt.Errorf("%s: no token issued", filepath.Base(file))
	}
	if err := writeSecret(file, a.ClientToken); err != nil {
		return err
	}
	return os.WriteFile(file+"-accessor", []byte(a.Accessor+"\n"), 0o600)
}

// planted checks a running server still holds what plant wrote (a test may
// have revoked the provider's token, or sealed the server).
func (Component) planted(ctx context.Context, o component.Options, p paths) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := healthProbe(o.CA.CertFile)(ctx); err != nil {
		return err
	}
	c, err := Client(o.CA.CertFile, p.providerToken)
	if err != nil {
		return err
	}
	if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return err
	}
	_, err = os.Stat(p.providerAccessor)
	return err
}

func boolPtr(b bool) *bool { return &b }

// ensureRandomFile writes prefix + 24 random hex digits to path (0600)
// unless it exists.
func ensureRandomFile(path, prefix string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return writeSecret(path, prefix+hex.EncodeToString(b))
}

func writeSecret(path, value string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(value+"\n"), 0o600)
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ensureBinary returns the server binary for the current sources, building
// it into the cache if needed. The name carries a digest of main.go, go.mod
// and go.sum, so the (slow: minutes, gigabytes of modules) build runs only
// when they change.
func ensureBinary(ctx context.Context, o component.Options, p paths) (string, error) {
	h := sha256.New()
	for _, f := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(p.sources, f))
		if err != nil {
			return "", fmt.Errorf("vault server sources (run testenv from the repository root): %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	bin := filepath.Join(p.cacheDir, binName+"-"+sum)
	if _, err := os.Stat(bin); err == nil {
		removeStale(p.cacheDir, bin)
		return bin, nil
	}
	if err := os.MkdirAll(p.cacheDir, 0o755); err != nil {
		return "", err
	}
	gobin, err := goTool()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(o.Log, "testenv: vault: building the Vault server (first build takes minutes and ~3 GB of modules)\n")
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = p.sources
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build vault server: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	removeStale(p.cacheDir, bin)
	return bin, nil
}

// removeStale deletes binaries built from older sources (100 MB each). A
// server still running one keeps running: Linux keeps its file until it
// exits.
func removeStale(cacheDir, current string) {
	old, _ := filepath.Glob(filepath.Join(cacheDir, binName+"-*"))
	for _, f := range old {
		if f != current && !strings.HasSuffix(f, ".tmp") {
			os.Remove(f)
		}
	}
}

// goTool finds the go command: PATH first, then the usual install place.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go", nil
	}
	return "", fmt.Errorf("build vault server: no go command in PATH or /usr/local/go/bin")
}
