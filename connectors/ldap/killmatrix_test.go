package ldap_test

import (
	"testing"
	"time"

	"github.com/handoverhq/handover/connectors/ldap"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/testenv"
)

// TestKillMatrix is the kill matrix (connectortest.KillMatrix) on the
// testenv's OpenLDAP and Samba AD DC: the real binary killed at every
// instant of every kind of change the planted directories call for,
// including the bind account rotating its own password (the rotation
// made last), and inside each LDAP modify (a share of its request sent,
// or all of it, before the answer). `make test` runs the slice: on
// AD, the bind account killed once its own password modify left.
func TestKillMatrix(t *testing.T) {
	bin := connectortest.BuildCrashBinary(t)
	for _, tc := range []struct {
		name  string
		dir   func(testing.TB) directory
		slice []connectortest.Instant
	}{
		{"openldap", openLDAP, nil},
		{"ad", activeDirectory, []connectortest.Instant{{Action: connectortest.LastRotation, In: "ldap-modify:end"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.slice == nil && !connectortest.FullMatrix() {
				t.Logf("%s is in the full matrix only (make test-crash)", tc.name)
				return
			}
			d := tc.dir(t)
			e := testenv.Require(t)
			waited := time.Now()
			testenv.LockComponent(t, d.component, true)
			t.Logf("kill matrix: %.1fs waiting for the directory lock", time.Since(waited).Seconds())
			t.Cleanup(func() { reset(t, d) })
			connectortest.KillMatrix(t, connectortest.Harness{
				Registry: connector.NewRegistry(ldap.New()),
				Playbook: func(t *testing.T, dir string) string {
					return connectortest.WritePlaybook(t, dir, playbookFor(d, e.CACert))
				},
				Reset:     func(t *testing.T) { reset(t, d) },
				Snapshot:  snapshotter(t, d),
				CrashTest: "TestConformanceCrash",
			}, connectortest.Matrix{Binary: bin, Slice: tc.slice, InFlight: []string{"ldap-modify"}})
		})
	}
}
