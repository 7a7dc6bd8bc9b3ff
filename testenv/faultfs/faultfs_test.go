package faultfs_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoverhq/handover/testenv/faultfs"
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

// TestUnmountEndsWithACopyElsewhere: a mount namespace made while the file
// system is mounted (as the test estate restarts a host with unshare
// --mount) holds a copy of the mount; the file system is still unmounted
// at the end of the test and its server ends, instead of serving that
// copy for ever.
func TestUnmountEndsWithACopyElsewhere(t *testing.T) {
	mnt := t.TempDir()
	var holder *exec.Cmd
	t.Run("mounted", func(t *testing.T) {
		faultfs.Mount(t, mnt)
		holder = exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "600")
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		ours, _ := os.Readlink("/proc/self/ns/mnt")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)); ns != "" && ns != ours {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("unshare made no mount namespace")
			}
		}
	})
	defer func() { holder.Process.Kill(); holder.Wait() }()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), " "+mnt+" ") {
		t.Errorf("%s still mounted", mnt)
	}
}
