package ssh

import (
	"context"
	"fmt"
	"os"
	"slices"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

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
