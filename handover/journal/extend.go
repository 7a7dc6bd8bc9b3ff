package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Attested is a person's written, dated statement that a declared item's
// step was done (`handover attest`).
const Attested Kind = "attest"

// Extend opens a journal file that lives across runs (the attestations of
// a playbook) to append to it: its chain is verified first, and new
// records continue it. A file that does not exist is created. A broken
// chain is an error: nothing is appended to a record that was tampered
// with.
func Extend(path, run, operator string, now func() time.Time) (*Journal, []Record, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, err
	}
	recs, head, err := VerifyFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		recs, head = nil, Genesis
	case err != nil:
		return nil, recs, fmt.Errorf("journal %s: %w", path, err)
	}
	if len(recs) == 0 {
		head = Genesis
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, recs, fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, recs, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, recs, fmt.Errorf("journal: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Journal{f: f, size: st.Size(), path: path, run: run, seq: len(recs), head: head, now: now, op: operator}, recs, nil
}
