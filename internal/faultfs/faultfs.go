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
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			// A file is still open there. The connection is aborted
			// first: a file closed later would otherwise wait for ever
			// on a server that is gone (this very process, if it
			// exits with the file open). Then the mount is detached.
			aerr := abort(unix.Minor(st.Dev))
			derr := syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Errorf("unmount %s: %v (connection aborted: %v; detached: %v)", mnt, err, aerr, derr)
		}
	})
	return f
}

// fusectl is where the kernel lists the FUSE connections.
const fusectl = "/sys/fs/fuse/connections"

// abort aborts FUSE connection id: every request pending or to come fails
// with ENOTCONN. The fusectl file system is mounted first when it is not.
func abort(id uint32) error {
	ctl := filepath.Join(fusectl, strconv.FormatUint(uint64(id), 10), "abort")
	if _, err := os.Stat(ctl); errors.Is(err, os.ErrNotExist) {
		if err := syscall.Mount("fusectl", fusectl, "fusectl", 0, ""); err != nil {
			return fmt.Errorf("mount fusectl: %w", err)
		}
	}
	return os.WriteFile(ctl, []byte("1"), 0)
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
