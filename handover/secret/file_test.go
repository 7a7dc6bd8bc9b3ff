package secret_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/handover/secret/storetest"
)

// testWorkFactor keeps scrypt cheap in tests that are not about its cost.
const testWorkFactor = 10

func passphraseUnlock(p string) secret.FileUnlock {
	return secret.FileUnlock{Passphrase: secret.New(p), ScryptWorkFactor: testWorkFactor}
}

func identityFile(t *testing.T) (string, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, id
}

func openFile(t *testing.T, path string, u secret.FileUnlock) *secret.FileStore {
	t.Helper()
	s, err := secret.OpenFileStore(path, u)
	if err != nil {
		t.Fatalf("OpenFileStore: %v", err)
	}
	return s
}

func TestFileStorePassphrase(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secret.Store {
		return openFile(t, filepath.Join(t.TempDir(), "store", "secrets.age"), passphraseUnlock("correct horse"))
	})
}

func TestFileStoreIdentity(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secret.Store {
		key, _ := identityFile(t)
		return openFile(t, filepath.Join(t.TempDir(), "store", "secrets.age"), secret.FileUnlock{IdentityFile: key})
	})
}

func TestFileStoreReopen(t *testing.T) {
	key, _ := identityFile(t)
	tests := []struct {
		name   string
		unlock secret.FileUnlock
	}{
		{"passphrase", passphraseUnlock("correct horse")},
		{"identity", secret.FileUnlock{IdentityFile: key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "secrets.age")
			s := openFile(t, path, tt.unlock)
			v, err := s.PutPending(ctx, "ldap/admin", secret.New("v1"), map[string]string{"k": "v"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetState(ctx, "ldap/admin", v.Version, secret.Current); err != nil {
				t.Fatal(err)
			}
			again := openFile(t, path, tt.unlock)
			val, got, err := again.Get(ctx, "ldap/admin", 0)
			if err != nil {
				t.Fatalf("Get after reopen: %v", err)
			}
			if val.Reveal() != "v1" || got.Version != 1 || got.State != secret.Current || got.Meta["k"] != "v" {
				t.Errorf("after reopen: %+v, want version 1 current with its value and meta", got)
			}
		})
	}
}

func TestFileStoreRefusesWrongKey(t *testing.T) {
	key, _ := identityFile(t)
	otherKey, _ := identityFile(t)
	tests := []struct {
		name        string
		create, use secret.FileUnlock
		wantErr     string
	}{
		{"wrong passphrase", passphraseUnlock("correct horse"), passphraseUnlock("battery staple"), "wrong passphrase"},
		{"wrong identity", secret.FileUnlock{IdentityFile: key}, secret.FileUnlock{IdentityFile: otherKey}, "wrong passphrase or identity"},
		{"identity for a passphrase store", passphraseUnlock("correct horse"), secret.FileUnlock{IdentityFile: key}, "locked with a passphrase"},
		{"passphrase for an identity store", secret.FileUnlock{IdentityFile: key}, passphraseUnlock("correct horse"), "wrong passphrase or identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secrets.age")
			s := openFile(t, path, tt.create)
			if _, err := s.PutPending(context.Background(), "p", secret.New("v"), nil); err != nil {
				t.Fatal(err)
			}
			_, err := secret.OpenFileStore(path, tt.use)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("OpenFileStore with the %s: err = %v, want one saying %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestFileStoreUnlockOptions(t *testing.T) {
	key, _ := identityFile(t)
	tests := []struct {
		name   string
		unlock secret.FileUnlock
	}{
		{"nothing", secret.FileUnlock{}},
		{"both", secret.FileUnlock{Passphrase: secret.New("p"), IdentityFile: key}},
		{"missing identity file", secret.FileUnlock{IdentityFile: filepath.Join(t.TempDir(), "none")}},
		{"work factor out of range", secret.FileUnlock{Passphrase: secret.New("p"), ScryptWorkFactor: 31}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secrets.age")
			if _, err := secret.OpenFileStore(path, tt.unlock); err == nil {
				t.Fatal("OpenFileStore succeeded")
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused open left a store file behind (stat: %v)", err)
			}
		})
	}
}

func TestFileStoreModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "secrets")
	path := filepath.Join(dir, "secrets.age")
	s := openFile(t, path, passphraseUnlock("correct horse"))
	if _, err := s.PutPending(context.Background(), "p", secret.New("v"), nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
		{path + ".lock", 0o600},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "secrets.age secrets.age.lock" {
		t.Errorf("store directory holds %v, want the store and its lock file only", names)
	}
}

// The identity-file format is a plain age file: age alone decrypts it.
func TestFileStoreIdentityFormatIsPlainAge(t *testing.T) {
	key, id := identityFile(t)
	path := filepath.Join(t.TempDir(), "secrets.age")
	s := openFile(t, path, secret.FileUnlock{IdentityFile: key})
	if _, err := s.PutPending(context.Background(), "p", secret.New("plain age"), nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(b), id)
	if err != nil {
		t.Fatalf("age cannot decrypt the store: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(plain) || !bytes.Contains(plain, []byte(`"p"`)) {
		t.Errorf("decrypted store is not the JSON table")
	}
}

// A store written by the earlier passphrase format (the whole table
// encrypted to the scrypt recipient) is converted on open.
func TestFileStoreConvertsEarlierPassphraseFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	table := `{"format":"handover-secret-store/1","paths":{"ldap/admin":{"versions":[` +
		`{"version":1,"state":"current","created":"2025-01-02T03:04:05Z","meta":{"k":"v"},"value":"b2xkIHZhbHVl"}]}}}`
	r, err := age.NewScryptRecipient("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(testWorkFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, table)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := secret.OpenFileStore(path, passphraseUnlock("battery staple")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("earlier format, wrong passphrase: err = %v", err)
	}
	s := openFile(t, path, passphraseUnlock("correct horse"))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("handover-secret-store/2 passphrase\n-----BEGIN AGE ENCRYPTED FILE-----\n")) {
		t.Errorf("store not converted on open; it starts with %q", b[:min(len(b), 40)])
	}
	for _, st := range []*secret.FileStore{s, openFile(t, path, passphraseUnlock("correct horse"))} {
		val, v, err := st.Get(context.Background(), "ldap/admin", 0)
		if err != nil {
			t.Fatalf("Get after conversion: %v", err)
		}
		if val.Reveal() != "old value" || v.Meta["k"] != "v" || !v.Created.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("converted version = %+v, want the earlier content", v)
		}
	}
}

// Two stores on one file stand for two processes: the flock and the
// re-read under it keep their writes from overwriting each other.
func TestFileStoreSharedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.age")
	a := openFile(t, path, passphraseUnlock("correct horse"))
	b := openFile(t, path, passphraseUnlock("correct horse"))
	const each = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, s := range []*secret.FileStore{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.PutPending(ctx, "shared", secret.New(fmt.Sprint(i)), nil); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, s := range []*secret.FileStore{a, b} {
		vs, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2*each || vs[len(vs)-1].Version != 2*each {
			t.Errorf("List sees %d versions, want %d numbered 1..%d", len(vs), 2*each, 2*each)
		}
	}
}

// A crash between writing the temp file and renaming it leaves a temp file;
// the next open removes it and the store is intact. Files that only look
// alike stay.
func TestFileStoreRemovesLeftoverTemps(t *testing.T) {
	tests := []struct {
		name    string
		removed bool
	}{
		{".secrets.age8731264", true},   // a write's
		{"secrets.age.tmp-123", true},   // Check's, or an older version's write
		{".secrets.age.backup", false},  // the operator's
		{".secrets.agenda12", false},    // another file's
		{"secrets.age.old-123", false},  // the operator's
		{".other.age8731264", false},    // another store's
		{".secrets.age8731264x", false}, // not a temp name
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "secrets.age")
			s := openFile(t, path, passphraseUnlock("correct horse"))
			if _, err := s.PutPending(context.Background(), "p", secret.New("v"), nil); err != nil {
				t.Fatal(err)
			}
			leftover := filepath.Join(dir, tt.name)
			if err := os.WriteFile(leftover, []byte("torn"), 0o600); err != nil {
				t.Fatal(err)
			}
			s = openFile(t, path, passphraseUnlock("correct horse"))
			_, err := os.Stat(leftover)
			if gone := errors.Is(err, os.ErrNotExist); gone != tt.removed {
				t.Errorf("%s removed: %v, want %v (stat: %v)", tt.name, gone, tt.removed, err)
			}
			if _, _, err := s.Get(context.Background(), "p", 1); err != nil {
				t.Errorf("Get after leftover cleanup: %v", err)
			}
		})
	}
}

// With the default scrypt work factor, scrypt runs once at open: a
// rotation's writes cost milliseconds each, not a second.
func TestFileStorePassphraseWriteCost(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.age")
	s := openFile(t, path, secret.FileUnlock{Passphrase: secret.New("correct horse battery staple")})
	// One unlock is one scrypt derivation: the yardstick, measured on this
	// machine under its current load.
	t0 := time.Now()
	openFile(t, path, secret.FileUnlock{Passphrase: secret.New("correct horse battery staple")})
	unlock := time.Since(t0)
	const n = 200
	start := time.Now()
	for i := range n {
		p := fmt.Sprintf("fleet/host%03d/root", i)
		v, err := s.PutPending(ctx, p, secret.New("new password"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetState(ctx, p, v.Version, secret.Current); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d PutPending+SetState with the default scrypt work factor: %s (one unlock: %s)", n, elapsed, unlock)
	// A derivation per write would cost 2n unlocks; the writes must cost
	// far less (they are fsync-bound), load or not.
	if limit := max(10*time.Second, 100*unlock); elapsed > limit {
		t.Errorf("%d PutPending+SetState took %s, more than %s: is scrypt run per write?", n, elapsed, limit)
	}
}

func BenchmarkFileStorePassphraseWrite(b *testing.B) {
	ctx := context.Background()
	s, err := secret.OpenFileStore(filepath.Join(b.TempDir(), "secrets.age"), secret.FileUnlock{Passphrase: secret.New("correct horse battery staple")})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := fmt.Sprintf("fleet/host%03d/root", i%200)
		v, err := s.PutPending(ctx, p, secret.New("new password"), nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.SetState(ctx, p, v.Version, secret.Current); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFileStoreGroupCommit makes many updates at once, one of them
// refused (a version that does not exist): each gets its own result, and a
// reopened store holds every other.
func TestFileStoreGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.age")
	s := openFile(t, path, passphraseUnlock("correct horse"))
	ctx := context.Background()
	const n = 24
	for i := range n {
		if _, err := s.PutPending(ctx, fmt.Sprintf("fleet/h%02d/root", i), secret.New(fmt.Sprintf("pw-%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SetState(ctx, fmt.Sprintf("fleet/h%02d/root", i), 1, secret.Current)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs[n] = s.SetState(ctx, "fleet/h00/root", 7, secret.Current) // no such version
	}()
	wg.Wait()
	for i, err := range errs[:n] {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	if errs[n] == nil {
		t.Error("a refused transition succeeded")
	}
	again := openFile(t, path, passphraseUnlock("correct horse"))
	for i := range n {
		_, v, err := again.Get(ctx, fmt.Sprintf("fleet/h%02d/root", i), 0)
		if err != nil || v.State != secret.Current {
			t.Errorf("h%02d after reopening: %v, %v; want current", i, v.State, err)
		}
	}
}
