package journal_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/testenv/faultfs"
)

// faulty fails the nth write (writing only half its bytes, as a full disk
// does) or the nth fsync.
type faulty struct {
	journal.File
	failWrite, failSync int
	writes, syncs       int
}

func (f *faulty) Write(b []byte) (int, error) {
	f.writes++
	if f.writes == f.failWrite {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(b)
}

func (f *faulty) Sync() error {
	f.syncs++
	if f.syncs == f.failSync {
		return syscall.EIO
	}
	return f.File.Sync()
}

// injected fails the nth write or fsync of the journal's file once fail
// has wrapped it.
func injected(failWrite, failSync int) func(t *testing.T) (string, func(*journal.Journal)) {
	return func(t *testing.T) (string, func(*journal.Journal)) {
		return t.TempDir(), func(j *journal.Journal) {
			journal.WrapFile(j, func(f journal.File) journal.File {
				return &faulty{File: f, failWrite: failWrite, failSync: failSync}
			})
		}
	}
}

// TestFailedWriteClosesTheJournal: after a write or an fsync fails, the
// journal refuses every later record (nothing is appended after a torn
// line, nothing is acknowledged that may not be on disk), the torn bytes
// are cut off, and what was acknowledged before still verifies. The
// failures are injected in the journal's file, and the fsync's is also
// real: the kernel's EIO from a FUSE file system whose fsync fails
// (testenv/faultfs).
func TestFailedWriteClosesTheJournal(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fault gives the journal's directory and what makes the
		// journal's next write or fsync fail.
		fault func(t *testing.T) (dir string, fail func(*journal.Journal))
		want  error
	}{
		{"write", injected(1, 0), syscall.ENOSPC},
		{"fsync", injected(0, 1), syscall.EIO},
		{"fsync-fuse", func(t *testing.T) (string, func(*journal.Journal)) {
			dir := t.TempDir()
			fs := faultfs.Mount(t, dir)
			return dir, func(*journal.Journal) { fs.FailFsync(true) }
		}, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, fail := tc.fault(t)
			path := filepath.Join(dir, "journal.jsonl")
			j, err := journal.Create(path, "r", "op", nil)
			if err != nil {
				t.Fatal(err)
			}
			// Closed before the file system goes, whatever happens.
			t.Cleanup(func() { j.Close() })
			for i := 0; i < 2; i++ {
				if _, err := j.Append(journal.Record{Kind: journal.Event, Detail: map[string]string{"n": strings.Repeat("x", 200)}}); err != nil {
					t.Fatal(err)
				}
			}
			fail(j)
			head := j.Head()
			_, err = j.Append(journal.Record{Kind: journal.Intent, Object: "root"})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("failed append: %v, want %v naming %s", err, tc.want, path)
			}
			if j.Err() == nil || j.Head() != head {
				t.Errorf("after the failure: Err %v, head moved %v", j.Err(), j.Head() != head)
			}
			_, err = j.AppendAll([]journal.Record{{Kind: journal.Outcome}})
			if err == nil || !strings.Contains(err.Error(), "closed after a failed write") {
				t.Fatalf("append after the failure: %v", err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(b, []byte("\n")); n != 2 || !bytes.HasSuffix(b, []byte("\n")) {
				t.Errorf("journal holds %d lines and a torn tail %v, want the 2 acknowledged records only:\n%s", n, !bytes.HasSuffix(b, []byte("\n")), b)
			}
			recs, h, err := journal.VerifyFile(path)
			if err != nil || len(recs) != 2 || h != head {
				t.Errorf("acknowledged records: %d, %v (head %v)", len(recs), err, h == head)
			}
			if err := j.Close(); err != nil {
				t.Errorf("Close after the failure: %v", err)
			}
		})
	}
}
