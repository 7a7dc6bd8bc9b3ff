package vault_test

import (
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/testenv"
)

// The conformance suite drives the connector through the engine against
// the testenv's Vault, as a real handover would. Its crash property kills
// the run at every step of the rotation of the client admin's userpass
// password and the client application's AppRole secret-id (one group).
func TestConformance(t *testing.T) {
	lockVault(t)
	connectortest.Run(t, connectortest.Harness{
		Registry: registry(),
		Playbook: func(t *testing.T, dir string) string {
			return connectortest.WritePlaybook(t, dir, playbookFor(testenv.Require(t), pbOpts{}))
		},
		Reset:     func(t *testing.T) { resetVault(t) },
		Snapshot:  snapshotter(t),
		Cut:       cut,
		CrashTest: "TestConformanceCrash",
		After: func(t *testing.T, res *engine.Result) {
			e := testenv.Require(t)
			ctx := ctxFor(t, time.Minute)
			if _, err := client(t, e, e.Vault.ProviderTokenFile).Auth().Token().LookupSelfWithContext(ctx); err == nil {
				t.Error("the provider's token still works")
			}
			if _, err := client(t, e, "").Logical().WriteWithContext(ctx, "auth/userpass/login/"+e.Vault.ProviderUser,
				map[string]any{"password": testenv.ReadSecret(t, e.Vault.ProviderPasswordFile)}); err == nil {
				t.Error("the provider's userpass login still works")
			}
		},
	})
}

// cut makes the Vault unreachable by stopping its process (SIGSTOP: a
// connection then hangs, as to a host gone) until restore continues it.
// The test holds the vault lock exclusively meanwhile.
func cut(t *testing.T) func() {
	e := testenv.Require(t)
	pid := e.Vault.PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the Vault (pid %d): %v", pid, err)
	}
	var once sync.Once
	restore := func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("continue the Vault (pid %d): %v", pid, err)
			}
		})
	}
	t.Cleanup(restore)
	return restore
}

// TestConformanceCrash is the process the suite kills mid-rotation.
func TestConformanceCrash(t *testing.T) {
	connectortest.CrashHelper(t, registry())
}

// TestSnapshotSeesChanges: the harness's snapshot is blind to a login
// (a token made and revoked) and sees a password change, so the
// read-only property proves something.
func TestSnapshotSeesChanges(t *testing.T) {
	e := lockVault(t)
	v := e.Vault
	ctx := ctxFor(t, 2*time.Minute)
	snap := snapshotter(t)
	first, err := snap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	anon := client(t, e, "")
	s, err := anon.Logical().WriteWithContext(ctx, "auth/userpass/login/"+v.ClientUser, map[string]any{"password": testenv.ReadSecret(t, v.ClientPasswordFile)})
	if err != nil {
		t.Fatal(err)
	}
	anon.SetToken(s.Auth.ClientToken)
	if err := anon.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		t.Fatal(err)
	}
	second, err := snap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("a login and its revocation changed the snapshot:\n%s", diffLines(first, second))
	}
	root := client(t, e, v.RootTokenFile)
	if _, err := root.Logical().WriteWithContext(ctx, "auth/userpass/users/"+v.ClientUser+"/password", map[string]any{"password": "another-password-for-the-test"}); err != nil {
		t.Fatal(err)
	}
	third, err := snap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third == second {
		t.Error("the snapshot does not see a password change")
	}
}

func diffLines(a, b string) string {
	in := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		in[l] = true
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if !in[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
