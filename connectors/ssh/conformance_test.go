package ssh

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/testenv"
)

// The conformance suite drives the connector through the engine against
// the testenv's fleet, as a real handover would: a Debian host, the
// RHEL-family host and the host booted by systemd, each on its own (the
// suite's runs and crashes cost the same on every host; the fleet-wide
// run is TestApplyRemovesProviderAccessAndRotates).

func TestConformanceDebian(t *testing.T) {
	e := testenv.Require(t)
	runConformance(t, e, e.Fleet.Hosts[:1], nil)
}

func TestConformanceRHEL(t *testing.T) {
	e := testenv.Require(t)
	if e.Fleet == nil || e.Fleet.RPMHost == nil {
		t.Fatal("testenv has no RHEL-family host: run bin/testenv up -only fleet")
	}
	runConformance(t, e, []testenv.Host{*e.Fleet.RPMHost}, otherHostCrashSteps)
}

func TestConformanceSystemd(t *testing.T) {
	e := testenv.Require(t)
	if e.Fleet == nil || e.Fleet.SystemdHost == nil {
		t.Fatalf("testenv has no systemd host (%s): run bin/testenv up -only fleet", e.Fleet.SystemdHostError)
	}
	runConformance(t, e, []testenv.Host{*e.Fleet.SystemdHost}, otherHostCrashSteps)
}

// TestConformanceCrash is the process the suite kills mid-rotation.
func TestConformanceCrash(t *testing.T) {
	connectortest.CrashHelper(t, connector.NewRegistry(New()))
}

// otherHostCrashSteps are where the suite cuts a rotation on the
// RHEL-family and systemd hosts: once the new password is set on the
// host and not yet recorded (the instant whose recovery depends on what
// the host itself answers). The Debian host is cut at every step, and
// `make test-crash` cuts every host at every instant.
var otherHostCrashSteps = []string{engine.StepSet}

func runConformance(t *testing.T, e *testenv.Env, hosts []testenv.Host, crashSteps []string) {
	testenv.LockComponent(t, "fleet", true)
	t.Cleanup(func() { resetFleet(t) })
	connectortest.Run(t, connectortest.Harness{
		Registry: connector.NewRegistry(New()),
		Playbook: func(t *testing.T, dir string) string {
			return connectortest.WritePlaybook(t, dir, fleetPlaybook(e, hosts, ""))
		},
		Reset:      resetFleet,
		Snapshot:   fleetSnapshot(e, hosts),
		CrashTest:  "TestConformanceCrash",
		CrashSteps: crashSteps,
	})
}

// fleetPlaybook is the playbook part naming the provider and a target
// "fleet" of hosts (fleetTargetSettings).
func fleetPlaybook(e *testenv.Env, hosts []testenv.Host, extra string) string {
	var b strings.Builder
	out := outgoingFleet(e)
	list := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	fmt.Fprintf(&b, "outgoing:\n  names: %s\n  domains: %s\n  ssh_keys: %s\n  key_comments: %s\n  accounts: %s\n",
		list(out.Names), list(out.Domains), list(out.SSHKeys), list(out.KeyComments), list(out.Accounts))
	b.WriteString("targets:\n  - name: fleet\n    type: ssh\n")
	for _, l := range strings.Split(strings.TrimRight(fleetTargetSettings(e, hosts, extra), "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// fleetTargetSettings are the settings of an ssh target of hosts, logged
// in to as root with the operator's key, with the handed-over passwords of
// root and each host's admin (so the old ones are proven dead); extra is
// more settings.
func fleetTargetSettings(e *testenv.Env, hosts []testenv.Host, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "auth: {key_file: %s}\nknown_hosts: %s\nhosts:\n", e.Fleet.OperatorKey, e.Fleet.KnownHosts)
	for _, h := range hosts {
		fmt.Fprintf(&b, "  - {name: %s, address: %s}\n", h.Name, strings.TrimSuffix(h.Addr, ":22"))
	}
	b.WriteString("passwords:\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "  - {account: root, password: '${file:%s}', hosts: [%s]}\n", h.RootPasswordFile, h.Name)
		fmt.Fprintf(&b, "  - {account: %s, password: '${file:%s}', hosts: [%s]}\n", h.Admin, h.AdminPassFile, h.Name)
	}
	b.WriteString(extra)
	return b.String()
}

// fleetSnapshot reads, as root over SSH with the operator's own key (not
// the connector), what a change to a host would alter: accounts and
// passwords, keys, sudoers, cron, packages, units, the agents' files.
// Nothing a login alone alters (lastlog, wtmp, journals) is read.
func fleetSnapshot(e *testenv.Env, hosts []testenv.Host) func(context.Context) (string, error) {
	const script = `export LC_ALL=C
for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/sudoers /etc/sudoers.d/* /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/* /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys /etc/ssh/sshd_config /etc/ssh/sshd_config.d/* /var/lib/dpkg/status; do
  [ -f "$f" ] && sha256sum "$f"
done
command -v rpm >/dev/null && rpm -qa | sort | sha256sum
ls -la --time-style=+ /etc/systemd/system /etc/systemd/system/*.wants /opt /etc/init.d 2>/dev/null
true`
	return func(ctx context.Context) (string, error) {
		var b strings.Builder
		for _, h := range hosts {
			out, err := rootSSH(e, strings.TrimSuffix(h.Addr, ":22"), script)
			if err != nil {
				return "", fmt.Errorf("%s: %v: %s", h.Name, err, out)
			}
			fmt.Fprintf(&b, "== %s\n%s", h.Name, out)
		}
		return b.String(), nil
	}
}
