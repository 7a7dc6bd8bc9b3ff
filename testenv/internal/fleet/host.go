package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// host is one machine of the fleet: its plan and where its state lives
// under the component directory.
type host struct {
	hostPlan
	dir  string
	addr string // 127.0.1.i; sshd listens on port 22
}

func newHost(dir string, i int) host {
	return host{hostPlan: planHost(i), dir: filepath.Join(dir, "hosts", fmt.Sprintf("h%03d", i)), addr: testenv.HostAddr(i)}
}

func (h host) root() string         { return filepath.Join(h.dir, "root") }
func (h host) upper() string        { return filepath.Join(h.dir, "upper") }
func (h host) work() string         { return filepath.Join(h.dir, "work") }
func (h host) logFile() string      { return filepath.Join(h.dir, "sshd.log") }
func (h host) unsharePID() string   { return filepath.Join(h.dir, "unshare.pid") }
func (h host) sshdPID() string      { return filepath.Join(h.dir, "sshd.pid") }
func (h host) hostKey() string      { return filepath.Join(h.dir, "ssh_host_ed25519_key") }
func (h host) rootPassword() string { return filepath.Join(h.dir, "root.password") }
func (h host) adminPassword() string {
	return filepath.Join(h.dir, h.admin+".password")
}

// isInit reports whether pid is this host's PID 1 as this package started
// it: how Down recognises the process it may stop. On most hosts that is
// the listening sshd, which rewrites its command line once started ("sshd:
// /usr/sbin/sshd -D -e -o ListenAddress=A [listener] ..."), so both forms
// count; on the systemd host, systemd with the host's root as its own.
func (h host) isInit(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false
	}
	if h.systemd {
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		return err == nil && strings.TrimSpace(string(comm)) == "systemd" && root == h.root()
	}
	if strings.TrimSpace(string(comm)) != "sshd" {
		return false
	}
	exact := "/usr/sbin/sshd -D -e -o ListenAddress=" + h.addr
	cmd := proc.Cmdline(pid)
	return cmd == exact || strings.HasPrefix(cmd, "sshd: "+exact+" ")
}

// secrets are a host's persistent identity: host key and passwords.
type secrets struct {
	hostKey   keyPair
	rootHash  string
	adminHash string
}

func (h host) ensureSecrets(ctx context.Context) (secrets, error) {
	var s secrets
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return s, err
	}
	var err error
	if s.hostKey, err = ensureKey(h.hostKey(), "root@"+h.name, false); err != nil {
		return s, err
	}
	if s.rootHash, err = ensurePassword(ctx, h.rootPassword()); err != nil {
		return s, err
	}
	if s.adminHash, err = ensurePassword(ctx, h.adminPassword()); err != nil {
		return s, err
	}
	return s, nil
}

// bootScript runs as PID 1 of the host's new PID, mount and UTS
// namespaces: it gives the host its own /proc, /run, /dev/pts and
// hostname, starts the enabled remote-maintenance units the way systemd
// would at boot, then becomes the host's sshd. Everything it mounts lives
// in the host's mount namespace and vanishes with it.
//
// Each agent runs under a small loop standing in for systemd's
// Restart=always: a daemon that dies comes back 5 s later (RestartSec)
// while its unit is still enabled. Killing an agent without disabling it
// therefore fails here as it would on a real host; stopping it and then
// disabling it (what the package's prerm does) ends it for good.
const bootScript = `set -e
root=$1 addr=$2 name=$3 units=$4 hosts=$5
# The new mount namespace starts as a copy of the machine's, other hosts'
# overlays included: drop those, so that stopping a host releases its
# overlay at once instead of when every later host stops. Best effort: a
# copy that cannot be dropped costs memory, not correctness.
others=$(awk -v h="$hosts/" -v r="$root" 'index($5, h) == 1 && $5 != r {print $5}' /proc/self/mountinfo)
[ -z "$others" ] || umount -l $others 2>/dev/null || :
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mkdir -p "$root/run/sshd" "$root/run/lock"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
hostname "$name"
chroot "$root" /bin/sh -c '
for unit in $1; do
	f=/etc/systemd/system/multi-user.target.wants/$unit
	[ -e "$f" ] || continue
	cmd=$(sed -n "s/^ExecStart=//p" "$f" | head -n 1)
	cd / && setsid /bin/sh -c "while [ -e \"\$0\" ]; do \$1 </dev/null >/dev/null 2>&1; sleep 5; done" "$f" "$cmd" </dev/null >/dev/null 2>&1 &
done' boot "$units"
exec chroot "$root" /usr/sbin/sshd -D -e -o "ListenAddress=$addr"
`

// agentUnits are the units the boot script may start: those of the
// remote-maintenance agents, and only if enabled on the host.
func agentUnits() string {
	var u []string
	for _, a := range []agent{teamviewer, anydesk, rustdesk, ninjarmm, tacticalrmm} {
		u = append(u, a.unit)
	}
	return strings.Join(u, " ")
}

// start mounts the host's overlay over the cached layers, plants its own
// files and starts it. The host must be stopped and its upper dir fresh.
func (h host) start(ctx context.Context, m *material) error {
	for _, d := range []string{h.upper(), h.work(), h.root()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	lower := m.rootfs
	if l := m.art.layers[h.variant.key()]; l != "" {
		lower = l + ":" + m.rootfs
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, h.upper(), h.work())
	if err := syscall.Mount("overlay", h.root(), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", h.root(), err)
	}
	if err := plant(h, m); err != nil {
		return fmt.Errorf("plant: %w", err)
	}
	_ = os.Truncate(h.logFile(), 0)
	argv := []string{"unshare", "--pid", "--mount", "--uts", "--fork", "--propagation", "private",
		"/bin/sh", "-c", bootScript, "boot", h.root(), h.addr, h.name, agentUnits(), filepath.Dir(h.dir)}
	if h.systemd {
		t, err := h.makeCgroup()
		if err != nil {
			return err
		}
		argv = h.systemdArgv(t)
	}
	upid, err := proc.Start(h.unsharePID(), h.logFile(), nil, argv...)
	if err != nil {
		return err
	}
	pid, err := h.waitSSHD(ctx, upid)
	if err != nil {
		return err
	}
	if err := os.WriteFile(h.sshdPID(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	probeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return proc.WaitReady(probeCtx, pid, h.logFile(), func(ctx context.Context) error {
		return m.probe(ctx, h.addr)
	})
}

// waitSSHD finds the host's PID 1 as seen from the machine (the only child
// of unshare) and waits until the boot script has become sshd.
func (h host) waitSSHD(ctx context.Context, upid int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	children := fmt.Sprintf("/proc/%d/task/%d/children", upid, upid)
	for {
		if b, err := os.ReadFile(children); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				pid, err := strconv.Atoi(f[0])
				if err == nil && h.isInit(pid) {
					return pid, nil
				}
			}
		}
		if !proc.Alive(upid) {
			return 0, fmt.Errorf("host %s exited during boot; last lines of %s:\n%s", h.name, h.logFile(), proc.Tail(h.logFile(), 20))
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("host %s: sshd not started: %w; last lines of %s:\n%s", h.name, ctx.Err(), h.logFile(), proc.Tail(h.logFile(), 20))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// running reports whether the host's sshd, the one this package started,
// is alive.
func (h host) running() (int, bool) {
	pid := proc.ReadPID(h.sshdPID())
	return pid, proc.Alive(pid) && h.isInit(pid)
}

// stop ends the host and unmounts its overlay. Killing sshd, PID 1 of the
// host's PID namespace, makes the kernel end every process of the host;
// unshare then exits on its own.
//
// systemd takes SIGTERM for a request to re-execute itself: a systemd
// host's PID 1 is killed outright (its file systems are thrown away), then
// its cgroup removed.
func (h host) stop() error {
	wait := 5 * time.Second
	if h.systemd {
		wait = 0
	}
	if pid, ok := h.running(); ok {
		if err := proc.Kill(pid, wait); err != nil {
			return err
		}
	}
	os.Remove(h.sshdPID())
	// A host that failed during boot has no sshd yet: end its boot script,
	// recognised by the host's root path on unshare's command line.
	if upid := proc.ReadPID(h.unsharePID()); proc.Alive(upid) && strings.Contains(proc.Cmdline(upid), " "+h.root()+" ") {
		children := fmt.Sprintf("/proc/%d/task/%d/children", upid, upid)
		if b, err := os.ReadFile(children); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = proc.Kill(pid, 5*time.Second)
				}
			}
		}
		if err := proc.Kill(upid, 5*time.Second); err != nil {
			return err
		}
	}
	os.Remove(h.unsharePID())
	if h.systemd {
		for _, t := range cgroupTrees() {
			if err := h.removeCgroup(t); err != nil {
				return err
			}
		}
	}
	return unmountAll(h.root())
}

// wipe forgets everything the host changed since it was planted.
func (h host) wipe() error {
	mps, err := mountsUnder(h.dir)
	if err != nil {
		return err
	}
	if len(mps) > 0 {
		return fmt.Errorf("host %s: %s still mounted", h.name, mps[0])
	}
	for _, d := range []string{h.upper(), h.work(), h.root()} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// material is what every host shares: cached layers, keys, known_hosts.
type material struct {
	rootfs     string
	art        *artefacts
	operator   keyPair
	client     keyPair // a client admin's own key: legitimate
	support    keyPair // provider, ed25519
	backup     keyPair // provider, RSA, with from=/command= options
	prestanet  keyPair // provider account's own key
	providerCA keyPair // provider's SSH user certificate authority
	knownHosts string
	callback   ssh.HostKeyCallback
	secrets    map[int]secrets
	rpmHost    host // the RHEL-family host, beside hosts 1..n
	sdHost     host // the systemd host, beside hosts 1..n
	sdErr      error
}

// probe is readiness: a real SSH handshake with the host key checked
// against the known_hosts file, and a login with the operator key.
func (m *material) probe(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr, "22"))
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cfg := &ssh.ClientConfig{
		User:              "root",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(m.operator.signer)},
		HostKeyCallback:   m.callback,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		// The cheapest key exchange OpenSSH offers: the client's CPU is the
		// cost of probing hundreds of hosts.
		Config:  ssh.Config{KeyExchanges: []string{"curve25519-sha256"}},
		Timeout: 5 * time.Second,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, net.JoinHostPort(addr, "22"), cfg)
	if err != nil {
		return err
	}
	return ssh.NewClient(c, chans, reqs).Close()
}

func (m *material) loadKnownHosts() error {
	cb, err := knownhosts.New(m.knownHosts)
	if err != nil {
		return err
	}
	m.callback = cb
	return nil
}

func writeKnownHosts(path string, hosts []host, s map[int]secrets) error {
	var b bytes.Buffer
	for _, h := range hosts {
		fmt.Fprintf(&b, "%s %s", h.addr, ssh.MarshalAuthorizedKey(s[h.index].hostKey.pub))
	}
	return writeAtomic(path, b.Bytes(), 0o644)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
