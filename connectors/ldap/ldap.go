// Package ldap is the connector for LDAP directories: OpenLDAP and Active
// Directory (Samba AD included). It inventories the directory (naming
// contexts, users and their state, admin accounts through nested groups,
// service accounts, the outgoing provider's accounts), rotates admin
// passwords under the engine's write-ahead protocol, removes the
// provider's accounts from admin groups and locks them, and verifies
// all of it with fresh binds and a re-read of the directory.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// Type is the playbook's target type.
const Type = "ldap"

// Dialects.
const (
	OpenLDAP = "openldap"
	AD       = "ad"
	auto     = "auto"
)

// System is the name of the one system an ldap target has.
const System = "directory"

// Connector is the "ldap" target type.
type Connector struct{}

// New returns the LDAP connector.
func New() connector.Connector { return Connector{} }

var (
	_ connector.Connector = Connector{}
	_ connector.Target    = (*Target)(nil)
	_ connector.Rotator   = (*Target)(nil)
	_ connector.Applier   = (*Target)(nil)
	_ connector.Verifier  = (*Target)(nil)
)

func (Connector) Type() string { return Type }

// settings is a target's decoded configuration.
type settings struct {
	URL             *url.URL
	CACert          string // absolute path, or "" for the system roots
	BindDN          string
	Password        playbook.Ref
	BaseDN          string
	Dialect         string
	AdminGroups     []string
	ServiceOUs      []string
	ServicePatterns []string
	PageSize        int
	AllowInsecure   bool
	KDC             string // AD: host:port of the KDC; "" = the LDAP host, port 88
	Kerberos        bool   // AD: prove passwords with Kerberos (default true)
	Realm           string // AD: Kerberos realm; "" = from the RootDSE
	Accounts        []handedOver
}

// handedOver is an account whose password the provider handed over, so
// that its rotation can prove the old password no longer works.
type handedOver struct {
	DN       string
	Password playbook.Ref
}

// Configure decodes the target's settings; see docs/connectors/ldap.md.
func (Connector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	s := settings{Dialect: auto, PageSize: 500, Kerberos: true}
	before := len(d.Diagnostics())
	d.Map(t.Settings, "ldap target "+t.Name, map[string]playbook.Field{
		"url": {Required: true, Decode: func(n *yaml.Node) {
			raw := d.NonEmpty(n, "url")
			u, err := url.Parse(raw)
			switch {
			case err != nil:
				d.Errorf(n, "url: %v", err)
			case u.Scheme != "ldap" && u.Scheme != "ldaps":
				d.Errorf(n, "url %q: use ldap:// (StartTLS) or ldaps://", raw)
			case u.Hostname() == "":
				d.Errorf(n, "url %q names no host", raw)
			default:
				s.URL = u
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
			s.CACert = p
			if _, err := readPool(p); err != nil {
				d.Errorf(n, "ca_cert: %v", err)
			}
		}},
		"bind_dn":  {Required: true, Decode: func(n *yaml.Node) { s.BindDN = d.NonEmpty(n, "bind_dn") }},
		"password": {Required: true, Decode: func(n *yaml.Node) { s.Password = d.Ref(n, "password") }},
		"base_dn":  {Decode: func(n *yaml.Node) { s.BaseDN = d.NonEmpty(n, "base_dn") }},
		"dialect":  {Decode: func(n *yaml.Node) { s.Dialect = d.OneOf(n, "dialect", OpenLDAP, AD, auto) }},
		"admin_groups": {Decode: func(n *yaml.Node) {
			for _, g := range dnList(d, n, "admin_groups") {
				if strings.TrimSpace(g) != "" {
					s.AdminGroups = append(s.AdminGroups, strings.TrimSpace(g))
				}
			}
		}},
		"service_accounts": {Decode: func(n *yaml.Node) {
			d.Map(n, "service_accounts", map[string]playbook.Field{
				"ous": {Decode: func(n *yaml.Node) { s.ServiceOUs = dnList(d, n, "service_accounts.ous") }},
				"patterns": {Decode: func(n *yaml.Node) {
					for _, p := range d.Strings(n, "service_accounts.patterns") {
						if _, err := filepath.Match(p, ""); err != nil {
							d.Errorf(n, "service_accounts.patterns: bad pattern %q: %v", p, err)
						}
						s.ServicePatterns = append(s.ServicePatterns, p)
					}
				}},
			})
		}},
		"page_size":           {Decode: func(n *yaml.Node) { s.PageSize = d.Int(n, "page_size", 1, 5000) }},
		"allow_insecure_bind": {Decode: func(n *yaml.Node) { s.AllowInsecure = d.Bool(n, "allow_insecure_bind") }},
		"kdc":                 {Decode: func(n *yaml.Node) { s.KDC = d.NonEmpty(n, "kdc") }},
		"kerberos":            {Decode: func(n *yaml.Node) { s.Kerberos = d.Bool(n, "kerberos") }},
		"realm":               {Decode: func(n *yaml.Node) { s.Realm = strings.ToUpper(d.NonEmpty(n, "realm")) }},
		"accounts": {Decode: func(n *yaml.Node) {
			seen := map[string]bool{}
			d.Seq(n, "accounts", func(item *yaml.Node) {
				var a handedOver
				d.Map(item, "accounts item", map[string]playbook.Field{
					"dn":       {Required: true, Decode: func(n *yaml.Node) { a.DN = d.NonEmpty(n, "accounts.dn") }},
					"password": {Required: true, Decode: func(n *yaml.Node) { a.Password = d.Ref(n, "accounts.password") }},
				})
				if key := normDN(a.DN); key != "" {
					if seen[key] {
						d.Errorf(item, "accounts: %s is listed twice", a.DN)
					}
					seen[key] = true
				}
				s.Accounts = append(s.Accounts, a)
			})
		}},
	})
	if len(d.Diagnostics()) > before || s.URL == nil {
		return nil
	}
	return &Target{name: t.Name, s: s, env: env, out: env.Outgoing}
}

// dnList decodes a list of DNs (or names). In a flow list ([a, b]) YAML
// splits an unquoted DN at its commas: "[cn=admins,dc=example]" is two
// items. That silently names groups that do not exist, so it is an error.
func dnList(d *playbook.Decoder, n *yaml.Node, what string) []string {
	items := d.Strings(n, what)
	if n != nil && n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle != 0 {
		fragments := 0
		for _, it := range n.Content {
			if it.Kind == yaml.ScalarNode && it.Style == 0 && strings.Contains(it.Value, "=") && !strings.Contains(it.Value, ",") {
				fragments++
			}
		}
		if fragments > 1 {
			d.Errorf(n, "%s: in a [...] list commas separate items, so this DN was split in %d: quote each DN (\"cn=admins,ou=groups,dc=example\") or write one item per line", what, len(items))
		}
	}
	return items
}

// Target is one configured directory.
type Target struct {
	name string
	s    settings
	env  connector.Env
	out  connector.Outgoing

	mu    sync.Mutex
	admin *session // the bind account's connection, opened on first use
	info  *serverInfo
	// resolved caches the playbook's references, so that a ${prompt:}
	// is asked once per run.
	resolved map[string]secret.Secret
}

// resolve returns a copy of the secret ref names (the caller may destroy
// it), resolving it once.
func (t *Target) resolve(ctx context.Context, ref playbook.Ref) (secret.Secret, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.resolveLocked(ctx, ref)
}

func (t *Target) resolveLocked(ctx context.Context, ref playbook.Ref) (secret.Secret, error) {
	if t.env.Resolver == nil {
		return secret.Secret{}, errors.New("no resolver for credential references")
	}
	key := ref.String()
	v, ok := t.resolved[key]
	if !ok {
		var err error
		v, err = t.env.Resolver.Resolve(ctx, ref)
		if err != nil {
			return secret.Secret{}, err
		}
		if t.resolved == nil {
			t.resolved = map[string]secret.Secret{}
		}
		t.resolved[key] = v
	}
	return secret.New(v.Reveal()), nil
}

func (t *Target) now() time.Time {
	if t.env.Now != nil {
		return t.env.Now().UTC()
	}
	return time.Now().UTC()
}

// Close releases the bind account's connection.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.admin.Close()
	t.admin = nil
	for _, v := range t.resolved {
		v.Destroy()
	}
	t.resolved = nil
	return err
}

func readPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// tlsConfig verifies the server against the CA file, or the system roots.
func (t *Target) tlsConfig() (*tls.Config, error) {
	c := &tls.Config{ServerName: t.s.URL.Hostname(), MinVersion: tls.VersionTLS12}
	if t.s.CACert != "" {
		pool, err := readPool(t.s.CACert)
		if err != nil {
			return nil, fmt.Errorf("ca_cert: %w", err)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// session returns the bind account's connection, opening and binding it
// if needed. The caller holds t.mu.
func (t *Target) session(ctx context.Context) (*session, error) {
	if t.admin != nil && !t.admin.conn.IsClosing() {
		return t.admin, nil
	}
	t.admin = nil
	tc, err := t.tlsConfig()
	if err != nil {
		return nil, err
	}
	sess, err := dial(ctx, &t.s, tc)
	if err != nil {
		return nil, err
	}
	creds, err := t.bindCredentials(ctx)
	if err != nil {
		sess.Close()
		return nil, err
	}
	defer func() {
		for _, c := range creds {
			c.value.Destroy()
		}
	}()
	var errs []error
	for _, c := range creds {
		err := sess.bind(ctx, t.s.BindDN, c.value.Reveal(), t.s.AllowInsecure)
		if err == nil {
			if len(errs) > 0 && t.env.Log != nil {
				t.env.Log.Warn("bind account: an earlier credential was refused", "target", t.name, "dn", t.s.BindDN, "used", c.source)
			}
			t.admin = sess
			if t.info == nil {
				info, err := t.readInfo(ctx, sess)
				if err != nil {
					sess.Close()
					t.admin = nil
					return nil, err
				}
				t.info = info
			}
			return sess, nil
		}
		errs = append(errs, fmt.Errorf("with the %s: %w", c.source, err))
		if !isInvalidCredentials(err) {
			break
		}
		// A refused bind leaves the connection usable for another try.
	}
	sess.Close()
	return nil, errors.Join(errs...)
}

type credential struct {
	source string
	value  secret.Secret
}

// bindCredentials lists the bind account's passwords to try, best first
// (the caller holds t.mu):
// the secret store's current one (a run rotated it), then the one handed
// over in the playbook.
func (t *Target) bindCredentials(ctx context.Context) ([]credential, error) {
	var out []credential
	if t.env.Secrets != nil {
		v, ok, err := t.env.Secrets.Current(ctx, t.secretPath(t.s.BindDN))
		if err != nil {
			return nil, fmt.Errorf("secret store: %w", err)
		}
		if ok {
			out = append(out, credential{"secret store's current password", v})
		}
	}
	v, err := t.resolveLocked(ctx, t.s.Password)
	if err != nil {
		if len(out) == 0 {
			return nil, fmt.Errorf("bind password: %w", err)
		}
	} else {
		out = append(out, credential{"password handed over (" + t.s.Password.String() + ")", v})
	}
	if len(out) == 0 {
		return nil, errors.New("no password for the bind account")
	}
	return out, nil
}

func (t *Target) secretPath(dn string) string {
	return connector.SecretPath(t.name, System, dn)
}

// withSession runs f on the bind account's connection, under t.mu.
func (t *Target) withSession(ctx context.Context, f func(*session) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	sess, err := t.session(ctx)
	if err != nil {
		return err
	}
	err = f(sess)
	if sess.conn.IsClosing() {
		t.admin = nil
	}
	return err
}

// normDN is a DN's comparison key: attribute types and values in lower
// case, escapes and spaces around separators normalised.
func normDN(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil || len(p.RDNs) == 0 {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	var b strings.Builder
	for i, r := range p.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range r.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type) + "=" + strings.ToLower(a.Value))
		}
	}
	return b.String()
}

// rdn is a DN's first RDN, for readable chains ("CN=Domain Admins").
func rdn(dn string) string {
	first, _, _ := strings.Cut(dn, ",")
	return first
}
