package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Holder describes the run holding a state directory's lock.
type Holder struct {
	PID      int       `json:"pid"`
	Operator string    `json:"operator"`
	Run      string    `json:"run"`
	Since    time.Time `json:"since"`
}

// ErrLocked is returned when another run holds the lock.
type ErrLocked struct {
	Path   string
	Holder Holder
}

func (e *ErrLocked) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("another handover run holds %s", e.Path)
	}
	return fmt.Sprintf("another handover run holds %s: run %s by %s (pid %d) since %s", e.Path, h.Run, h.Operator, h.PID, h.Since.Format(time.RFC3339))
}

// lock takes the state directory's lock without waiting. The kernel drops
// it when the process dies, so a crashed run never blocks the next one.
func (s *Session) lock(run string) (func(), error) {
	dir := s.StateDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &ErrLocked{Path: path}
			if b, err := os.ReadFile(path); err == nil {
				_ = json.Unmarshal(b, &le.Holder)
			}
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Operator: s.Operator(), Run: run, Since: s.engine.now()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}
