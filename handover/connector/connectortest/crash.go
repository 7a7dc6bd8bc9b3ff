package connectortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// The child process learns what to run and where to die from these.
const (
	envPlaybook = "HANDOVER_CONNECTORTEST_CRASH_PLAYBOOK"
	envStep     = "HANDOVER_CONNECTORTEST_CRASH_STEP"
)

// crashSteps are the rotation protocol's steps, and what the next run's
// recovery must make of a rotation killed right after each.
var crashSteps = []string{engine.StepPending, engine.StepIntent, engine.StepSet, engine.StepOutcome, engine.StepVerify}

var recoveredAs = map[string]plan.Result{
	engine.StepPending: plan.NeverApplied, // no intent: the target was not touched
	engine.StepIntent:  plan.RolledBack,   // the target still has the old value
	engine.StepSet:     plan.Recovered,    // the new value works: made current
	engine.StepOutcome: plan.Recovered,
	engine.StepVerify:  plan.Recovered,
}

// killAt makes e's run kill its process, as a power cut would, the first
// time a rotation reaches step. It is the suite's only use of the
// engine's crash hook.
func killAt(e *engine.Engine, step string) {
	e.Crash = func(s string, _ plan.Change) {
		if s == step {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

// CrashHelper is the body of the test Harness.CrashTest names. Run on its
// own it skips; run by the crash-recovery property, in a child process, it
// runs the playbook with systems one at a time and is killed mid-rotation.
func CrashHelper(t *testing.T, reg *connector.Registry) {
	pb, step := os.Getenv(envPlaybook), os.Getenv(envStep)
	if pb == "" {
		t.Skip("the process connectortest's crash-recovery property kills; nothing to do on its own")
	}
	e := newEngine(reg, debugLogger(os.Stderr))
	killAt(e, step)
	ctx := context.Background()
	sess, err := e.Load(ctx, pb)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer sess.Close()
	// One system at a time: when the process dies, one group of
	// rotations is at the step, and every other is finished or not begun.
	if _, err := sess.Run(ctx, engine.RunOptions{Parallel: 1}); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Fatalf("the run ended without a rotation reaching step %q", step)
}

// runKilled runs the crash helper on playbook, and returns its output once
// it was killed at step.
func (s *suite) runKilled(ctx context.Context, playbook, step string) (string, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+s.h.CrashTest+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envPlaybook+"="+playbook, envStep+"="+step)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return out.String(), nil
		}
	}
	return out.String(), fmt.Errorf("the run was not killed at step %s (%v); is %s the test calling CrashHelper?\n%s", step, err, s.h.CrashTest, tail(out.String(), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// crash: a run killed at step is settled by the next run, which succeeds,
// proves its changes, leaves nothing pending, and after which check finds
// no drift and no secret leaked.
func (s *suite) crash(t *testing.T, step string) []error {
	dir, pb := s.planted(t)
	ctx := s.ctx(t)
	child, err := s.runKilled(ctx, pb, step)
	if err != nil {
		return []error{err}
	}
	r, err := s.runIn(ctx, dir, pb, &logs{})
	if err != nil {
		return []error{fmt.Errorf("the run after the crash: %w", err)}
	}
	r.child = child
	var errs []error
	if len(r.res.Recovered) == 0 {
		errs = append(errs, fmt.Errorf("the run after a crash at %s recovered nothing", step))
	}
	for _, a := range r.res.Recovered {
		if want := recoveredAs[step]; a.Result != want {
			errs = append(errs, fmt.Errorf("recovery of %s: %s, want %s %s", name(a), a.Result, want, a.Error))
		}
		if a.Result == plan.Recovered {
			if why := unproven(a); why != "" {
				errs = append(errs, fmt.Errorf("recovery of %s: the recovered credential is not proven: %s", name(a), why))
			}
		}
		errs = append(errs, checkShapes(a)...)
	}
	for _, a := range r.res.Actions {
		errs = append(errs, actionProof(a, r.records)...)
	}
	if got := r.res.Report.Run.Result; got != report.RunSuccess {
		errs = append(errs, fmt.Errorf("the run after a crash at %s: result %q", step, got))
	}
	errs = append(errs, s.settled(ctx, r)...)
	return append(errs, noSecrets(ctx, r)...)
}

// unproven says why a recovered credential is not proven, if it is not:
// it must log in, and its old value, when it was handed over, must not.
func unproven(a report.Action) string {
	var why []string
	newOK := false
	for _, c := range a.Verification {
		switch {
		case c.Kind == connector.NewWorks && c.OK:
			newOK = true
		case c.Kind == connector.OldRejected && !c.OK:
			why = append(why, fmt.Sprintf("%s: %s", c.What, c.Detail))
		}
	}
	if !newOK {
		why = append(why, "no passing new-works check")
	}
	return strings.Join(why, "; ")
}

// settled: nothing is pending in the store, and check, from a fresh
// session, finds no drift: every stored current credential logs in and the
// plan is empty.
func (s *suite) settled(ctx context.Context, r *ran) []error {
	var errs []error
	st, err := openStore(r.storePath)
	if err != nil {
		return []error{fmt.Errorf("secret store: %w", err)}
	}
	vs, err := st.List(ctx)
	if err != nil {
		return []error{fmt.Errorf("secret store: %w", err)}
	}
	for _, v := range vs {
		if v.State == secret.Pending {
			errs = append(errs, fmt.Errorf("%s#%d is still pending", v.Path, v.Version))
		}
	}
	sess, err := newEngine(s.h.Registry, debugLogger(r.logs)).Load(ctx, r.playbook)
	if err != nil {
		return append(errs, fmt.Errorf("load: %w", err))
	}
	defer sess.Close()
	cr, err := sess.Check(ctx, engine.CheckOptions{NoBaseline: true})
	if err != nil {
		return append(errs, fmt.Errorf("check: %w", err))
	}
	for _, d := range cr.Drift {
		errs = append(errs, fmt.Errorf("check after recovery: %s on %s/%s %s: %s", d.Kind, d.Target, d.System, d.Object, d.Detail))
	}
	return errs
}
