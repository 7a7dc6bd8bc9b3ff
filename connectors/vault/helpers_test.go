package vault_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/connectors/vault"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// The tests reach the testenv's Vault over HTTPS only, TLS verified with
// the testenv CA, as a real estate is reached.

func registry() *connector.Registry { return connector.NewRegistry(vault.New()) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// client is an API client with the token in file (or none).
func client(t *testing.T, e *testenv.Env, tokenFile string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = e.Vault.Addr
	conf.MaxRetries = 0
	conf.Timeout = 20 * time.Second
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: e.CACert}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	if tokenFile != "" {
		c.SetToken(testenv.ReadSecret(t, tokenFile))
	}
	return c
}

// resetVault gives back a fresh, planted Vault (`testenv reset -only
// vault`), and the env.json it rewrote.
func resetVault(t *testing.T) *testenv.Env {
	t.Helper()
	testenv.Require(t)
	testenv.Reset(t, "vault")
	return testenv.Require(t)
}

// lockVault takes the vault component for a test that changes it, and
// resets it when the test ends.
func lockVault(t *testing.T) *testenv.Env {
	t.Helper()
	testenv.Require(t)
	testenv.LockComponent(t, "vault", true)
	t.Cleanup(func() { resetVault(t) })
	return resetVault(t)
}

type pbOpts struct {
	tokenFile string // default: the root token
	caCert    string // default: the testenv CA
	address   string
	rekey     bool
	// keyShares, when set, is the target's whole key_shares block
	// (indented under the target), instead of rekey's.
	keyShares string
}

// playbookFor is the playbook part naming the provider and the Vault, with
// the client's credentials the provider knew and the provider's own, so
// that every old credential is proven dead.
func playbookFor(e *testenv.Env, o pbOpts) string {
	v := e.Vault
	tok := o.tokenFile
	if tok == "" {
		tok = v.RootTokenFile
	}
	ca := o.caCert
	if ca == "" {
		ca = e.CACert
	}
	addr := o.address
	if addr == "" {
		addr = v.Addr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "outgoing:\n  names: [%q]\n  domains: [%q]\n  accounts: [\"prestanet*\"]\n", testenv.ProviderName, testenv.ProviderDomain)
	fmt.Fprintf(&b, "policy:\n  rotate:\n    accounts: [\"coffre:userpass/%s\", \"coffre:approle/%s\"]\n", v.ClientUser, v.ClientAppRole)
	fmt.Fprintf(&b, "targets:\n  - name: coffre\n    type: vault\n    address: %s\n    ca_cert: %s\n    token: ${file:%s}\n", addr, ca, tok)
	fmt.Fprintf(&b, "    accounts:\n      - userpass: userpass/%s\n        password: ${file:%s}\n      - approle: approle/%s\n        secret_id: ${file:%s}\n",
		v.ClientUser, v.ClientPasswordFile, v.ClientAppRole, v.ClientSecretIDFile)
	fmt.Fprintf(&b, "    provider_credentials:\n      tokens:\n")
	for _, f := range []string{v.ProviderTokenFile, v.ProviderPeriodicTokenFile, v.ProviderRootTokenFile, v.ProviderLoginTokenFile, v.ProviderChildTokenFile, v.ProviderAppRoleTokenFile} {
		fmt.Fprintf(&b, "        - ${file:%s}\n", f)
	}
	fmt.Fprintf(&b, "      userpass:\n        - {login: userpass/%s, password: \"${file:%s}\"}\n        - {login: %s/%s, password: \"${file:%s}\"}\n",
		v.ProviderUser, v.ProviderPasswordFile, v.ProviderOpsMount, v.ProviderOpsUser, v.ProviderOpsPasswordFile)
	fmt.Fprintf(&b, "      approles:\n        - {role: approle/%s, role_id: \"${file:%s}\", secret_id: \"${file:%s}\"}\n", v.ProviderAppRole, v.ProviderRoleIDFile, v.ProviderSecretIDFile)
	fmt.Fprintf(&b, "    audit_replacement:\n      path: mairie-audit\n      type: file\n      description: Mairie audit log\n      options: {file_path: %s}\n", filepath.Join(v.AuditDir, "mairie-audit.log"))
	if o.keyShares != "" {
		b.WriteString(o.keyShares)
	} else if o.rekey {
		fmt.Fprintf(&b, "    key_shares:\n      kind: unseal\n      shares: [\"${file:%s}\"]\n", v.UnsealKeyFile)
	}
	return b.String()
}

// snapshot is the harness's own reading of the Vault, as root, never
// through the connector: every storage entry under the barrier
// (sys/raw: logins' password hashes, secret-ids, tokens, policies,
// identity, audit and auth tables, KV data), each key with a digest of its
// value. What a login alone changes (request counters, a token created
// and revoked at once) leaves no entry behind, but counters move: they
// are left out.
func snapshotter(t *testing.T) func(context.Context) (string, error) {
	e := testenv.Require(t)
	return func(ctx context.Context) (string, error) {
		c := client(t, e, e.Vault.RootTokenFile)
		var lines []string
		var walk func(prefix string) error
		walk = func(prefix string) error {
			s, err := c.Logical().ListWithContext(ctx, "sys/raw/"+prefix)
			if err != nil {
				return fmt.Errorf("list sys/raw/%s: %w", prefix, err)
			}
			if s == nil {
				return nil
			}
			keys, _ := s.Data["keys"].([]any)
			for _, k := range keys {
				key := prefix + fmt.Sprint(k)
				if skipRaw(key) {
					continue
				}
				if strings.HasSuffix(key, "/") {
					if err := walk(key); err != nil {
						return err
					}
					continue
				}
				v, err := c.Logical().ReadWithContext(ctx, "sys/raw/"+key)
				if err != nil {
					lines = append(lines, key+" (unreadable)")
					continue
				}
				sum := sha256.Sum256([]byte(fmt.Sprint(v.Data["value"])))
				lines = append(lines, key+" "+hex.EncodeToString(sum[:8]))
			}
			return nil
		}
		if err := walk(""); err != nil {
			return "", err
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n"), nil
	}
}

// skipRaw leaves out storage that moves without any change: request and
// activity counters, the core's own bookkeeping.
func skipRaw(key string) bool {
	for _, p := range []string{"sys/counters/", "core/cluster/", "core/activity", "sys/activity", "core/leader", "core/lock", "core/poison-pill", "core/hsm", "core/index-header-hmac-key", "sys/expire/"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// session loads a playbook with an engine using the connectortest file
// store, for inventory and plan alone.
func session(t *testing.T, pb string, logTo *strings.Builder) *engine.Session {
	t.Helper()
	s, err := newEngine(logTo).Load(ctxFor(t, time.Minute), pb)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newEngine is an engine on the connectortest file store (same
// passphrase, so the suite's helpers open what it wrote).
func newEngine(logTo *strings.Builder) *engine.Engine {
	var mu sync.Mutex
	return &engine.Engine{
		Registry: registry(),
		Log:      slog.New(slog.NewTextHandler(writerFunc(func(p []byte) { mu.Lock(); logTo.Write(p); mu.Unlock() }), &slog.HandlerOptions{Level: slog.LevelDebug})),
		OpenStore: func(_ context.Context, s *engine.Session) (secret.Store, error) {
			return secret.OpenFileStore(s.Resolver.Path(s.Playbook.Secrets.File.Path), secret.FileUnlock{Passphrase: secret.New("connectortest store passphrase, not a secret"), ScryptWorkFactor: 10})
		},
		Version: "test",
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// inventoryAndPlan inventories the playbook's Vault and plans.
func inventoryAndPlan(t *testing.T, pb string) (*connector.System, *plan.Plan) {
	t.Helper()
	var lg strings.Builder
	s := session(t, pb, &lg)
	ctx := ctxFor(t, 5*time.Minute)
	invs := s.Inventory(ctx, 1)
	if len(invs) != 1 || len(invs[0].Systems) != 1 {
		t.Fatalf("inventory: %+v", invs)
	}
	return &invs[0].Systems[0], s.Plan(invs)
}

func writePlaybook(t *testing.T, o pbOpts) (string, string) {
	e := testenv.Require(t)
	dir := t.TempDir()
	return dir, connectortest.WritePlaybook(t, dir, playbookFor(e, o))
}
