// Package connectortest is the conformance suite every connector passes: a
// connector's definition of done. It drives the connector the way a real
// handover does, through the engine (a playbook file, engine.Session,
// the write-ahead secret store, the journal, the report), against a real
// server that the caller's Harness plants and reads, and checks six
// properties:
//
//  1. Inventory, plan and check are read-only. The harness's own reading of
//     the target (Harness.Snapshot: an ldapsearch dump, a digest of files
//     read over SSH) is the same before and after each of them, on the
//     planted state and again after a run, when the connector holds its
//     rotated credentials and check logs in with them.
//  2. Plan does no I/O. Target.Plan is called again on the same inventory
//     with the target cut off (Harness.Cut) and after every target's
//     Close, and must plan exactly the same changes. This proves Plan
//     needs no connection; it cannot prove that a Plan which tries one
//     and ignores the failure makes none, nor, without Cut, that a Plan
//     which dials again after Close does not.
//  3. Every change is proven, and proven by the right kind of check. After
//     a run, every change the planted state calls for is applied; every
//     rotated password and installed key has a passing new-works check;
//     every rotated password has an old-rejected check, which passes or
//     says why the old value could not be tried (never because it still
//     works); every other change has an absent, present or state check
//     and is verified exactly when all its checks but notes pass; every
//     check has a known kind and says what it looked at.
//  4. A second plan after a run is empty, and a second run changes
//     nothing.
//  5. A run killed at each step of the rotation protocol (SIGKILL of a
//     child process, as a power cut) is recovered by the next run: every
//     interrupted rotation settled as the step implies (never applied,
//     rolled back, recovered: this tests TryCredentials' honesty), nothing
//     left pending, the run successful, and `handover check` finds no
//     drift (every stored current credential logs in, the plan is empty).
//     The child runs one system at a time and dies at the first rotation
//     group reaching the step; removals have no crash steps. A harness
//     may name fewer steps (Harness.CrashSteps) for a second system of
//     a kind already cut at every step.
//  6. No secret leaks. No value the store ever held (pending, failed or
//     current) and no handed-over credential appears in any file of the
//     state directory (journals, reports), in the plan and inventory
//     written as the CLI writes them, in the engine's and connector's
//     logs at debug level (Env.Log), or in the killed run's output. Values
//     are looked for as they are, escaped in JSON, and line by line for a
//     multi-line key; an encoded or partial leak is not found.
//
// The planted state must give every property something to prove: at
// least one rotation and one other change, and the handed-over credential
// of every rotated account, so that the old one can be proven dead.
//
// A connector's integration test:
//
//	func TestConformance(t *testing.T) {
//		srv := startServer(t) // a testenv component
//		connectortest.Run(t, connectortest.Harness{
//			Registry: connector.NewRegistry(ldap.Connector{}),
//			Playbook: func(t *testing.T, dir string) string {
//				return connectortest.WritePlaybook(t, dir, "outgoing: {names: [Presta]}\ntargets:\n  - name: annuaire\n    type: ldap\n    url: "+srv.URL+"\n")
//			},
//			Reset:     func(t *testing.T) { srv.Reset(t) },
//			Snapshot:  srv.Dump,
//			Cut:       srv.Block,
//			CrashTest: "TestConformanceCrash",
//		})
//	}
//
//	// TestConformanceCrash is the child process the crash property kills.
//	func TestConformanceCrash(t *testing.T) {
//		connectortest.CrashHelper(t, connector.NewRegistry(ldap.Connector{}))
//	}
//
// Beside the suite, KillMatrix kills the real handover binary at every
// instant of every kind of change on the same harness's target (see
// killmatrix.go); a connector's TestKillMatrix calls it.
//
// The suite's subtests share the one target and run one after the other;
// do not call t.Parallel around Run.
package connectortest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
)

// Harness is what the suite needs from a connector's test: the connector,
// and a real target it can plant, read and cut off.
type Harness struct {
	// Registry holds the connectors the playbook's targets use.
	Registry *connector.Registry
	// Playbook writes a playbook for the planted target into dir and
	// returns its path. Its state directory and file secret store must be
	// in dir: WritePlaybook does that. The suite opens the store itself,
	// with its own passphrase, whatever secrets.file.passphrase says.
	Playbook func(t *testing.T, dir string) string
	// Reset puts the target back to its planted state. The suite calls it
	// before each property.
	Reset func(t *testing.T)
	// Snapshot is the harness's own reading of the target's state, made
	// without the connector: everything a change would alter, and nothing
	// that a login alone alters (last-login times, logs).
	Snapshot func(ctx context.Context) (string, error)
	// Cut makes the target unreachable until restore is called. Optional:
	// without it, property 2 relies on Close alone.
	Cut func(t *testing.T) (restore func())
	// CrashTest names the test of the connector's package that calls
	// CrashHelper: the suite runs the test binary again with -test.run set
	// to it, and kills that process mid-rotation.
	CrashTest string
	// CrashSteps are the steps at which the crash-recovery property kills
	// a rotation; empty means every step of the protocol. A connector
	// whose suite runs on several systems of one kind (the ssh connector's
	// Debian, RHEL-family and systemd hosts) kills at every step on one
	// and at fewer on the others; the kill matrix covers the rest.
	CrashSteps []string
	// Timeout bounds each property (default 10 minutes).
	Timeout time.Duration
	// After, optional, checks what the connector's own tests know of the
	// target on the finished run, before anything resets it: the
	// provider's login refused by the server, a fact in the dossier.
	After func(t *testing.T, res *engine.Result)
}

// Run runs the conformance suite against the harness's target.
func Run(t *testing.T, h Harness) {
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	s := &suite{h: h}
	t.Run("ReadOnly", func(t *testing.T) { fail(t, s.readOnly(t)) })
	t.Run("PlanDoesNoIO", func(t *testing.T) { fail(t, s.planNoIO(t)) })
	t.Run("Run", func(t *testing.T) {
		r, err := s.run(t)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("ChangesProven", func(t *testing.T) { fail(t, proofs(r)) })
		t.Run("SecondPlanEmpty", func(t *testing.T) { fail(t, s.idempotent(t, r)) })
		t.Run("NoSecretInOutput", func(t *testing.T) { fail(t, noSecrets(s.ctx(t), r)) })
		if h.After != nil {
			t.Run("After", func(t *testing.T) { h.After(t, r.res) })
		}
	})
	t.Run("CrashRecovery", func(t *testing.T) {
		steps := crashSteps
		if len(h.CrashSteps) > 0 {
			steps = h.CrashSteps
		}
		for _, step := range steps {
			t.Run(step, func(t *testing.T) { fail(t, s.crash(t, step)) })
		}
	})
}

func (h Harness) validate() error {
	var errs []error
	if h.Registry == nil {
		errs = append(errs, errors.New("connectortest: Harness.Registry is nil"))
	}
	if h.Playbook == nil {
		errs = append(errs, errors.New("connectortest: Harness.Playbook is nil"))
	}
	if h.Reset == nil {
		errs = append(errs, errors.New("connectortest: Harness.Reset is nil: every property starts from the planted state"))
	}
	if h.Snapshot == nil {
		errs = append(errs, errors.New("connectortest: Harness.Snapshot is nil: read-only is proven by the harness's own reading of the target"))
	}
	if h.CrashTest == "" {
		errs = append(errs, errors.New("connectortest: Harness.CrashTest is empty: name the test that calls CrashHelper"))
	}
	for _, st := range h.CrashSteps {
		if !slices.Contains(crashSteps, st) {
			errs = append(errs, fmt.Errorf("connectortest: Harness.CrashSteps: %q is not a step of the rotation protocol (%s)", st, strings.Join(crashSteps, ", ")))
		}
	}
	return errors.Join(errs...)
}

// fail turns a property's failures into test errors.
func fail(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Error(err)
	}
}

// suite is one Run's state.
type suite struct {
	h Harness
}

func (s *suite) ctx(t *testing.T) context.Context {
	d := s.h.Timeout
	if d <= 0 {
		d = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// planted resets the target and writes a playbook for it into a fresh
// directory.
func (s *suite) planted(t *testing.T) (dir, playbook string) {
	t.Helper()
	s.h.Reset(t)
	dir = t.TempDir()
	return dir, s.h.Playbook(t, dir)
}

// WritePlaybook writes dir/playbook.yaml: the suite's header (handover
// parties, state directory and secret store in dir) followed by rest,
// which holds at least outgoing: and targets:, and may hold policy:.
func WritePlaybook(t *testing.T, dir, rest string) string {
	t.Helper()
	p := filepath.Join(dir, "playbook.yaml")
	if err := os.WriteFile(p, []byte(Header(dir)+rest), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Header is the start of a suite playbook for dir.
func Header(dir string) string {
	return fmt.Sprintf(`version: 1
handover:
  client: {name: Conformance Client}
  outgoing: {name: Conformance Provider}
  date: 2026-01-01
state: %[1]s/state
secrets:
  file:
    path: %[1]s/secrets.age
    passphrase: ${env:HANDOVER_CONNECTORTEST_PASSPHRASE}
`, dir)
}
