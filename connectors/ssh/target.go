package ssh

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// Type is the target type playbooks name.
const Type = "ssh"

// Connector is the SSH hosts connector.
type Connector struct{}

// New returns the SSH hosts connector.
func New() connector.Connector { return Connector{} }

func (Connector) Type() string { return Type }

var (
	_ connector.Connector     = Connector{}
	_ connector.Target        = (*target)(nil)
	_ connector.Applier       = (*target)(nil)
	_ connector.Rotator       = (*target)(nil)
	_ connector.StoredChecker = (*target)(nil)
	_ connector.Reobserver    = (*target)(nil)
	_ connector.Generator     = (*target)(nil)
	_ connector.Verifier      = (*target)(nil)
)

// target is one configured ssh target: a set of hosts reached with the
// same credentials.
type target struct {
	name    string
	s       settings
	env     connector.Env
	out     connector.Outgoing
	catalog *Catalog
	keys    *hostKeys
	now     func() time.Time

	// Between calls the target keeps its connections, the credentials
	// they log in with, and what it read; never a proof (every call
	// returns what it proved).
	mu      sync.Mutex
	conns   map[string]*ssh.Client // by host name; one connection per host, reused
	retired []*ssh.Client          // replaced connections, closed with the target
	auth    *resolvedAuth
	login   map[string]secret.Secret // host -> login/sudo password after its rotation
	cache   map[string]*hostCache    // host -> what its last inventory read
	bastion bastion                  // the jump host's connection, shared by all hosts
	stored  map[string]storedLogin
	hashes  hashMemo // which password each shadow hash was found to hold
}

// resolvedAuth holds the resolved credentials of the connection user.
type resolvedAuth struct {
	signers  []ssh.Signer
	password secret.Secret
	sudo     secret.Secret
	close    func()
}

// Configure decodes the target's settings and the agent catalogue.
func (Connector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	before := len(d.Diagnostics())
	resolve := func(p string) string {
		if env.Resolver != nil && p != "" {
			return env.Resolver.Path(p)
		}
		return p
	}
	s := decodeSettings(d, t.Settings, resolve)
	cat, err := BuiltinCatalog()
	if err != nil {
		d.ErrorAt(t.Pos, "%v", err)
		return nil
	}
	if s.CatalogFile != "" {
		data, err := os.ReadFile(s.CatalogFile)
		if err != nil {
			d.ErrorAt(t.Pos, "catalog: %v", err)
		} else {
			ext, ds := ParseCatalog(s.CatalogFile, data)
			for _, diag := range ds {
				d.ErrorAt(diag.Pos, "%s", diag.Msg)
			}
			cat.Merge(ext)
		}
	}
	checkAgentNames(d, cat, env.Outgoing)
	if len(d.Diagnostics()) > before {
		return nil
	}
	tg := &target{
		name: t.Name, s: s, env: env, catalog: cat,
		out:   env.Outgoing,
		conns: map[string]*ssh.Client{}, login: map[string]secret.Secret{},
		cache: map[string]*hostCache{}, stored: map[string]storedLogin{},
		now: env.Now,
	}
	if tg.now == nil {
		tg.now = time.Now
	}
	keys, err := newHostKeys(s.KnownHosts, s.TrustFirstUse, tg.recordTrust)
	if err != nil {
		d.ErrorAt(t.Pos, "%v", err)
		return nil
	}
	tg.keys = keys
	return tg
}

func (t *target) recordTrust(host, addr string, key ssh.PublicKey) {
	detail := map[string]string{"address": addr, "key_type": key.Type(), "fingerprint": ssh.FingerprintSHA256(key)}
	if t.env.Recorder != nil {
		t.env.Recorder.Record("host-key-trusted", host, detail)
	}
	if t.env.Log != nil {
		t.env.Log.Warn("host key trusted on first use", "target", t.name, "system", host, "fingerprint", detail["fingerprint"])
	}
}

// Close closes every host connection.
func (t *target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for name, c := range t.conns {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		delete(t.conns, name)
	}
	for _, c := range t.retired {
		c.Close()
	}
	t.retired = nil
	t.bastion.Close()
	if t.auth != nil {
		if t.auth.close != nil {
			t.auth.close()
		}
		t.auth.password.Destroy()
		t.auth.sudo.Destroy()
		t.auth = nil
	}
	for _, s := range t.login {
		s.Destroy()
	}
	t.hashes.destroy()
	return errors.Join(errs...)
}

func (t *target) host(name string) (hostSpec, bool) {
	for _, h := range t.s.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return hostSpec{}, false
}

// checkAgentNames reports every name in outgoing.agents that the target's
// catalogue (built-in, extended by its catalog file) does not hold, with
// the nearest name: a typo would otherwise select no agent and leave the
// provider's in place.
func checkAgentNames(d *playbook.Decoder, cat *Catalog, out connector.Outgoing) {
	names, pos := out.AgentNames()
	known := make([]string, len(cat.Agents))
	for i, a := range cat.Agents {
		known[i] = a.Name
	}
	for i, n := range names {
		if strings.EqualFold(n, "all") || slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, n) }) {
			continue
		}
		p := playbook.Pos{}
		if i < len(pos) {
			p = pos[i]
		}
		hint := playbook.Suggest(n, known)
		if hint == "" {
			hint = " (handover catalog lists them)"
		}
		d.ErrorAt(p, "outgoing.agents: no agent %q in the catalogue%s", n, hint)
	}
}
