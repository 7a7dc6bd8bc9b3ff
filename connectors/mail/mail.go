// Package mail is the mail connector: it takes a small organisation's
// mail server back from its outgoing provider. In mode server it manages
// Dovecot and Postfix over SSH (the shared connection, host-key and runner
// machinery of connectors/internal/sshremote) and proves over the network:
// IMAP (IMAPS or STARTTLS) logins, SMTP delivery. It inventories the
// passdbs and userdbs (master passdbs included), the mailboxes, every Sieve
// script and the Postfix maps that send mail elsewhere; it rotates
// passwd-file passwords (hashed here, the file replaced atomically), and
// removes the provider's master users, its Sieve redirects and Postfix
// copies, and disables its own mailboxes. See docs/connectors/mail.md.
package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/connectors/internal/sshremote"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// Type is the target type playbooks name.
const Type = "mail"

// Connector is the mail connector.
type Connector struct{}

// New returns the mail connector.
func New() connector.Connector { return Connector{} }

func (Connector) Type() string { return Type }

var (
	_ connector.Connector = Connector{}
	_ connector.Target    = (*target)(nil)
	_ connector.Applier   = (*target)(nil)
	_ connector.Rotator   = (*target)(nil)
	_ connector.Verifier  = (*target)(nil)
	_ connector.Describer = Connector{}
)

// target is one configured mail target: one mail server.
type target struct {
	name string
	s    settings
	env  connector.Env
	out  connector.Outgoing
	keys *sshremote.HostKeys
	now  func() time.Time

	// writing serialises the calls that edit the server (SetCredentials,
	// Apply): each reads a file and replaces it only if unchanged, so two
	// at once would make one of them fail.
	writing sync.Mutex

	mu     sync.Mutex
	client *ssh.Client
	// written is when this target last replaced a file Dovecot reads.
	written time.Time
	auth    *resolvedAuth
	tls     *tls.Config
}

type resolvedAuth struct {
	signers  []ssh.Signer
	password secret.Secret
	sudo     secret.Secret
}

// Configure decodes the target's settings. It connects nowhere.
func (Connector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	before := len(d.Diagnostics())
	resolve := func(p string) string {
		if env.Resolver != nil && p != "" {
			return env.Resolver.Path(p)
		}
		return p
	}
	s := decodeSettings(d, t.Settings, resolve)
	if len(d.Diagnostics()) > before {
		return nil
	}
	tg := &target{name: t.Name, s: s, env: env, out: env.Outgoing, now: env.Now}
	if tg.now == nil {
		tg.now = time.Now
	}
	if s.Mode == modeServer {
		keys, err := sshremote.NewHostKeys(s.SSH.KnownHosts, s.SSH.TrustFirstUse, tg.recordTrust)
		if err != nil {
			d.ErrorAt(t.Pos, "%v", err)
			return nil
		}
		tg.keys = keys
	}
	return tg
}

func (t *target) recordTrust(host, addr string, key ssh.PublicKey) {
	detail := map[string]string{"address": addr, "key_type": key.Type(), "fingerprint": ssh.FingerprintSHA256(key)}
	if t.env.Recorder != nil {
		t.env.Recorder.Record("host-key-trusted", host, detail)
	}
}

// Close closes the SSH connection.
func (t *target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if t.client != nil {
		if cerr := t.client.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
		t.client = nil
	}
	if t.auth != nil {
		t.auth.password.Destroy()
		t.auth.sudo.Destroy()
		t.auth = nil
	}
	return err
}

func (t *target) resolve(ctx context.Context, r playbook.Ref) (secret.Secret, error) {
	if t.env.Resolver == nil {
		return secret.Secret{}, fmt.Errorf("%s: no resolver", r)
	}
	return t.env.Resolver.Resolve(ctx, r)
}

func (t *target) credentials(ctx context.Context) (*resolvedAuth, error) {
	if t.auth != nil {
		return t.auth, nil
	}
	a := &resolvedAuth{}
	if t.s.SSH.KeyFile != "" {
		pem, err := os.ReadFile(t.s.SSH.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh.key_file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		clear(pem)
		if err != nil {
			return nil, fmt.Errorf("ssh.key_file %s: %w", t.s.SSH.KeyFile, err)
		}
		a.signers = append(a.signers, signer)
	}
	if !t.s.SSH.Password.IsZero() {
		pw, err := t.resolve(ctx, t.s.SSH.Password)
		if err != nil {
			return nil, fmt.Errorf("ssh.password: %w", err)
		}
		a.password = pw
	}
	if !t.s.SSH.SudoPassword.IsZero() {
		pw, err := t.resolve(ctx, t.s.SSH.SudoPassword)
		if err != nil {
			return nil, fmt.Errorf("ssh.sudo.password: %w", err)
		}
		a.sudo = pw
	}
	t.auth = a
	return a, nil
}

// runner returns a runner on the mail host's SSH connection, dialling it
// (host key checked) when there is none or it died.
func (t *target) runner(ctx context.Context) (*sshremote.Runner, error) {
	if t.s.Mode != modeServer {
		return nil, fmt.Errorf("mode %s has no SSH access to the server", t.s.Mode)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, err := t.credentials(ctx)
	if err != nil {
		return nil, err
	}
	if t.client != nil {
		if _, _, err := t.client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			t.client.Close()
			t.client = nil
		}
	}
	if t.client == nil {
		var auth []ssh.AuthMethod
		if len(a.signers) > 0 {
			auth = append(auth, ssh.PublicKeys(a.signers...))
		}
		if !a.password.IsZero() {
			auth = append(auth, sshremote.PasswordAuth(a.password)...)
		}
		d := &sshremote.Dialer{Keys: t.keys, Timeout: t.s.Timeout, TimeoutSetting: "timeout"}
		c, err := d.Dial(ctx, t.s.Name, sshremote.JoinHostPort(t.s.Host, t.s.SSH.Port), t.s.SSH.HostKey, t.s.SSH.User, auth)
		if err != nil {
			return nil, fmt.Errorf("ssh to the mail host %s: %w", t.s.Host, err)
		}
		t.client = c
	}
	return &sshremote.Runner{Client: t.client, Sudo: t.s.SSH.Sudo, SudoPass: a.sudo}, nil
}

// tlsConfig verifies the server's certificate against ca_cert (else the
// system's roots), for the host name or tls_server_name.
func (t *target) tlsConfig() (*tls.Config, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tls != nil {
		return t.tls, nil
	}
	// Session tickets spare the server and handover a full handshake per
	// login proof; each proof is still a new connection and a new LOGIN.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.s.TLSName, ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	if cfg.ServerName == "" {
		cfg.ServerName = t.s.Host
	}
	if t.s.CACert != "" {
		pem, err := os.ReadFile(t.s.CACert)
		if err != nil {
			return nil, fmt.Errorf("ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_cert %s: no PEM certificate", t.s.CACert)
		}
		cfg.RootCAs = pool
	}
	t.tls = cfg
	return cfg, nil
}

// passwdFileLag is how long Dovecot may go on answering from a passwd-file
// it read before the file was replaced: it looks at the file at most once
// a second.
const passwdFileLag = 1200 * time.Millisecond

// wrote notes that a file Dovecot reads was just replaced.
func (t *target) wrote() {
	t.mu.Lock()
	t.written = time.Now()
	t.mu.Unlock()
}

// settle waits until Dovecot has seen this target's last change to a
// passwd-file, so that no login proof is answered from the old file.
func (t *target) settle(ctx context.Context) {
	t.mu.Lock()
	wait := time.Until(t.written.Add(passwdFileLag))
	t.mu.Unlock()
	if wait <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
}
