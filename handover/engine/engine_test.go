package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

const testPassphrase = "correct horse battery staple for tests"

// testStore opens the playbook's file store with a cheap scrypt work
// factor: the protocol is under test here, not the key derivation.
func testStore(ctx context.Context, s *engine.Session) (secret.Store, error) {
	cfg := s.Playbook.Secrets.File
	return secret.OpenFileStore(s.Resolver.Path(cfg.Path), secret.FileUnlock{Passphrase: secret.New(testPassphrase), ScryptWorkFactor: 10})
}

func newEngine() *engine.Engine {
	return &engine.Engine{
		Registry:  connector.NewRegistry(fakeConnector{}),
		OpenStore: testStore,
		Version:   "test",
	}
}

// setup writes a playbook and a fake target into a fresh directory.
func setup(t *testing.T, extra string, admins, keys []string) (dir, pbPath string) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv("HANDOVER_TEST_PASSPHRASE", testPassphrase)
	if err := writeFakeState(filepath.Join(dir, "box.json"), admins, keys); err != nil {
		t.Fatal(err)
	}
	pbPath = filepath.Join(dir, "playbook.yaml")
	if err := os.WriteFile(pbPath, []byte(playbookText(dir, extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, pbPath
}

func runOnce(t *testing.T, e *engine.Engine, pbPath string) *engine.Result {
	t.Helper()
	ctx := context.Background()
	s, err := e.Load(ctx, pbPath)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer s.Close()
	res, err := s.Run(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func openStore(t *testing.T, dir string) secret.Store {
	t.Helper()
	st, err := secret.OpenFileStore(filepath.Join(dir, "secrets.age"), secret.FileUnlock{Passphrase: secret.New(testPassphrase), ScryptWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// assertSettled checks what every crash and every run must leave: each
// admin's password on the target is the store's current value, no version
// is pending, and every journal's chain verifies.
func assertSettled(t *testing.T, dir string, admins []string) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, dir)
	state, err := readFakeState(filepath.Join(dir, "box.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range admins {
		v, meta, err := st.Get(ctx, connector.SecretPath("box", "box", a), 0)
		if err != nil {
			t.Fatalf("store has no current credential for %s: %v", a, err)
		}
		if meta.State != secret.Current {
			t.Errorf("%s: stored version %d is %s, want current", a, meta.Version, meta.State)
		}
		if state.Passwords[a] != v.Reveal() {
			t.Errorf("%s: the target's password is not the stored current one", a)
		}
		if state.Passwords[a] == "handed-over-"+a {
			t.Errorf("%s: the handed-over password still works", a)
		}
	}
	versions, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		if v.State == secret.Pending {
			t.Errorf("version %s#%d is still pending", v.Path, v.Version)
		}
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "state", "runs", "*", "journal.jsonl"))
	if len(journals) == 0 {
		t.Fatal("no journal written")
	}
	for _, j := range journals {
		if _, _, err := journal.VerifyFile(j); err != nil {
			t.Errorf("journal %s: %v", j, err)
		}
	}
}

// assertNoSecretInFiles fails if any value the store ever held appears in
// a file under dir other than the encrypted store itself.
func assertNoSecretInFiles(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, dir)
	versions, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, v := range versions {
		val, _, err := st.Get(ctx, v.Path, v.Version)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, val.Reveal())
	}
	if len(values) == 0 {
		t.Fatal("the store holds no value to look for")
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasPrefix(filepath.Base(p), "secrets.age") || filepath.Base(p) == "box.json" || strings.HasSuffix(p, ".tmp") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s contains a secret value", p)
			}
		}
		return nil
	})
}

func TestRunRotatesProvesAndIsIdempotent(t *testing.T) {
	admins := []string{"admin", "root"}
	dir, pb := setup(t, "", admins, []string{"SHA256:provider"})
	e := newEngine()
	res := runOnce(t, e, pb)
	if got := res.Report.Run.Result; got != "success" {
		t.Fatalf("result %q, actions %+v", got, res.Actions)
	}
	if len(res.Actions) != 3 {
		t.Fatalf("%d actions, want 3", len(res.Actions))
	}
	for _, a := range res.Actions {
		if a.Result != "applied" || !a.Verified {
			t.Errorf("%s %s: result %s verified %v: %s", a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error)
		}
	}
	assertSettled(t, dir, admins)
	state, _ := readFakeState(filepath.Join(dir, "box.json"))
	if len(state.ProviderKeys) != 0 {
		t.Errorf("provider keys left: %v", state.ProviderKeys)
	}
	if len(res.Report.Outgoing) != 1 || res.Report.Outgoing[0].Fate != "removed" {
		t.Errorf("outgoing: %+v", res.Report.Outgoing)
	}
	if n := len(res.Report.Credentials); n != 2 || res.Report.Credentials[0].Store != "file" {
		t.Errorf("credentials: %+v", res.Report.Credentials)
	}

	again := runOnce(t, e, pb)
	if n := len(again.Plan.Changes); n != 0 {
		t.Errorf("second run planned %d changes, want none", n)
	}
	if got := again.Report.Run.Result; got != "no-changes" {
		t.Errorf("second run result %q", got)
	}
	assertNoSecretInFiles(t, dir)
}

func TestRejectedCredentialIsRetriedFresh(t *testing.T) {
	tests := []struct {
		name       string
		reject     int
		wantResult plan.Result
		wantStored []secret.State
	}{
		{"accepted on the third try", 2, plan.Applied, []secret.State{secret.Failed, secret.Failed, secret.Current}},
		{"policy retries exhausted", 9, plan.Failed, []secret.State{secret.Failed, secret.Failed, secret.Failed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, pb := setup(t, "    reject: "+itoa(tt.reject), []string{"root"}, nil)
			res := runOnce(t, newEngine(), pb)
			if len(res.Actions) != 1 {
				t.Fatalf("%d actions", len(res.Actions))
			}
			a := res.Actions[0]
			if a.Result != tt.wantResult || a.Attempts != 3 {
				t.Fatalf("result %s after %d attempts (%s)", a.Result, a.Attempts, a.Error)
			}
			st := openStore(t, dir)
			versions, _ := st.List(context.Background())
			var states []secret.State
			for _, v := range versions {
				states = append(states, v.State)
			}
			if strings.Join(toStrings(states), ",") != strings.Join(toStrings(tt.wantStored), ",") {
				t.Errorf("stored states %v, want %v", states, tt.wantStored)
			}
			state, _ := readFakeState(filepath.Join(dir, "box.json"))
			if tt.wantResult == plan.Failed && state.Passwords["root"] != "handed-over-root" {
				t.Error("a failed rotation changed the password")
			}
			if tt.wantResult == plan.Failed && !strings.Contains(a.Error, "password is in history") {
				t.Errorf("error does not give the target's reason: %s", a.Error)
			}
		})
	}
}

// TestCrashAtEachStep kills a run with SIGKILL at each step of the rotation
// protocol, then runs again: the rerun must settle the interrupted
// rotation so that the target's credential is the stored current one.
func TestCrashAtEachStep(t *testing.T) {
	modes := []struct {
		name   string
		extra  string
		admins []string
	}{
		{"one by one", "", []string{"root"}},
		// A group of two set in one call: the crash at the first one's step
		// leaves both at the same point, and recovery settles both.
		{"batch", "    batch: true", []string{"admin", "root"}},
	}
	for _, m := range modes {
		for _, step := range []string{engine.StepPending, engine.StepIntent, engine.StepSet, engine.StepOutcome, engine.StepVerify} {
			t.Run(m.name+"/"+step, func(t *testing.T) {
				dir, pb := setup(t, m.extra, m.admins, []string{"SHA256:provider"})
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashingRunHelper$")
				cmd.Env = append(os.Environ(), "HANDOVER_CRASH_PLAYBOOK="+pb, "HANDOVER_CRASH_STEP="+step)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("helper run was not killed at %s: %v\n%s", step, err, out.String())
				}
				res := runOnce(t, newEngine(), pb)
				if len(res.Recovered) != len(m.admins) {
					t.Fatalf("recovered %d rotations, want %d: %+v", len(res.Recovered), len(m.admins), res.Recovered)
				}
				want := map[string]plan.Result{
					engine.StepPending: plan.NeverApplied,
					engine.StepIntent:  plan.RolledBack,
					engine.StepSet:     plan.Recovered,
					engine.StepOutcome: plan.Recovered,
					engine.StepVerify:  plan.Recovered,
				}[step]
				for _, r := range res.Recovered {
					if r.Result != want {
						t.Errorf("recovery of %s: %q, want %q (%s)", r.Change.Object, r.Result, want, r.Error)
					}
				}
				if res.Report.Run.Result != "success" {
					t.Errorf("rerun result %q: %+v", res.Report.Run.Result, res.Report.Deviations)
				}
				assertSettled(t, dir, m.admins)
				assertNoSecretInFiles(t, dir)
			})
		}
	}
}

// TestBatchConnectorGetsGroups runs a target that takes groups: its
// rotations are set in one call and tried in two (new values, then old
// ones), its removals applied in one, and the result is what one-by-one
// gives: every change applied and proven, a second run plans nothing.
func TestBatchConnectorGetsGroups(t *testing.T) {
	admins := []string{"admin", "backup", "root"}
	dir, pb := setup(t, "    batch: true", admins, []string{"SHA256:provider-1", "SHA256:provider-2"})
	ctx := context.Background()
	s, err := newEngine().Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Report.Run.Result; got != "success" {
		t.Fatalf("result %q: %+v", got, res.Actions)
	}
	for _, a := range res.Actions {
		if a.Result != "applied" || !a.Verified {
			t.Errorf("%s %s: %s, verified %v: %s", a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error)
		}
		if a.Change.Action == plan.RotatePassword && len(a.Verification) < 2 {
			t.Errorf("%s: verification %+v, want new works and old rejected", a.Change.Object, a.Verification)
		}
	}
	b := s.Targets[0].Impl.(*batchFake)
	if sets, tries, applies := b.sets.Load(), b.tries.Load(), b.applies.Load(); sets != 1 || tries != 2 || applies != 1 {
		t.Errorf("calls: %d set, %d try, %d apply; want 1, 2, 1", sets, tries, applies)
	}
	// The reading after the run is the one the removals' call made once
	// they were done: the box is not read again, and it shows them gone.
	if n := b.fromSeen.Load(); n != 1 {
		t.Errorf("the reading after the run took %d systems from the removals' own reading, want 1", n)
	}
	if len(res.After) != 1 || len(res.After[0].Systems) != 1 || len(res.After[0].Systems[0].Findings) != 0 {
		t.Errorf("after the run: %+v, want the box without the provider's keys", res.After)
	}
	assertSettled(t, dir, admins)
	// A freshness check tries the stored credentials as one group per
	// system (one call), as the run proved them.
	before := b.tries.Load()
	cr, err := s.Check(ctx, engine.CheckOptions{NoBaseline: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.tries.Load() - before; n != 1 {
		t.Errorf("check tried the %d stored credentials in %d calls, want 1", len(cr.Credentials), n)
	}
	if len(cr.Credentials) != len(admins) {
		t.Errorf("check found %d stored credentials, want %d", len(cr.Credentials), len(admins))
	}
	for _, d := range cr.Drift {
		t.Errorf("drift after the run: %+v", d)
	}
	if again := runOnce(t, newEngine(), pb); len(again.Plan.Changes) != 0 {
		t.Errorf("second run planned %d changes", len(again.Plan.Changes))
	}
	assertNoSecretInFiles(t, dir)
}

// TestBatchRejectionRetriesOnlyTheRejected: the target refuses the first
// two new passwords of a group of three; only those are set again, with
// fresh values, and all three end current.
func TestBatchRejectionRetriesOnlyTheRejected(t *testing.T) {
	admins := []string{"admin", "backup", "root"}
	dir, pb := setup(t, "    batch: true\n    reject: 2", admins, nil)
	res := runOnce(t, newEngine(), pb)
	attempts := map[string]int{}
	for _, a := range res.Actions {
		if a.Result != "applied" {
			t.Errorf("%s: %s (%s)", a.Change.Object, a.Result, a.Error)
		}
		attempts[a.Change.Object] = a.Attempts
	}
	if attempts["admin"] != 2 || attempts["backup"] != 2 || attempts["root"] != 1 {
		t.Errorf("attempts %v, want admin 2, backup 2, root 1", attempts)
	}
	assertSettled(t, dir, admins)
	versions, err := openStore(t, dir).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, v := range versions {
		if v.State == secret.Failed {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failed versions in the store, want the 2 rejected ones", failed)
	}
}

// TestCrashingRunHelper is the process TestCrashAtEachStep kills.
func TestCrashingRunHelper(t *testing.T) {
	pb, step := os.Getenv("HANDOVER_CRASH_PLAYBOOK"), os.Getenv("HANDOVER_CRASH_STEP")
	if pb == "" {
		return // only meaningful as TestCrashAtEachStep's subprocess
	}
	e := newEngine()
	e.Crash = func(s string, ch plan.Change) {
		if s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	runOnce(t, e, pb)
	t.Fatal("the run was not killed")
}

func TestConcurrentRunIsRefused(t *testing.T) {
	_, pb := setup(t, "", []string{"root"}, nil)
	ctx := context.Background()
	e := newEngine()
	first, err := e.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	inConfirm, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := first.Run(ctx, engine.RunOptions{Confirm: func(*plan.Plan) (bool, error) {
			close(inConfirm)
			<-release
			return false, nil
		}})
		done <- err
	}()
	<-inConfirm
	second, err := e.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_, err = second.Run(ctx, engine.RunOptions{})
	var le *engine.ErrLocked
	if !errors.As(err, &le) {
		t.Fatalf("second run: %v, want ErrLocked", err)
	}
	if le.Holder.PID != os.Getpid() || !strings.Contains(err.Error(), "pid") {
		t.Errorf("lock error does not name the holder: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// brokenStore refuses to take new values, like a sealed Vault.
type brokenStore struct{ secret.Store }

func (brokenStore) Check(context.Context) error { return errors.New("Vault is sealed") }

func TestUnusableStoreStopsBeforeAnyChange(t *testing.T) {
	dir, pb := setup(t, "", []string{"root"}, []string{"SHA256:provider"})
	e := newEngine()
	e.OpenStore = func(ctx context.Context, s *engine.Session) (secret.Store, error) {
		st, err := testStore(ctx, s)
		return brokenStore{st}, err
	}
	s, err := e.Load(context.Background(), pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(context.Background(), engine.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "sealed") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("run error %v", err)
	}
	state, _ := readFakeState(filepath.Join(dir, "box.json"))
	if state.Passwords["root"] != "handed-over-root" || len(state.ProviderKeys) != 1 {
		t.Error("the target was changed")
	}
}

func TestWaivers(t *testing.T) {
	tests := []struct {
		name        string
		expires     string
		wantWaived  int
		wantChanges int
		wantProblem bool
	}{
		{"valid waiver keeps the key", "2099-01-01", 1, 1, false},
		{"expired waiver is planned again", "2020-01-01", 0, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pb := setup(t, `waivers:
  - target: box
    finding: "ssh-key:SHA256:prov*"
    justification: backup job until the new provider takes over
    approver: Le maire
    expires: `+tt.expires, []string{"root"}, []string{"SHA256:provider"})
			s, err := newEngine().Load(context.Background(), pb)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p := s.Plan(s.Inventory(context.Background(), 0))
			if len(p.Waived) != tt.wantWaived || len(p.Changes) != tt.wantChanges || (len(p.Problems) > 0) != tt.wantProblem {
				t.Errorf("waived %d changes %d problems %v", len(p.Waived), len(p.Changes), p.Problems)
			}
		})
	}
}

func TestStalePlanIsRefused(t *testing.T) {
	dir, pb := setup(t, "", []string{"root"}, []string{"SHA256:provider"})
	ctx := context.Background()
	s, err := newEngine().Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	saved := s.Plan(s.Inventory(ctx, 0))
	// The estate changes after the plan was made.
	if err := writeFakeState(filepath.Join(dir, "box.json"), []string{"root", "intruder"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(ctx, engine.RunOptions{Plan: saved})
	if err == nil || !strings.Contains(err.Error(), "estate changed") {
		t.Fatalf("stale plan: %v", err)
	}
	state, _ := readFakeState(filepath.Join(dir, "box.json"))
	if state.Passwords["root"] != "handed-over-root" {
		t.Error("a stale plan changed the target")
	}
}

func TestUnreachableSystemIsReported(t *testing.T) {
	dir, pb := setup(t, "", []string{"root"}, nil)
	state, _ := readFakeState(filepath.Join(dir, "box.json"))
	state.Down = true
	b, _ := jsonMarshal(state)
	os.WriteFile(filepath.Join(dir, "box.json"), b, 0o600)
	res := runOnce(t, newEngine(), pb)
	if len(res.Plan.Problems) != 1 || !strings.Contains(res.Plan.Problems[0].Error, "connection refused") {
		t.Errorf("problems: %+v", res.Plan.Problems)
	}
	if !res.Failed() || res.Report.Run.Result == "success" {
		t.Errorf("an unreachable system must fail the run: %s", res.Report.Run.Result)
	}
}

// TestInterruptFinishesTheChangeInFlight cancels the run (Ctrl-C) while the
// first group of rotations is being made: that group (the three
// passwords, set in one call) completes and is proven, no new change
// starts, nothing is left pending, and the report is written.
func TestInterruptFinishesTheChangeInFlight(t *testing.T) {
	admins := []string{"admin", "backup", "root"}
	dir, pb := setup(t, "", admins, []string{"SHA256:provider"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setHook = cancel
	defer func() { setHook = nil }()
	s, err := newEngine().Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(ctx, engine.RunOptions{Parallel: 1})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	results := map[plan.Result]int{}
	for _, a := range res.Actions {
		results[a.Result]++
	}
	if results[plan.Applied] != 3 || results[plan.Skipped] != 1 {
		t.Fatalf("results %v, want the group in flight (3 rotations) applied and the removal skipped", results)
	}
	for _, a := range res.Actions[:3] {
		if !a.Verified {
			t.Errorf("%s, in flight, was not proven: %+v", a.Change.Object, a.Verification)
		}
	}
	if len(res.Files) == 0 {
		t.Error("no report written after the interruption")
	}
	st := openStore(t, dir)
	vs, _ := st.List(context.Background())
	for _, v := range vs {
		if v.State == secret.Pending {
			t.Errorf("%s#%d left pending", v.Path, v.Version)
		}
	}
}

// TestRecoveryWithoutTheOldCredential: a run killed after journaling its
// intent, on an account whose password was never handed over. The pending
// value does not log in and there is nothing to compare it with: recovery
// says exactly that (discarded, no check of an untested old value), does
// not block the system, and the same run rotates the account afresh.
func TestRecoveryWithoutTheOldCredential(t *testing.T) {
	dir, pb := setup(t, "    unknown_old: true", []string{"root"}, []string{"SHA256:provider"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashingRunHelper$")
	cmd.Env = append(os.Environ(), "HANDOVER_CRASH_PLAYBOOK="+pb, "HANDOVER_CRASH_STEP="+engine.StepIntent)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper run was not killed: %v\n%s", err, out.String())
	}
	res := runOnce(t, newEngine(), pb)
	if len(res.Recovered) != 1 {
		t.Fatalf("recovered %d rotations, want 1: %+v", len(res.Recovered), res.Recovered)
	}
	r := res.Recovered[0]
	if r.Result != plan.Discarded {
		t.Errorf("recovery: %q, want %q (%s)", r.Result, plan.Discarded, r.Error)
	}
	for _, c := range r.Verification {
		if strings.Contains(c.What, "previous") {
			t.Errorf("recovery claims something of the previous credential, which it never tried: %+v", c)
		}
	}
	// The fresh rotation ran (the system was not blocked); its old value
	// stays untested, which the report says rather than hides.
	rotated := false
	for _, a := range res.Actions {
		if a.Change.Action == plan.RotatePassword && a.Change.Object == "root" {
			rotated = a.Result == plan.Applied
		}
		if a.Result == plan.Skipped || a.Result == plan.Unresolved {
			t.Errorf("%s %s: %s (%s)", a.Change.Action, a.Change.Object, a.Result, a.Error)
		}
	}
	if !rotated {
		t.Errorf("the account was not rotated again: %+v", res.Actions)
	}
	for _, d := range res.Report.Deviations.Residual {
		if !strings.HasPrefix(d, "box/box rotate-password root: not proven") {
			t.Errorf("unexpected residual: %s", d)
		}
	}
	assertSettled(t, dir, []string{"root"})
}
