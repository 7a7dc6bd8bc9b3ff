package journal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/journal"
)

// clock is an injected clock that moves one second per call, in a zone
// other than UTC so the journal's conversion shows.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// sample is what a run journals, in order.
func sample() []journal.Record {
	return []journal.Record{
		{Kind: journal.RunStart, Detail: map[string]string{"playbook": "mairie.yaml", "hash": "abc"}},
		{Kind: journal.Inventory, Target: "srv-1", Result: "ok"},
		{Kind: journal.Intent, Target: "srv-2", System: "srv-app1", Action: "rotate-password", Object: "root", Change: "0a1b2c3d4e5f", Secret: "vault:handover/srv-2/srv-app1/root#3", Attempt: 1},
		{Kind: journal.Outcome, Target: "srv-3", System: "srv-app1", Change: "0a1b2c3d4e5f", Result: "applied", Operator: "someone-else"},
		{Kind: journal.Verified, Target: "srv-4", Change: "0a1b2c3d4e5f", Result: "ok", Error: ""},
		{Kind: journal.Recovered, Target: "srv-5", Resolves: "run-0/3", Result: "never-applied"},
		{Kind: journal.RunEnd, Result: "complete"},
	}
}

// write creates a journal at a fresh path and appends recs.
func write(t *testing.T, recs []journal.Record) (string, []journal.Record) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runs", "run-1", "journal.jsonl")
	j, err := journal.Create(path, "run-1", "operator@host", newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	var out []journal.Record
	for _, r := range recs {
		w, err := j.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path, out
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	path, written := write(t, sample())
	recs, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, recs), jsonOf(t, written); got != want {
		t.Errorf("Read gives\n%s\nAppend returned\n%s", got, want)
	}
	head, err := journal.Verify(recs)
	if err != nil {
		t.Fatal(err)
	}
	if head != written[len(written)-1].Hash {
		t.Errorf("Verify head = %s, want the last record's hash %s", head, written[len(written)-1].Hash)
	}
	recs2, head2, err := journal.VerifyFile(path)
	if err != nil || head2 != head || len(recs2) != len(written) {
		t.Errorf("VerifyFile = %d records, %s, %v; want %d, %s, nil", len(recs2), head2, err, len(written), head)
	}

	first := newClock().now().UTC()
	for i, r := range written {
		in := sample()[i]
		wantOp := "operator@host"
		if in.Operator != "" {
			wantOp = in.Operator
		}
		checks := []struct {
			what      string
			got, want any
		}{
			{"seq", r.Seq, i + 1},
			{"run", r.Run, "run-1"},
			{"operator", r.Operator, wantOp},
			{"time", r.Time, first.Add(time.Duration(i) * time.Second)},
			{"time zone", r.Time.Location(), time.UTC},
			{"kind", r.Kind, in.Kind},
			{"target", r.Target, in.Target},
			{"secret", r.Secret, in.Secret},
			{"hash length", len(r.Hash), 64},
		}
		for _, c := range checks {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("record %d %s = %v, want %v", i+1, c.what, c.got, c.want)
			}
		}
	}
	if written[0].Prev != journal.Genesis {
		t.Errorf("first record's prev = %s, want the genesis hash", written[0].Prev)
	}
	for i := 1; i < len(written); i++ {
		if written[i].Prev != written[i-1].Hash {
			t.Errorf("record %d's prev is not record %d's hash", i+1, i)
		}
	}
}

func TestJournalAccessors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := journal.Create(path, "run-7", "op", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Path() != path || j.Run() != "run-7" || j.Head() != journal.Genesis {
		t.Errorf("new journal: path %s, run %s, head %s", j.Path(), j.Run(), j.Head())
	}
	r, err := j.Append(journal.Record{Kind: journal.Event})
	if err != nil {
		t.Fatal(err)
	}
	if j.Head() != r.Hash {
		t.Errorf("Head() = %s after an append, want %s", j.Head(), r.Hash)
	}
	// A nil clock means the wall clock.
	if d := time.Since(r.Time); d < 0 || d > time.Minute {
		t.Errorf("record time %v is not now", r.Time)
	}
}

// TestEveryAppendIsOnDisk reads the file after each Append: the record is
// there, whole, before Append returns (written and fsync'd, not buffered).
func TestEveryAppendIsOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Create(path, "run-1", "op", newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	b, err := os.ReadFile(path)
	if err != nil || len(b) != 0 {
		t.Fatalf("new journal file: %q, %v; want empty", b, err)
	}
	var want bytes.Buffer
	for i, r := range sample() {
		w, err := j.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString(jsonOf(t, w) + "\n")
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("after append %d the file holds\n%s\nwant\n%s", i+1, got, want.Bytes())
		}
	}
}

// TestAppendAllChainsLikeAppend writes records in batches and one by one:
// the file is one chain, numbered in order, and verifies.
func TestAppendAllChainsLikeAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Create(path, "run-1", "op", newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	recs := sample()
	if len(recs) < 3 {
		t.Fatalf("sample() has %d records, want at least 3", len(recs))
	}
	written, err := j.AppendAll(recs[:2])
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || written[0].Seq != 1 || written[1].Seq != 2 || written[1].Prev != written[0].Hash {
		t.Fatalf("AppendAll wrote %+v, want seq 1 and 2 chained", written)
	}
	if j.Head() != written[1].Hash {
		t.Errorf("Head() = %s, want the last record's hash %s", j.Head(), written[1].Hash)
	}
	last, err := j.Append(recs[2])
	if err != nil {
		t.Fatal(err)
	}
	if last.Seq != 3 || last.Prev != written[1].Hash {
		t.Errorf("Append after AppendAll: seq %d prev %s, want 3 after %s", last.Seq, last.Prev, written[1].Hash)
	}
	if empty, err := j.AppendAll(nil); err != nil || len(empty) != 0 {
		t.Errorf("AppendAll(nil) = %v, %v; want nothing", empty, err)
	}
	got, head, err := journal.VerifyFile(path)
	if err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	if len(got) != 3 || head != last.Hash {
		t.Errorf("VerifyFile: %d records, head %s; want 3, %s", len(got), head, last.Hash)
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "runs", "r1", "journal.jsonl")
	j, err := journal.Create(path, "r1", "op", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		path string
		want fs.FileMode
	}{
		{path, 0o600},
		{filepath.Dir(path), 0o700 | fs.ModeDir},
		{filepath.Join(dir, "state"), 0o700 | fs.ModeDir},
	}
	for _, m := range modes {
		fi, err := os.Stat(m.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != m.want {
			t.Errorf("%s: mode %v, want %v", m.path, fi.Mode(), m.want)
		}
	}

	// An existing journal is never reopened or truncated.
	if err := os.WriteFile(path, []byte("earlier run\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = journal.Create(path, "r1", "op", nil)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "earlier run\n" {
		t.Errorf("Create changed the existing file: %q", b)
	}
}

func TestClose(t *testing.T) {
	j, err := journal.Create(filepath.Join(t.TempDir(), "j.jsonl"), "r", "op", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := j.Append(journal.Record{Kind: journal.Event}); err == nil {
		t.Error("Append after Close succeeded")
	}
}

// tamper rewrites a journal file's lines.
func tamper(t *testing.T, path string, edit func(lines []string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	lines = edit(lines)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rehash edits a record and recomputes its hash, as someone covering an
// edit would: SHA-256 of the record's JSON with an empty hash.
func rehash(t *testing.T, line string, edit func(*journal.Record)) string {
	t.Helper()
	var r journal.Record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	r.Hash = ""
	sum := sha256.Sum256([]byte(jsonOf(t, r)))
	r.Hash = hex.EncodeToString(sum[:])
	return jsonOf(t, r)
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("%q does not appear exactly once in %s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

func TestTamperingIsLocated(t *testing.T) {
	n := len(sample())
	tests := []struct {
		name     string
		edit     func(t *testing.T, lines []string) []string
		wantLine int
		wantMsg  string
	}{
		{"first line removed", func(t *testing.T, l []string) []string { return l[1:] }, 1, "sequence number is 2, expected 1"},
		{"middle line removed", func(t *testing.T, l []string) []string { return append(l[:2:2], l[3:]...) }, 3, "sequence number is 4, expected 3"},
		{"two lines swapped", func(t *testing.T, l []string) []string {
			l[2], l[3] = l[3], l[2]
			return l
		}, 3, "sequence number is 4, expected 3"},
		{"last two lines swapped", func(t *testing.T, l []string) []string {
			l[n-2], l[n-1] = l[n-1], l[n-2]
			return l
		}, n - 1, "sequence number"},
		{"field of a middle record edited", func(t *testing.T, l []string) []string {
			l[3] = replaceOnce(t, l[3], `"target":"srv-3"`, `"target":"srv-X"`)
			return l
		}, 4, "content does not match its hash"},
		{"result of a middle record edited", func(t *testing.T, l []string) []string {
			l[3] = replaceOnce(t, l[3], `"result":"applied"`, `"result":"failed"`)
			return l
		}, 4, "content does not match its hash"},
		{"field edited and its hash recomputed", func(t *testing.T, l []string) []string {
			l[2] = rehash(t, l[2], func(r *journal.Record) { r.Secret = "vault:elsewhere#1" })
			return l
		}, 4, "previous-hash link does not match"},
		{"sequence numbers renumbered after a removal", func(t *testing.T, l []string) []string {
			l = append(l[:2:2], l[3:]...)
			for i := 2; i < len(l); i++ {
				l[i] = replaceOnce(t, l[i], fmt.Sprintf(`"seq":%d,`, i+2), fmt.Sprintf(`"seq":%d,`, i+1))
			}
			return l
		}, 3, "previous-hash link does not match"},
		{"last record's hash edited", func(t *testing.T, l []string) []string {
			var r journal.Record
			if err := json.Unmarshal([]byte(l[n-1]), &r); err != nil {
				t.Fatal(err)
			}
			l[n-1] = replaceOnce(t, l[n-1], r.Hash, strings.Repeat("f", 64))
			return l
		}, n, "content does not match its hash"},
		{"last line truncated", func(t *testing.T, l []string) []string {
			l[n-1] = l[n-1][:len(l[n-1])/2]
			return l
		}, n, "not a journal record"},
		{"last line cut before its closing brace", func(t *testing.T, l []string) []string {
			l[n-1] = strings.TrimSuffix(l[n-1], "}")
			return l
		}, n, "not a journal record"},
		{"unknown field", func(t *testing.T, l []string) []string {
			l[1] = replaceOnce(t, l[1], `{"seq":2,`, `{"seq":2,"approved_by":"nobody",`)
			return l
		}, 2, `unknown field "approved_by"`},
		{"data after a record", func(t *testing.T, l []string) []string {
			l[1] += ` {"seq":99}`
			return l
		}, 2, "data after its record"},
		{"line that is not JSON", func(t *testing.T, l []string) []string {
			l[4] = "rm -rf /"
			return l
		}, 5, "not a journal record"},
		{"record duplicated", func(t *testing.T, l []string) []string {
			return append(l[:3:3], l[2:]...)
		}, 4, "sequence number is 3, expected 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := write(t, sample())
			tamper(t, path, func(l []string) []string { return tt.edit(t, l) })
			_, head, err := journal.VerifyFile(path)
			var ve *journal.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("VerifyFile error = %v, want a *journal.VerifyError", err)
			}
			if ve.Line != tt.wantLine {
				t.Errorf("VerifyError.Line = %d, want %d (%v)", ve.Line, tt.wantLine, err)
			}
			if !strings.Contains(ve.Msg, tt.wantMsg) {
				t.Errorf("VerifyError.Msg = %q, want it to contain %q", ve.Msg, tt.wantMsg)
			}
			if want := fmt.Sprintf("journal record %d: ", tt.wantLine); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if head != "" {
				t.Errorf("VerifyFile returned head %s with its error", head)
			}
		})
	}
}

// TestRemovedTailChangesHead: removing the last records leaves a valid
// chain; only the head, which reports sign, tells.
func TestRemovedTailChangesHead(t *testing.T) {
	path, written := write(t, sample())
	tamper(t, path, func(l []string) []string { return l[:len(l)-1] })
	recs, head, err := journal.VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(written)-1 || head != written[len(written)-2].Hash || head == written[len(written)-1].Hash {
		t.Errorf("after removing the last record: %d records, head %s; want %d, %s", len(recs), head, len(written)-1, written[len(written)-2].Hash)
	}
}

func TestBlankLinesAreIgnored(t *testing.T) {
	path, written := write(t, sample())
	tamper(t, path, func(l []string) []string {
		return append([]string{""}, append(append(l[:2:2], "  ", ""), l[2:]...)...)
	})
	_, head, err := journal.VerifyFile(path)
	if err != nil || head != written[len(written)-1].Hash {
		t.Errorf("VerifyFile = %s, %v; want %s, nil", head, err, written[len(written)-1].Hash)
	}
}

func TestVerifyInMemory(t *testing.T) {
	_, written := write(t, sample())
	tests := []struct {
		name     string
		edit     func([]journal.Record) []journal.Record
		wantLine int
	}{
		{"detail edited", func(r []journal.Record) []journal.Record { r[0].Detail["hash"] = "def"; return r }, 1},
		{"detail added", func(r []journal.Record) []journal.Record { r[1].Detail = map[string]string{"x": "y"}; return r }, 2},
		{"time edited", func(r []journal.Record) []journal.Record { r[2].Time = r[2].Time.Add(time.Nanosecond); return r }, 3},
		{"attempt edited", func(r []journal.Record) []journal.Record { r[2].Attempt = 2; return r }, 3},
		{"run edited", func(r []journal.Record) []journal.Record { r[6].Run = "run-2"; return r }, 7},
		{"prev edited", func(r []journal.Record) []journal.Record { r[5].Prev = journal.Genesis; return r }, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := copyRecords(t, written)
			_, err := journal.Verify(tt.edit(recs))
			var ve *journal.VerifyError
			if !errors.As(err, &ve) || ve.Line != tt.wantLine {
				t.Errorf("Verify error = %v, want a VerifyError at record %d", err, tt.wantLine)
			}
		})
	}
	head, err := journal.Verify(nil)
	if err != nil || head != journal.Genesis {
		t.Errorf("Verify(nil) = %s, %v; want the genesis hash", head, err)
	}
}

func copyRecords(t *testing.T, recs []journal.Record) []journal.Record {
	t.Helper()
	var out []journal.Record
	if err := json.Unmarshal([]byte(jsonOf(t, recs)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadMissingFile(t *testing.T) {
	_, err := journal.Read(filepath.Join(t.TempDir(), "none.jsonl"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestConcurrentAppends: appends from many goroutines get distinct,
// gapless sequence numbers and one unbroken chain, in file order.
func TestConcurrentAppends(t *testing.T) {
	const workers, each = 16, 40
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := journal.Create(path, "run-1", "op", newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written = map[int]journal.Record{}
		errs    []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r, err := j.Append(journal.Record{Kind: journal.Event, Target: fmt.Sprintf("w%d", w), Object: fmt.Sprint(i)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				written[r.Seq] = r
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 0 {
		t.Fatalf("Append errors: %v", errs)
	}
	recs, head, err := journal.VerifyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != workers*each || len(written) != workers*each {
		t.Fatalf("%d records in the file, %d distinct sequence numbers returned; want %d", len(recs), len(written), workers*each)
	}
	for i, r := range recs {
		if jsonOf(t, r) != jsonOf(t, written[i+1]) {
			t.Errorf("record %d in the file differs from what Append returned", i+1)
		}
	}
	if head != j.Head() {
		t.Errorf("file head %s, journal head %s", head, j.Head())
	}
	// Each worker's records keep their order.
	next := map[string]int{}
	for _, r := range recs {
		if want := fmt.Sprint(next[r.Target]); r.Object != want {
			t.Errorf("worker %s: record %s where %s was due", r.Target, r.Object, want)
		}
		next[r.Target]++
	}
}

func TestExtendContinuesTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "attestations.jsonl")
	for i := range 3 {
		j, recs, err := journal.Extend(path, fmt.Sprintf("a%d", i), "op", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != i {
			t.Fatalf("extend %d: %d records before", i, len(recs))
		}
		if _, err := j.Append(journal.Record{Kind: journal.Attested, Object: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		j.Close()
	}
	recs, _, err := journal.VerifyFile(path)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	// An edited record: nothing more is appended.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte(`"object":"1"`), []byte(`"object":"9"`), 1), 0o600)
	if _, _, err := journal.Extend(path, "a4", "op", nil); err == nil {
		t.Fatal("a tampered journal was extended")
	}
}
