package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/faultfs"
)

// FaultsEnv, set to "all", runs every case of the fault tests (`make
// test-faults`); `make test` runs a representative slice: one fault of
// each kind.
const faultsEnv = "HANDOVER_FAULTS"

// inSlice says whether a fault case runs: every case with
// HANDOVER_FAULTS=all, else only the slice's.
func inSlice(slice bool) bool { return slice || os.Getenv(faultsEnv) == "all" }

// faultHost is the fleet host the fault tests rotate root on, held
// exclusively and reset at the end.
func faultHost(t *testing.T) (*testenv.Env, testenv.Host, int) {
	t.Helper()
	env := testenv.Require(t)
	if env.Fleet == nil || len(env.Fleet.Hosts) == 0 || env.Operator == nil {
		t.Fatal("the test estate has no fleet: run `make testenv-up`")
	}
	testenv.LockComponent(t, "fleet", true)
	start := time.Now()
	t.Cleanup(func() { t.Logf("%s once the fleet was ours", time.Since(start).Round(time.Second)) })
	t.Cleanup(func() { resetFleet(t) })
	resetFleet(t)
	i := len(env.Fleet.Hosts) - 1
	return env, env.Fleet.Hosts[i], i
}

// settled checks what must hold after any fault once the next run ended
// well: the store's current root password logs in, the handed-over one
// does not, nothing is pending, and every journal's chain verifies with no
// torn line.
func settled(t *testing.T, env *testenv.Env, h testenv.Host, dir, storePath, old string) {
	t.Helper()
	settledIn(t, env, h, dir, openStoreRO(t, env, storePath), old)
}

func settledIn(t *testing.T, env *testenv.Env, h testenv.Host, dir string, st secret.Store, old string) {
	t.Helper()
	cur, v, err := st.Get(context.Background(), connector.SecretPath("hote", h.Name, "root"), 0)
	if err != nil || v.State != secret.Current {
		t.Fatalf("no current root credential in the store: %v %+v", err, v)
	}
	if !passwordWorks(t, env, h.Addr, "root", cur.Reveal()) {
		t.Error("the stored root password does not log in")
	}
	if passwordWorks(t, env, h.Addr, "root", old) {
		t.Error("the handed-over root password still logs in")
	}
	vs, _ := st.List(context.Background())
	for _, v := range vs {
		if v.State == secret.Pending {
			t.Errorf("%s#%d still pending", v.Path, v.Version)
		}
	}
	journalsIntact(t, dir)
}

// journalsIntact: every journal of the state directory verifies, and ends
// with a whole line.
func journalsIntact(t *testing.T, dir string) {
	t.Helper()
	journals, _ := filepath.Glob(filepath.Join(dir, "state", "runs", "*", "journal.jsonl"))
	if len(journals) == 0 {
		t.Error("no journal")
	}
	for _, j := range journals {
		b, err := os.ReadFile(j)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends with a torn line", j)
		}
		if _, _, err := journal.VerifyFile(j); err != nil {
			t.Errorf("%s: %v", j, err)
		}
	}
}

// openStoreRO opens a file store of the tests (a copy, so that a store on
// a full or read-only file system can be read).
func openStoreRO(t *testing.T, env *testenv.Env, path string) secret.Store {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.age")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := secret.OpenFileStore(cp, secret.FileUnlock{Passphrase: secret.New(testenv.ReadSecret(t, env.Operator.PassphraseFile))})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedWorks: whatever a failed run left, some value the store holds
// for root (any state but failed), or the handed-over one, logs in: no
// credential is lost.
func storedWorks(t *testing.T, env *testenv.Env, h testenv.Host, storePath, old string) {
	t.Helper()
	if passwordWorks(t, env, h.Addr, "root", old) {
		return
	}
	storedWorksIn(t, env, h, openStoreRO(t, env, storePath), old)
}

func storedWorksIn(t *testing.T, env *testenv.Env, h testenv.Host, st secret.Store, old string) {
	t.Helper()
	noCredentialLost(t, st, "", "root", old, func(pw string) bool { return passwordWorks(t, env, h.Addr, "root", pw) })
}

// noCredentialLost: after a failed run, the handed-over password old or
// some value the store holds at path (any path when ""; any state but
// failed; the path's case aside, as a directory spells DNs its own way)
// works, as works observes it: no credential of who is lost.
func noCredentialLost(t *testing.T, st secret.Store, path, who, old string, works func(string) bool) {
	t.Helper()
	if works(old) {
		return
	}
	vs, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if (path != "" && !strings.EqualFold(v.Path, path)) || v.State == secret.Failed {
			continue
		}
		val, _, err := st.Get(context.Background(), v.Path, v.Version)
		if err == nil && works(val.Reveal()) {
			return
		}
	}
	t.Fatalf("neither the handed-over password of %s nor any value of the store works: a credential was lost", who)
}

// settledCredential, once the next run ended well: the store's current
// value at path (its case aside), with nothing left pending and every
// journal of dir intact.
func settledCredential(t *testing.T, env *testenv.Env, dir, storePath, path string) string {
	t.Helper()
	st := openStoreRO(t, env, storePath)
	vs, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if strings.EqualFold(v.Path, path) {
			path = v.Path
		}
		if v.State == secret.Pending {
			t.Errorf("%s#%d still pending", v.Path, v.Version)
		}
	}
	cur, v, err := st.Get(context.Background(), path, 0)
	if err != nil || v.State != secret.Current {
		t.Fatalf("no current value at %s in the store: %v %+v", path, err, v)
	}
	journalsIntact(t, dir)
	return cur.Reveal()
}

// mountTmpfs mounts a small tmpfs at dir (the tests run as root). What it
// holds is copied aside before it is unmounted, for the leak scan.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (the fault tests run as root): %v %s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("cp", "-a", dir, dir+".kept").Run()
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
}

// fill writes to dir until its file system is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestFileStoreFaultsMidRun: a real run's state directory and file store
// are on a file system mounted by the test; in the middle of the rotation
// of root on a real host (the intent journaled, the target not yet
// touched), that file system becomes full (a small tmpfs), read-only (the
// tmpfs remounted), or its fsync fails with EIO (a FUSE file system
// served by the test, testenv/faultfs). The run stops with an error
// saying so and a non-zero exit; no credential is lost (the handed-over
// password or a stored one logs in); the journal has no torn line and
// verifies; once the file system works again the next run finishes the
// job.
func TestFileStoreFaultsMidRun(t *testing.T) {
	env, h, i := faultHost(t)
	bin := buildHandover(t, crashTestTag)
	for _, tc := range []struct {
		name, want string
		// stateToo puts the state directory (journals, reports) on the
		// faulty file system as well as the store.
		stateToo bool
		// mount mounts the file system at mnt and returns what makes it
		// fail and what mends it.
		mount func(t *testing.T, mnt string) (fault, clear func())
		slice bool
	}{
		{"full", "no space left on device", true, func(t *testing.T, mnt string) (func(), func()) {
			mountTmpfs(t, mnt, "8m")
			return func() { fill(t, mnt) }, func() { os.Remove(filepath.Join(mnt, "filler")) }
		}, true},
		// Linux cannot make a file system read-only while a file on it is
		// open for writing (the journal): the store alone is there.
		{"read-only", "read-only file system", false, func(t *testing.T, mnt string) (func(), func()) {
			mountTmpfs(t, mnt, "8m")
			return func() { remount(t, mnt, "ro") }, func() { remount(t, mnt, "rw") }
		}, false},
		// make test proves a real failed fsync on the journal alone
		// (TestFailedWriteClosesTheJournal/fsync-fuse, in milliseconds);
		// the whole run with it takes as long as the full case.
		{"fsync", "input/output error", true, func(t *testing.T, mnt string) (func(), func()) {
			fs := faultfs.Mount(t, mnt)
			return func() { fs.FailFsync(true) }, func() { fs.FailFsync(false) }
		}, true},
	} {
		if !inSlice(tc.slice) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mnt := filepath.Join(dir, "fs")
			if err := os.Mkdir(mnt, 0o700); err != nil {
				t.Fatal(err)
			}
			// Before the mount: resetting the host restarts it in a
			// mount namespace of its own, a copy of this one.
			old := currentRootPassword(t, env, h, mnt)
			fault, clear := tc.mount(t, mnt)
			stateDir := dir
			if tc.stateToo {
				stateDir = mnt
			}
			pb := sshPlaybook(t, env, stateDir, h, i)
			storePath := filepath.Join(mnt, "secrets.age")
			if !tc.stateToo {
				b, _ := os.ReadFile(pb)
				text := strings.Replace(string(b), filepath.Join(dir, "secrets.age"), storePath, 1)
				if err := os.WriteFile(pb, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, finish := pausedRun(t, bin, nil, "run", "--yes", pb)
			fault()
			out, code := finish()
			if code == 0 || !strings.Contains(out, tc.want) {
				t.Errorf("run on the faulty file system (%s): exit %d, want non-zero and %q:\n%s", tc.name, code, tc.want, out)
			}
			t.Logf("the failed run said:\n%s", out)
			storedWorks(t, env, h, storePath, old)
			journalsIntact(t, stateDir)
			clear()
			out, code, _ = handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("next run, the file system working again: exit %d\n%s", code, out)
			}
			settled(t, env, h, stateDir, storePath, old)
		})
	}
}

func remount(t *testing.T, mnt, how string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+how, mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v %s", how, mnt, err, out)
	}
}

// currentRootPassword is the host's root password before a subtest: the
// handed-over one the first time, then what the previous subtest's store
// holds. Each subtest's playbook hands over the testenv's password, so the
// host is reset to it first.
func currentRootPassword(t *testing.T, env *testenv.Env, h testenv.Host, _ string) string {
	t.Helper()
	old := testenv.ReadSecret(t, h.RootPasswordFile)
	if !passwordWorks(t, env, h.Addr, "root", old) {
		resetFleet(t)
	}
	return old
}

// proxiedPlaybook writes a playbook for host h reached through the fault
// proxy at addr (its host key trusted for that address), with the host
// time limit given.
func proxiedPlaybook(t *testing.T, env *testenv.Env, dir string, h testenv.Host, addr, hostTimeout string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	hostIP := strings.Split(h.Addr, ":")[0]
	b, err := os.ReadFile(env.Fleet.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	var kh []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == hostIP {
			kh = append(kh, "[127.0.0.1]:"+port+" "+f[1]+" "+f[2])
		}
	}
	if len(kh) == 0 {
		t.Fatalf("no host key of %s in %s", hostIP, env.Fleet.KnownHosts)
	}
	khFile := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(khFile, []byte(strings.Join(kh, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return writePlaybook(t, dir, playbookHead(env, dir)+fmt.Sprintf(`policy:
  rotate: {admins: false, accounts: ["hote:root"]}
targets:
  - name: hote
    type: ssh
    hosts: [{name: %[1]s, address: %[2]s, port: %[3]s}]
    auth: {key_file: %[4]s}
    known_hosts: %[5]s
    host_timeout: %[7]s
    access_key: false
    passwords:
      - {account: root, password: "${file:%[6]s}"}
`, h.Name, host, port, env.Fleet.OperatorKey, khFile, h.RootPasswordFile, hostTimeout))
}

// faultedRun runs `handover run --yes pb` with the test build bin, paused
// once its first change's intent is journaled, then injects fault through
// p and lets the run go on: it must exit non-zero and say one of want
// (case aside).
func faultedRun(t *testing.T, bin, pb string, p *faultProxy, fault func(*faultProxy), want []string) {
	t.Helper()
	_, finish := pausedRun(t, bin, []string{"HANDOVER_CHANGE_TIMEOUT=4s"}, "run", "--yes", pb)
	fault(p)
	out, code := finish()
	p.unstall()
	t.Logf("the failed run said:\n%s", out)
	if code == 0 {
		t.Errorf("run with the connection faulted mid-change: exit 0")
	}
	if !slices.ContainsFunc(want, func(w string) bool { return strings.Contains(strings.ToLower(out), strings.ToLower(w)) }) {
		t.Errorf("the failed run's output says none of %q", want)
	}
}

// TestTargetFaultsMidChange: a real host reached through a TCP proxy
// that, in the middle of the rotation of root (the intent journaled, the
// change about to be sent), resets the connection at once, resets it in
// the middle of the change's script, or lets the change through but holds
// the host's answer back past the change's time limit. Each time the run
// exits non-zero with an error that says what happened, no credential is
// lost (the handed-over or a stored value logs in), the journal verifies,
// and the next run, the network healthy again, finishes the job: the
// stored password logs in, the handed-over one does not, nothing pending.
func TestTargetFaultsMidChange(t *testing.T) {
	env, h, _ := faultHost(t)
	bin := buildHandover(t, crashTestTag)
	for _, tc := range []struct {
		name  string
		fault func(p *faultProxy)
		want  []string // one of these in the failed run's output
		slice bool
	}{
		{"reset-at-once", func(p *faultProxy) { p.resetAfter(0) }, []string{"connection reset", "EOF", "broken pipe", "did not report"}, false},
		{"reset-mid-script", func(p *faultProxy) { p.resetAfter(700) }, []string{"connection reset", "EOF", "broken pipe", "did not report"}, true},
		// The change's command reaches the host (a keepalive, a channel
		// open and an exec request are about 210 bytes; the script that
		// follows is kilobytes, forwarded whole), then its answers are
		// held back past the change's time limit.
		{"answer-too-late", func(p *faultProxy) { p.stallAfter(300) }, []string{"did not answer in time", "no SSH answer within"}, true},
	} {
		if !inSlice(tc.slice) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := currentRootPassword(t, env, h, dir)
			p := newFaultProxy(t, h.Addr)
			pb := proxiedPlaybook(t, env, dir, h, p.addr(), "5s")
			faultedRun(t, bin, pb, p, tc.fault, tc.want)
			storedWorks(t, env, h, filepath.Join(dir, "secrets.age"), old)
			journalsIntact(t, dir)
			out, code, _ := handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("next run, the network healthy: exit %d\n%s", code, out)
			}
			settled(t, env, h, dir, filepath.Join(dir, "secrets.age"), old)
		})
	}
}
