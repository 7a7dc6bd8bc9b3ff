package main

import (
	"context"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/handoverhq/handover/handover/secret"
)

// agekey FILE writes a new age identity to FILE and its recipient to
// FILE.pub, as age-keygen would (the machine need not have age).
func agekeyCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: agekey FILE")
	}
	id, err := age.GenerateX25519Identity()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte("# created by agekey\n"+id.String()+"\n"), 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pub"), []byte(id.Recipient().String()+"\n"), 0o644))
}

// storeput STORE PASSPHRASEFILE TARGET/SYSTEM/ACCOUNT VALUEFILE [pending]
// stores VALUEFILE's value in the file store as a run leaves a rotated
// credential: current (or pending), with its target, system and account.
func storeputCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 || len(args) > 5 {
		ts.Fatalf("usage: storeput STORE PASSPHRASEFILE TARGET/SYSTEM/ACCOUNT VALUEFILE [pending]")
	}
	pass, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	st, err := secret.OpenFileStore(ts.MkAbs(args[0]), secret.FileUnlock{Passphrase: secret.New(strings.TrimSpace(string(pass))), ScryptWorkFactor: 10})
	ts.Check(err)
	val, err := os.ReadFile(ts.MkAbs(args[3]))
	ts.Check(err)
	parts := strings.SplitN(args[2], "/", 3)
	if len(parts) != 3 {
		ts.Fatalf("storeput: %s is not TARGET/SYSTEM/ACCOUNT", args[2])
	}
	ctx := context.Background()
	v, err := st.PutPending(ctx, args[2], secret.New(strings.TrimRight(string(val), "\n")), map[string]string{"target": parts[0], "system": parts[1], "object": parts[2]})
	ts.Check(err)
	if len(args) == 5 && args[4] == "pending" {
		return
	}
	ts.Check(st.SetState(ctx, v.Path, v.Version, secret.Current))
}

// storeget STORE IDENTITYFILE PATH prints the current value of PATH in an
// identity-locked file store, with its state, to check an import.
func storegetCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: storeget STORE IDENTITYFILE PATH")
	}
	st, err := secret.OpenFileStore(ts.MkAbs(args[0]), secret.FileUnlock{IdentityFile: ts.MkAbs(args[1])})
	ts.Check(err)
	v, meta, err := st.Get(context.Background(), args[2], 0)
	ts.Check(err)
	ts.Stdout().Write([]byte(v.Reveal() + "\n"))
	ts.Stdout().Write([]byte(string(meta.State) + " " + meta.Meta["imported_from"] + "\n"))
}
