// Package dovecot runs the testenv's mail server: Dovecot 2.3 with IMAP
// (STARTTLS and IMAPS), ManageSieve and Pigeonhole, configured entirely from
// the component directory (no /etc/dovecot). It plants the client's staff
// and function mailboxes, the outgoing provider's master user, and Sieve
// scripts that quietly redirect mail to the provider's domain.
//
// Everything lives in the component directory:
//
//	dovecot.conf      the whole configuration (also what doveadm -c takes)
//	users             passwd-file of the mailboxes (passdb and userdb)
//	master-users      passwd-file of master users (the provider's)
//	probe-users       the testenv's own readiness login
//	passwords/<login> one 0600 file per planted password
//	home/<login>/     each mailbox's home: Maildir/, sieve/, .dovecot.sieve
//	run/, state/      base_dir and state_dir
package dovecot

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// Component runs dovecot.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "dovecot" }

type layout struct{ dir string }

func (l layout) conf() string        { return filepath.Join(l.dir, "dovecot.conf") }
func (l layout) users() string       { return filepath.Join(l.dir, "users") }
func (l layout) masters() string     { return filepath.Join(l.dir, "master-users") }
func (l layout) probes() string      { return filepath.Join(l.dir, "probe-users") }
func (l layout) passwordDir() string { return filepath.Join(l.dir, "passwords") }
func (l layout) password(login string) string {
	return filepath.Join(l.passwordDir(), login)
}
func (l layout) homes() string             { return filepath.Join(l.dir, "home") }
func (l layout) home(login string) string  { return filepath.Join(l.homes(), login) }
func (l layout) cert() string              { return filepath.Join(l.dir, "server.pem") }
func (l layout) key() string               { return filepath.Join(l.dir, "server.key") }
func (l layout) pidFile() string           { return filepath.Join(l.dir, "dovecot.pid") }
func (l layout) logFile() string           { return filepath.Join(l.dir, "dovecot.log") }
func (l layout) baseDir() string           { return filepath.Join(l.dir, "run") }
func (l layout) stateDir() string          { return filepath.Join(l.dir, "state") }
func (l layout) probePasswordFile() string { return filepath.Join(l.dir, "testenv-probe.pw") }

// pidMatch is what the recorded PID's command line must contain for Down
// to stop it.
const pidMatch = "dovecot"

// Up starts dovecot with the planted mailboxes, or leaves a healthy one
// alone.
func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	l := layout{o.Dir}
	if pid := proc.ReadPID(l.pidFile()); proc.Alive(pid) && probe(ctx, l, o.CA.CertFile) == nil {
		fill(env, l, pid)
		return nil
	}
	if err := stop(l); err != nil {
		return err
	}
	if err := prepare(ctx, l, o); err != nil {
		return err
	}
	if err := plant(ctx, l); err != nil {
		return err
	}
	return start(ctx, l, o, env)
}

// Reset rewrites the passwd-files, the homes and the Sieve scripts to the
// planted state. Dovecot reads passwd-files on each lookup and Sieve
// scripts on each use, so a running server needs no restart; one that is
// not running is started.
func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	l := layout{o.Dir}
	if err := prepare(ctx, l, o); err != nil {
		return err
	}
	if err := plant(ctx, l); err != nil {
		return err
	}
	if pid := proc.ReadPID(l.pidFile()); proc.Alive(pid) && probe(ctx, l, o.CA.CertFile) == nil {
		fill(env, l, pid)
		return nil
	}
	if err := stop(l); err != nil {
		return err
	}
	return start(ctx, l, o, env)
}

// Down stops the dovecot this component started, by its recorded PID.
func (Component) Down(ctx context.Context, o component.Options) error {
	return stop(layout{o.Dir})
}

func stop(l layout) error {
	if err := proc.Stop(l.pidFile(), pidMatch, 10*time.Second); err != nil {
		return fmt.Errorf("stop dovecot: %w", err)
	}
	return nil
}

// prepare writes the configuration, the certificate and the password files
// (kept when present, so credentials survive down/up).
func prepare(ctx context.Context, l layout, o component.Options) error {
	for _, d := range []string{l.passwordDir(), l.baseDir(), l.stateDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Mail processes run as mailUID and must reach the homes.
	if err := os.Chmod(l.dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(l.baseDir(), 0o755); err != nil {
		return err
	}
	if err := o.CA.Issue(l.cert(), l.key(), "dovecot "+testenv.ClientDomain, []string{"127.0.0.1"}, []string{"localhost"}); err != nil {
		return fmt.Errorf("dovecot certificate: %w", err)
	}
	var conf bytes.Buffer
	if err := confTemplate.Execute(&conf, confData{
		Dir: l.dir, BaseDir: l.baseDir(), StateDir: l.stateDir(), Log: l.logFile(),
		Cert: l.cert(), Key: l.key(),
		Users: l.users(), Masters: l.masters(), Probes: l.probes(),
		IMAP: testenv.IMAPAddr, IMAPS: testenv.IMAPSAddr, Sieve: testenv.ManageSieveAddr,
		Separator: MasterSeparator,
	}); err != nil {
		return err
	}
	if err := writeFile(l.conf(), conf.Bytes(), 0o644); err != nil {
		return err
	}
	secrets := []string{l.password(MasterUser), l.probePasswordFile()}
	for _, m := range mailboxes {
		secrets = append(secrets, l.password(m.login()))
	}
	for _, path := range secrets {
		if _, err := os.Stat(path); err == nil {
			continue
		}
		// rand.Text: 26 base32 characters.
		if err := writeFile(path, []byte(rand.Text()), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// plant writes the passwd-files with fresh hashes of the planted
// passwords, and every home with its Sieve script, from scratch.
func plant(ctx context.Context, l layout) error {
	if err := os.RemoveAll(l.homes()); err != nil {
		return err
	}
	if err := os.Mkdir(l.homes(), 0o755); err != nil {
		return err
	}
	var users bytes.Buffer
	for _, m := range mailboxes {
		hash, err := hashFile(ctx, l, l.password(m.login()))
		if err != nil {
			return err
		}
		// user:password:uid:gid:gecos:home:shell:extra
		fmt.Fprintf(&users, "%s:%s:%d:%d::%s::\n", m.login(), hash, mailUID, mailGID, l.home(m.login()))
		if err := plantHome(l, m); err != nil {
			return err
		}
	}
	if err := writePasswd(l.users(), users.Bytes()); err != nil {
		return err
	}
	hash, err := hashFile(ctx, l, l.password(MasterUser))
	if err != nil {
		return err
	}
	if err := writePasswd(l.masters(), []byte(MasterUser+":"+hash+"\n")); err != nil {
		return err
	}
	if hash, err = hashFile(ctx, l, l.probePasswordFile()); err != nil {
		return err
	}
	probeHome := l.home(probeUser)
	if err := mkdirOwned(probeHome); err != nil {
		return err
	}
	return writePasswd(l.probes(), fmt.Appendf(nil, "%s:%s:%d:%d::%s::\n", probeUser, hash, mailUID, mailGID, probeHome))
}

// writePasswd writes a passwd-file readable by the auth process, which
// runs as the dovecot user: 0640 root:dovecot, the usual for hash files.
func writePasswd(path string, b []byte) error {
	g, err := user.LookupGroup("dovecot")
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("group dovecot: gid %q: %w", g.Gid, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	if err := os.Chown(tmp, 0, gid); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// plantHome makes a mailbox's home, owned by the mail user, with its
// script active the way ManageSieve would leave it: sieve/<name>.sieve and
// the .dovecot.sieve symlink.
func plantHome(l layout, m mailbox) error {
	home := l.home(m.login())
	if err := mkdirOwned(home); err != nil {
		return err
	}
	if m.Script == "" {
		return nil
	}
	dir := filepath.Join(home, "sieve")
	if err := mkdirOwned(dir); err != nil {
		return err
	}
	script := filepath.Join(dir, m.ScriptName+".sieve")
	if err := os.WriteFile(script, []byte(m.Script), 0o600); err != nil {
		return err
	}
	if err := os.Chown(script, mailUID, mailGID); err != nil {
		return err
	}
	link := filepath.Join(home, ".dovecot.sieve")
	if err := os.Symlink(filepath.Join("sieve", m.ScriptName+".sieve"), link); err != nil {
		return err
	}
	return os.Lchown(link, mailUID, mailGID)
}

func mkdirOwned(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chown(dir, mailUID, mailGID)
}

// hashFile hashes the password in path with doveadm pw (SHA512-CRYPT),
// passing it on stdin, never on a command line.
func hashFile(ctx context.Context, l layout, path string) (string, error) {
	pw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "doveadm", "-c", l.conf(), "pw", "-s", "SHA512-CRYPT")
	// doveadm pw asks twice when stdin is not a terminal.
	cmd.Stdin = strings.NewReader(string(pw) + "\n" + string(pw) + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("doveadm pw: %w: %s", err, stderr.String())
	}
	hash := strings.TrimSpace(string(out))
	if !strings.HasPrefix(hash, "{SHA512-CRYPT}$6$") {
		return "", fmt.Errorf("doveadm pw: unexpected output %.20q", hash)
	}
	return hash, nil
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func start(ctx context.Context, l layout, o component.Options, env *testenv.Env) error {
	if err := os.Remove(l.logFile()); err != nil && !os.IsNotExist(err) {
		return err
	}
	pid, err := proc.Start(l.pidFile(), l.logFile(), nil, "/usr/sbin/dovecot", "-F", "-c", l.conf())
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := proc.WaitReady(wctx, pid, l.logFile(), func(ctx context.Context) error {
		return probe(ctx, l, o.CA.CertFile)
	}); err != nil {
		return fmt.Errorf("dovecot: %w", err)
	}
	fill(env, l, pid)
	return nil
}

// probe logs in over IMAPS and over STARTTLS as the testenv's probe user
// and reads the ManageSieve greeting.
func probe(ctx context.Context, l layout, caFile string) error {
	pw, err := os.ReadFile(l.probePasswordFile())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, startTLS := range []bool{false, true} {
		addr := testenv.IMAPSAddr
		if startTLS {
			addr = testenv.IMAPAddr
		}
		c, err := DialIMAP(ctx, addr, caFile, startTLS)
		if err != nil {
			return err
		}
		err = c.Login(probeUser, string(pw)).Wait()
		c.Close()
		if err != nil {
			return fmt.Errorf("imap login %s at %s: %w", probeUser, addr, err)
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", testenv.ManageSieveAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "OK") {
			return nil
		}
	}
	return fmt.Errorf("managesieve %s: no greeting: %v", testenv.ManageSieveAddr, sc.Err())
}

// DialIMAP connects to addr over implicit TLS (IMAPS) or plain IMAP then
// STARTTLS, verifying the server against the testenv CA. ctx's deadline
// bounds the whole connection.
func DialIMAP(ctx context.Context, addr, caFile string, startTLS bool) (*imapclient.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	opts := &imapclient.Options{TLSConfig: cfg}
	if startTLS {
		c, err := imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("imap starttls %s: %w", addr, err)
		}
		return c, nil
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("imaps %s: %w", addr, err)
	}
	return imapclient.New(tc, opts), nil
}

func fill(env *testenv.Env, l layout, pid int) {
	accounts := make([]testenv.Account, 0, len(mailboxes))
	var forwarding []string
	for _, m := range mailboxes {
		accounts = append(accounts, testenv.Account{Name: m.login(), PasswordFile: l.password(m.login())})
		if m.Forwards {
			forwarding = append(forwarding, m.login())
		}
	}
	env.Mail = &testenv.MailEnv{
		IMAPAddr:        testenv.IMAPAddr,
		IMAPSAddr:       testenv.IMAPSAddr,
		ManageSieveAddr: testenv.ManageSieveAddr,
		Domain:          testenv.ClientDomain,
		Accounts:        accounts,
		MasterUser:      testenv.Account{Name: MasterUser, PasswordFile: l.password(MasterUser)},
		MasterSeparator: MasterSeparator,
		Forwarding:      forwarding,
		PasswdFile:      l.users(),
		MasterFile:      l.masters(),
		DoveadmConf:     l.conf(),
		PID:             pid,
	}
}

type confData struct {
	Dir, BaseDir, StateDir, Log string
	Cert, Key                   string
	Users, Masters, Probes      string
	IMAP, IMAPS, Sieve          string
	Separator                   string
}

func (c confData) Host(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func (c confData) Port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

var confTemplate = template.Must(template.New("dovecot.conf").Parse(`# Written by handover's testenv; rewritten on every up and reset.
instance_name = handover-testenv
base_dir = {{.BaseDir}}
state_dir = {{.StateDir}}
log_path = {{.Log}}
info_log_path = {{.Log}}
protocols = imap sieve
listen = 127.0.0.1

ssl = yes
ssl_cert = <{{.Cert}}
ssl_key = <{{.Key}}
ssl_min_protocol = TLSv1.2

# Tests try wrong passwords on purpose: answer at once.
auth_failure_delay = 0
auth_mechanisms = plain login
auth_master_user_separator = {{.Separator}}
disable_plaintext_auth = yes

default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 500
mail_location = maildir:~/Maildir

# The provider's master users: "mailbox{{.Separator}}master" + master password.
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT {{.Masters}}
  master = yes
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT {{.Users}}
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT {{.Probes}}
}
userdb {
  driver = passwd-file
  args = {{.Users}}
}
userdb {
  driver = passwd-file
  args = {{.Probes}}
}

service imap-login {
  inet_listener imap {
    address = {{.Host .IMAP}}
    port = {{.Port .IMAP}}
  }
  inet_listener imaps {
    address = {{.Host .IMAPS}}
    port = {{.Port .IMAPS}}
    ssl = yes
  }
}
# No auth penalty either: it is per client IP, and every client here is
# 127.0.0.1, so it would grow to 15 s per failure for everyone. Closing
# anvil's penalty socket is Dovecot's documented way to turn it off.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service managesieve-login {
  inet_listener sieve {
    address = {{.Host .Sieve}}
    port = {{.Port .Sieve}}
  }
}

plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
`))
