package mail

import (
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/testenv"
)

// The conformance suite drives the connector through the engine against
// the testenv's mail host, reached over SSH, IMAP and SMTP only.
func TestConformance(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t) })
	connectortest.Run(t, connectortest.Harness{
		Registry: connector.NewRegistry(New()),
		Playbook: func(t *testing.T, dir string) string {
			return connectortest.WritePlaybook(t, dir, mailPlaybook(e, ""))
		},
		Reset:     resetMailHost,
		Snapshot:  snapshot(e),
		CrashTest: "TestConformanceCrash",
		After:     func(t *testing.T, res *engine.Result) { takenBack(t, e, res) },
	})
}

// TestConformanceCrash is the process the suite kills mid-rotation.
func TestConformanceCrash(t *testing.T) {
	connectortest.CrashHelper(t, connector.NewRegistry(New()))
}
