// Package atomicfile writes a file whole or not at all. The data goes to a
// temporary file in the destination's directory (renameio), which is given
// its mode on the open descriptor, fsync'd, and renamed into place; the
// directory is fsync'd after. A reader, or a run after a crash, finds the
// old file or the whole new one.
//
// Neither function follows a symlink at the destination: the temporary
// file is created with O_EXCL, and rename(2) and link(2) replace or refuse
// a symlink, they never write through it. A process running as root cannot
// be steered into another file by a link a user planted.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
)

// Write replaces path with data, mode perm exactly (the umask does not
// apply).
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, (*renameio.PendingFile).CloseAtomicallyReplace)
}

// Create writes data to path, mode perm exactly, where no file is: if path
// exists (a dangling symlink included) it fails with an error matching
// fs.ErrExist and leaves path as it was.
func Create(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, func(t *renameio.PendingFile) error {
		if err := t.Sync(); err != nil {
			return err
		}
		// link(2) fails where the name exists, symlink or not: a
		// rename that does not replace. A crash before the temporary
		// name is removed leaves it beside the file (see IsTemp).
		if err := os.Link(t.Name(), path); err != nil {
			return err
		}
		return t.Cleanup()
	})
}

// WriteFunc replaces path, mode perm exactly, with what fill writes: for
// a file too large to hold in memory twice. Nothing replaces path when
// fill fails.
func WriteFunc(path string, perm fs.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup()
	w := bufio.NewWriterSize(t, 1<<16)
	if err := fill(w); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func write(path string, data []byte, perm fs.FileMode, place func(*renameio.PendingFile) error) error {
	dir := filepath.Dir(path)
	// The directory is named: by default renameio would put the temporary
	// file in $TMPDIR when it is on the same file system.
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup()
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := place(t); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// IsTemp reports whether name (a base name) is one of the temporary files
// Write or Create makes for dest's base name: a crash can leave one behind.
func IsTemp(name, dest string) bool {
	rest, ok := strings.CutPrefix(name, "."+dest)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
