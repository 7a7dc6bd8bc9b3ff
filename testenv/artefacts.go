package testenv

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// ArtefactsEnv names the directory where integration tests keep what they
// produced (state directories, journals, reports, plans, the output of
// every CLI invocation), for the leak scan that `make test` runs last
// (internal/leakscan). Unset, nothing is kept.
const ArtefactsEnv = "HANDOVER_ARTEFACTS_DIR"

var kept sync.Map // testing.TB -> destination directory

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// KeepArtefacts copies, when ArtefactsEnv is set, every temporary
// directory of the test (t.TempDir) into the artefacts directory when the
// test ends, before they are removed. Require calls it, so every
// integration test keeps its artefacts. It returns the test's artefacts
// directory ("" when unset).
func KeepArtefacts(t testing.TB) string {
	root := os.Getenv(ArtefactsEnv)
	if root == "" {
		return ""
	}
	if d, ok := kept.Load(t); ok {
		return d.(string)
	}
	// The first TempDir call makes the test's temporary root and registers
	// its removal; cleanups run last-registered first, so the copy below
	// runs before the removal.
	tmpRoot := filepath.Dir(t.TempDir())
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatalf("artefacts: %v", err)
	}
	dst, err := os.MkdirTemp(root, unsafeName.ReplaceAllString(t.Name(), "_")+".")
	if err != nil {
		t.Fatalf("artefacts: %v", err)
	}
	kept.Store(t, dst)
	t.Cleanup(func() {
		kept.Delete(t)
		if err := copyTree(tmpRoot, filepath.Join(dst, "tmp")); err != nil {
			t.Errorf("artefacts: keep %s: %v", tmpRoot, err)
		}
	})
	return dst
}

var outputs sync.Map // destination directory -> *int (invocations)

// KeepOutput keeps the output of one CLI invocation of the test. When the
// output holds a secret on purpose (`secrets get --reveal`), reveals says
// so and the file is listed in the directory's leakscan.ignore.
func KeepOutput(t testing.TB, args []string, output string, reveals bool) {
	dst := KeepArtefacts(t)
	if dst == "" {
		return
	}
	n, _ := outputs.LoadOrStore(dst, new(int))
	mu.Lock()
	defer mu.Unlock()
	*n.(*int)++
	name := fmt.Sprintf("cli-%03d.out", *n.(*int))
	text := "$ handover " + strings.Join(args, " ") + "\n" + output
	if err := os.WriteFile(filepath.Join(dst, name), []byte(text), 0o600); err != nil {
		t.Errorf("artefacts: %v", err)
	}
	if reveals {
		f, err := os.OpenFile(filepath.Join(dst, "leakscan.ignore"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, name)
			f.Close()
		}
	}
}

var mu sync.Mutex

// copyTree copies the regular files under src (sockets, fifos, symbolic
// links and programs are left out; a file over 64 MB is too).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) || os.IsPermission(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 64<<20 {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return nil // removed meanwhile, or unreadable
		}
		defer in.Close()
		// Programs the tests built (a test build of handover) are no
		// artefact of a run.
		magic := make([]byte, 4)
		if n, _ := in.Read(magic); n == 4 && string(magic) == "\x7fELF" {
			return nil
		}
		if _, err := in.Seek(0, 0); err != nil {
			return err
		}
		o, err := os.OpenFile(out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
}
