package secret_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestVaultLock: a lock entry in the real Vault is taken by one run at a
// time (a second is refused, naming the holder), is released, is taken
// over when its holder stopped renewing it or is a dead process of this
// machine, and never shows in the store's List.
func TestVaultLock(t *testing.T) {
	env := testenv.RequireVault(t, true)
	st := openVault(t, vaultConfig(t, env, testPrefix(t, env)))
	ctx := vaultCtx(t)
	host, _ := os.Hostname()
	me := secret.LockHolder{System: "host 127.0.1.1:22", Playbook: "/a/mairie.yaml", Run: "run-a", Operator: "marie", PID: os.Getpid(), Host: host, Since: time.Now().UTC()}

	release, err := st.Lock(ctx, "system/x", me)
	if err != nil {
		t.Fatal(err)
	}
	other := me
	other.Playbook, other.Run = "/b/ecoles.yaml", "run-b"
	_, err = st.Lock(ctx, "system/x", other)
	var he *secret.HeldError
	if !errors.As(err, &he) || he.Holder.Run != "run-a" || !strings.Contains(err.Error(), "/a/mairie.yaml") || !strings.Contains(err.Error(), host) {
		t.Fatalf("second lock: %v, want held by run-a", err)
	}
	// Another name is another lock.
	rel2, err := st.Lock(ctx, "system/y", other)
	if err != nil {
		t.Fatal(err)
	}
	rel2()
	release()
	release() // twice is harmless
	rel3, err := st.Lock(ctx, "system/x", other)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	rel3()

	// A holder that is a dead process of this machine is stale.
	dead := me
	dead.PID = 1 << 22 // above pid_max's default
	rel4, err := st.Lock(ctx, "system/z", dead)
	if err != nil {
		t.Fatal(err)
	}
	_ = rel4 // never released: the "process" is gone
	rel5, err := st.Lock(ctx, "system/z", other)
	if err != nil {
		t.Fatalf("lock of a dead holder was not taken over: %v", err)
	}
	rel5()

	// A holder on another machine that stopped renewing is stale after
	// LockStaleAfter.
	old := secret.LockStaleAfter
	secret.LockStaleAfter = 300 * time.Millisecond
	defer func() { secret.LockStaleAfter = old }()
	far := me
	far.Host = "elsewhere.invalid"
	if _, err := st.Lock(ctx, "system/w", far); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Lock(ctx, "system/w", other); err == nil {
		t.Fatal("a fresh lock of another machine was taken over")
	}
	time.Sleep(400 * time.Millisecond)
	rel6, err := st.Lock(ctx, "system/w", other)
	if err != nil {
		t.Fatalf("a stale lock was not taken over: %v", err)
	}
	rel6()

	vs, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if strings.Contains(v.Path, "lock") {
			t.Errorf("List shows a lock entry: %s", v.Path)
		}
	}
}
