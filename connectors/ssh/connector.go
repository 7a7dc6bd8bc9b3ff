package ssh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
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
	_ connector.Connector = Connector{}
	_ connector.Target    = (*target)(nil)
	_ connector.Applier   = (*target)(nil)
	_ connector.Rotator   = (*target)(nil)
	_ connector.Generator = (*target)(nil)
	_ connector.Verifier  = (*target)(nil)
)

// target is one configured ssh target: a set of hosts reached with the
// same credentials.
type target struct {
	name     string
	s        settings
	env      connector.Env
	out      connector.Outgoing
	catalog  *Catalog
	policy   playbook.Policy
	password secret.Policy
	keys     *hostKeys
	now      func() time.Time

	mu      sync.Mutex
	conns   map[string]*ssh.Client // by host name; one connection per host, reused
	retired []*ssh.Client          // replaced connections, closed with the target
	auth    *resolvedAuth
	login   map[string]secret.Secret // host -> login/sudo password after its rotation
	methods map[string]string        // change id -> how TryCredential proved it
	cache   map[string]*hostCache    // host -> what its last inventory read
	suWorks map[string]bool          // host+"\x00"+user -> su accepted a password
	hashes  map[[32]byte]bool        // hashDigest of each password and the hash set from it
	// proofs holds the su logins the credential script ran right after
	// setting passwords, by proofKey, until TryCredentials takes them.
	proofs  map[[32]byte]stepResult
	reinv   map[string]*hostData // host -> re-inventory run after its last changes
	bastion bastion              // the jump host's connection, shared by all hosts
	stored  map[string]storedLogin
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
	if len(d.Diagnostics()) > before {
		return nil
	}
	tg := &target{
		name: t.Name, s: s, env: env, catalog: cat,
		conns: map[string]*ssh.Client{}, login: map[string]secret.Secret{}, methods: map[string]string{},
		cache: map[string]*hostCache{}, suWorks: map[string]bool{}, hashes: map[[32]byte]bool{}, proofs: map[[32]byte]stepResult{}, stored: map[string]storedLogin{}, reinv: map[string]*hostData{},
		now: env.Now,
	}
	if tg.now == nil {
		tg.now = time.Now
	}
	if env.Playbook != nil {
		tg.out = connector.NewOutgoing(env.Playbook.Outgoing)
		tg.policy = env.Playbook.Policy
	} else {
		tg.policy = playbook.Policy{RotateAdmins: true, Password: secret.DefaultPolicy(), AccessKeyType: "ed25519"}
	}
	tg.password = tg.policy.Password
	if t.Password != nil {
		tg.password = *t.Password
	}
	if tg.password.Length == 0 {
		tg.password = secret.DefaultPolicy()
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

// credentials resolves the connection user's credentials once.
func (t *target) credentials(ctx context.Context) (*resolvedAuth, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.auth != nil {
		return t.auth, nil
	}
	a := &resolvedAuth{}
	resolve := func(r playbook.Ref) (secret.Secret, error) {
		if t.env.Resolver == nil {
			return secret.Secret{}, fmt.Errorf("%s: no resolver", r)
		}
		return t.env.Resolver.Resolve(ctx, r)
	}
	if t.s.Auth.KeyFile != "" {
		pem, err := os.ReadFile(t.s.Auth.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth.key_file: %w", err)
		}
		var signer ssh.Signer
		if t.s.Auth.KeyPassphrase.IsZero() {
			signer, err = ssh.ParsePrivateKey(pem)
		} else {
			pass, rerr := resolve(t.s.Auth.KeyPassphrase)
			if rerr != nil {
				return nil, fmt.Errorf("auth.key_passphrase: %w", rerr)
			}
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass.RevealBytes())
			pass.Destroy()
		}
		clear(pem)
		if err != nil {
			return nil, fmt.Errorf("auth.key_file %s: %w", t.s.Auth.KeyFile, err)
		}
		a.signers = append(a.signers, signer)
	}
	if t.s.Auth.Agent {
		signers, closeAgent, err := agentSigners()
		if err != nil {
			return nil, err
		}
		a.signers = append(a.signers, signers...)
		a.close = closeAgent
	}
	if !t.s.Auth.Password.IsZero() {
		pw, err := resolve(t.s.Auth.Password)
		if err != nil {
			return nil, fmt.Errorf("auth.password: %w", err)
		}
		a.password = pw
	}
	if !t.s.Sudo.Password.IsZero() {
		pw, err := resolve(t.s.Sudo.Password)
		if err != nil {
			return nil, fmt.Errorf("sudo.password: %w", err)
		}
		a.sudo = pw
	}
	t.auth = a
	return a, nil
}

// authMethods are the connection user's methods for host: its keys (and
// the host's access key from the store, when it is the connection user's),
// then its password (the rotated one once rotation succeeded there, or the
// store's current one).
func (t *target) authMethods(host string, a *resolvedAuth) []ssh.AuthMethod {
	var m []ssh.AuthMethod
	signers := a.signers
	t.mu.Lock()
	if s := t.stored[host].key; s != nil {
		signers = append(slices.Clip(signers), s)
	}
	t.mu.Unlock()
	if len(signers) > 0 {
		m = append(m, ssh.PublicKeys(signers...))
	}
	pw := a.password
	t.mu.Lock()
	if p, ok := t.login[host]; ok && !pw.IsZero() {
		pw = p
	}
	t.mu.Unlock()
	if !pw.IsZero() {
		m = append(m, passwordAuth(pw)...)
	}
	return m
}

func (t *target) dialer() *dialer {
	d := &dialer{keys: t.keys, timeout: t.s.HostTimeout, jump: t.s.Jump, bastion: &t.bastion}
	t.mu.Lock()
	a := t.auth
	t.mu.Unlock()
	if d.jump != nil && a != nil {
		if len(a.signers) > 0 {
			d.jumpAuth = append(d.jumpAuth, ssh.PublicKeys(a.signers...))
		}
		if !a.password.IsZero() {
			d.jumpAuth = append(d.jumpAuth, passwordAuth(a.password)...)
		}
	}
	return d
}

// storedLogin is what the secret store holds of the connection user's
// credentials on a host, from an earlier run's rotation: the host's access
// key, and the password when it is the one the connector logs in or
// sudoes with (the playbook's is the handed-over one, rotated since).
type storedLogin struct {
	loaded   bool
	key      ssh.Signer
	password bool // t.login[host] came from the store
}

// loadStored looks the host's stored credentials up, once.
func (t *target) loadStored(ctx context.Context, host string) {
	t.mu.Lock()
	st := t.stored[host]
	_, rotated := t.login[host]
	t.mu.Unlock()
	if st.loaded || t.env.Secrets == nil {
		return
	}
	st.loaded = true
	if t.s.AccessKey.User == t.s.User && t.s.AccessKey.PublicKey == "" && !t.s.AccessKey.Disabled {
		if k, ok, err := t.env.Secrets.Current(ctx, t.accessKeyPath(host)); err == nil && ok {
			b := k.RevealBytes()
			if signer, err := ssh.ParsePrivateKey(b); err == nil {
				st.key = signer
			}
			clear(b)
			k.Destroy()
		}
	}
	var pw secret.Secret
	if t.passwordLogin() && !rotated {
		if cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, host, t.s.User)); err == nil && ok {
			pw, st.password = cur, true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.login[host]; ok || !st.password {
		st.password = false
		pw.Destroy()
	} else {
		t.login[host] = pw
	}
	t.stored[host] = st
}

// forgetStoredPassword drops a stored password that did not log in, so
// that the playbook's is tried; false if there was none.
func (t *target) forgetStoredPassword(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stored[host]
	if !st.password {
		return false
	}
	st.password = false
	t.stored[host] = st
	t.login[host].Destroy()
	delete(t.login, host)
	return true
}

// runnerFor returns a runner on host's connection, dialling it if needed.
func (t *target) runnerFor(ctx context.Context, h hostSpec) (*runner, error) {
	a, err := t.credentials(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	c := t.conns[h.Name]
	t.mu.Unlock()
	if c != nil {
		// A connection that died (host rebooted, network cut) is replaced.
		if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			c.Close()
			c = nil
		}
	}
	if c == nil {
		t.loadStored(ctx, h.Name)
		c, err = t.dialer().dial(ctx, h.Name, h.addr(), h.HostKey, t.s.User, t.authMethods(h.Name, a))
		if err != nil && isAuthFailure(err) && t.forgetStoredPassword(h.Name) {
			// The store's password did not log in: the playbook's, then.
			c, err = t.dialer().dial(ctx, h.Name, h.addr(), h.HostKey, t.s.User, t.authMethods(h.Name, a))
		}
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		if old := t.conns[h.Name]; old != nil {
			t.retired = append(t.retired, old)
		}
		t.conns[h.Name] = c
		t.mu.Unlock()
	}
	r := &runner{c: c, sudo: t.s.User != "root"}
	if r.sudo {
		r.sudoPass = a.sudo
		t.mu.Lock()
		if p, ok := t.login[h.Name]; ok && !a.sudo.IsZero() {
			r.sudoPass = p
		}
		t.mu.Unlock()
	}
	return r, nil
}

// dropConn forgets a host's connection (after its login credential
// changed, so the next command proves the new one). It stays open until
// the target closes: a command may still be running over it (a proof
// that an old password fails takes seconds).
func (t *target) dropConn(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.conns[host]; c != nil {
		t.retired = append(t.retired, c)
		delete(t.conns, host)
	}
}

// Inventory reads every host, at most parallel at once, each bounded by
// the host timeout. A host that cannot be read has its Error set; the
// others proceed.
func (t *target) Inventory(ctx context.Context) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	inv.Systems = make([]connector.System, len(t.s.Hosts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.s.Parallel)
	for i, h := range t.s.Hosts {
		g.Go(func() error {
			sys, err := t.inventoryHost(gctx, h)
			if err != nil {
				sys = connector.System{Name: h.Name, Kind: "host", Address: h.addr(), Error: err.Error()}
			}
			inv.Systems[i] = sys
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv.Finished = t.now()
	return inv, nil
}

func (t *target) inventoryHost(ctx context.Context, h hostSpec) (connector.System, error) {
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data, err := t.readHost(ctx, h, false)
	if err != nil {
		return connector.System{}, err
	}
	return t.system(ctx, h, data)
}

// reinventoryScript is the inventory script for a re-inventory of system:
// it reuses the sshd settings the last inventory read.
func (t *target) reinventoryScript(system string) string {
	t.mu.Lock()
	var sshd map[string]string
	if hc := t.cache[system]; hc != nil {
		sshd = hc.sshd
	}
	t.mu.Unlock()
	return inventoryScript(t.catalog, sshd)
}

// keepReinventory parses the output of a re-inventory run after a batch of
// changes, for Verify, and reports whether it did; an output that does not
// parse is dropped (Verify then reads the host again).
func (t *target) keepReinventory(system string, out []byte, serverVersion string) bool {
	data, err := parseInventory(out)
	if err != nil {
		return false
	}
	data.ServerVersion = serverVersion
	hc := newHostCache(data)
	t.mu.Lock()
	t.reinv[system] = data
	t.cache[system] = hc
	t.mu.Unlock()
	return true
}

// takeReinventory returns, once, the re-inventory kept for system.
func (t *target) takeReinventory(system string) *hostData {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := t.reinv[system]
	delete(t.reinv, system)
	return data
}

// forgetReinventory drops the re-inventory kept for system: a change is
// about to make it stale.
func (t *target) forgetReinventory(system string) {
	t.mu.Lock()
	delete(t.reinv, system)
	t.mu.Unlock()
}

// readHost runs the inventory script on h. A re-inventory (again) reuses
// the sshd settings the last inventory read.
func (t *target) readHost(ctx context.Context, h hostSpec, again bool) (*hostData, error) {
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return nil, err
	}
	script := inventoryScript(t.catalog, nil)
	if again {
		script = t.reinventoryScript(h.Name)
	}
	out, err := r.Run(ctx, script, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("inventory script: %w", err)
	}
	data, err := parseInventory(out)
	if err != nil {
		return nil, err
	}
	data.ServerVersion = string(r.c.ServerVersion())
	hc := newHostCache(data)
	t.mu.Lock()
	t.cache[h.Name] = hc
	t.mu.Unlock()
	return data, nil
}

// system builds the host's System, comparing shadow hashes with the
// secret store so that a credential already rotated is not planned again.
func (t *target) system(ctx context.Context, h hostSpec, data *hostData) (connector.System, error) {
	hc := hostContext{
		Name: h.Name, Address: h.addr(), Outgoing: t.out, Catalog: t.catalog,
		AccessUser: t.s.AccessKey.User, RotateAdmin: t.policy.RotateAdmins, Now: t.now(),
	}
	for _, ta := range t.policy.RotateAccounts {
		if tn, acct, ok := strings.Cut(ta, ":"); ok && tn == t.name {
			hc.RotateExtra = append(hc.RotateExtra, acct)
		}
	}
	if !t.s.AccessKey.Disabled {
		fp, err := t.accessKeyFingerprint(ctx, h.Name)
		if err != nil {
			return connector.System{}, err
		}
		hc.AccessKeyFP = fp
		hc.AccessKeyType = t.policy.AccessKeyType
	}
	var storeErr error
	hc.StoreState = func(account, hash string) string {
		if t.env.Secrets == nil {
			return "absent"
		}
		cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, h.Name, account))
		if err != nil {
			storeErr = err
			return "unknown"
		}
		if !ok {
			return "absent"
		}
		defer cur.Destroy()
		pw := cur.RevealBytes()
		defer clear(pw)
		if t.setHash(pw, hash) {
			return "current" // the very hash SetCredentials made of it
		}
		match, known := sha512Matches(pw, hash)
		switch {
		case !known:
			return "differs"
		case match:
			return "current"
		}
		return "differs"
	}
	sys := buildSystem(data, hc)
	if storeErr != nil {
		return connector.System{}, fmt.Errorf("secret store: %w", storeErr)
	}
	return sys, nil
}

// accessKeyPath is where a host's access key is stored.
func (t *target) accessKeyPath(system string) string {
	return connector.SecretPath(t.name, system, t.s.AccessKey.User+".access-key")
}

// accessKeyFingerprint is the fingerprint of the host's access key: the
// configured public key, or the one in the store, or "" when none yet.
func (t *target) accessKeyFingerprint(ctx context.Context, system string) (string, error) {
	if t.s.AccessKey.PublicKey != "" {
		pk, err := parsePublicKeyLine(t.s.AccessKey.PublicKey)
		if err != nil {
			return "", err
		}
		return ssh.FingerprintSHA256(pk), nil
	}
	if t.env.Secrets == nil {
		return "", nil
	}
	cur, ok, err := t.env.Secrets.Current(ctx, t.accessKeyPath(system))
	if err != nil {
		return "", fmt.Errorf("secret store: %w", err)
	}
	if !ok {
		return "", nil
	}
	defer cur.Destroy()
	pk, err := publicKeyOf(cur)
	if err != nil {
		return "", fmt.Errorf("access key in the store at %s: %w", t.accessKeyPath(system), err)
	}
	return ssh.FingerprintSHA256(pk), nil
}

// publicKeyOf reads an access-key secret: an OpenSSH private key, or a
// public key line when the operator supplied the key.
func publicKeyOf(s secret.Secret) (ssh.PublicKey, error) {
	b := s.RevealBytes()
	defer clear(b)
	if signer, err := ssh.ParsePrivateKey(b); err == nil {
		return signer.PublicKey(), nil
	}
	return parsePublicKeyLine(string(b))
}

// ownAccess tells the changes that would end the connector's own access
// to a host when no access key replaces it (access_key: false): locking
// the connection user, removing the key it logs in with, removing a sudo
// rule it needs. They are not planned: the finding stays open in the
// report, rather than the incoming team locked out by its own run. With an
// access key, proven before any removal, every removal runs over it.
func (t *target) ownAccess() func(plan.Change) bool {
	if !t.s.AccessKey.Disabled {
		return func(plan.Change) bool { return false }
	}
	login := map[string]bool{}
	t.mu.Lock()
	if t.auth != nil {
		for _, s := range t.auth.signers {
			login[ssh.FingerprintSHA256(s.PublicKey())] = true
		}
	}
	t.mu.Unlock()
	return func(ch plan.Change) bool {
		switch ch.Action {
		case plan.LockAccount:
			return ch.Params["user"] == t.s.User
		case plan.RemoveKey:
			return ch.Params["user"] == t.s.User && login[ch.Params["fingerprint"]]
		case plan.RemoveGrant:
			return t.s.Sudo.Use && slices.Contains(strings.Split(ch.Params["members"], ","), t.s.User)
		}
		return false
	}
}

// Plan derives the changes from an inventory. It does no I/O.
func (t *target) Plan(inv *connector.Inventory) ([]plan.Change, error) {
	var out []plan.Change
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		out = append(out, t.planSystem(sys)...)
	}
	return out, nil
}

func (t *target) planSystem(sys connector.System) []plan.Change {
	var out []plan.Change
	held := t.ownAccess()
	add := func(ch plan.Change) {
		if held(ch) {
			return
		}
		ch.Target, ch.System = t.name, sys.Name
		ch.MakeID()
		out = append(out, ch)
	}
	fact := func(name string) string {
		for _, f := range sys.Facts {
			if f.Name == name {
				return f.Value
			}
		}
		return ""
	}
	accounts := map[string]connector.Account{}
	for _, a := range sys.Accounts {
		accounts[a.Name] = a
	}

	if !t.s.AccessKey.Disabled {
		have := slices.ContainsFunc(sys.Findings, func(f connector.Finding) bool {
			return f.Kind == connector.KindSSHKey && f.Detail[detailAccessKey] == "true" && f.Detail[detailUser] == t.s.AccessKey.User
		})
		file := fact(factAccessKeyFile)
		if !have && file != "" {
			ch := plan.Change{
				Action: plan.InstallKey, Object: t.s.AccessKey.User,
				After:      "new access key authorised for " + t.s.AccessKey.User + " in " + file,
				Reason:     "the incoming team's own access, installed before anything is removed",
				SecretPath: t.accessKeyPath(sys.Name),
				Params:     map[string]string{"user": t.s.AccessKey.User, "file": file},
			}
			if t.s.AccessKey.PublicKey == "" {
				asked := cmp.Or(t.policy.AccessKeyType, "ed25519")
				kt := cmp.Or(fact(factAccessKeyType), asked)
				ch.Params["key_type"] = kt
				if kt != asked {
					ch.Reason += "; " + kt + " key: this host's sshd does not take " + asked + " keys"
				}
			}
			add(ch)
		}
	}
	loginUsesPassword := !t.s.Auth.Password.IsZero() || !t.s.Sudo.Password.IsZero()
	for _, f := range sys.Findings {
		switch {
		case f.Kind == connector.KindCredAge:
			if f.Detail["state"] != "enabled" || f.Detail[detailInStore] == "current" {
				continue
			}
			ch := plan.Change{
				Action: plan.RotatePassword, Object: f.Object, Finding: f.ID,
				Before: "password handed over by the outgoing provider", After: "new generated password, in the secret store",
				Reason:     strings.Join(f.Reasons, "; "),
				SecretPath: connector.SecretPath(t.name, sys.Name, f.Object),
				Params:     map[string]string{"user": f.Object},
			}
			// Rotating the password the connector itself logs in (or sudoes)
			// with goes last: every other change still uses the old one.
			ch.Last = loginUsesPassword && f.Object == t.s.User
			add(ch)
		case !f.Provider:
		case f.Kind == connector.KindSSHKey:
			add(plan.Change{
				Action: plan.RemoveKey, Object: f.Object + ":" + f.Detail[detailFile], Finding: f.ID,
				Before: f.Summary, After: "key removed, the file's other keys and options kept",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"user": f.Detail[detailUser], "file": f.Detail[detailFile], "fingerprint": f.Detail["fingerprint"]},
			})
		case f.Kind == connector.KindAccount:
			a := accounts[f.Object]
			if a.State == "expired" {
				continue
			}
			add(plan.Change{
				Action: plan.LockAccount, Object: f.Object, Finding: f.ID,
				Before: "account " + a.State, After: "password locked and account expired (not deleted)",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"user": f.Object},
			})
		case f.Kind == connector.KindGrant:
			ch := plan.Change{
				Action: plan.RemoveGrant, Object: f.Detail[detailFile] + ":" + f.Detail[detailText], Finding: f.ID,
				Before: f.Summary, After: "rule removed (checked with visudo before the file is replaced)",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"file": f.Detail[detailFile], "text": f.Detail[detailText], "members": f.Detail["members"]},
			}
			switch {
			case f.Detail["rewritten"] != "":
				// The rule also grants others: only the provider's users go.
				ch.Params["replace"] = f.Detail["rewritten"]
				ch.After = "rule kept for " + f.Detail["keep"] + " without the provider's " + f.Detail["drop"] + ": " + f.Detail["rewritten"] + " (checked with visudo)"
				ch.Params["members"] = f.Detail["drop"]
			case f.Detail["shared_alias"] == "true":
				// The provider is in an alias shared with others: removing
				// the rule would take their rights too. Left for the admin
				// to edit; the finding stays open in the report.
				continue
			}
			add(ch)
		case f.Kind == connector.KindCron:
			add(plan.Change{
				Action: plan.RemoveCron, Object: f.Detail[detailFile] + ":" + f.Detail[detailText], Finding: f.ID,
				Before: f.Summary, After: "entry removed",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"file": f.Detail[detailFile], "text": f.Detail[detailText]},
			})
		case f.Kind == connector.KindAgent:
			add(plan.Change{
				Action: plan.RemoveAgent, Object: f.Object, Finding: f.ID,
				Before: f.Summary, After: "units stopped and disabled, packages purged, processes ended, files removed",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"agent": f.Object, "packages": f.Detail["packages"], "units": f.Detail["units"], "paths": f.Detail["paths"]},
			})
		}
	}
	return out
}
