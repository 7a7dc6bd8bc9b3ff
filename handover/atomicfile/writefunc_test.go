package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/handoverhq/handover/handover/atomicfile"
)

// TestWriteFunc: what fill writes replaces the file, with the mode asked;
// when fill fails, the old file stays and no temporary file is left.
func TestWriteFunc(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dossier.json")
	if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFunc(p, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, "new\n")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Errorf("got %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	boom := errors.New("boom")
	if err := atomicfile.WriteFunc(p, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	}); !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Errorf("a failed fill replaced the file: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left in the directory", len(entries))
	}
}
