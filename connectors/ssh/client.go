package ssh

import (
	"bytes"
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
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/handover/secret"
)

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

// hostKeyOrder prefers ed25519, the key every current OpenSSH host has,
// so that a pinned ed25519 fingerprint is what the server shows.
var hostKeyOrder = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA,
}

// HostKeyError is a host whose key does not match what is known: the host
// is refused.
type HostKeyError struct {
	Host, Got, Want string
	// keyType is the type of the key the host presented.
	keyType string
}

func (e *HostKeyError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("host key of %s is unknown (%s): add it to known_hosts, pin it in host_keys, or set trust_on_first_use", e.Host, e.Got)
	}
	return fmt.Sprintf("host key of %s does not match: the host presents %s, expected %s; refusing the host (possible man-in-the-middle, or the host was reinstalled)", e.Host, e.Got, e.Want)
}

// hostKeys checks host keys against pins, a known_hosts file, or trust on
// first use, in that order of precedence.
type hostKeys struct {
	known   ssh.HostKeyCallback // nil without known_hosts
	file    string
	tofu    bool
	record  func(host, addr string, key ssh.PublicKey)
	mu      sync.Mutex
	trusted map[string]string // addr -> fingerprint trusted this run
	// pinAlgo is, by address, the host key algorithm that showed the
	// pinned key where the preferred one showed another.
	pinAlgo map[string][]string
	// hostCAs are the keys of known_hosts' @cert-authority lines (host
	// certificate authorities), by their wire form.
	hostCAs  map[string]bool
	fileLock sync.Mutex
}

func newHostKeys(file string, tofu bool, record func(host, addr string, key ssh.PublicKey)) (*hostKeys, error) {
	hk := &hostKeys{file: file, tofu: tofu, record: record, trusted: map[string]string{}, pinAlgo: map[string][]string{}}
	if file != "" {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) && tofu {
			return hk, nil
		}
		cb, err := knownhosts.New(file)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", file, err)
		}
		hk.known = cb
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", file, err)
		}
		hk.hostCAs = map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 4 || f[0] != "@cert-authority" {
				continue
			}
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(f[2:], " "))); err == nil {
				hk.hostCAs[string(k.Marshal())] = true
			}
		}
	}
	return hk, nil
}

// callback returns the check for one host. pin is a SHA256 fingerprint or
// "".
func (hk *hostKeys) callback(name, pin string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		got := ssh.FingerprintSHA256(key)
		if pin != "" {
			if got != pin {
				return &HostKeyError{Host: name, Got: got, Want: pin, keyType: key.Type()}
			}
			return nil
		}
		hk.mu.Lock()
		prev, seen := hk.trusted[hostname]
		hk.mu.Unlock()
		if seen {
			if prev != got {
				return &HostKeyError{Host: name, Got: got, Want: prev + " (trusted earlier in this run)"}
			}
			return nil
		}
		if hk.known != nil {
			err := hk.known(hostname, remote, key)
			var ke *knownhosts.KeyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ke) && len(ke.Want) > 0:
				var want []string
				for _, k := range ke.Want {
					want = append(want, fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
				}
				return &HostKeyError{Host: name, Got: got, Want: strings.Join(want, " or ")}
			case errors.As(err, &ke):
				// Unknown host: fall through to trust on first use.
			default:
				return fmt.Errorf("host key of %s: %w", name, err)
			}
		}
		if !hk.tofu {
			return &HostKeyError{Host: name, Got: got}
		}
		hk.mu.Lock()
		hk.trusted[hostname] = got
		hk.mu.Unlock()
		if err := hk.remember(hostname, key); err != nil {
			return err
		}
		if hk.record != nil {
			hk.record(name, hostname, key)
		}
		return nil
	}
}

// remember appends a key trusted on first use to the known_hosts file, so
// the next run checks it.
func (hk *hostKeys) remember(addr string, key ssh.PublicKey) error {
	if hk.file == "" {
		return nil
	}
	hk.fileLock.Lock()
	defer hk.fileLock.Unlock()
	f, err := os.OpenFile(hk.file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", hk.file, err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", hk.file, err)
	}
	return nil
}

// certAlgorithms are the host certificate types, asked for first from a
// host that known_hosts knows by a certificate authority only.
var certAlgorithms = []string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// algorithms returns the host key algorithms to offer for addr: those of
// the keys known_hosts holds for it, so the server does not pick a key
// type the file lacks; for a host it lists no key of (it may be known by
// a @cert-authority line), host certificates first when the file has
// such lines, then every algorithm.
func (hk *hostKeys) algorithms(addr string) []string {
	if hk.known == nil {
		return hostKeyOrder
	}
	// Asking with a key no file can hold makes the callback list the known
	// keys of the host in its error.
	var probe ssh.PublicKey = dummyKey{}
	var ke *knownhosts.KeyError
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	err := hk.known(addr, tcp, probe)
	if !errors.As(err, &ke) {
		return hostKeyOrder
	}
	// The lines that match the host include its CAs' keys: those say
	// nothing of the host key's type.
	want := slices.DeleteFunc(slices.Clone(ke.Want), func(k knownhosts.KnownKey) bool { return hk.hostCAs[string(k.Key.Marshal())] })
	if len(want) == 0 {
		if len(want) < len(ke.Want) {
			return slices.Concat(certAlgorithms, hostKeyOrder)
		}
		return hostKeyOrder
	}
	ke = &knownhosts.KeyError{Want: want}
	var algos []string
	for _, want := range hostKeyOrder {
		for _, k := range ke.Want {
			if algoFor(k.Key.Type(), want) {
				algos = append(algos, want)
				break
			}
		}
	}
	if len(algos) == 0 {
		return hostKeyOrder
	}
	return algos
}

// pinFamilies are the host key algorithms tried, one family at a time,
// when a host presents a key other than the pinned one: a pin names one
// of the host's keys (an ECDSA or RSA fingerprint, from an older client or
// a provider's dossier), and a server shows the type the client prefers.
var pinFamilies = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256}, {ssh.KeyAlgoECDSA384}, {ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
}

// pinnedAlgorithms returns the host key algorithms to offer a host with a
// pinned key: the family that showed it before, if another did not.
func (hk *hostKeys) pinnedAlgorithms(addr string) []string {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	if a, ok := hk.pinAlgo[addr]; ok {
		return a
	}
	return hostKeyOrder
}

func algoFor(keyType, algo string) bool {
	if keyType == ssh.KeyAlgoRSA {
		return algo == ssh.KeyAlgoRSA || algo == ssh.KeyAlgoRSASHA256 || algo == ssh.KeyAlgoRSASHA512
	}
	return keyType == algo
}

// dummyKey is a public key no known_hosts line can match.
type dummyKey struct{}

func (dummyKey) Type() string                                 { return "handover-probe" }
func (dummyKey) Marshal() []byte                              { return []byte("handover-probe") }
func (dummyKey) Verify(data []byte, sig *ssh.Signature) error { return errors.New("probe key") }

// dialer opens SSH connections, through the jump host when there is one.
type dialer struct {
	keys    *hostKeys
	timeout time.Duration
	jump    *jumpSettings
	bastion *bastion
	// jumpAuth logs in to the jump host: the connection user's own
	// credentials, never a credential being proven on a host behind it.
	jumpAuth []ssh.AuthMethod
}

// bastion is the one connection to the jump host that every host's
// connection goes through, as forwarded channels: the jump host sees one
// login whatever the number of hosts (OpenSSH's MaxStartups starts
// dropping concurrent unauthenticated connections past 10).
type bastion struct {
	mu sync.Mutex
	c  *ssh.Client
}

// client returns the connection to the jump host, dialling it if needed.
func (b *bastion) client(ctx context.Context, d *dialer) (*ssh.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		return b.c, nil
	}
	jaddr := joinHostPort(d.jump.Address, d.jump.Port)
	c, err := d.handshake(ctx, nil, nil, "jump host "+jaddr, jaddr, d.jump.HostKey, d.jump.User, d.jumpAuth)
	if err != nil {
		return nil, err
	}
	b.c = c
	return c, nil
}

// forward opens a channel to addr through the jump host; a jump
// connection found dead is dialled again, once.
func (b *bastion) forward(ctx context.Context, d *dialer, addr string) (net.Conn, error) {
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

func (b *bastion) drop(c *ssh.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == c {
		b.c.Close()
		b.c = nil
	}
}

// Close closes the jump connection, once no host connection needs it.
func (b *bastion) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		return nil
	}
	err := b.c.Close()
	b.c = nil
	return err
}

// dial connects to addr as user, checking its host key with pin or the
// known hosts. The handshake is bounded by ctx and the host timeout.
func (d *dialer) dial(ctx context.Context, name, addr, pin, user string, auth []ssh.AuthMethod) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var raw net.Conn
	if d.jump != nil {
		var err error
		if raw, err = d.bastion.forward(ctx, d, addr); err != nil {
			var hke *HostKeyError
			if errors.As(err, &hke) {
				return nil, err
			}
			return nil, fmt.Errorf("via jump host %s: %w", joinHostPort(d.jump.Address, d.jump.Port), err)
		}
	}
	var redial func() (net.Conn, error)
	if d.jump != nil {
		redial = func() (net.Conn, error) { return d.bastion.forward(ctx, d, addr) }
	}
	c, err := d.handshake(ctx, raw, redial, name, addr, pin, user, auth)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: no SSH answer within host_timeout (%s): %w", addr, d.timeout, err)
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
func (d *dialer) handshake(ctx context.Context, raw net.Conn, redial func() (net.Conn, error), name, addr, pin, user string, auth []ssh.AuthMethod) (*ssh.Client, error) {
	var algos []string
	if pin == "" {
		algos = d.keys.algorithms(addr)
	} else {
		algos = d.keys.pinnedAlgorithms(addr)
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
			d.keys.mu.Lock()
			d.keys.pinAlgo[addr] = fam
			d.keys.mu.Unlock()
			return c, nil
		case errors.As(ferr, &other), strings.Contains(ferr.Error(), "no common algorithm for host key"):
			continue
		default:
			return nil, ferr // the key matched the pin; the rest failed
		}
	}
	return nil, err
}

func (d *dialer) handshakeWith(ctx context.Context, raw net.Conn, name, addr, pin, user string, auth []ssh.AuthMethod, algos []string) (*ssh.Client, error) {
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
		HostKeyCallback:   d.keys.callback(name, pin),
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

// isAuthFailure tells a rejected credential from any other failure.
func isAuthFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

// passwordAuth answers both password and keyboard-interactive prompts.
func passwordAuth(pw secret.Secret) []ssh.AuthMethod {
	return []ssh.AuthMethod{
		ssh.PasswordCallback(func() (string, error) { return pw.Reveal(), nil }),
		ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i, q := range questions {
				if !echos[i] && strings.Contains(strings.ToLower(q), "password") {
					answers[i] = pw.Reveal()
				}
			}
			return answers, nil
		}),
	}
}

// agentSigners returns the keys of the running ssh-agent.
func agentSigners() ([]ssh.Signer, func(), error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("auth.agent is set but SSH_AUTH_SOCK is not")
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh-agent %s: %w", sock, err)
	}
	signers, err := agent.NewClient(c).Signers()
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("ssh-agent %s: %w", sock, err)
	}
	return signers, func() { c.Close() }, nil
}

// result is what a remote command produced.
type result struct {
	Stdout, Stderr []byte
	Exit           int
}

// stdinMarker separates a sudo password from the data a command reads;
// see sudoWrapper.
const stdinMarker = "--handover-stdin--"

// sudoWrapper runs "$@" after consuming stdin up to the marker line. With
// a sudo password, sudo -S reads the first line; if sudo did not ask
// (NOPASSWD, cached), the password line is read here into a variable and
// dropped, never run: it cannot reach the command.
const sudoWrapper = `IFS= read -r l || exit 97; if [ "$l" != '` + stdinMarker + `' ]; then l=; IFS= read -r l || exit 97; [ "$l" = '` + stdinMarker + `' ] || exit 98; fi; l=; exec "$@"`

// runner runs scripts on one host over an established connection, as
// root (directly or through sudo).
type runner struct {
	c        *ssh.Client
	sudo     bool
	sudoPass secret.Secret // zero: NOPASSWD
}

// Script runs a POSIX sh script as root with positional args. With data
// == nil the script itself goes to sh on stdin (nothing shows in the
// host's process list); otherwise the script is the -c argument and data
// is its stdin.
func (r *runner) Script(ctx context.Context, script string, args []string, data []byte) (result, error) {
	var argv []string
	var in bytes.Buffer
	if data == nil {
		argv = append([]string{"/bin/sh", "-s", "--"}, args...)
	} else {
		argv = append([]string{"/bin/sh", "-c", script, "handover"}, args...)
	}
	switch {
	case r.sudo && !r.sudoPass.IsZero():
		argv = append([]string{"sudo", "-S", "-p", "", "--", "/bin/sh", "-c", sudoWrapper, "handover"}, argv...)
		in.WriteString(r.sudoPass.Reveal())
		in.WriteString("\n" + stdinMarker + "\n")
	case r.sudo:
		argv = append([]string{"sudo", "-n", "--"}, argv...)
	}
	if data == nil {
		in.WriteString(script)
	} else {
		in.Write(data)
	}
	defer clear(in.Bytes())
	return r.exec(ctx, shellJoin(argv), in.Bytes())
}

func (r *runner) exec(ctx context.Context, cmd string, stdin []byte) (result, error) {
	sess, err := r.c.NewSession()
	if err != nil {
		return result{}, fmt.Errorf("ssh session: %w", err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdin = bytes.NewReader(stdin)
	sess.Stdout, sess.Stderr = &out, &errb
	if err := sess.Start(cmd); err != nil {
		return result{}, fmt.Errorf("ssh exec: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		<-done
		return result{Stdout: out.Bytes(), Stderr: errb.Bytes()}, fmt.Errorf("remote command: %w", ctx.Err())
	}
	res := result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitStatus()
	default:
		return res, fmt.Errorf("remote command: %w", err)
	}
	if res.Exit == 97 || res.Exit == 98 || (r.sudo && res.Exit == 1 && bytes.Contains(res.Stderr, []byte("sudo:"))) {
		if bytes.Contains(res.Stderr, []byte("must have a tty")) {
			return res, fmt.Errorf("sudo refused: the host's sudoers require a terminal (Defaults requiretty); handover runs without one: allow the connection user with a line 'Defaults:USER !requiretty' in a sudoers.d file")
		}
		return res, fmt.Errorf("sudo refused (exit %d): %s", res.Exit, firstLine(res.Stderr))
	}
	return res, nil
}

// Run runs a script and fails on a non-zero exit.
func (r *runner) Run(ctx context.Context, script string, args []string, data []byte) ([]byte, error) {
	res, err := r.Script(ctx, script, args, data)
	if err != nil {
		return nil, err
	}
	if res.Exit != 0 {
		return res.Stdout, fmt.Errorf("exit status %d: %s", res.Exit, strings.TrimSpace(lastLines(res.Stderr, 5)))
	}
	return res.Stdout, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// shellGlob quotes a catalogue pattern so that only its * and ? stay
// wildcards.
func shellGlob(p string) string {
	var b strings.Builder
	lit := ""
	flush := func() {
		if lit != "" {
			b.WriteString("'" + strings.ReplaceAll(lit, "'", `'\''`) + "'")
			lit = ""
		}
	}
	for _, r := range p {
		if r == '*' || r == '?' {
			flush()
			b.WriteRune(r)
			continue
		}
		lit += string(r)
	}
	flush()
	return b.String()
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
