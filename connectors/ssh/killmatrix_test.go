package ssh

import (
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestKillMatrix is the kill matrix (connectortest.KillMatrix) on the
// fleet: the real binary killed at every instant of every kind of change
// the planted hosts call for, on a Debian host, the RHEL-family host and
// the host booted by systemd. `make test` runs the slice (a rotation cut
// while its script is half sent, on the Debian host; an agent removal
// script cut once wholly sent, before its answer, on the systemd host);
// `make test-crash` runs the full matrix on all three.
func TestKillMatrix(t *testing.T) {
	e := testenv.Require(t)
	if e.Fleet == nil || e.Fleet.RPMHost == nil || e.Fleet.SystemdHost == nil {
		t.Fatal("testenv has no RHEL-family or systemd host: run bin/testenv up -only fleet")
	}
	testenv.LockComponent(t, "fleet", true)
	t.Cleanup(func() { resetFleet(t) })
	bin := connectortest.BuildCrashBinary(t)
	for _, tc := range []struct {
		name  string
		host  testenv.Host
		slice []connectortest.Instant
	}{
		{"debian", e.Fleet.Hosts[0], []connectortest.Instant{{Action: plan.RotatePassword, In: "set:50%"}}},
		{"rhel", *e.Fleet.RPMHost, nil},
		{"systemd", *e.Fleet.SystemdHost, []connectortest.Instant{{Action: plan.RemoveAgent, In: "apply:end"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slice == nil && !connectortest.FullMatrix() {
				t.Logf("the RHEL-family host is in the full matrix only (make test-crash)")
				return
			}
			hosts := []testenv.Host{tc.host}
			connectortest.KillMatrix(t, connectortest.Harness{
				Registry: connector.NewRegistry(New()),
				Playbook: func(t *testing.T, dir string) string {
					return connectortest.WritePlaybook(t, dir, fleetPlaybook(e, hosts, ""))
				},
				Reset:     resetFleet,
				Snapshot:  fleetSnapshot(e, hosts),
				CrashTest: "TestConformanceCrash",
			}, connectortest.Matrix{Binary: bin, Slice: tc.slice})
		})
	}
}
