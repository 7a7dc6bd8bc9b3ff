//go:build handover_crashtest

package crashpoint

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env names the in-flight kill of a test build:
//
//	HANDOVER_CRASH_IN=OP[@ACTION][:AT]
//
// SIGKILLs the process inside the first target call marked OP (set: a
// connector's SetCredentials; apply: its Apply; ldap-modify: one LDAP
// modify or password-modify request; vault-write: one Vault API request
// that changes something) made for a change of ACTION (any when left out;
// "last": the group made last, the rotation of the connector's own
// login), once AT is reached:
//
//	N     N bytes were sent to the target inside OP calls (counted across
//	      them, the default 1): the call is cut there, the rest of its
//	      request never leaves
//	N%    N percent of the current remote script's stdin was sent (SSH),
//	      or of the first write to a socket (LDAP, Vault)
//	end   the whole request was sent (SSH: the script's stdin; LDAP,
//	      Vault: the first write, which carries a whole request) and the
//	      answer not yet read
const Env = "HANDOVER_CRASH_IN"

type spec struct {
	op, action string
	bytes      int64 // kill once this many bytes were sent
	pct        int   // percent of a script's stdin
	end        bool
}

var (
	want = parse(os.Getenv(Env))

	mu      sync.Mutex
	depth   int      // marked calls in progress that match want
	sent    int64    // bytes sent inside them, all together
	entered bool     // a matching call began: later ones are not cut
	outer   []string // the actions of the engine's call in progress
)

func parse(s string) *spec {
	if s == "" {
		return nil
	}
	sp := &spec{bytes: 1}
	head, at, _ := strings.Cut(s, ":")
	sp.op, sp.action, _ = strings.Cut(head, "@")
	switch {
	case at == "":
	case at == "end":
		sp.end, sp.bytes = true, 0
	case strings.HasSuffix(at, "%"):
		n, err := strconv.Atoi(strings.TrimSuffix(at, "%"))
		if err != nil || n < 0 || n > 100 {
			panic(fmt.Sprintf("%s=%s: %q is not a percentage", Env, s, at))
		}
		sp.pct, sp.bytes = n, 0
	default:
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("%s=%s: %q is not a byte count, N%% or end", Env, s, at))
		}
		sp.bytes = n
	}
	return sp
}

func kill() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// Enter marks the start of a target call; see Env. The engine's calls
// (set, apply) name the actions of their changes; a connector's narrower
// operation inside one (ldap-modify, vault-write) is of the same actions.
func Enter(op string, actions ...string) (exit func()) {
	if want == nil {
		return nop
	}
	mu.Lock()
	defer mu.Unlock()
	outerSet := false
	if op == "set" || op == "apply" {
		outer, outerSet = actions, true
	}
	var end func()
	if outerSet {
		end = func() { outer = nil }
	}
	match := op == want.op && (want.action == "" || slices.Contains(actions, want.action) || slices.Contains(outer, want.action))
	if !match || (entered && (want.end || want.pct > 0)) {
		// end and N% cut the first matching call only.
		if end == nil {
			return nop
		}
		return func() { mu.Lock(); end(); mu.Unlock() }
	}
	entered = true
	depth++
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			depth--
			if end != nil {
				end()
			}
			mu.Unlock()
		})
	}
}

func nop() {}

// armed says how many more bytes may be sent before the kill, inside a
// matching call; ok is false outside one.
func armed() (left int64, ok bool) {
	if depth == 0 || want.bytes == 0 {
		return 0, depth > 0
	}
	return want.bytes - sent, true
}

// Conn counts the bytes written to c inside a matching call.
func Conn(c net.Conn) net.Conn {
	if want == nil {
		return c
	}
	return &conn{Conn: c}
}

type conn struct{ net.Conn }

func (c *conn) Write(p []byte) (int, error) {
	mu.Lock()
	left, ok := armed()
	mu.Unlock()
	if !ok {
		return c.Conn.Write(p)
	}
	if want.pct > 0 {
		// The size of a request on a socket is not known ahead: cut the
		// first write inside the call at the share asked.
		_, _ = c.Conn.Write(p[:len(p)*want.pct/100])
		kill()
	}
	if want.bytes > 0 && int64(len(p)) >= left {
		// Send exactly up to the chosen byte, then die.
		_, _ = c.Conn.Write(p[:left])
		kill()
	}
	n, err := c.Conn.Write(p)
	mu.Lock()
	sent += int64(n)
	mu.Unlock()
	if want.end {
		// The request left in this write; its answer is never read.
		kill()
	}
	return n, err
}

// Reader counts the bytes of a remote command's stdin (size bytes in all)
// read to be sent inside a matching call. The SSH client sends each chunk
// read before it reads the next, so the kill at the start of a Read comes
// after everything read before was sent.
func Reader(r io.Reader, size int) io.Reader {
	if want == nil {
		return r
	}
	return &reader{r: r, size: int64(size)}
}

type reader struct {
	r          io.Reader
	size, read int64
}

func (r *reader) Read(p []byte) (int, error) {
	mu.Lock()
	left, ok := armed()
	switch {
	case !ok:
		mu.Unlock()
		return r.r.Read(p)
	case want.end:
		left = r.size - r.read
	case want.pct > 0:
		left = r.size*int64(want.pct)/100 - r.read
	}
	mu.Unlock()
	if left <= 0 {
		kill()
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.r.Read(p)
	mu.Lock()
	r.read += int64(n)
	sent += int64(n)
	mu.Unlock()
	return n, err
}
