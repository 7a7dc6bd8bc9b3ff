package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// pausedRun starts a test build of the CLI that stops in the middle of its
// first rotation (after the intent is journaled, before the target is
// touched) and waits there until resume is called. It returns the
// process and a function resuming it and returning its output and exit
// code.
func pausedRun(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, func() (string, int)) {
	t.Helper()
	return pausedRunAt(t, bin, "intent", env, args...)
}

// pausedRunAt is pausedRun pausing at another step of the rotation.
func pausedRunAt(t *testing.T, bin, step string, env []string, args ...string) (*exec.Cmd, func() (string, int)) {
	t.Helper()
	pause := filepath.Join(t.TempDir(), "paused")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), env...), "HANDOVER_PAUSE_AT="+step+":"+pause)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for {
		if _, err := os.Stat(pause); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the first run ended before its first change (%v):\n%s", err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the first run never reached its first change:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, func() (string, int) {
		os.Remove(pause)
		select {
		case <-exited:
		case <-time.After(90 * time.Second):
			// Hung: its goroutines' stacks (SIGQUIT) tell where.
			cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
			t.Errorf("the run did not end within 90 s of being resumed")
		}
		testenv.KeepOutput(t, args, out.String(), false)
		return out.String(), cmd.ProcessState.ExitCode()
	}
}

// TestConcurrentRunsOnRealHost runs two real `handover run`s at once
// against a real host of the test estate, the first held in the middle of
// its rotation of root:
//   - a second run of the same playbook is refused at once, naming the
//     holder (run, pid), and writes nothing;
//   - a run of another playbook (its own state directory and store) naming
//     the same host changes nothing on it: its changes are skipped with a
//     message naming the first run, its playbook and pid, it exits
//     non-zero and stores no credential;
//   - the first run then finishes, and the other playbook's next run does
//     its job: each stored credential logs in when it is the last set.
func TestConcurrentRunsOnRealHost(t *testing.T) {
	env := testenv.Require(t)
	if env.Fleet == nil || len(env.Fleet.Hosts) == 0 || env.Operator == nil {
		t.Fatal("the test estate has no fleet: run `make testenv-up`")
	}
	testenv.LockComponent(t, "fleet", true)
	start := time.Now()
	defer func() { t.Logf("%s once the fleet was ours", time.Since(start).Round(time.Second)) }()
	i := len(env.Fleet.Hosts) - 1
	h := env.Fleet.Hosts[i]
	t.Cleanup(func() { resetFleet(t) })
	resetFleet(t)
	old := testenv.ReadSecret(t, h.RootPasswordFile)
	bin := buildHandover(t, crashTestTag)

	dir1, dir2 := t.TempDir(), t.TempDir()
	pb1 := sshPlaybook(t, env, dir1, h, i)
	pb2 := sshPlaybook(t, env, dir2, h, i)
	first, finish := pausedRun(t, bin, nil, "run", "--yes", pb1)
	pid := strconv.Itoa(first.Process.Pid)

	// The same playbook: the state directory's lock.
	out, code, _ := handover(t, nil, "run", "--yes", pb1)
	if code == 0 || !strings.Contains(out, "another handover run holds") || !strings.Contains(out, "pid "+pid) {
		t.Errorf("second run of the same playbook: exit %d, want a refusal naming pid %s:\n%s", code, pid, out)
	}

	// Another playbook naming the same host: the system's lock.
	out, code, _ = handover(t, nil, "run", "--yes", pb2)
	if code == 0 || !strings.Contains(out, "another handover run is changing this system") ||
		!strings.Contains(out, "pid "+pid) || !strings.Contains(out, pb1) {
		t.Errorf("run of another playbook on the same host: exit %d, want its changes skipped naming the holder (pid %s, %s):\n%s", code, pid, pb1, out)
	}
	pass := secret.New(testenv.ReadSecret(t, env.Operator.PassphraseFile))
	st2, err := secret.OpenFileStore(filepath.Join(dir2, "secrets.age"), secret.FileUnlock{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	if vs, _ := st2.List(context.Background()); len(vs) != 0 {
		t.Errorf("the refused run stored %d credential versions", len(vs))
	}
	journals, _ := filepath.Glob(filepath.Join(dir2, "state", "runs", "*", "journal.jsonl"))
	for _, j := range journals {
		recs, _, err := journal.VerifyFile(j)
		if err != nil {
			t.Errorf("%s: %v", j, err)
		}
		for _, r := range recs {
			if r.Kind == journal.Intent || r.Kind == journal.Outcome {
				t.Errorf("the refused run journaled a change: %s %s", r.Kind, r.Object)
			}
		}
	}
	if !passwordWorks(t, env, h.Addr, "root", old) {
		t.Error("the handed-over root password no longer logs in while the first run is paused before its change")
	}

	out, code = finish()
	if code != 0 {
		t.Fatalf("the first run, resumed: exit %d\n%s", code, out)
	}
	st1, err := secret.OpenFileStore(filepath.Join(dir1, "secrets.age"), secret.FileUnlock{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	path := connector.SecretPath("hote", h.Name, "root")
	cur1, _, err := st1.Get(context.Background(), path, 0)
	if err != nil || !passwordWorks(t, env, h.Addr, "root", cur1.Reveal()) {
		t.Fatalf("the first run's stored root password does not log in: %v", err)
	}

	// Free again: the other playbook's next run does its job.
	out, code, _ = handover(t, nil, "run", "--yes", pb2)
	if code != 0 {
		t.Fatalf("the other playbook's next run: exit %d\n%s", code, out)
	}
	cur2, v, err := st2.Get(context.Background(), path, 0)
	if err != nil || v.State != secret.Current || !passwordWorks(t, env, h.Addr, "root", cur2.Reveal()) {
		t.Fatalf("the other playbook's stored root password does not log in: %v %+v", err, v)
	}
	if passwordWorks(t, env, h.Addr, "root", old) {
		t.Error("the handed-over root password still logs in")
	}
}
