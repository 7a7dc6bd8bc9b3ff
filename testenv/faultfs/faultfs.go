// Package faultfs mounts, for the fault tests, a real file system whose
// fsync fails on demand: a FUSE loopback over a directory of the test,
// served by the test process itself, that answers fsync(2), fdatasync(2)
// and a directory's fsync with EIO while the test says so. Whatever writes
// there, the test's own code or a child process under test, gets the
// error from the kernel as it would from a failing disk; every other
// operation goes through to the directory below.
//
// Mounting needs /dev/fuse and root (the mount(2) is done directly, with
// no fusermount); a test that cannot mount fails, it does not skip.
package faultfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// FS is a mounted file system whose fsync can be made to fail.
type FS struct {
	failing atomic.Bool
	failed  atomic.Int64
}

// Mount mounts a fresh file system at mnt, an existing empty directory,
// over a temporary directory of t, and unmounts it when t ends (whether
// it passed or not).
func Mount(t testing.TB, mnt string) *FS {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("the fsync fault needs FUSE: %v", err)
	}
	backing := t.TempDir()
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		t.Fatalf("faultfs: %v", err)
	}
	f := &FS{}
	server, err := fs.Mount(mnt, &node{LoopbackNode: root.(*fs.LoopbackNode), fs: f}, &fs.Options{
		MountOptions: fuse.MountOptions{
			// mount(2) itself, as root: there is no fusermount to
			// fall back to, and a failure must say why.
			DirectMountStrict: true,
			FsName:            backing,
			Name:              "faultfs",
		},
	})
	if err != nil {
		t.Fatalf("mount the FUSE file system at %s (the fault tests run as root, with /dev/fuse): %v", mnt, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		t.Fatalf("faultfs: %v", err)
	}
	id := unix.Minor(st.Dev)
	t.Cleanup(func() {
		// The connection is aborted before the umount, so that the
		// server always ends: a mount namespace made while the file
		// system was mounted (a host of the test estate restarted,
		// unshare --mount) holds a copy of the mount that keeps the
		// connection up past the umount; and a file still open would
		// wait for ever on a server that is gone (this very process,
		// if it exits with the file open). From now on whatever uses
		// the file system gets ENOTCONN.
		if err := abort(id); err != nil {
			t.Errorf("abort the FUSE connection of %s: %v", mnt, err)
			return
		}
		if err := unmount(mnt); err != nil {
			derr := syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Errorf("unmount %s: %v (detached: %v)", mnt, err, derr)
		}
		server.Wait()
	})
	return f
}

// unmount unmounts mnt, waiting a little while it is busy (a process
// under test still exiting).
func unmount(mnt string) error {
	var err error
	for try := 0; try < 20; try++ {
		if err = syscall.Unmount(mnt, 0); !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// fusectl is where the kernel lists the FUSE connections, a directory
// each, named after the connection's device number.
const fusectl = "/sys/fs/fuse/connections"

// fusectlMagic is the fusectl file system's type (FUSE_CTL_SUPER_MAGIC in
// the kernel's fs/fuse/control.c).
const fusectlMagic = 0x65735543

// abort aborts FUSE connection id: its server's reads end, every request
// pending or to come fails with ENOTCONN. The fusectl file system is
// mounted first when it is not (it then stays, as on most systems).
func abort(id uint32) error {
	var sfs unix.Statfs_t
	if err := unix.Statfs(fusectl, &sfs); err != nil {
		return err
	}
	if sfs.Type != fusectlMagic {
		if err := syscall.Mount("fusectl", fusectl, "fusectl", 0, ""); err != nil {
			return fmt.Errorf("mount fusectl: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(fusectl, strconv.FormatUint(uint64(id), 10), "abort"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("1"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// FailFsync makes every fsync, fdatasync and directory fsync from now on
// fail with EIO (on), or go through again (off).
func (f *FS) FailFsync(on bool) { f.failing.Store(on) }

// FailedFsyncs is how many fsyncs were answered with EIO: the proof that
// a failure seen came from this file system.
func (f *FS) FailedFsyncs() int { return int(f.failed.Load()) }

// fsync answers an fsync with EIO while the file system is failing, else
// with sync's answer.
func (f *FS) fsync(sync func() syscall.Errno) syscall.Errno {
	if f.failing.Load() {
		f.failed.Add(1)
		return syscall.EIO
	}
	return sync()
}

// node is a loopback node whose files' and directories' fsync go through
// its FS.
type node struct {
	*fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeWrapChilder    = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
)

// WrapChild makes every node below the root one of ours.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), fs: n.fs}
}

// Fsync is a file's fsync and fdatasync (FUSE_FSYNC); go-fuse asks the
// node before the open file.
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	return n.fs.fsync(func() syscall.Errno {
		s, ok := fh.(fs.FileFsyncer)
		if !ok {
			return syscall.ENOTSUP
		}
		return s.Fsync(ctx, flags)
	})
}

// dirHandle is what go-fuse asks of a loopback directory's open handle.
type dirHandle interface {
	fs.FileReaddirenter
	fs.FileSeekdirer
	fs.FileReleasedirer
	fs.FileFsyncdirer
}

// OpendirHandle opens a directory with a handle whose fsync
// (FUSE_FSYNCDIR, asked of the handle) goes through the FS.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	h, fuseFlags, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	d, ok := h.(dirHandle)
	if !ok {
		return nil, 0, syscall.ENOTSUP
	}
	return &dir{dirHandle: d, fs: n.fs}, fuseFlags, 0
}

type dir struct {
	dirHandle
	fs *FS
}

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.fs.fsync(func() syscall.Errno { return d.dirHandle.Fsyncdir(ctx, flags) })
}
