package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/dovecot"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// MailHost runs the client's mail server as a host of its own, made like a
// fleet host (an overlay over the cached rootfs, its own PID, mount and UTS
// namespaces, sshd with its own host key, root reached with the operator's
// key) at testenv.MailHostAddr, outside the fleet so that resetting the
// fleet leaves it alone. Dovecot with Pigeonhole and Postfix are installed
// from Debian into a cached layer; the planted estate (docs/testenv/mail.md)
// is written into the host's overlay. It is reached only over the network:
// SSH, SMTP, IMAP (STARTTLS and IMAPS) and ManageSieve.
type MailHost struct{}

var _ component.Component = MailHost{}

func (MailHost) Name() string { return "mailhost" }

const (
	mailHostName = "mail"
	// mailPackages are installed into the mail layer with apt-get.
	mailPackages = "postfix dovecot-imapd dovecot-lmtpd dovecot-managesieved dovecot-sieve dovecot-ldap"
	// mailLayerKey names the layer: change it when the recipe changes.
	mailLayerKey = "mail-v2"
	vmailUID     = 5000
	mailProbe    = "testenv-probe"
	// providerMailbox is a mailbox of the provider's own on the client's
	// server: its login is to be disabled, its mail kept.
	providerMailbox = "prestanet-support"
)

// mailHost is the mail host's host: the fleet's host machinery with a
// plan of its own.
func mailHost(dir string) host {
	return host{hostPlan: hostPlan{index: 0, name: mailHostName}, dir: dir, addr: testenv.MailHostAddr}
}

func mailPasswordFile(dir, login string) string { return filepath.Join(dir, "passwords", login) }
func mailProbeFile(dir string) string           { return filepath.Join(dir, "testenv-probe.password") }
func mailCert(dir string) string                { return filepath.Join(dir, "mail.pem") }
func mailKey(dir string) string                 { return filepath.Join(dir, "mail.key") }
func mailKnownHosts(dir string) string          { return filepath.Join(dir, "known_hosts") }
func mailAdminPasswordFile(dir string) string   { return filepath.Join(dir, mailAdmin+".password") }

// mailAdmin is the host's admin account: the operator's key, sudo with
// its password (Debian's %sudo rule).
const mailAdmin = "admin-mail"

// mailMaterial is what starting the mail host needs.
type mailMaterial struct {
	rootfs, layer string
	operator      keyPair
	hostKey       keyPair
	callback      ssh.HostKeyCallback
	hashes        map[string]string // login -> SHA512-CRYPT hash
	rootHash      string
	adminHash     string // mailAdmin's password, for sudo
	dir           string
	caFile        string
}

func (MailHost) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	m, err := prepareMail(ctx, o)
	if err != nil {
		return err
	}
	h := mailHost(o.Dir)
	if pid, ok := h.running(); ok {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.ready(pctx)
		cancel()
		if err == nil {
			env.MailHost = m.describe(pid)
			return nil
		}
	}
	return m.restart(ctx, h, env)
}

// Reset brings the mail host back to its planted state: stop, forget its
// overlay, plant, start (about a second).
func (MailHost) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	m, err := prepareMail(ctx, o)
	if err != nil {
		return err
	}
	return m.restart(ctx, mailHost(o.Dir), env)
}

func (MailHost) Down(ctx context.Context, o component.Options) error {
	h := mailHost(o.Dir)
	if err := stopMailHost(h); err != nil {
		return err
	}
	return h.wipe()
}

func (m *mailMaterial) restart(ctx context.Context, h host, env *testenv.Env) error {
	if err := stopMailHost(h); err != nil {
		return fmt.Errorf("mail host: stop: %w", err)
	}
	if err := h.wipe(); err != nil {
		return err
	}
	pid, err := m.start(ctx, h)
	if err != nil {
		return errors.Join(fmt.Errorf("mail host (%s): %w", h.addr, err), h.stop())
	}
	env.MailHost = m.describe(pid)
	return nil
}

// prepareMail makes sure of the rootfs, the mail layer, the keys and the
// passwords (kept across down/up and reset).
func prepareMail(ctx context.Context, o component.Options) (*mailMaterial, error) {
	if err := keepInheritedFDs(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	rootfs, err := ensureRootfs(ctx, o.CacheDir, o.Log)
	if err != nil {
		return nil, err
	}
	layer, err := ensureMailLayer(ctx, o.CacheDir, rootfs, o.Log)
	if err != nil {
		return nil, err
	}
	m := &mailMaterial{rootfs: rootfs, layer: layer, dir: o.Dir, hashes: map[string]string{}, caFile: o.CA.CertFile}
	// The fleet's operator key: one key opens every host of the estate.
	if m.operator, err = ensureKey(filepath.Join(o.StateDir, "fleet", "keys", "operator_ed25519"), "operateur@"+testenv.ClientDomain, false); err != nil {
		return nil, err
	}
	h := mailHost(o.Dir)
	if m.hostKey, err = ensureKey(h.hostKey(), "root@"+mailHostName, false); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "passwords"), 0o700); err != nil {
		return nil, err
	}
	logins := []string{dovecot.MasterUser, providerMailbox + "@" + testenv.ClientDomain}
	for _, mb := range dovecot.Mailboxes() {
		logins = append(logins, mb.Login())
	}
	for _, l := range logins {
		if m.hashes[l], err = ensurePassword(ctx, mailPasswordFile(o.Dir, l)); err != nil {
			return nil, err
		}
	}
	if m.hashes[mailProbe], err = ensurePassword(ctx, mailProbeFile(o.Dir)); err != nil {
		return nil, err
	}
	if m.rootHash, err = ensurePassword(ctx, filepath.Join(o.Dir, "root.password")); err != nil {
		return nil, err
	}
	if m.adminHash, err = ensurePassword(ctx, mailAdminPasswordFile(o.Dir)); err != nil {
		return nil, err
	}
	if err := o.CA.Issue(mailCert(o.Dir), mailKey(o.Dir), "mail."+testenv.ClientDomain,
		[]string{testenv.MailHostAddr}, []string{"mail." + testenv.ClientDomain}); err != nil {
		return nil, fmt.Errorf("mail host certificate: %w", err)
	}
	line := fmt.Sprintf("%s %s", testenv.MailHostAddr, ssh.MarshalAuthorizedKey(m.hostKey.pub))
	if err := writeAtomic(mailKnownHosts(o.Dir), []byte(line), 0o644); err != nil {
		return nil, err
	}
	m.callback = ssh.FixedHostKey(m.hostKey.pub)
	return m, nil
}

// ensureMailLayer installs Postfix and Dovecot over the rootfs once, with
// apt-get from the machine's Debian mirror, and keeps the overlay's upper
// directory as the mail host's layer.
func ensureMailLayer(ctx context.Context, cacheDir, rootfs string, log interface{ Write([]byte) (int, error) }) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(rootfs, &st); err != nil {
		return "", err
	}
	dst := filepath.Join(cacheDir, "mailhost", fmt.Sprintf("%s-%d", mailLayerKey, st.Ino))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "mailhost: installing %s into the mail layer (once)\n", mailPackages)
	tmp := dst + ".tmp"
	if err := removeBuildDir(tmp); err != nil {
		return "", err
	}
	upper, work, root := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work"), filepath.Join(tmp, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	defer removeBuildDir(tmp)
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", rootfs, upper, work)
	if err := syscall.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay on %s: %w", root, err)
	}
	if err := installMail(ctx, root); err != nil {
		_ = unmountAll(root)
		return "", err
	}
	if err := unmountAll(root); err != nil {
		return "", err
	}
	if err := os.Rename(upper, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// installMailScript runs in the layer being built: no service may start
// (policy-rc.d), Postfix is installed unconfigured (its main.cf is
// planted), the mail user is made, and apt's downloads are dropped.
const installMailScript = `set -e
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends ` + mailPackages + ` >/dev/null
rm -f /usr/sbin/policy-rc.d
postconf -F '*/*/chroot = n'
groupadd -g 5000 vmail
useradd -u 5000 -g vmail -d /var/vmail -s /usr/sbin/nologin -M vmail
mkdir -p /var/vmail && chown vmail:vmail /var/vmail
apt-get clean
rm -rf /var/lib/apt/lists/*
apt-cache gencaches >/dev/null 2>&1 || :
`

func installMail(ctx context.Context, root string) error {
	// apt inside the layer resolves the mirror with the machine's
	// resolver.
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		_ = os.Remove(filepath.Join(root, "etc/resolv.conf"))
		if err := os.WriteFile(filepath.Join(root, "etc/resolv.conf"), b, 0o644); err != nil {
			return err
		}
	}
	return inHost(ctx, root, "/bin/sh", "-c", installMailScript)
}

// mailBootScript is PID 1 of the mail host: the fleet's mounts, then the
// Postfix maps built, the global Sieve scripts compiled (Dovecot's
// delivery cannot write their binaries), Dovecot and Postfix started,
// then sshd.
const mailBootScript = `set -e
umask 022
root=$1 addr=$2 name=$3 hosts=$4
others=$(awk -v h="$hosts" -v r="$root" 'index($5, h) == 1 && $5 != r {print $5}' /proc/self/mountinfo)
[ -z "$others" ] || umount -l $others 2>/dev/null || :
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mkdir -p "$root/run/sshd" "$root/run/lock" "$root/run/dovecot"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
hostname "$name"
chroot "$root" /bin/sh -c '
set -e
postmap /etc/postfix/virtual /etc/postfix/recipient_bcc
newaliases
sievec /etc/dovecot/sieve-before.d

/usr/sbin/dovecot
/usr/sbin/postfix start >/dev/null 2>&1
'
exec chroot "$root" /usr/sbin/sshd -D -e -o "ListenAddress=$addr"
`

func (m *mailMaterial) start(ctx context.Context, h host) (int, error) {
	for _, d := range []string{h.upper(), h.work(), h.root()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s", m.layer, m.rootfs, h.upper(), h.work())
	if err := syscall.Mount("overlay", h.root(), "overlay", 0, opts); err != nil {
		return 0, fmt.Errorf("mount overlay on %s: %w", h.root(), err)
	}
	if err := m.plant(h); err != nil {
		return 0, fmt.Errorf("plant: %w", err)
	}
	_ = os.Truncate(h.logFile(), 0)
	argv := []string{"unshare", "--pid", "--mount", "--uts", "--fork", "--propagation", "private",
		"/bin/sh", "-c", mailBootScript, "boot", h.root(), h.addr, mailHostName, filepath.Dir(h.dir) + "/"}
	upid, err := proc.Start(h.unsharePID(), h.logFile(), nil, argv...)
	if err != nil {
		return 0, err
	}
	pid, err := h.waitSSHD(ctx, upid)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(h.sshdPID(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return pid, proc.WaitReady(rctx, pid, h.logFile(), m.ready)
}

// ready is the mail host's readiness: an SSH login as root with the host
// key checked, and real IMAP logins over IMAPS and STARTTLS with the
// certificate checked against the testenv CA.
func (m *mailMaterial) ready(ctx context.Context) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(testenv.MailHostAddr, "22"))
	if err != nil {
		return err
	}
	cfg := &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(m.operator.signer)},
		HostKeyCallback: m.callback, HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Config: ssh.Config{KeyExchanges: []string{"curve25519-sha256"}}, Timeout: 5 * time.Second,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, conn.RemoteAddr().String(), cfg)
	if err != nil {
		conn.Close()
		return err
	}
	ssh.NewClient(c, chans, reqs).Close()
	pw, err := os.ReadFile(mailProbeFile(m.dir))
	if err != nil {
		return err
	}
	for _, startTLS := range []bool{false, true} {
		addr := net.JoinHostPort(testenv.MailHostAddr, "993")
		if startTLS {
			addr = net.JoinHostPort(testenv.MailHostAddr, "143")
		}
		c, err := dialIMAP(ctx, addr, m.caFile, startTLS)
		if err != nil {
			return err
		}
		err = c.Login(mailProbe, strings.TrimSpace(string(pw))).Wait()
		c.Close()
		if err != nil {
			return fmt.Errorf("imap login %s at %s: %w", mailProbe, addr, err)
		}
	}
	for _, port := range []string{"4190", "25"} {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(testenv.MailHostAddr, port))
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func dialIMAP(ctx context.Context, addr, caFile string, startTLS bool) (*imapclient.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: testenv.MailHostAddr, MinVersion: tls.VersionTLS12}
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
			return nil, err
		}
		return c, nil
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return imapclient.New(tc, opts), nil
}

func (m *mailMaterial) describe(pid int) *testenv.MailHostEnv {
	e := &testenv.MailHostEnv{
		Name:              mailHostName,
		Address:           testenv.MailHostAddr,
		SSHAddr:           net.JoinHostPort(testenv.MailHostAddr, "22"),
		KnownHosts:        mailKnownHosts(m.dir),
		HostKeySHA256:     ssh.FingerprintSHA256(m.hostKey.pub),
		OperatorKey:       m.operator.path,
		IMAPAddr:          net.JoinHostPort(testenv.MailHostAddr, "143"),
		IMAPSAddr:         net.JoinHostPort(testenv.MailHostAddr, "993"),
		ManageSieveAddr:   net.JoinHostPort(testenv.MailHostAddr, "4190"),
		SMTPAddr:          net.JoinHostPort(testenv.MailHostAddr, "25"),
		TLSName:           "mail." + testenv.ClientDomain,
		Domain:            testenv.ClientDomain,
		MasterUser:        testenv.Account{Name: dovecot.MasterUser, PasswordFile: mailPasswordFile(m.dir, dovecot.MasterUser)},
		MasterSeparator:   dovecot.MasterSeparator,
		ProbeUser:         mailProbe,
		SudoUser:          mailAdmin,
		SudoPasswordFile:  mailAdminPasswordFile(m.dir),
		ProbePasswordFile: mailProbeFile(m.dir),
		PID:               pid,
		GlobalSieve:       mailGlobalSieve,
		PostfixCopies: []string{
			"/etc/postfix/virtual:postmaster@" + testenv.ClientDomain,
			"/etc/postfix/recipient_bcc:claire.moreau@" + testenv.ClientDomain,
			"/etc/aliases:root",
		},
	}
	for _, mb := range dovecot.Mailboxes() {
		e.Accounts = append(e.Accounts, testenv.Account{Name: mb.Login(), PasswordFile: mailPasswordFile(m.dir, mb.Login())})
		if mb.Forwards {
			e.Forwarding = append(e.Forwarding, mb.Login())
		}
	}
	pm := providerMailbox + "@" + testenv.ClientDomain
	e.Accounts = append(e.Accounts, testenv.Account{Name: pm, PasswordFile: mailPasswordFile(m.dir, pm)})
	e.ProviderAccounts = []string{pm}
	e.Forwards = []string{"/home/" + mailForwardUser + "/.forward"}
	e.ForwardAddress = mailForwardUser + "@mail." + testenv.ClientDomain
	e.ProviderACLs = []string{"mairie@" + testenv.ClientDomain + ":INBOX:user=" + pm}
	return e
}

// stopMailHost stops the host and waits until no process runs in its root
// any more (Postfix's and Dovecot's children die a moment after the
// host's PID 1): an overlay still held by one of them, lazily unmounted,
// would be mounted again over the same upper directory, which overlayfs
// refuses file by file (EACCES).
func stopMailHost(h host) error {
	if err := h.stop(); err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if !processesIn(h.root()) {
			return unmountAll(h.root())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes still run in %s 15 s after the host stopped", h.root())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesIn reports whether a process has root as its root directory.
func processesIn(root string) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if r, err := os.Readlink("/proc/" + e.Name() + "/root"); err == nil && r == root {
			return true
		}
	}
	return false
}
