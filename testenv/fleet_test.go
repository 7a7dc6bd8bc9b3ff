package testenv_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/fleet"
)

// The fleet is checked the way a connector sees it: over SSH only, with
// host keys checked against the known_hosts the testenv wrote.

// requireFleet returns the running fleet, holding testenv's fleet lock for
// the test: shared to read the planted state, exclusive to change hosts
// (released after the test's cleanup has reset them), so that other
// packages' tests changing hosts at the same time cannot make these fail.
func requireFleet(t *testing.T) *testenv.Env { return lockedFleet(t, false) }

func requireFleetExclusive(t *testing.T) *testenv.Env { return lockedFleet(t, true) }

func lockedFleet(t *testing.T, exclusive bool) *testenv.Env {
	t.Helper()
	env := testenv.Require(t)
	if env.Fleet == nil || len(env.Fleet.Hosts) == 0 {
		t.Fatalf("integration test needs the fleet: run `bin/testenv up -only fleet`")
	}
	testenv.LockComponent(t, "fleet", exclusive)
	return env
}

func keyAuth(t *testing.T, path string) ssh.AuthMethod {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ssh.PublicKeys(s)
}

// dial logs in to h as user. seen, if not nil, receives the host key the
// server presented.
func dial(t *testing.T, env *testenv.Env, h testenv.Host, user string, auth ssh.AuthMethod, seen *ssh.PublicKey) (*ssh.Client, error) {
	t.Helper()
	known, err := knownhosts.New(env.Fleet.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if seen != nil {
				*seen = key
			}
			return known(hostname, remote, key)
		},
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Config:            ssh.Config{KeyExchanges: []string{"curve25519-sha256"}},
		Timeout:           10 * time.Second,
	}
	return ssh.Dial("tcp", h.Addr, cfg)
}

func mustDial(t *testing.T, env *testenv.Env, h testenv.Host, user string, auth ssh.AuthMethod) *ssh.Client {
	t.Helper()
	c, err := dial(t, env, h, user, auth, nil)
	if err != nil {
		t.Fatalf("%s: login as %s: %v", h.Name, user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func operator(t *testing.T, env *testenv.Env, h testenv.Host) *ssh.Client {
	t.Helper()
	return mustDial(t, env, h, "root", keyAuth(t, env.Fleet.OperatorKey))
}

// sh runs cmd on the host and returns its standard output; a non-zero
// exit fails the test.
func sh(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if err := s.Run(cmd); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, errb.String())
	}
	return out.String()
}

func forHosts(t *testing.T, env *testenv.Env, fn func(t *testing.T, h testenv.Host)) {
	for _, h := range env.Fleet.Hosts {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, h)
		})
	}
}

func TestFleetHostIdentity(t *testing.T) {
	env := requireFleet(t)
	var mu sync.Mutex
	machineIDs := map[string]string{}
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		var key ssh.PublicKey
		c, err := dial(t, env, h, "root", keyAuth(t, env.Fleet.OperatorKey), &key)
		if err != nil {
			t.Fatalf("operator login: %v", err)
		}
		defer c.Close()
		if got := ssh.FingerprintSHA256(key); got != h.HostKeyFP {
			t.Errorf("host key %s, env says %s", got, h.HostKeyFP)
		}
		if got := strings.TrimSpace(sh(t, c, "hostname")); got != h.Name {
			t.Errorf("hostname %q, want %q", got, h.Name)
		}
		// sshd is the host's PID 1, listening on the host's own address.
		if got := sh(t, c, "tr '\\0' ' ' </proc/1/cmdline"); !strings.Contains(got, "ListenAddress="+strings.TrimSuffix(h.Addr, ":22")+" ") {
			t.Errorf("PID 1 is %q", got)
		}
		id := strings.TrimSpace(sh(t, c, "cat /etc/machine-id"))
		mu.Lock()
		defer mu.Unlock()
		if other, dup := machineIDs[id]; dup {
			t.Errorf("machine-id %s shared with %s", id, other)
		}
		machineIDs[id] = h.Name
	})
}

// A host key other than the one in known_hosts is refused: the fleet's
// known_hosts is what makes a connector's host key check meaningful.
func TestFleetWrongHostKeyRefused(t *testing.T) {
	env := requireFleet(t)
	if len(env.Fleet.Hosts) < 2 {
		t.Fatalf("need 2 hosts, have %d", len(env.Fleet.Hosts))
	}
	known, err := knownhosts.New(env.Fleet.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	h0, h1 := env.Fleet.Hosts[0], env.Fleet.Hosts[1]
	// Ask host 1 while claiming to be host 0.
	cfg := &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{keyAuth(t, env.Fleet.OperatorKey)},
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			return known(h0.Addr, remote, key)
		},
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           10 * time.Second,
	}
	if c, err := ssh.Dial("tcp", h1.Addr, cfg); err == nil {
		c.Close()
		t.Fatalf("%s accepted with %s's host key", h1.Name, h0.Name)
	}
}

func TestFleetAgents(t *testing.T) {
	env := requireFleet(t)
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		c := operator(t, env, h)
		if len(h.AgentDetails) == 0 {
			t.Fatal("no agent planted")
		}
		for _, a := range h.AgentDetails {
			t.Run(a.Name, func(t *testing.T) {
				if a.Package != "" {
					got := sh(t, c, "dpkg-query -W -f='${db:Status-Abbrev}' "+a.Package)
					if strings.TrimSpace(got) != a.State {
						t.Errorf("dpkg state %q, want %q", got, a.State)
					}
				}
				// What exists on disk, whether the unit is enabled, and
				// whether the daemon runs, each as 0/1.
				probe := fmt.Sprintf(`b=0; [ -x %[1]s ] && b=1
u=0; [ -f %[2]s ] && u=1
e=0; [ -L /etc/systemd/system/multi-user.target.wants/%[3]s ] && [ -e /etc/systemd/system/multi-user.target.wants/%[3]s ] && e=1
r=0; pgrep -x %[4]s >/dev/null && r=1
x=0; for p in $(pgrep -x %[4]s); do [ "$(readlink /proc/$p/exe)" = %[1]s ] && x=1; done
echo "$b$u$e$r$x"`, a.Binary, a.UnitFile, a.Unit, a.Daemon)
				want := "00000"
				if a.Running {
					want = "11111"
				}
				if got := strings.TrimSpace(sh(t, c, probe)); got != want {
					t.Errorf("binary/unit/enabled/running/exe = %s, want %s", got, want)
				}
				for _, f := range a.Conffiles {
					sh(t, c, "test -f "+f)
				}
			})
		}
		// Agents without a package are invisible to dpkg.
		for _, a := range h.AgentDetails {
			if a.Package == "" {
				out := sh(t, c, "dpkg -S "+a.Binary+" 2>&1 || true")
				if !strings.Contains(out, "no path found") {
					t.Errorf("%s: dpkg -S %s: %q", a.Name, a.Binary, out)
				}
			}
		}
	})
}

func TestFleetAuthorizedKeys(t *testing.T) {
	env := requireFleet(t)
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		c := operator(t, env, h)
		for _, k := range h.Keys {
			fps := sh(t, c, "ssh-keygen -lf "+k.File)
			if !strings.Contains(fps, k.Fingerprint) {
				t.Errorf("%s: %s (%s) missing:\n%s", k.File, k.Comment, k.Fingerprint, fps)
			}
			line := sh(t, c, "grep -F ' "+k.Comment+"' "+k.File)
			if !strings.HasPrefix(line, k.Options) {
				t.Errorf("%s: %s line %q, want options %q", k.File, k.Comment, line, k.Options)
			}
		}
		// sshd really reads the locations env lists.
		got := sh(t, c, "sshd -T -C user=root,host=x,addr=127.0.0.1 | sed -n 's/^authorizedkeysfile //p'")
		if strings.TrimSpace(got) != strings.Join(h.AuthorizedKeysFiles, " ") {
			t.Errorf("AuthorizedKeysFile %q, want %q", got, h.AuthorizedKeysFiles)
		}
		cfg := sh(t, c, "sshd -T -C user=root,host=x,addr=127.0.0.1")
		for _, want := range []string{"permitrootlogin yes", "passwordauthentication yes"} {
			if !strings.Contains(cfg, want+"\n") {
				t.Errorf("sshd config lacks %q", want)
			}
		}
	})
}

func TestFleetAccountsSudoCron(t *testing.T) {
	env := requireFleet(t)
	callHost, callPort, err := net.SplitHostPort(testenv.CallHomeAddr)
	if err != nil {
		t.Fatal(err)
	}
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		c := operator(t, env, h)
		if got := sh(t, c, "id -nG "+h.Admin); !slices.Contains(strings.Fields(got), "sudo") {
			t.Errorf("%s groups %q, want sudo", h.Admin, got)
		}
		for _, f := range h.Sudoers {
			if got := sh(t, c, "cat "+f); !strings.Contains(got, h.ProviderUser+" ALL=(ALL:ALL) NOPASSWD: ALL") {
				t.Errorf("%s: %q", f, got)
			}
		}
		sh(t, c, "visudo -c")
		if got := sh(t, c, "sudo -l -U "+h.ProviderUser); !strings.Contains(got, "NOPASSWD: ALL") {
			t.Errorf("sudo -l -U %s: %q", h.ProviderUser, got)
		}
		for _, j := range h.Cron {
			got := sh(t, c, "cat "+j.File)
			callsHome := strings.Contains(got, callHost) && strings.Contains(got, callPort)
			if callsHome != j.Provider {
				t.Errorf("%s calls %s: %v, want %v:\n%s", j.File, testenv.CallHomeAddr, callsHome, j.Provider, got)
			}
		}
		// The root crontab is installed where crontab(1) reads it.
		wantTab := slices.ContainsFunc(h.Cron, func(j testenv.CronJob) bool { return j.File == "/var/spool/cron/crontabs/root" })
		got := sh(t, c, "crontab -l -u root 2>/dev/null | grep -c "+callHost+" || true")
		if (strings.TrimSpace(got) == "1") != wantTab {
			t.Errorf("root crontab calling home: %q, want %v", got, wantTab)
		}
	})
}

func TestFleetPasswordLogin(t *testing.T) {
	env := requireFleet(t)
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		for _, acct := range []struct{ user, file string }{{"root", h.RootPasswordFile}, {h.Admin, h.AdminPassFile}} {
			pw := testenv.ReadSecret(t, acct.file)
			c := mustDial(t, env, h, acct.user, ssh.Password(pw))
			if got := strings.TrimSpace(sh(t, c, "id -un")); got != acct.user {
				t.Errorf("logged in as %q, want %q", got, acct.user)
			}
		}
	})
	// Once, not per host: a failed password costs PAM's 2 s delay.
	h := env.Fleet.Hosts[0]
	pw := testenv.ReadSecret(t, h.RootPasswordFile)
	if c, err := dial(t, env, h, "root", ssh.Password(pw+"x"), nil); err == nil {
		c.Close()
		t.Errorf("%s: a wrong root password logs in", h.Name)
	}
}

func TestFleetProviderKeysLogIn(t *testing.T) {
	env := requireFleet(t)
	if len(env.Fleet.ProviderKeys) != 3 || len(env.Fleet.ProviderFingerprints) != 3 {
		t.Fatalf("provider keys %v", env.Fleet.ProviderKeys)
	}
	support, backup, account := env.Fleet.ProviderKeys[0], env.Fleet.ProviderKeys[1], env.Fleet.ProviderKeys[2]
	backupFP := env.Fleet.ProviderFingerprints[1]
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		tests := []struct {
			user, key, cmd, want string
		}{
			{"root", support, "id -un", "root"},
			{h.Admin, support, "id -un", h.Admin},
			{h.ProviderUser, account, "sudo -n id -un", "root"},
			{"jdupont", env.Fleet.ClientKey, "id -un", "jdupont"},
			{"root", env.Fleet.ClientKey, "id -un", "root"},
		}
		// The backup key either sits in the alternative file, or carries a
		// forced command that answers instead of the command asked for.
		i := slices.IndexFunc(h.Keys, func(k testenv.AuthorizedKey) bool { return k.Fingerprint == backupFP })
		if i < 0 {
			t.Fatal("backup key not planted")
		}
		want := map[bool]string{false: "root", true: "prestanet-backup: " + h.Name + ": ok"}[strings.Contains(h.Keys[i].Options, "command=")]
		tests = append(tests, struct{ user, key, cmd, want string }{"root", backup, "id -un", want})
		for _, tt := range tests {
			c := mustDial(t, env, h, tt.user, keyAuth(t, tt.key))
			if got := strings.TrimSpace(sh(t, c, tt.cmd)); got != tt.want {
				t.Errorf("%s with %s: %q, want %q", tt.user, tt.key, got, tt.want)
			}
		}
	})
}

// Each host sees its own processes only: its sshd as PID 1 and its own
// agents, never another host's.
func TestFleetProcessIsolation(t *testing.T) {
	env := requireFleet(t)
	var daemons []string
	for _, h := range env.Fleet.Hosts {
		for _, a := range h.AgentDetails {
			if !slices.Contains(daemons, a.Daemon) {
				daemons = append(daemons, a.Daemon)
			}
		}
	}
	forHosts(t, env, func(t *testing.T, h testenv.Host) {
		c := operator(t, env, h)
		var want []string
		for _, a := range h.AgentDetails {
			if a.Running {
				want = append(want, a.Daemon)
			}
		}
		var got []string
		for _, comm := range strings.Fields(sh(t, c, "ps -e -o comm=")) {
			if slices.Contains(daemons, comm) {
				got = append(got, comm)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("agent daemons visible %v, want %v", got, want)
		}
		if n := len(strings.Fields(sh(t, c, "ps -e -o pid="))); n > 15 {
			t.Errorf("%d processes visible: more than one host's", n)
		}
	})
}

// ResetHost undoes what a mutating test did to one host: the removal of
// an agent and of the provider's cron job come back, identity unchanged.
// It works on the last host running a packaged agent, the one other
// packages' tests are least likely to be using at the same time.
func TestFleetResetHost(t *testing.T) {
	env := requireFleetExclusive(t)
	n := -1
	for i, h := range env.Fleet.Hosts {
		if len(h.AgentDetails) > 0 && h.AgentDetails[0].Package != "" && h.AgentDetails[0].Running {
			n = i
		}
	}
	if n < 0 {
		t.Fatal("no host runs a packaged agent")
	}
	h, a := env.Fleet.Hosts[n], env.Fleet.Hosts[n].AgentDetails[0]
	t.Cleanup(func() {
		// Whatever happened above, leave the host as planted.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := fleet.ResetHost(ctx, env, n+1); err != nil {
			t.Errorf("reset %s: %v", h.Name, err)
		}
	})
	c := operator(t, env, h)
	sh(t, c, "dpkg --purge "+a.Package+" >/dev/null && rm /etc/cron.d/prestanet-supervision")
	if got := sh(t, c, "pgrep -x "+a.Daemon+" || echo stopped"); strings.TrimSpace(got) != "stopped" {
		t.Fatalf("purging %s left %s running: %q", a.Package, a.Daemon, got)
	}
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := fleet.ResetHost(ctx, env, n+1); err != nil {
		t.Fatal(err)
	}
	var key ssh.PublicKey
	c2, err := dial(t, env, h, "root", keyAuth(t, env.Fleet.OperatorKey), &key)
	if err != nil {
		t.Fatalf("after reset: %v", err)
	}
	defer c2.Close()
	if ssh.FingerprintSHA256(key) != h.HostKeyFP {
		t.Errorf("host key changed by reset")
	}
	if got := strings.TrimSpace(sh(t, c2, "dpkg-query -W -f='${db:Status-Abbrev}' "+a.Package)); got != a.State {
		t.Errorf("after reset %s is %q, want %q", a.Package, got, a.State)
	}
	sh(t, c2, "pgrep -x "+a.Daemon+" && test -f /etc/cron.d/prestanet-supervision")
}

// An agent's unit restarts its daemon (Restart=always) until the unit is
// disabled: killing the process alone is a removal that would not hold on
// a real host, and must not hold here either.
func TestFleetAgentRestartsUntilDisabled(t *testing.T) {
	env := requireFleetExclusive(t)
	n := -1
	for i, h := range env.Fleet.Hosts {
		if slices.ContainsFunc(h.AgentDetails, func(a testenv.HostAgent) bool { return a.Package == "" && a.Running }) {
			n = i
		}
	}
	if n < 0 {
		t.Fatal("no host runs an agent installed without a package")
	}
	h := env.Fleet.Hosts[n]
	a := h.AgentDetails[slices.IndexFunc(h.AgentDetails, func(a testenv.HostAgent) bool { return a.Package == "" })]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := fleet.ResetHost(ctx, env, n+1); err != nil {
			t.Errorf("reset %s: %v", h.Name, err)
		}
	})
	c := operator(t, env, h)
	after := killAndWaitRestart(t, c, "kill", "pgrep -x "+a.Daemon)
	got := sh(t, c, "systemctl disable "+a.Unit+" 2>/dev/null && kill "+after+" && sleep 6.5; pgrep -x "+a.Daemon+" || echo stopped")
	if strings.TrimSpace(got) != "stopped" {
		t.Errorf("%s back after disable and kill: %q", a.Daemon, got)
	}
}

// TestFleetSystemdHost: the systemd host boots as a real server does,
// systemd as PID 1 bringing up sshd and the enabled agents' units, and a
// killed agent is restarted by systemd itself.
func TestFleetSystemdHost(t *testing.T) {
	env := requireFleetExclusive(t)
	if env.Fleet.SystemdHost == nil {
		t.Fatalf("no systemd host in env.json: %s", env.Fleet.SystemdHostError)
	}
	h := *env.Fleet.SystemdHost
	c := operator(t, env, h)
	if got := sh(t, c, "cat /proc/1/comm; systemctl is-system-running; hostname"); got != "systemd\nrunning\n"+h.Name+"\n" {
		t.Fatalf("boot: %q", got)
	}
	var running []testenv.HostAgent
	for _, a := range h.AgentDetails {
		if a.Running {
			running = append(running, a)
			if got := sh(t, c, "systemctl is-enabled "+a.Unit+"; systemctl is-active "+a.Unit); got != "enabled\nactive\n" {
				t.Errorf("%s: %q", a.Unit, got)
			}
		}
	}
	if len(running) == 0 {
		t.Fatal("no agent runs on the systemd host")
	}
	a := running[0]
	t.Cleanup(func() {
		// Put the agent back as it was if the restart below failed.
		if s, err := c.NewSession(); err == nil {
			_ = s.Run("systemctl start " + a.Unit)
			s.Close()
		}
	})
	killAndWaitRestart(t, c, "kill -9", "systemctl show -p MainPID --value "+a.Unit)
}

// killAndWaitRestart kills the process whose PID pidCmd prints, with
// kill (the command and its signal), and waits up to 12 s for pidCmd to
// print another: what restarted it. It returns the new PID.
func killAndWaitRestart(t *testing.T, c *ssh.Client, kill, pidCmd string) string {
	t.Helper()
	before := strings.TrimSpace(sh(t, c, pidCmd))
	sh(t, c, kill+" "+before)
	after := strings.TrimSpace(sh(t, c, fmt.Sprintf(
		"for i in $(seq 1 60); do p=$(%s) && [ -n \"$p\" ] && [ \"$p\" != 0 ] && [ \"$p\" != %s ] && echo $p && exit 0; sleep 0.2; done; exit 1", pidCmd, before)))
	if after == "" || after == before {
		t.Fatalf("not restarted after %s: %q -> %q (%s)", kill, before, after, pidCmd)
	}
	return after
}
