package faultfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/internal/faultfs"
)

// TestFsyncFailsOnDemand: through the kernel, a file's fsync and
// fdatasync and a directory's fsync succeed, fail with EIO while the
// file system is failing, and succeed again once it is not; writes and
// reads go through all along.
func TestFsyncFailsOnDemand(t *testing.T) {
	mnt := t.TempDir()
	f := faultfs.Mount(t, mnt)
	file, err := os.Create(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	d, err := os.Open(mnt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	syncs := []struct {
		name string
		sync func() error
	}{
		{"fsync", file.Sync},
		{"fdatasync", func() error { return syscall.Fdatasync(int(file.Fd())) }},
		{"directory fsync", d.Sync},
	}
	for _, failing := range []bool{false, true, false} {
		f.FailFsync(failing)
		if _, err := file.Write([]byte("x")); err != nil {
			t.Fatalf("write (fsync failing %v): %v", failing, err)
		}
		for _, s := range syncs {
			err := s.sync()
			if got := errors.Is(err, syscall.EIO); got != failing || (!failing && err != nil) {
				t.Errorf("%s with fsync failing %v: %v", s.name, failing, err)
			}
		}
	}
	if n := f.FailedFsyncs(); n != len(syncs) {
		t.Errorf("%d fsyncs failed, want %d", n, len(syncs))
	}
	b, err := os.ReadFile(filepath.Join(mnt, "f"))
	if err != nil || string(b) != "xxx" {
		t.Errorf("read back %q, %v; want xxx", b, err)
	}
}
