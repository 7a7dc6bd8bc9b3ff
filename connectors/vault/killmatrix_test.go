package vault_test

import (
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestKillMatrix is the kill matrix (connectortest.KillMatrix) on the
// testenv's Vault: the real binary killed at every instant of every kind
// of change the planted Vault calls for, and inside each API write (a
// share of the request sent, or all of it, before the answer). `make
// test` runs the slice: a token revocation whose write left and was
// never answered.
func TestKillMatrix(t *testing.T) {
	waited := time.Now()
	lockVault(t)
	t.Logf("kill matrix: %.1fs waiting for the Vault (and its reset) lock", time.Since(waited).Seconds())
	connectortest.KillMatrix(t, connectortest.Harness{
		Registry: registry(),
		Playbook: func(t *testing.T, dir string) string {
			return connectortest.WritePlaybook(t, dir, playbookFor(testenv.Require(t), pbOpts{}))
		},
		Reset:     func(t *testing.T) { resetVault(t) },
		Snapshot:  snapshotter(t),
		Cut:       cut,
		CrashTest: "TestConformanceCrash",
	}, connectortest.Matrix{
		Slice:    []connectortest.Instant{{Action: plan.RevokeToken, In: "vault-write:end"}},
		InFlight: []string{"vault-write"},
	})
}
