package ssh

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestKillMatrix is the kill matrix (connectortest.KillMatrix) on the
// fleet: the real binary killed at every instant of every kind of change
// the planted hosts call for, on a Debian host, the RHEL-family host and
// the host booted by systemd. `make test` runs the slice (a rotation cut
// while its script is half sent, on the Debian host);
// `make test-crash` runs the full matrix on all three, and on a Debian
// host handed over as its admin, who logs in and sudoes with a password
// rotated last.
func TestKillMatrix(t *testing.T) {
	e := testenv.Require(t)
	if e.Fleet == nil || e.Fleet.RPMHost == nil || e.Fleet.SystemdHost == nil {
		t.Fatal("testenv has no RHEL-family or systemd host: run bin/testenv up -only fleet")
	}
	waited := time.Now()
	testenv.LockComponent(t, "fleet", true)
	t.Logf("kill matrix: %.1fs waiting for the fleet lock", time.Since(waited).Seconds())
	t.Cleanup(func() { resetFleet(t) })
	bin := connectortest.BuildCrashBinary(t)
	for _, tc := range []struct {
		name  string
		host  testenv.Host
		sudo  bool // log in as the host's admin with its password, sudo with it
		slice []connectortest.Instant
	}{
		{"debian", e.Fleet.Hosts[0], false, []connectortest.Instant{{Action: plan.RotatePassword, In: "set:50%"}}},
		{"rhel", *e.Fleet.RPMHost, false, nil},
		{"systemd", *e.Fleet.SystemdHost, false, nil},
		// The admin's own password, which the connector logs in and sudoes
		// with, is rotated last (connectortest.LastRotation).
		{"debian-sudo", e.Fleet.Hosts[1], true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slice == nil && !connectortest.FullMatrix() {
				t.Logf("%s is in the full matrix only (make test-crash)", tc.name)
				return
			}
			hosts := []testenv.Host{tc.host}
			pb := fleetPlaybook(e, hosts, "")
			if tc.sudo {
				h := tc.host
				pb = strings.Replace(pb, fmt.Sprintf("auth: {key_file: %s}\n", e.Fleet.OperatorKey),
					fmt.Sprintf("user: %s\n    auth: {password: '${file:%s}'}\n    sudo: {password: '${file:%s}'}\n", h.Admin, h.AdminPassFile, h.AdminPassFile), 1)
			}
			connectortest.KillMatrix(t, connectortest.Harness{
				Registry: connector.NewRegistry(New()),
				Playbook: func(t *testing.T, dir string) string {
					return connectortest.WritePlaybook(t, dir, pb)
				},
				Reset:     resetFleet,
				Snapshot:  fleetSnapshot(e, hosts),
				CrashTest: "TestConformanceCrash",
			}, connectortest.Matrix{Binary: bin, Slice: tc.slice})
		})
	}
}
