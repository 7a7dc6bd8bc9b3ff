package ssh

import (
	"context"
	"fmt"

	"golang.org/x/crypto/ssh"
)

func (t *target) runnerForSystem(ctx context.Context, system string) (*runner, hostSpec, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, hostSpec{}, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	r, err := t.runnerFor(ctx, h)
	return r, h, err
}

func (t *target) dialer() *dialer {
	d := &dialer{Keys: t.keys, Timeout: t.s.HostTimeout, Jump: t.s.Jump, Bastion: &t.bastion}
	t.mu.Lock()
	a := t.auth
	t.mu.Unlock()
	if d.Jump != nil && a != nil {
		if len(a.signers) > 0 {
			d.JumpAuth = append(d.JumpAuth, ssh.PublicKeys(a.signers...))
		}
		if !a.password.IsZero() {
			d.JumpAuth = append(d.JumpAuth, passwordAuth(a.password)...)
		}
	}
	return d
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
		c, err = t.dialer().Dial(ctx, h.Name, h.addr(), h.HostKey, t.s.User, t.authMethods(h.Name, a))
		if err != nil && isAuthFailure(err) && t.forgetStoredPassword(h.Name) {
			// The store's password did not log in: the playbook's, then.
			c, err = t.dialer().Dial(ctx, h.Name, h.addr(), h.HostKey, t.s.User, t.authMethods(h.Name, a))
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
	r := &runner{Client: c, Sudo: t.s.User != "root"}
	if r.Sudo {
		r.SudoPass = a.sudo
		t.mu.Lock()
		if p, ok := t.login[h.Name]; ok && !a.sudo.IsZero() {
			r.SudoPass = p
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
