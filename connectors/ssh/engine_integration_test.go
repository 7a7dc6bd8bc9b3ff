package ssh

import (
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// runEngine runs the whole job on hosts through the engine, as `handover
// run` does (fleetPlaybook's target, with extra settings), and ends the
// test unless every change was applied and proven, every new password
// proven by a su login. It returns the result, and a target configured as
// the run's was, with the run's secret store, for the test's own
// observations.
func runEngine(t *testing.T, e *testenv.Env, hosts []testenv.Host, extra string) (*engine.Result, *target, secret.Store) {
	t.Helper()
	pb := connectortest.WritePlaybook(t, t.TempDir(), fleetPlaybook(e, hosts, extra))
	res, store := connectortest.RunOnce(t, connector.NewRegistry(New()), pb)
	if len(res.Plan.Problems) > 0 {
		t.Errorf("plan problems: %+v", res.Plan.Problems)
	}
	if len(res.Actions) == 0 {
		t.Error("nothing was planned")
	}
	for _, a := range res.Actions {
		if a.Result != plan.Applied || !a.Verified {
			t.Errorf("%s %s %s: %s, verified %v: %s %+v", a.Change.System, a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error, a.Verification)
		}
		if a.Change.Action != plan.RotatePassword {
			continue
		}
		for _, c := range a.Verification {
			if c.Kind == connector.NewWorks && !strings.Contains(c.What, "su login") {
				t.Errorf("%s %s: the new password was proven by %q; want a su login", a.Change.System, a.Change.Object, c.What)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return res, configure(t, e, fleetTargetSettings(e, hosts, extra), store, nil), store
}
