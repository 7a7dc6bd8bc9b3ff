package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// Light is the light fleet: many sshd-only hosts for scale measurements
// (docs/scale.md). Each light host is one process: the Debian rootfs as
// the lower layer of an overlay of its own, in a mount namespace of its
// own (unshare --mount), chrooted, and sshd as the only process, on its
// own address of 127.0.16.0/20 with its own ed25519 host key. Its /proc is
// a minimal fake (fakeProc): the machine's would show every light host's
// socket and process to each of them, making each host's inventory grow
// with the fleet. Nothing is planted, no agent runs: the hosts are what a
// dry inventory or a root password rotation needs, at about 1.3 MB each (PSS).
// When sshd ends, the kernel drops its namespace and mounts with it.
//
// It is not part of the default estate: `testenv up` starts it only when
// named (-only lightfleet), with -light-hosts N.
type Light struct{}

func (Light) Name() string { return "lightfleet" }

// lightConf is sshd's configuration on a light host (inside its root).
const lightConf = `Port 22
ListenAddress %s
HostKey /etc/ssh/light_host_ed25519_key
PidFile none
UsePAM no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
UseDNS no
MaxStartups 200
MaxSessions 50
LogLevel ERROR
Subsystem sftp internal-sftp
`

// lightBoot runs as the host's process: in its new mount namespace it
// mounts the overlay and /proc, then becomes sshd inside the root.
const lightBoot = `set -e
root=$1 lower=$2 upper=$3 work=$4 conf=$5
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
exec chroot "$root" /usr/sbin/sshd -D -e -f "$conf"
`

type lightHost struct {
	i    int
	name string
	addr string
	dir  string
}

func newLightHost(dir string, i int) lightHost {
	return lightHost{i: i, name: fmt.Sprintf("light-%04d", i), addr: testenv.LightHostAddr(i), dir: filepath.Join(dir, "hosts", fmt.Sprintf("l%04d", i))}
}

func (h lightHost) rootPassword() string { return filepath.Join(h.dir, "root.password") }
func (h lightHost) conf() string         { return fmt.Sprintf("/etc/ssh/light-%04d.conf", h.i) }
func (h lightHost) pidFile() string {
	return filepath.Join(h.dir, "sshd.pid")
}

// running reports whether the host's sshd, as this package started it,
// is alive.
func (h lightHost) running() (int, bool) {
	pid := proc.ReadPID(h.pidFile())
	if !proc.Alive(pid) {
		return pid, false
	}
	return pid, strings.Contains(proc.Cmdline(pid), "-f "+h.conf())
}

func (Light) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	n := o.LightHosts
	if n == 0 {
		n = 100
	}
	if n < 1 || n > testenv.LightHostsMax {
		return fmt.Errorf("-light-hosts must be 1..%d", testenv.LightHostsMax)
	}
	rootfs, err := ensureRootfs(ctx, o.CacheDir, o.Log)
	if err != nil {
		return err
	}
	op, err := ensureKey(filepath.Join(o.Dir, "keys", "operator_ed25519"), "operator@"+testenv.IncomingDomain, false)
	if err != nil {
		return err
	}
	// Hosts beyond n, from a bigger earlier fleet, are stopped.
	if old, _ := filepath.Glob(filepath.Join(o.Dir, "hosts", "l*")); len(old) > n {
		for i := n + 1; i <= len(old)+n; i++ {
			if err := newLightHost(o.Dir, i).stop(); err != nil {
				return err
			}
		}
	}
	hosts := make([]lightHost, n)
	keys := make([]string, n)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	start := time.Now()
	for i := range hosts {
		h := newLightHost(o.Dir, i+1)
		hosts[i] = h
		g.Go(func() error {
			k, err := h.up(gctx, rootfs, op)
			mu.Lock()
			keys[i] = k
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var kh strings.Builder
	le := &testenv.LightFleetEnv{OperatorKey: op.path, KnownHosts: filepath.Join(o.Dir, "known_hosts")}
	for i, h := range hosts {
		fmt.Fprintf(&kh, "%s %s\n", h.addr, keys[i])
		le.Hosts = append(le.Hosts, testenv.LightHost{Name: h.name, Addr: h.addr + ":22", RootPasswordFile: h.rootPassword()})
	}
	if err := writeAtomic(le.KnownHosts, []byte(kh.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "lightfleet: %d hosts up in %s\n", n, time.Since(start).Round(time.Millisecond))
	env.LightFleet = le
	return nil
}

// up starts the host unless it runs, and returns its host key as
// known_hosts has it.
func (h lightHost) up(ctx context.Context, rootfs string, op keyPair) (string, error) {
	upper, work, root := filepath.Join(h.dir, "upper"), filepath.Join(h.dir, "work"), filepath.Join(h.dir, "root")
	for _, d := range []string{upper, work, root, filepath.Join(upper, "etc", "ssh"), filepath.Join(upper, "run", "sshd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	k, err := ensureKey(filepath.Join(upper, "etc", "ssh", "light_host_ed25519_key"), "root@"+h.name, false)
	if err != nil {
		return "", err
	}
	line := strings.Join(strings.Fields(k.authorizedLine(""))[:2], " ")
	if _, ok := h.running(); ok {
		return line, nil
	}
	if err := os.MkdirAll(filepath.Join(upper, "root", ".ssh"), 0o700); err != nil {
		return "", err
	}
	if err := writeAtomic(filepath.Join(upper, "root", ".ssh", "authorized_keys"), []byte(op.authorizedLine("")+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := writeAtomic(filepath.Join(upper, strings.TrimPrefix(h.conf(), "/")), []byte(fmt.Sprintf(lightConf, h.addr)), 0o644); err != nil {
		return "", err
	}
	if err := h.fakeProc(filepath.Join(upper, "proc")); err != nil {
		return "", err
	}
	// root has a password, the one the outgoing provider hands over.
	hash, err := ensurePassword(ctx, h.rootPassword())
	if err != nil {
		return "", err
	}
	shadow, err := os.ReadFile(filepath.Join(rootfs, "etc", "shadow"))
	if err != nil {
		return "", err
	}
	lines := strings.Split(string(shadow), "\n")
	for i, l := range lines {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == "root" {
			f[1] = hash
			lines[i] = strings.Join(f, ":")
		}
	}
	if err := writeAtomic(filepath.Join(upper, "etc", "shadow"), []byte(strings.Join(lines, "\n")), 0o640); err != nil {
		return "", err
	}
	log := filepath.Join(h.dir, "sshd.log")
	_ = os.Truncate(log, 0)
	pid, err := proc.Start(h.pidFile(), log, nil, "unshare", "--mount", "--propagation", "private",
		"/bin/sh", "-c", lightBoot, "boot", root, rootfs, upper, work, h.conf())
	if err != nil {
		return "", err
	}
	// Ready when sshd has its listening socket.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if c, err := dialTCP(ctx, h.addr+":22"); err == nil {
			c.Close()
			return line, nil
		}
		if !proc.Alive(pid) {
			return "", fmt.Errorf("light host %s exited at start; %s:\n%s", h.name, log, proc.Tail(log, 20))
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("light host %s: sshd not listening: %w\n%s", h.name, ctx.Err(), proc.Tail(log, 20))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (h lightHost) stop() error {
	if pid, ok := h.running(); ok {
		if err := proc.Kill(pid, 5*time.Second); err != nil {
			return err
		}
	}
	os.Remove(h.pidFile())
	return nil
}

func (Light) Down(ctx context.Context, o component.Options) error {
	dirs, _ := filepath.Glob(filepath.Join(o.Dir, "hosts", "l*"))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range dirs {
		h := newLightHost(o.Dir, i+1)
		g.Go(h.stop)
	}
	return g.Wait()
}

// Reset forgets what runs changed on the hosts (their overlays' upper
// layers; the host keys are kept) and starts them again.
func (l Light) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	if err := l.Down(ctx, o); err != nil {
		return err
	}
	dirs, _ := filepath.Glob(filepath.Join(o.Dir, "hosts", "l*"))
	for _, d := range dirs {
		key := filepath.Join(d, "upper", "etc", "ssh", "light_host_ed25519_key")
		b, err := os.ReadFile(key)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, x := range []string{"upper", "work"} {
			if err := os.RemoveAll(filepath.Join(d, x)); err != nil {
				return err
			}
		}
		if b != nil {
			if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(key, b, 0o600); err != nil {
				return err
			}
		}
	}
	return l.Up(ctx, o, env)
}

func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// fakeProc writes the few /proc files the SSH connector's inventory reads:
// the kernel's name, the machine's CPU and memory, and a socket table with
// the host's own sshd only.
func (h lightHost) fakeProc(dir string) error {
	var ip [4]int
	if _, err := fmt.Sscanf(h.addr, "%d.%d.%d.%d", &ip[0], &ip[1], &ip[2], &ip[3]); err != nil {
		return err
	}
	osrelease, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	meminfo, _ := os.ReadFile("/proc/meminfo")
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	files := map[string]string{
		"sys/kernel/hostname":  h.name + "\n",
		"sys/kernel/osrelease": string(osrelease),
		"sys/kernel/ostype":    "Linux\n",
		"sys/kernel/arch":      "x86_64\n",
		"cpuinfo":              string(cpuinfo),
		"meminfo":              string(meminfo),
		"net/tcp": header + fmt.Sprintf("   0: %02X%02X%02X%02X:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 100 0 0 10 0\n",
			ip[3], ip[2], ip[1], ip[0], 100000+h.i),
		"net/tcp6":      header,
		"net/udp":       header,
		"net/udp6":      header,
		"net/sockstat":  "sockets: used 1\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0\nUDP: inuse 0 mem 0\n",
		"net/sockstat6": "TCP6: inuse 0\nUDP6: inuse 0\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			return err
		}
	}
	return nil
}
