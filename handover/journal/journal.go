// Package journal owns the write-ahead record of a run: append-only,
// fsync'd, hash-chained JSON lines. Each record carries the previous
// record's hash, so removing, reordering or editing a line breaks the
// chain. Records name secrets by store reference only, never by value.
package journal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/handoverhq/handover/handover/plan"
)

// Kind says what a record is.
type Kind string

const (
	RunStart  Kind = "run-start"
	RunEnd    Kind = "run-end"
	Inventory Kind = "inventory"
	Planned   Kind = "plan"
	// Intent is written before a change is made (for a rotation: after the
	// new secret is stored as pending, before the target is touched).
	Intent Kind = "intent"
	// Outcome is the result of making the change.
	Outcome Kind = "outcome"
	// Verified is the proof after the change (new works, old fails, gone on
	// re-inventory).
	Verified Kind = "verify"
	// Recovered resolves an intent left unfinished by an earlier run.
	Recovered Kind = "recover"
	Event     Kind = "event"
	// Export records a dossier bundle handed over: who, to which
	// recipients, which credential (by store reference, never a value).
	Export Kind = "export"
	// Import records a credential taken from a bundle into a store.
	Import Kind = "import"
	// Receipt records a signed receipt for a bundle, once verified.
	Receipt Kind = "receipt"
)

// Record is one journal line.
type Record struct {
	Seq      int       `json:"seq"`
	Time     time.Time `json:"time"`
	Run      string    `json:"run"`
	Kind     Kind      `json:"kind"`
	Operator string    `json:"operator,omitempty"`
	Target   string    `json:"target,omitempty"`
	System   string    `json:"system,omitempty"`
	Action   string    `json:"action,omitempty"`
	Object   string    `json:"object,omitempty"`
	Change   string    `json:"change,omitempty"`
	// Secret is a store reference ("vault:path#3"), never a value.
	Secret string `json:"secret,omitempty"`
	// Attempt numbers retries of one change with fresh secrets.
	Attempt int               `json:"attempt,omitempty"`
	Result  plan.Result       `json:"result,omitempty"`
	Error   string            `json:"error,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
	// Resolves names the intent a Recovered record settles: run/seq.
	Resolves string `json:"resolves,omitempty"`
	Prev     string `json:"prev"`
	Hash     string `json:"hash"`
}

// Genesis is the Prev of a journal's first record.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// computeHash digests a record with its Hash field empty.
func computeHash(r Record) (string, error) {
	r.Hash = ""
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// file is what a journal needs of its open file (an *os.File; tests
// inject write and fsync failures through it).
type file interface {
	Write([]byte) (int, error)
	Sync() error
	Truncate(int64) error
	Close() error
}

// Journal appends records to one file.
type Journal struct {
	mu   sync.Mutex
	f    file
	size int64 // bytes acknowledged (written and fsync'd)
	// broken is the failure that closed the journal: after a failed write
	// or fsync nothing more is appended, so nothing ever follows a torn
	// line and no record is acknowledged that might not be on disk.
	broken error
	path   string
	run    string
	seq    int
	head   string
	now    func() time.Time
	op     string
}

// Create starts a new journal file for a run. now is injected for tests.
func Create(path, run, operator string, now func() time.Time) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Journal{f: f, path: path, run: run, head: Genesis, now: now, op: operator}, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Run is the run id.
func (j *Journal) Run() string { return j.run }

// Head is the hash of the last record written.
func (j *Journal) Head() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.head
}

// Append writes a record durably (fsync) and returns it as written.
func (j *Journal) Append(r Record) (Record, error) {
	out, err := j.AppendAll([]Record{r})
	if len(out) == 0 {
		return r, err
	}
	return out[0], err
}

// AppendAll writes records in order with one fsync for all of them, and
// returns them as written. Nothing of a failed call is acknowledged: the
// chain head moves only once every record is on disk.
func (j *Journal) AppendAll(recs []Record) ([]Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken != nil {
		return nil, fmt.Errorf("journal closed after a failed write: %w", j.broken)
	}
	if j.f == nil {
		return nil, errors.New("journal: closed")
	}
	seq, head := j.seq, j.head
	var buf []byte
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		seq++
		r.Seq = seq
		r.Time = j.now().UTC()
		r.Run = j.run
		if r.Operator == "" {
			r.Operator = j.op
		}
		r.Prev = head
		h, err := computeHash(r)
		if err != nil {
			return nil, err
		}
		r.Hash = h
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, b...), '\n')
		head = h
		out = append(out, r)
	}
	if _, err := j.f.Write(buf); err != nil {
		return nil, j.fail(fmt.Errorf("journal write %s: %w", j.path, err))
	}
	if err := j.f.Sync(); err != nil {
		return nil, j.fail(fmt.Errorf("journal fsync %s: %w", j.path, err))
	}
	j.seq, j.head = seq, head
	j.size += int64(len(buf))
	return out, nil
}

// fail closes the journal after a failed write or fsync. The bytes of the
// failed call are cut off when the file system allows it (a full disk
// still allows a truncation); a torn line that stays is at the very end,
// where recovery expects one. Either way nothing is appended after it.
func (j *Journal) fail(err error) error {
	if terr := j.f.Truncate(j.size); terr == nil {
		_ = j.f.Sync()
	}
	_ = j.f.Close()
	j.f = nil
	j.broken = err
	return err
}

// Err is the failure that closed the journal, or nil.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.broken
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// Read parses a journal file without verifying it. A torn last line (a
// crash in the middle of a write) is reported as an error.
func Read(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f)
}

// Decode parses journal lines.
func Decode(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			// A VerifyError, so a torn or edited line is located like any
			// other break of the chain.
			return recs, &VerifyError{Line: len(recs) + 1, Msg: fmt.Sprintf("line %d is not a journal record (torn by a crash, or edited): %v", line, err), Err: err}
		}
		if dec.InputOffset() != int64(len(b)) {
			return recs, &VerifyError{Line: len(recs) + 1, Msg: fmt.Sprintf("line %d has data after its record (edited)", line)}
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}

// VerifyError locates a break in the chain.
type VerifyError struct {
	Line int // 1-based record index
	Msg  string
	Err  error // the decoding error of an unreadable record, if any
}

func (e *VerifyError) Error() string { return fmt.Sprintf("journal record %d: %s", e.Line, e.Msg) }

func (e *VerifyError) Unwrap() error { return e.Err }

// Verify checks the hash chain and sequence of records and returns the head
// hash.
func Verify(recs []Record) (string, error) {
	prev := Genesis
	for i, r := range recs {
		if r.Seq != i+1 {
			return "", &VerifyError{Line: i + 1, Msg: fmt.Sprintf("sequence number is %d, expected %d (a record was removed or reordered)", r.Seq, i+1)}
		}
		if r.Prev != prev {
			return "", &VerifyError{Line: i + 1, Msg: "previous-hash link does not match the record before it (a record was removed, reordered or edited)"}
		}
		h, err := computeHash(r)
		if err != nil {
			return "", err
		}
		if h != r.Hash {
			return "", &VerifyError{Line: i + 1, Msg: fmt.Sprintf("content does not match its hash (record edited): computed %s, recorded %s", h[:12], shorten(r.Hash))}
		}
		prev = r.Hash
	}
	return prev, nil
}

// VerifyFile reads and verifies a journal file.
func VerifyFile(path string) ([]Record, string, error) {
	recs, err := Read(path)
	if err != nil {
		return recs, "", err
	}
	head, err := Verify(recs)
	return recs, head, err
}

func shorten(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
