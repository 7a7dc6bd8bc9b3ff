// Package fleet runs the testenv's fleet: up to 200 Debian 12 hosts on
// loopback, each an overlayfs over one cached debootstrap rootfs, running
// in its own PID, mount and UTS namespaces with its own hostname, host key,
// accounts, dpkg database and sshd on 127.0.1.i:22. Each host carries what
// an outgoing IT provider typically leaves behind (keys, accounts, sudoers,
// cron jobs calling home, remote-maintenance agents installed as real
// packages and running), next to the client's own legitimate access.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
)

// Component runs the fleet.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "fleet" }

// parallelism bounds concurrent host start-ups: each costs a few
// fork/execs and one SSH handshake, mostly CPU on a 2-core machine.
const parallelism = 16

// Up starts hosts 1..o.Hosts. Hosts already running and answering SSH are
// left as they are; others are started from their planted state. A larger
// fleet already running is kept whole (others may be testing against it):
// shrinking is `down -only fleet` then `up -hosts N`.
func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	n, err := runningSize(o.Dir)
	if err != nil {
		return err
	}
	m, hosts, err := prepare(ctx, o, max(n, o.Hosts))
	if err != nil {
		return err
	}
	if err := stopBeyond(ctx, o.Dir, len(hosts)); err != nil {
		return err
	}
	start := time.Now()
	err = m.forAll(ctx, hosts, func(ctx context.Context, h host) error {
		if _, ok := h.running(); ok {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := m.probe(pctx, h.addr)
			cancel()
			if err == nil {
				return nil
			}
		}
		return h.restart(ctx, m)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "fleet: %d hosts and the RHEL-family host ready in %s\n", len(hosts), time.Since(start).Round(time.Millisecond))
	m.logSystemd(o.Log)
	env.Fleet = fleetEnv(m, hosts)
	return nil
}

// forAll runs fn on hosts and the hosts beside them. The systemd host
// alone may fail without failing the fleet: it needs what some machines
// cannot give (a cgroup hierarchy), and every other test can still run;
// its error is kept for env.json, where the tests that need it read why
// it is missing.
func (m *material) forAll(ctx context.Context, hosts []host, fn func(context.Context, host) error) error {
	m.sdErr = nil
	return forEach(ctx, append(hosts, m.extra()...), func(ctx context.Context, h host) error {
		err := fn(ctx, h)
		if err != nil && h.systemd {
			m.sdErr = err
			return nil
		}
		return err
	})
}

func (m *material) logSystemd(log io.Writer) {
	if m.sdErr != nil {
		fmt.Fprintf(log, "fleet: WARNING: the systemd host did not start, the tests that need it will fail: %v\n", m.sdErr)
	}
}

// Down stops every host this component started, by recorded PID, unmounts
// their overlays and drops their upper directories. Keys, host keys and
// passwords stay under o.Dir, so the next Up hands out the same ones.
func (Component) Down(ctx context.Context, o component.Options) error {
	hosts, err := existingHosts(o.Dir)
	if err != nil {
		return err
	}
	return forEach(ctx, hosts, func(_ context.Context, h host) error {
		if err := h.stop(); err != nil {
			return err
		}
		return h.wipe()
	})
}

// Reset brings every host of the running fleet back to its planted state:
// stop, wipe its upper directory, plant, start. It keeps the fleet's size
// (the hosts running, or env's count), whatever -hosts says; with no fleet
// running it starts o.Hosts hosts.
func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	n, err := runningSize(o.Dir)
	if err != nil {
		return err
	}
	if env.Fleet != nil && len(env.Fleet.Hosts) > 0 {
		n = max(n, len(env.Fleet.Hosts))
	}
	if n == 0 {
		n = o.Hosts
	}
	m, hosts, err := prepare(ctx, o, n)
	if err != nil {
		return err
	}
	if err := m.forAll(ctx, hosts, func(ctx context.Context, h host) error { return h.restart(ctx, m) }); err != nil {
		return err
	}
	m.logSystemd(o.Log)
	env.Fleet = fleetEnv(m, hosts)
	return nil
}

// ResetHost brings host i (1-based) alone back to its planted state, in
// about a quarter of a second, and updates its entry (the PID) in env; the
// caller saves env if it wants env.json to follow. The fleet must be up.
// Tests under testenv/ can call it; others run `testenv reset -only fleet`.
func ResetHost(ctx context.Context, env *testenv.Env, i int) error {
	if env.Fleet == nil || i < 1 || i > len(env.Fleet.Hosts) {
		return fmt.Errorf("fleet: no host %d in the running fleet", i)
	}
	dir := filepath.Join(env.Dir, "fleet")
	l, err := readLayout(dir)
	if err != nil {
		return err
	}
	o := component.Options{StateDir: env.Dir, Dir: dir, CacheDir: l.CacheDir, Hosts: len(env.Fleet.Hosts), Log: discard{}}
	m, hosts, err := prepare(ctx, o, len(env.Fleet.Hosts))
	if err != nil {
		return err
	}
	h := hosts[i-1]
	if err := h.restart(ctx, m); err != nil {
		return err
	}
	env.Fleet.Hosts[i-1] = describe(h, m)
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// restart stops the host if it runs, forgets its changes and starts it
// from the planted state. A host that fails to start is stopped again.
func (h host) restart(ctx context.Context, m *material) error {
	if err := h.stop(); err != nil {
		return fmt.Errorf("host %s: stop: %w", h.name, err)
	}
	if err := h.wipe(); err != nil {
		return err
	}
	if err := h.start(ctx, m); err != nil {
		return errors.Join(fmt.Errorf("host %s (%s): %w", h.name, h.addr, err), h.stop())
	}
	return nil
}

// layout is what ResetHost needs to find the cache again.
type layout struct {
	CacheDir string `json:"cache_dir"`
}

func layoutFile(dir string) string { return filepath.Join(dir, "layout.json") }

func readLayout(dir string) (layout, error) {
	var l layout
	b, err := os.ReadFile(layoutFile(dir))
	if err != nil {
		return l, fmt.Errorf("fleet is not up: %w", err)
	}
	return l, json.Unmarshal(b, &l)
}

// prepare makes sure of everything the hosts share (rootfs, packages,
// layers, keys) and of each host's own secrets, and writes known_hosts.
func prepare(ctx context.Context, o component.Options, n int) (*material, []host, error) {
	if n < 1 || n > 200 {
		return nil, nil, fmt.Errorf("fleet size %d: must be 1..200 (addresses 127.0.1.1-200)", n)
	}
	if err := keepInheritedFDs(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, nil, err
	}
	rootfs, err := ensureRootfs(ctx, o.CacheDir, o.Log)
	if err != nil {
		return nil, nil, err
	}
	art, err := ensureArtefacts(ctx, o.CacheDir, rootfs, o.Log)
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(layout{CacheDir: o.CacheDir})
	if err != nil {
		return nil, nil, err
	}
	if err := writeAtomic(layoutFile(o.Dir), b, 0o644); err != nil {
		return nil, nil, err
	}
	m := &material{rootfs: rootfs, art: art, knownHosts: filepath.Join(o.Dir, "known_hosts"), secrets: map[int]secrets{}}
	keys := filepath.Join(o.Dir, "keys")
	for _, k := range []struct {
		dst     *keyPair
		file    string
		comment string
		rsa     bool
	}{
		{&m.operator, "operator_ed25519", "operateur@" + testenv.ClientDomain, false},
		{&m.client, "client_jdupont_ed25519", "jdupont@" + testenv.ClientDomain, false},
		{&m.support, "provider_support_ed25519", "support@" + testenv.ProviderDomain, false},
		{&m.backup, "provider_backup_rsa", "backup-prestanet", true},
		{&m.prestanet, "provider_prestanet_ed25519", "prestanet@bastion." + testenv.ProviderDomain, false},
		{&m.providerCA, "provider_ca_ed25519", "ca@" + testenv.ProviderDomain, false},
	} {
		if *k.dst, err = ensureKey(filepath.Join(keys, k.file), k.comment, k.rsa); err != nil {
			return nil, nil, err
		}
	}
	hosts := make([]host, n)
	for i := range hosts {
		hosts[i] = newHost(o.Dir, i+1)
	}
	m.rpmHost = newHost(o.Dir, rpmIndex)
	m.sdHost = newHost(o.Dir, systemdIndex)
	for _, h := range append(hosts, m.extra()...) {
		s, err := h.ensureSecrets(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", h.name, err)
		}
		m.secrets[h.index] = s
	}
	if err := writeKnownHosts(m.knownHosts, append(hosts, m.extra()...), m.secrets); err != nil {
		return nil, nil, err
	}
	if err := m.loadKnownHosts(); err != nil {
		return nil, nil, err
	}
	return m, hosts, nil
}

// extra are the hosts beside 1..n: the RHEL-family host and the systemd
// host.
func (m *material) extra() []host { return []host{m.rpmHost, m.sdHost} }

// existingHosts lists the hosts that have state under dir, running or not.
func existingHosts(dir string) ([]host, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "hosts"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hosts []host
	for _, e := range entries {
		i, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "h"))
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "h") || err != nil || i < 1 {
			continue
		}
		hosts = append(hosts, newHost(dir, i))
	}
	sort.Slice(hosts, func(a, b int) bool { return hosts[a].index < hosts[b].index })
	return hosts, nil
}

// runningSize is the highest host number whose sshd runs, 0 if none.
func runningSize(dir string) (int, error) {
	hosts, err := existingHosts(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range hosts {
		if _, ok := h.running(); ok && h.index <= 200 {
			n = max(n, h.index)
		}
	}
	return n, nil
}

// stopBeyond stops the hosts numbered above n whose state was left behind
// (a crashed larger fleet), so none runs unaccounted for in env.json.
func stopBeyond(ctx context.Context, dir string, n int) error {
	all, err := existingHosts(dir)
	if err != nil {
		return err
	}
	var extra []host
	for _, h := range all {
		if h.index > n && h.index <= 200 {
			extra = append(extra, h)
		}
	}
	return forEach(ctx, extra, func(_ context.Context, h host) error {
		if err := h.stop(); err != nil {
			return err
		}
		return h.wipe()
	})
}

// forEach runs fn on every host, a bounded number at a time, and reports
// every failure, not just the first.
func forEach(ctx context.Context, hosts []host, fn func(context.Context, host) error) error {
	var g errgroup.Group
	g.SetLimit(parallelism)
	errs := make([]error, len(hosts))
	for i, h := range hosts {
		g.Go(func() error {
			errs[i] = fn(ctx, h)
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

func fleetEnv(m *material, hosts []host) *testenv.FleetEnv {
	f := &testenv.FleetEnv{
		KnownHosts:         m.knownHosts,
		OperatorKey:        m.operator.path,
		ProviderUser:       providerUser,
		ClientKey:          m.client.path,
		ClientFingerprints: []string{m.operator.fingerprint(), m.client.fingerprint()},
	}
	for _, k := range []keyPair{m.support, m.backup, m.prestanet} {
		f.ProviderKeys = append(f.ProviderKeys, k.path)
		f.ProviderFingerprints = append(f.ProviderFingerprints, k.fingerprint())
		f.ProviderKeyComments = append(f.ProviderKeyComments, k.comment)
	}
	for _, h := range hosts {
		f.Hosts = append(f.Hosts, describe(h, m))
	}
	f.ProviderCAKey = m.providerCA.path
	rpm := describe(m.rpmHost, m)
	f.RPMHost = &rpm
	if m.sdErr != nil {
		f.SystemdHostError = m.sdErr.Error()
	} else {
		sd := describe(m.sdHost, m)
		f.SystemdHost = &sd
	}
	return f
}

// keepInheritedFDs marks every descriptor this process inherited (beyond
// stdio) close-on-exec. Hosts live long after `testenv` exits: a
// descriptor they inherited, such as the lock of `flock LOCK testenv up`,
// would stay held by every process of every host until the fleet stops.
// Go opens its own descriptors close-on-exec already.
func keepInheritedFDs() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}
