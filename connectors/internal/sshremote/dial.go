package sshremote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Jump is a jump host (bastion) every connection goes through.
type Jump struct {
	Address string
	Port    int
	User    string
	HostKey string // pinned SHA256 fingerprint, or "" for known_hosts
	// Via are the hops to go through to reach this one, first to last (a
	// ProxyJump chain); each is checked and logged in to like the last.
	Via []Jump
}

// JoinHostPort joins a host and a port, bracketing an IPv6 address.
func JoinHostPort(h string, port int) string {
	if strings.Contains(h, ":") {
		return fmt.Sprintf("[%s]:%d", h, port)
	}
	return fmt.Sprintf("%s:%d", h, port)
}

// keyExchanges is chosen, not defaulted: curve25519-sha256 costs the
// client about a seventh of the CPU of OpenSSH's default post-quantum
// hybrid (sntrup761x25519), and the client's key exchange dominates a
// fleet-wide run. The NIST curves and the finite-field groups follow for
// older servers; diffie-hellman-group14-sha1 last, for the oldest still in
// service (OpenSSH 5.x and 6.x, as on CentOS 6), which offer nothing else
// this package implements besides group exchange.
var keyExchanges = []string{
	ssh.KeyExchangeCurve25519,
	"curve25519-sha256@libssh.org",
	ssh.KeyExchangeECDHP256,
	ssh.KeyExchangeECDHP384,
	ssh.KeyExchangeECDHP521,
	ssh.KeyExchangeDH14SHA256,
	ssh.KeyExchangeDH16SHA512,
	ssh.KeyExchangeDHGEXSHA256,
	ssh.InsecureKeyExchangeDH14SHA1,
}

// Dialer opens SSH connections, through the jump host when there is one.
type Dialer struct {
	Keys    *HostKeys
	Timeout time.Duration
	Jump    *Jump
	Bastion *Bastion
	// JumpAuth logs in to the jump host: the connection user's own
	// credentials, never a credential being proven on a host behind it.
	JumpAuth []ssh.AuthMethod
}

// Bastion is the one connection to the jump host that every host's
// connection goes through, as forwarded channels: the jump host sees one
// login whatever the number of hosts (OpenSSH's MaxStartups starts
// dropping concurrent unauthenticated connections past 10).
type Bastion struct {
	mu   sync.Mutex
	c    *ssh.Client
	hops []*ssh.Client // the Via hops' connections, first to last
}

// client returns the connection to the jump host, dialling it if needed.
func (b *Bastion) client(ctx context.Context, d *Dialer) (*ssh.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		return b.c, nil
	}
	var through *ssh.Client
	for _, hop := range d.Jump.Via {
		haddr := JoinHostPort(hop.Address, hop.Port)
		var raw net.Conn
		if through != nil {
			var err error
			if raw, err = dialVia(ctx, through, haddr); err != nil {
				b.closeHops()
				return nil, fmt.Errorf("jump host %s: %w", haddr, err)
			}
		}
		hc, err := d.handshake(ctx, raw, nil, "jump host "+haddr, haddr, hop.HostKey, hop.User, d.JumpAuth)
		if err != nil {
			b.closeHops()
			return nil, err
		}
		b.hops = append(b.hops, hc)
		through = hc
	}
	jaddr := JoinHostPort(d.Jump.Address, d.Jump.Port)
	var raw net.Conn
	if through != nil {
		var err error
		if raw, err = dialVia(ctx, through, jaddr); err != nil {
			b.closeHops()
			return nil, fmt.Errorf("jump host %s: %w", jaddr, err)
		}
	}
	c, err := d.handshake(ctx, raw, nil, "jump host "+jaddr, jaddr, d.Jump.HostKey, d.Jump.User, d.JumpAuth)
	if err != nil {
		b.closeHops()
		return nil, err
	}
	b.c = c
	return c, nil
}

// forward opens a channel to addr through the jump host; a jump
// connection found dead is dialled again, once.
func (b *Bastion) forward(ctx context.Context, d *Dialer, addr string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		jc, err := b.client(ctx, d)
		if err != nil {
			return nil, err
		}
		raw, err := dialVia(ctx, jc, addr)
		if err == nil {
			return raw, nil
		}
		if attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
		if _, _, kerr := jc.SendRequest("keepalive@openssh.com", true, nil); kerr == nil {
			return nil, err // the jump host is fine: it could not reach addr
		}
		b.drop(jc)
	}
}

func (b *Bastion) drop(c *ssh.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == c {
		b.c.Close()
		b.c = nil
		b.closeHops()
	}
}

// closeHops closes the Via hops' connections, last first. b.mu is held.
func (b *Bastion) closeHops() {
	for i := len(b.hops) - 1; i >= 0; i-- {
		b.hops[i].Close()
	}
	b.hops = nil
}

// Close closes the jump connection, once no host connection needs it.
func (b *Bastion) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		return nil
	}
	err := b.c.Close()
	b.c = nil
	b.closeHops()
	return err
}

// Dial connects to addr as user, checking its host key with pin or the
// known hosts. The handshake is bounded by ctx and the host timeout.
func (d *Dialer) Dial(ctx context.Context, name, addr, pin, user string, auth []ssh.AuthMethod) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	var raw net.Conn
	if d.Jump != nil {
		var err error
		if raw, err = d.Bastion.forward(ctx, d, addr); err != nil {
			var hke *HostKeyError
			if errors.As(err, &hke) {
				return nil, err
			}
			return nil, fmt.Errorf("via jump host %s: %w", JoinHostPort(d.Jump.Address, d.Jump.Port), err)
		}
	}
	var redial func() (net.Conn, error)
	if d.Jump != nil {
		redial = func() (net.Conn, error) { return d.Bastion.forward(ctx, d, addr) }
	}
	c, err := d.handshake(ctx, raw, redial, name, addr, pin, user, auth)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: no SSH answer within the host timeout (%s): %w", addr, d.Timeout, err)
		}
		return nil, err
	}
	return c, nil
}

func dialVia(ctx context.Context, jc *ssh.Client, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := jc.Dial("tcp", addr)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// handshake logs in to addr over raw (a direct connection when nil). When
// the host presents a key of another type than the pinned one, the other
// types are asked for, each over a new connection (redial, or direct), and
// the host is refused only if none is the pinned key.
func (d *Dialer) handshake(ctx context.Context, raw net.Conn, redial func() (net.Conn, error), name, addr, pin, user string, auth []ssh.AuthMethod) (*ssh.Client, error) {
	var algos []string
	if pin == "" {
		algos = d.Keys.Algorithms(addr)
	} else {
		algos = d.Keys.PinnedAlgorithms(addr)
	}
	c, err := d.handshakeWith(ctx, raw, name, addr, pin, user, auth, algos)
	var hke *HostKeyError
	if pin == "" || !errors.As(err, &hke) || hke.Want != pin {
		return c, err
	}
	for _, fam := range pinFamilies {
		if slices.ContainsFunc(fam, func(a string) bool { return algoFor(hke.keyType, a) }) {
			continue
		}
		var next net.Conn
		if redial != nil {
			var rerr error
			if next, rerr = redial(); rerr != nil {
				return nil, err
			}
		}
		c, ferr := d.handshakeWith(ctx, next, name, addr, pin, user, auth, fam)
		var other *HostKeyError
		switch {
		case ferr == nil:
			d.Keys.mu.Lock()
			d.Keys.pinAlgo[addr] = fam
			d.Keys.mu.Unlock()
			return c, nil
		case errors.As(ferr, &other), strings.Contains(ferr.Error(), "no common algorithm for host key"):
			continue
		default:
			return nil, ferr // the key matched the pin; the rest failed
		}
	}
	return nil, err
}

func (d *Dialer) handshakeWith(ctx context.Context, raw net.Conn, name, addr, pin, user string, auth []ssh.AuthMethod, algos []string) (*ssh.Client, error) {
	if raw == nil {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		raw = c
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	// A context cancelled mid-handshake closes the socket, which unblocks
	// the handshake.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              auth,
		HostKeyCallback:   d.Keys.Callback(name, pin),
		HostKeyAlgorithms: algos,
		Config:            ssh.Config{KeyExchanges: keyExchanges},
		ClientVersion:     "SSH-2.0-handover",
	}
	sc, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	if !stop() {
		if sc != nil {
			sc.Close()
		}
		return nil, fmt.Errorf("ssh %s: %w", addr, ctx.Err())
	}
	if err != nil {
		raw.Close()
		var hke *HostKeyError
		if errors.As(err, &hke) {
			return nil, hke
		}
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	raw.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}
