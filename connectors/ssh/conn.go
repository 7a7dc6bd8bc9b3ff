package ssh

import (
	"context"
	"fmt"
	"time"

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
		// A connection that died (host rebooted, network cut) or went
		// silent is replaced.
		if !alive(ctx, c, t.s.HostTimeout) {
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

// alive asks the host to answer a keepalive on c, within limit (and ctx):
// a connection that went silent would otherwise hold up its next command
// for ever.
func alive(ctx context.Context, c *ssh.Client, limit time.Duration) bool {
	ans := make(chan error, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		ans <- err
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-ans:
		return err == nil
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
