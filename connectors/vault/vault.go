// Package vault is the connector for HashiCorp Vault (an OpenBao is told
// apart, inventoried, and left unchanged: openbao.go). It inventories who can reach
// the client's secrets (seal and key shares, mounts, auth methods,
// policies, audit devices, every token by accessor, userpass users on
// every userpass mount, AppRoles and their secret-ids, identity entities
// and groups, KV paths with their metadata, never their values),
// attributes what belongs to the outgoing provider, removes it (tokens
// revoked by accessor, logins deleted, AppRole secret-ids destroyed and
// their tokens revoked, policies detached and deleted, its audit device
// replaced, its key shares made useless by a rekey) and rotates the
// client's own credentials the provider knew (userpass passwords, AppRole
// secret-ids) under the engine's write-ahead protocol, proving each.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/crashpoint"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// Type is the playbook's target type.
const Type = "vault"

// System is the name of the one system a vault target has.
const System = "vault"

// Connector is the "vault" target type.
type Connector struct{}

// New returns the Vault connector.
func New() connector.Connector { return Connector{} }

var (
	_ connector.Connector     = Connector{}
	_ connector.Target        = (*Target)(nil)
	_ connector.Rotator       = (*Target)(nil)
	_ connector.Applier       = (*Target)(nil)
	_ connector.Verifier      = (*Target)(nil)
	_ connector.Generator     = (*Target)(nil)
	_ connector.ManualStepper = (*Target)(nil)
)

func (Connector) Type() string { return Type }

// settings is a target's decoded configuration (docs/connectors/vault.md).
type settings struct {
	Address     string
	CACert      string
	Token       playbook.Ref
	Namespace   string
	Concurrency int
	KVMaxPaths  int
	Timeout     time.Duration // per request
	// Accounts are the client's own credentials the provider knew.
	Accounts []handedOver
	// Provider are the provider's credentials handed over, to prove they
	// no longer work.
	ProviderTokens   []playbook.Ref
	ProviderUserpass []handedOver
	ProviderAppRoles []handedOver
	// KeepTokens are accessors never revoked (besides the connector's and
	// the secret store's own tokens, kept automatically).
	KeepTokens []string
	Audit      *auditDevice // the replacement of the provider's audit devices
	KeyShares  *keyShares
}

// handedOver is a userpass login (Mount/Name + Password) or an AppRole
// (Mount/Name + RoleID + SecretID).
type handedOver struct {
	Mount, Name string
	Password    playbook.Ref // userpass
	RoleID      playbook.Ref // approle (optional for the client's: read from Vault)
	SecretID    playbook.Ref
	AppRole     bool
}

// Login is the account name: "mount/name".
func (h handedOver) Login() string { return h.Mount + "/" + h.Name }

// auditDevice is the replacement audit device the playbook names.
type auditDevice struct {
	Path        string
	Type        string
	Description string
	Options     map[string]string
}

// keyShares says the provider held unseal (or recovery) key shares, and
// gives the quorum handed over so that a rekey can make them useless.
type keyShares struct {
	Recovery     bool // -target=recovery (auto-unseal)
	Shares       []playbook.Ref
	NewShares    int
	NewThreshold int
	// Recipients, when named, get one new share each, encrypted to their
	// key before anything is written anywhere.
	Recipients []recipient
}

// Configure decodes the target's settings; see docs/connectors/vault.md.
func (Connector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	s := settings{Concurrency: 16, KVMaxPaths: 10000, Timeout: 30 * time.Second}
	before := len(d.Diagnostics())
	login := func(n *yaml.Node, what string) (mount, name string) {
		v := d.NonEmpty(n, what)
		m, u, ok := strings.Cut(strings.Trim(v, "/"), "/")
		if v != "" && (!ok || m == "" || u == "" || strings.Contains(u, "/")) {
			d.Errorf(n, "%s %q: write mount/name, e.g. userpass/alice", what, v)
		}
		return m, u
	}
	d.Map(t.Settings, "vault target "+t.Name, map[string]playbook.Field{
		"address": {Required: true, Decode: func(n *yaml.Node) {
			raw := d.NonEmpty(n, "address")
			u, err := url.Parse(raw)
			switch {
			case raw == "":
			case err != nil:
				d.Errorf(n, "address: %v", err)
			case u.Scheme != "https":
				d.Errorf(n, "address %q: use https:// (Vault is reached over verified TLS only)", raw)
			case u.Host == "":
				d.Errorf(n, "address %q names no host", raw)
			default:
				s.Address = strings.TrimRight(raw, "/")
			}
		}},
		"ca_cert": {Decode: func(n *yaml.Node) {
			p := d.NonEmpty(n, "ca_cert")
			if p == "" {
				return
			}
			if env.Resolver != nil {
				p = env.Resolver.Path(p)
			}
			if _, err := os.Stat(p); err != nil {
				d.Errorf(n, "ca_cert: %v", err)
			}
			s.CACert = p
		}},
		"token":        {Required: true, Decode: func(n *yaml.Node) { s.Token = d.Ref(n, "token") }},
		"namespace":    {Decode: func(n *yaml.Node) { s.Namespace = d.NonEmpty(n, "namespace") }},
		"concurrency":  {Decode: func(n *yaml.Node) { s.Concurrency = d.Int(n, "concurrency", 1, 256) }},
		"kv_max_paths": {Decode: func(n *yaml.Node) { s.KVMaxPaths = d.Int(n, "kv_max_paths", 0, 1000000) }},
		"keep_tokens":  {Decode: func(n *yaml.Node) { s.KeepTokens = d.Strings(n, "keep_tokens") }},
		"request_timeout": {Decode: func(n *yaml.Node) {
			if v := d.Duration(n, "request_timeout"); v > 0 {
				s.Timeout = v
			}
		}},
		"accounts": {Decode: func(n *yaml.Node) {
			d.Seq(n, "accounts", func(item *yaml.Node) {
				var h handedOver
				d.Map(item, "accounts item", map[string]playbook.Field{
					"userpass":  {Decode: func(n *yaml.Node) { h.Mount, h.Name = login(n, "accounts.userpass") }},
					"approle":   {Decode: func(n *yaml.Node) { h.Mount, h.Name = login(n, "accounts.approle"); h.AppRole = true }},
					"password":  {Decode: func(n *yaml.Node) { h.Password = d.Ref(n, "accounts.password") }},
					"secret_id": {Decode: func(n *yaml.Node) { h.SecretID = d.Ref(n, "accounts.secret_id") }},
				})
				switch {
				case h.Mount == "" && h.Name == "":
					d.Errorf(item, "accounts item: give userpass: mount/user or approle: mount/role")
				case h.Name == "":
					// reported at the login
				case h.AppRole && h.SecretID.IsZero():
					d.Errorf(item, "accounts item %s: an approle needs secret_id (the one handed over)", h.Login())
				case !h.AppRole && h.Password.IsZero():
					d.Errorf(item, "accounts item %s: a userpass login needs password (the one handed over)", h.Login())
				}
				s.Accounts = append(s.Accounts, h)
			})
		}},
		"provider_credentials": {Decode: func(n *yaml.Node) {
			d.Map(n, "provider_credentials", map[string]playbook.Field{
				"tokens": {Decode: func(n *yaml.Node) {
					d.Seq(n, "provider_credentials.tokens", func(item *yaml.Node) {
						s.ProviderTokens = append(s.ProviderTokens, d.Ref(item, "provider_credentials.tokens"))
					})
				}},
				"userpass": {Decode: func(n *yaml.Node) {
					d.Seq(n, "provider_credentials.userpass", func(item *yaml.Node) {
						h := handedOver{}
						d.Map(item, "provider_credentials.userpass item", map[string]playbook.Field{
							"login":    {Required: true, Decode: func(n *yaml.Node) { h.Mount, h.Name = login(n, "login") }},
							"password": {Required: true, Decode: func(n *yaml.Node) { h.Password = d.Ref(n, "password") }},
						})
						s.ProviderUserpass = append(s.ProviderUserpass, h)
					})
				}},
				"approles": {Decode: func(n *yaml.Node) {
					d.Seq(n, "provider_credentials.approles", func(item *yaml.Node) {
						h := handedOver{AppRole: true}
						d.Map(item, "provider_credentials.approles item", map[string]playbook.Field{
							"role":      {Required: true, Decode: func(n *yaml.Node) { h.Mount, h.Name = login(n, "role") }},
							"role_id":   {Required: true, Decode: func(n *yaml.Node) { h.RoleID = d.Ref(n, "role_id") }},
							"secret_id": {Required: true, Decode: func(n *yaml.Node) { h.SecretID = d.Ref(n, "secret_id") }},
						})
						s.ProviderAppRoles = append(s.ProviderAppRoles, h)
					})
				}},
			})
		}},
		"audit_replacement": {Decode: func(n *yaml.Node) {
			a := &auditDevice{Options: map[string]string{}}
			d.Map(n, "audit_replacement", map[string]playbook.Field{
				"path":        {Required: true, Decode: func(n *yaml.Node) { a.Path = strings.Trim(d.NonEmpty(n, "audit_replacement.path"), "/") + "/" }},
				"type":        {Required: true, Decode: func(n *yaml.Node) { a.Type = d.OneOf(n, "audit_replacement.type", "file", "socket", "syslog") }},
				"description": {Decode: func(n *yaml.Node) { a.Description = d.String(n, "audit_replacement.description") }},
				"options": {Decode: func(n *yaml.Node) {
					if n.Kind != yaml.MappingNode {
						d.Errorf(n, "audit_replacement.options: want a map of strings")
						return
					}
					for i := 0; i+1 < len(n.Content); i += 2 {
						a.Options[n.Content[i].Value] = d.String(n.Content[i+1], "audit_replacement.options."+n.Content[i].Value)
					}
				}},
			})
			s.Audit = a
		}},
		"key_shares": {Decode: func(n *yaml.Node) {
			k := &keyShares{}
			d.Map(n, "key_shares", map[string]playbook.Field{
				"kind": {Decode: func(n *yaml.Node) { k.Recovery = d.OneOf(n, "key_shares.kind", "unseal", "recovery") == "recovery" }},
				"shares": {Decode: func(n *yaml.Node) {
					d.Seq(n, "key_shares.shares", func(item *yaml.Node) { k.Shares = append(k.Shares, d.Ref(item, "key_shares.shares")) })
				}},
				"new_shares":    {Decode: func(n *yaml.Node) { k.NewShares = d.Int(n, "key_shares.new_shares", 1, 255) }},
				"new_threshold": {Decode: func(n *yaml.Node) { k.NewThreshold = d.Int(n, "key_shares.new_threshold", 1, 255) }},
				"recipients": {Decode: func(n *yaml.Node) {
					d.Seq(n, "key_shares.recipients", func(item *yaml.Node) {
						var r recipient
						d.Map(item, "key_shares.recipients item", map[string]playbook.Field{
							"name": {Decode: func(n *yaml.Node) { r.Name = d.NonEmpty(n, "key_shares.recipients.name") }},
							"age":  {Decode: func(n *yaml.Node) { r.Age = d.NonEmpty(n, "key_shares.recipients.age") }},
							"pgp": {Decode: func(n *yaml.Node) {
								r.PGP = d.NonEmpty(n, "key_shares.recipients.pgp")
								if r.PGP != "" && env.Resolver != nil {
									r.PGP = env.Resolver.Path(r.PGP)
								}
							}},
						})
						switch {
						case (r.Age == "") == (r.PGP == ""):
							d.Errorf(item, "key_shares.recipients item: give age: RECIPIENT or pgp: PUBLIC-KEY-FILE (one of them)")
						default:
							if _, err := r.parse(); err != nil {
								d.Errorf(item, "key_shares.recipients item: %v", err)
							}
						}
						k.Recipients = append(k.Recipients, r)
					})
				}},
			})
			if len(k.Recipients) > 0 {
				if k.NewShares == 0 {
					k.NewShares = len(k.Recipients)
				}
				if k.NewShares != len(k.Recipients) {
					d.Errorf(n, "key_shares: new_shares %d, but %d recipients: each new share goes to one recipient", k.NewShares, len(k.Recipients))
				}
			}
			if k.NewThreshold > k.NewShares && k.NewShares > 0 {
				d.Errorf(n, "key_shares: new_threshold %d is above new_shares %d", k.NewThreshold, k.NewShares)
			}
			s.KeyShares = k
		}},
	})
	if len(d.Diagnostics()) > before || s.Address == "" {
		return nil
	}
	return &Target{name: t.Name, s: s, env: env, out: env.Outgoing}
}

// Target is one configured Vault.
type Target struct {
	name string
	s    settings
	env  connector.Env
	out  connector.Outgoing

	mu       sync.Mutex
	client   *api.Client // the connector's token; nil until first use
	resolved map[string]secret.Secret
	// plain are the new shares of a rekey whose shares went to
	// recipients, by change id: only in memory, from NewCredential to the
	// proof, since the store keeps them encrypted.
	plain map[string]secret.Secret
}

// Close forgets the client and the resolved credentials.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client != nil {
		t.client.ClearToken()
	}
	t.client = nil
	for _, v := range t.resolved {
		v.Destroy()
	}
	t.resolved = nil
	for _, v := range t.plain {
		v.Destroy()
	}
	t.plain = nil
	return nil
}

func (t *Target) now() time.Time {
	if t.env.Now != nil {
		return t.env.Now().UTC()
	}
	return time.Now().UTC()
}

// resolve returns a copy of the secret ref names, resolving it once.
func (t *Target) resolve(ctx context.Context, ref playbook.Ref) (secret.Secret, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.env.Resolver == nil {
		return secret.Secret{}, errors.New("no resolver for credential references")
	}
	key := ref.String()
	v, ok := t.resolved[key]
	if !ok {
		var err error
		v, err = t.env.Resolver.Resolve(ctx, ref)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("%s: %w", key, err)
		}
		if t.resolved == nil {
			t.resolved = map[string]secret.Secret{}
		}
		t.resolved[key] = v
	}
	return secret.New(strings.TrimSpace(v.Reveal())), nil
}

// newClient returns a client with no token, TLS verified.
func (t *Target) newClient() (*api.Client, error) {
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, conf.Error
	}
	conf.Address = t.s.Address
	conf.MaxRetries = 0
	conf.Timeout = t.s.Timeout
	if t.s.CACert != "" {
		if err := conf.ConfigureTLS(&api.TLSConfig{CACert: t.s.CACert}); err != nil {
			return nil, fmt.Errorf("ca_cert %s: %w", t.s.CACert, err)
		}
	}
	if tr, ok := conf.HttpClient.Transport.(*http.Transport); ok && tr.DialContext != nil {
		// A test build may be killed in the middle of a request
		// (crashpoint); the shipped binary's Conn returns the connection.
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return crashpoint.Conn(c), nil
		}
	}
	c, err := api.NewClient(conf)
	if err != nil {
		return nil, err
	}
	c.ClearToken() // never VAULT_TOKEN from the environment
	if t.s.Namespace != "" {
		c.SetNamespace(t.s.Namespace)
	}
	return c, nil
}

// vaultWrite makes one API request that changes Vault. A test build can
// be killed while it is in flight (crashpoint "vault-write").
func vaultWrite(ctx context.Context, c *api.Client, path string, data map[string]any) (*api.Secret, error) {
	defer crashpoint.Enter("vault-write")()
	return c.Logical().WriteWithContext(ctx, path, data)
}

// vaultDelete is vaultWrite for a DELETE.
func vaultDelete(ctx context.Context, c *api.Client, path string) (*api.Secret, error) {
	defer crashpoint.Enter("vault-write")()
	return c.Logical().DeleteWithContext(ctx, path)
}

// conn returns the client logged in with the connector's token.
func (t *Target) conn(ctx context.Context) (*api.Client, error) {
	t.mu.Lock()
	c := t.client
	t.mu.Unlock()
	if c != nil {
		return c, nil
	}
	tok, err := t.resolve(ctx, t.s.Token)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	defer tok.Destroy()
	c, err = t.newClient()
	if err != nil {
		return nil, err
	}
	c.SetToken(tok.Reveal())
	t.mu.Lock()
	t.client = c
	t.mu.Unlock()
	return c, nil
}

func (t *Target) secretPath(object string) string {
	return connector.SecretPath(t.name, System, object)
}

// handedOverAccount finds the playbook's accounts item for a login.
func (t *Target) handedOverAccount(login string) (handedOver, bool) {
	for _, a := range t.s.Accounts {
		if a.Login() == login {
			return a, true
		}
	}
	return handedOver{}, false
}
