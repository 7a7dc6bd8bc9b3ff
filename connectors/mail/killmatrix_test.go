package mail

import (
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestKillMatrix is the kill matrix (connectortest.KillMatrix) on the
// testenv's mail host: the real binary killed at every instant of every
// kind of change the planted host calls for, inside the SSH scripts that
// make them included. `make test` runs the slice: a mailbox password's
// rotation script cut a third of the way through.
func TestKillMatrix(t *testing.T) {
	e := requireMailHost(t)
	waited := time.Now()
	testenv.LockComponent(t, "mailhost", true)
	t.Logf("kill matrix: %.1fs waiting for the mail host lock", time.Since(waited).Seconds())
	t.Cleanup(func() { resetMailHost(t) })
	connectortest.KillMatrix(t, connectortest.Harness{
		Registry: connector.NewRegistry(New()),
		Playbook: func(t *testing.T, dir string) string {
			return connectortest.WritePlaybook(t, dir, mailPlaybook(e, ""))
		},
		Reset:     resetMailHost,
		Snapshot:  snapshot(e),
		Cut:       cut(e),
		CrashTest: "TestConformanceCrash",
	}, connectortest.Matrix{Slice: []connectortest.Instant{{Action: plan.RotatePassword, In: "set:33%"}}})
}
