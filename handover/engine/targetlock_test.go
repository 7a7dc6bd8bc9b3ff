package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
)

func TestMain(m *testing.M) {
	// The system locks of these tests' fake systems stay in this process.
	dir, err := os.MkdirTemp("", "handover-engine-locks")
	if err != nil {
		panic(err)
	}
	os.Setenv(engine.LockDirEnv, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSystemLockKeepsTwoPlaybooksApart: two playbooks with separate state
// directories and stores that name the same system. While the first run
// holds the system (it waits in the middle of its changes), the second
// changes nothing there: its changes are skipped with a message naming the
// first run, its pid and its playbook. Once the first ends, the next run
// of the second does the job.
func TestSystemLockKeepsTwoPlaybooksApart(t *testing.T) {
	dir, pb := setup(t, "", []string{"root", "admin"}, []string{"SHA256:provider"})
	// The second playbook: the same fake system (its state file), another
	// state directory and store.
	other := t.TempDir()
	text, err := os.ReadFile(pb)
	if err != nil {
		t.Fatal(err)
	}
	pb2 := filepath.Join(other, "other.yaml")
	t2 := strings.ReplaceAll(string(text), filepath.Join(dir, "state"), filepath.Join(other, "state"))
	t2 = strings.ReplaceAll(t2, filepath.Join(dir, "secrets.age"), filepath.Join(other, "secrets.age"))
	if t2 == string(text) || !strings.Contains(t2, filepath.Join(dir, "box.json")) {
		t.Fatalf("the second playbook is not what the test means:\n%s", t2)
	}
	if err := os.WriteFile(pb2, []byte(t2), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	e := newEngine()
	inChanges, release := make(chan struct{}), make(chan struct{})
	first := newEngine()
	first.Crash = func(step string, _ plan.Change) {
		if step == engine.StepIntent {
			select {
			case <-inChanges:
			default:
				close(inChanges)
				<-release
			}
		}
	}
	s1, err := first.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	done := make(chan *engine.Result)
	go func() {
		res, err := s1.Run(ctx, engine.RunOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-inChanges

	s2, err := e.Load(ctx, pb2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s2.Run(ctx, engine.RunOptions{})
	s2.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) == 0 {
		t.Fatal("the second run planned nothing")
	}
	for _, a := range res.Actions {
		if a.Result != plan.Skipped || !strings.Contains(a.Error, "another handover run is changing this system") ||
			!strings.Contains(a.Error, "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(a.Error, pb) {
			t.Errorf("second run's %s %s: %s %q, want skipped naming the holder", a.Change.Action, a.Change.Object, a.Result, a.Error)
		}
	}
	if res.Report == nil || res.Report.Run.Result == "success" {
		t.Errorf("second run's result is not partial/failed")
	}
	close(release)
	r1 := <-done
	if r1 == nil || r1.Report.Run.Result != "success" {
		t.Fatalf("first run: %+v", r1)
	}
	assertSettled(t, dir, []string{"root", "admin"})

	// Free again: the second playbook's next run changes the system.
	r2 := runOnce(t, e, pb2)
	applied := 0
	for _, a := range r2.Actions {
		if a.Result == plan.Applied || a.Result == plan.Verified {
			applied++
		}
	}
	if applied == 0 {
		t.Errorf("the second playbook's next run changed nothing: %+v", r2.Actions)
	}
}
