package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/handover/atomicfile"
)

// A link someone planted where the file goes, pointing at a file they
// want overwritten (or created) by a process running as root.
type planted int

const (
	nothing planted = iota
	regularFile
	linkToVictim
	danglingLink
)

func plant(t *testing.T, dir string, p planted) (path, victim string) {
	t.Helper()
	path, victim = filepath.Join(dir, "out.json"), filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o600); err != nil {
		t.Fatal(err)
	}
	switch p {
	case regularFile:
		err := os.WriteFile(path, []byte("old"), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	case linkToVictim:
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
	case danglingLink:
		if err := os.Remove(victim); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
	}
	return path, victim
}

// withUmask runs the test under a umask that would strip the group and
// other bits: the modes asked for must be the modes got.
func withUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
}

func TestWriteReplacesAndNeverFollowsALink(t *testing.T) {
	withUmask(t)
	tests := []struct {
		name       string
		planted    planted
		perm       fs.FileMode
		victimLeft string // "" when there is no victim file at the end
	}{
		{"new file", nothing, 0o644, "victim"},
		{"over a file", regularFile, 0o644, "victim"},
		{"secret over a file", regularFile, 0o600, "victim"},
		{"over a link to another file", linkToVictim, 0o644, "victim"},
		{"over a dangling link", danglingLink, 0o600, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, victim := plant(t, dir, tt.planted)
			if err := atomicfile.Write(path, []byte("new"), tt.perm); err != nil {
				t.Fatal(err)
			}
			assertFile(t, path, "new", tt.perm)
			assertVictim(t, victim, tt.victimLeft)
			assertNoTemp(t, dir)
		})
	}
}

func TestCreateNeverReplaces(t *testing.T) {
	withUmask(t)
	tests := []struct {
		name       string
		planted    planted
		wantExist  bool
		victimLeft string
	}{
		{"new file", nothing, false, "victim"},
		{"a file is there", regularFile, true, "victim"},
		{"a link to another file is there", linkToVictim, true, "victim"},
		{"a dangling link is there", danglingLink, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, victim := plant(t, dir, tt.planted)
			before, _ := os.Lstat(path)
			err := atomicfile.Create(path, []byte("new"), 0o644)
			if got := errors.Is(err, fs.ErrExist); got != tt.wantExist {
				t.Fatalf("Create: %v; want an fs.ErrExist error: %v", err, tt.wantExist)
			}
			if tt.wantExist {
				after, lerr := os.Lstat(path)
				if lerr != nil || !os.SameFile(before, after) || after.Mode() != before.Mode() {
					t.Errorf("what was at %s changed: %v", path, lerr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				assertFile(t, path, "new", 0o644)
			}
			assertVictim(t, victim, tt.victimLeft)
			assertNoTemp(t, dir)
		})
	}
}

func TestIsTemp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".store.age8731264", true},
		{"store.age", false},
		{".store.age", false},
		{".store.age.lock", false},
		{".store.age12x", false},
		{"store.age.tmp-123", false},
		{".other8731264", false},
	}
	for _, tt := range tests {
		if got := atomicfile.IsTemp(tt.name, "store.age"); got != tt.want {
			t.Errorf("IsTemp(%q, store.age) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func assertFile(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm {
		t.Errorf("%s: mode %v, want a regular file of mode %v", path, fi.Mode(), perm)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		t.Errorf("%s holds %q (%v), want %q", path, b, err, content)
	}
}

func assertVictim(t *testing.T, victim, want string) {
	t.Helper()
	b, err := os.ReadFile(victim)
	switch {
	case want == "" && !errors.Is(err, fs.ErrNotExist):
		t.Errorf("the link's target %s was created: %q, %v", victim, b, err)
	case want != "" && (err != nil || string(b) != want):
		t.Errorf("the link's target %s holds %q (%v), want %q", victim, b, err, want)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name(), "out.json") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
