package main

import (
	"bytes"
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

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// handover runs the CLI as a child process and returns its output and
// exit status (-1 when killed by a signal).
func handover(t *testing.T, env []string, args ...string) (string, int, syscall.Signal) {
	t.Helper()
	return runBinary(t, os.Args[0], append([]string{"HANDOVER_BE_MAIN=1"}, env...), args...)
}

// runBinary runs bin, a build of the CLI, as handover does.
func runBinary(t *testing.T, bin string, env []string, args ...string) (string, int, syscall.Signal) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	// Kept for the leak scan; only `secrets get --reveal` may show a secret.
	testenv.KeepOutput(t, args, out.String(), slices.Contains(args, "--reveal"))
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0, 0
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return out.String(), -1, ws.Signal()
		}
		return out.String(), ws.ExitStatus(), 0
	}
	t.Fatalf("handover %v: %v", args, err)
	return "", 0, 0
}

// resetFleet brings the fleet back to its planted state.
func resetFleet(t *testing.T) {
	t.Helper()
	testenv.Reset(t, "fleet")
}

// passwordWorks tries a fresh SSH password login.
func passwordWorks(t *testing.T, env *testenv.Env, addr, user, password string) bool {
	t.Helper()
	hk, err := knownhosts.New(env.Fleet.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)}, HostKeyCallback: hk, Timeout: 10 * time.Second})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) {
			t.Fatalf("ssh %s: %v", addr, err)
		}
		return false
	}
	c.Close()
	return true
}

// playbookHead is how the tests' playbooks start: the parties, the state
// directory and a file store in dir, the operator's signing key, how to
// recognise the provider.
func playbookHead(env *testenv.Env, dir string) string {
	return fmt.Sprintf(`version: 1
handover:
  client: {name: Mairie de Saint-Exemple}
  outgoing: {name: Prestanet Informatique}
state: %[1]s/state
secrets:
  file:
    path: %[1]s/secrets.age
    passphrase: ${file:%[2]s}
signing:
  key: %[3]s
  identity: %[4]s
outgoing:
  domains: [prestanet.test]
  key_comments: ["*@prestanet.test", "*prestanet*"]
  accounts: ["prestanet*"]
  agents: [all]
`, dir, env.Operator.PassphraseFile, env.Operator.SigningKey, env.Operator.Identity)
}

// writePlaybook writes text as dir/playbook.yaml and returns its path.
func writePlaybook(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "playbook.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sshPlaybook writes a playbook for one fleet host.
func sshPlaybook(t *testing.T, env *testenv.Env, dir string, h testenv.Host, i int) string {
	t.Helper()
	return writePlaybook(t, dir, playbookHead(env, dir)+fmt.Sprintf(`policy:
  rotate: {admins: false, accounts: ["hote:root"]}
targets:
  - name: hote
    type: ssh
    hosts: [{name: %[1]s, address: %[2]s}]
    auth: {key_file: %[3]s}
    known_hosts: %[4]s
    access_key: false
    passwords:
      - {account: root, password: "${file:%[5]s}"}
`, h.Name, strings.Split(h.Addr, ":")[0], env.Fleet.OperatorKey, env.Fleet.KnownHosts, h.RootPasswordFile))
}

// TestCrashRecoveryOnRealHost SIGKILLs `handover run` at steps of the
// rotation protocol (every step under HANDOVER_KILL_MATRIX=full) on a
// real SSH host of the test estate; after each
// kill, a rerun finishes the job: the stored credential logs in, the
// handed-over one does not, and every journal verifies. The killed run is
// a test build, the only one with HANDOVER_CRASH_AT; the rerun is not.
func TestCrashRecoveryOnRealHost(t *testing.T) {
	env := testenv.Require(t)
	if env.Fleet == nil || len(env.Fleet.Hosts) == 0 || env.Operator == nil {
		t.Fatal("the test estate has no fleet: run `make testenv-up`")
	}
	testenv.LockComponent(t, "fleet", true)
	i := len(env.Fleet.Hosts) - 1
	h := env.Fleet.Hosts[i]
	t.Cleanup(func() { resetFleet(t) })
	crashing := buildHandover(t, crashTestTag)
	// `make test` kills at the step whose recovery asks the host itself
	// (the new password set, not yet recorded) and at the last; the
	// full kill matrix (`make test-crash`) at every step.
	steps := []string{engine.StepSet, engine.StepVerify}
	if connectortest.FullMatrix() {
		steps = []string{engine.StepPending, engine.StepIntent, engine.StepSet, engine.StepOutcome, engine.StepVerify}
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			resetFleet(t)
			dir := t.TempDir()
			pb := sshPlaybook(t, env, dir, h, i)
			old := testenv.ReadSecret(t, h.RootPasswordFile)
			out, code, sig := runBinary(t, crashing, []string{"HANDOVER_CRASH_AT=" + step}, "run", "--yes", pb)
			if sig != syscall.SIGKILL {
				t.Fatalf("run was not killed at %s (exit %d):\n%s", step, code, out)
			}
			out, code, _ = handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("rerun after a kill at %s: exit %d\n%s", step, code, out)
			}
			st, err := secret.OpenFileStore(filepath.Join(dir, "secrets.age"), secret.FileUnlock{Passphrase: secret.New(testenv.ReadSecret(t, env.Operator.PassphraseFile))})
			if err != nil {
				t.Fatal(err)
			}
			cur, v, err := st.Get(context.Background(), connector.SecretPath("hote", h.Name, "root"), 0)
			if err != nil || v.State != secret.Current {
				t.Fatalf("no current root credential in the store: %v %+v", err, v)
			}
			addr := h.Addr
			if !passwordWorks(t, env, addr, "root", cur.Reveal()) {
				t.Error("the stored root password does not log in")
			}
			if passwordWorks(t, env, addr, "root", old) {
				t.Error("the handed-over root password still logs in")
			}
			vs, _ := st.List(context.Background())
			for _, v := range vs {
				if v.State == secret.Pending {
					t.Errorf("%s#%d still pending", v.Path, v.Version)
				}
			}
			journals, _ := filepath.Glob(filepath.Join(dir, "state", "runs", "*", "journal.jsonl"))
			if len(journals) != 2 {
				t.Errorf("%d journals, want 2", len(journals))
			}
			for _, j := range journals {
				if _, _, err := journal.VerifyFile(j); err != nil {
					t.Errorf("%s: %v", j, err)
				}
			}
			if strings.Contains(out, cur.Reveal()) || strings.Contains(out, old) {
				t.Error("a password appears in the output")
			}
		})
	}
}

// TestRunAsSudoUser runs the whole handover of a host as its admin, who
// logs in with a password and becomes root by sudo with that password (as
// on estates that refuse root logins): the admin's own password is
// rotated last, after everything it was needed for; the new access key is
// the admin's; afterwards the stored passwords log in, the handed-over
// ones do not, and a second run changes nothing.
func TestRunAsSudoUser(t *testing.T) {
	env := testenv.Require(t)
	if env.Fleet == nil || len(env.Fleet.Hosts) == 0 || env.Operator == nil {
		t.Fatal("the test estate has no fleet: run `make testenv-up`")
	}
	testenv.LockComponent(t, "fleet", true)
	h := env.Fleet.Hosts[1]
	t.Cleanup(func() { resetFleet(t) })
	dir := t.TempDir()
	path := writePlaybook(t, dir, playbookHead(env, dir)+fmt.Sprintf(`targets:
  - name: hote
    type: ssh
    hosts: [{name: %[1]s, address: %[2]s}]
    user: %[3]s
    auth: {password: "${file:%[4]s}"}
    sudo: {password: "${file:%[4]s}"}
    known_hosts: %[5]s
    passwords:
      - {account: root, password: "${file:%[6]s}"}
      - {account: %[3]s, password: "${file:%[4]s}"}
`, h.Name, strings.Split(h.Addr, ":")[0], h.Admin, h.AdminPassFile, env.Fleet.KnownHosts, h.RootPasswordFile))
	out, code, _ := handover(t, nil, "run", "--yes", path)
	if code != 0 {
		t.Fatalf("run as %s through sudo: exit %d\n%s", h.Admin, code, out)
	}
	// The run's report holds the estate as the run left it: checked
	// against it at once, nothing drifted.
	if out, code, _ := handover(t, nil, "check", path); code != 0 {
		t.Errorf("check against the run's own report: exit %d, want no drift:\n%s", code, out)
	}
	st, err := secret.OpenFileStore(filepath.Join(dir, "secrets.age"), secret.FileUnlock{Passphrase: secret.New(testenv.ReadSecret(t, env.Operator.PassphraseFile))})
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range []struct{ user, oldFile string }{{"root", h.RootPasswordFile}, {h.Admin, h.AdminPassFile}} {
		cur, v, err := st.Get(context.Background(), connector.SecretPath("hote", h.Name, acct.user), 0)
		if err != nil || v.State != secret.Current {
			t.Fatalf("no current password of %s in the store: %v %+v", acct.user, err, v)
		}
		old := testenv.ReadSecret(t, acct.oldFile)
		if !passwordWorks(t, env, h.Addr, acct.user, cur.Reveal()) {
			t.Errorf("the stored password of %s does not log in", acct.user)
		}
		if passwordWorks(t, env, h.Addr, acct.user, old) {
			t.Errorf("the handed-over password of %s still logs in", acct.user)
		}
		if strings.Contains(out, cur.Reveal()) || strings.Contains(out, old) {
			t.Errorf("a password of %s appears in the output", acct.user)
		}
	}
	if _, _, err := st.Get(context.Background(), connector.SecretPath("hote", h.Name, h.Admin+".access-key"), 0); err != nil {
		t.Errorf("no access key of %s in the store: %v", h.Admin, err)
	}
	// The second run logs in and sudoes with the stored password.
	out, code, _ = handover(t, nil, "run", "--yes", path)
	if code != 0 || !strings.Contains(out, "0 applied") {
		t.Errorf("second run: exit %d, want nothing to do:\n%s", code, out)
	}
	// So does the freshness check a cron job runs; it names how it proved
	// each stored credential: the passwords by their shadow hash, read
	// anew, the access key by its own login.
	rec, code, text := checkRecord(t, dir, path)
	if code != 0 {
		t.Errorf("check after the handover: exit %d, want no drift:\n%s", code, text)
	}
	proofs := map[string]string{}
	for _, c := range rec.Credentials {
		name, _, _ := strings.Cut(c.Ref[strings.LastIndex(c.Ref, "/")+1:], "#")
		proofs[name] = c.Proof
		t.Logf("%s proven by %s", c.Ref, c.Proof)
	}
	for obj, want := range map[string]string{"root": "shadow hash of root read anew", h.Admin: "shadow hash of " + h.Admin + " read anew", h.Admin + ".access-key": "fresh SSH login with the key"} {
		if !strings.HasPrefix(proofs[obj], want) {
			t.Errorf("proof of %s: %q, want %s…", obj, proofs[obj], want)
		}
	}
	// root's password changed outside handover: the check tries it with a
	// su login, which refuses it, and says so.
	onHost(t, env, h, "echo root:changed-outside-handover | chpasswd")
	rec, code, text = checkRecord(t, dir, path)
	if code != 2 || !slices.ContainsFunc(rec.Drift, func(d engine.Drift) bool {
		return d.Kind == "credential-broken" && d.Object == "root" && strings.Contains(d.Detail, "no longer logs in")
	}) {
		t.Errorf("root's password changed outside handover: exit %d, want 2 and root's credential broken:\n%s", code, text)
	}
	// A host put back as it was (its old passwords again): the stored
	// password does not log in, the playbook's does, and the job is redone.
	resetFleet(t)
	out, code, _ = handover(t, nil, "run", "--yes", path)
	if code != 0 || strings.Contains(out, " 0 applied") {
		t.Errorf("run on the host put back: exit %d, want the job redone:\n%s", code, out)
	}
}
