package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// faultProxy is a TCP proxy in front of a real server (a fleet host's
// sshd, Vault) that injects network faults on command: a connection reset
// after some more bytes of the client's, or the server's answers held
// back. The server behind it is the real one.
type faultProxy struct {
	ln net.Listener
	up string

	mu      sync.Mutex
	cond    *sync.Cond
	conns   map[*proxyConn]bool
	nextCut int64 // for the next new connection; -1: none
	stalled bool
	// stallNew holds back the answers on connections opened from now on.
	stallNew bool
	closed   bool
}

type proxyConn struct {
	client, server net.Conn
	sent, cut      int64 // client bytes forwarded; reset after cut (-1: never)
	// stallAt holds the server's answers back once the client sent that
	// many bytes (-1: never).
	stallAt int64
}

func newFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	return newFaultProxyOn(t, "127.0.0.1", upstream)
}

// newFaultProxyOn listens on a free port of the local address ip (one
// the server's certificate names, for a TLS client that checks it).
func newFaultProxyOn(t *testing.T, ip, upstream string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, up: upstream, conns: map[*proxyConn]bool{}, nextCut: -1}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.up)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: u, cut: -1, stallAt: -1}
		p.mu.Lock()
		if p.nextCut >= 0 {
			pc.cut, p.nextCut = p.nextCut, -1
		}
		if p.stallNew {
			pc.stallAt = 0
		}
		p.conns[pc] = true
		p.mu.Unlock()
		go p.up2down(pc)
		go p.down2up(pc)
	}
}

// resetAfter makes every open connection, and the next one opened, reset
// (RST to both ends) once n more bytes of the client's were forwarded.
func (p *faultProxy) resetAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.cut = pc.sent + n
	}
	p.nextCut = n
}

// stall holds back every server answer (the client's bytes still reach
// the server) until unstall.
func (p *faultProxy) stall() {
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
}

// stallAfter lets every open connection carry n more bytes of the
// client's (its next command) and then holds its answers back; the
// connections opened after are held back at once. The server gets
// everything the client sends: it makes the change, the client hears
// nothing of it.
func (p *faultProxy) stallAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.stallAt = pc.sent + n
	}
	p.stallNew = true
}

func (p *faultProxy) unstall() {
	p.mu.Lock()
	p.stallNew = false
	for pc := range p.conns {
		pc.stallAt = -1
	}
	p.stalled = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed, p.stalled = true, false
	p.cond.Broadcast()
	for pc := range p.conns {
		pc.client.Close()
		pc.server.Close()
	}
	p.mu.Unlock()
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// down2up forwards the client's bytes, resetting at the cut.
func (p *faultProxy) down2up(pc *proxyConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := pc.client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			cut, sent := pc.cut, pc.sent
			p.mu.Unlock()
			if cut >= 0 && sent+int64(n) > cut {
				pc.server.Write(buf[:cut-sent])
				reset(pc.server)
				reset(pc.client)
				p.drop(pc)
				return
			}
			if _, werr := pc.server.Write(buf[:n]); werr != nil {
				break
			}
			p.mu.Lock()
			pc.sent += int64(n)
			p.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	pc.server.Close()
	pc.client.Close()
	p.drop(pc)
}

// up2down forwards the server's bytes, holding them while stalled.
func (p *faultProxy) up2down(pc *proxyConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := pc.server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for (p.stalled || pc.stallAt >= 0 && pc.sent >= pc.stallAt) && !p.closed {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := pc.client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				reset(pc.client)
			}
			break
		}
	}
	pc.client.Close()
	p.drop(pc)
}

func (p *faultProxy) drop(pc *proxyConn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}
