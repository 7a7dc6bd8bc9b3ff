package secret

import (
	"context"
	"fmt"
	"time"
)

// LockHolder says which run holds a lock.
type LockHolder struct {
	System   string    `json:"system,omitempty"` // what is locked: "host 127.0.1.1:22"
	Playbook string    `json:"playbook,omitempty"`
	State    string    `json:"state,omitempty"` // the run's state directory
	Run      string    `json:"run,omitempty"`
	Operator string    `json:"operator,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Host     string    `json:"host,omitempty"`
	Since    time.Time `json:"since"`
	// Renewed is when the holder last said it was alive (store locks).
	Renewed time.Time `json:"renewed,omitempty"`
	// Released marks a lock given back (a store lock entry is kept, and
	// reused by the next run).
	Released bool `json:"released,omitempty"`
}

func (h LockHolder) String() string {
	if h.PID == 0 && h.Run == "" {
		return "holder unknown"
	}
	return fmt.Sprintf("run %s of %s (state %s) by %s, pid %d on %s, since %s", h.Run, h.Playbook, h.State, h.Operator, h.PID, h.Host, h.Since.Format(time.RFC3339))
}

// HeldError is returned by Lock when another run holds the lock.
type HeldError struct {
	Where  string // where the lock lives, for the operator
	Holder LockHolder
}

func (e *HeldError) Error() string { return fmt.Sprintf("lock %s is held by %s", e.Where, e.Holder) }

// Locker is implemented by stores that hold locks runs on other machines
// see too (Vault). Lock takes name without waiting: a lock held by a live
// run is a *HeldError. The returned function releases it. A lock whose
// holder stopped renewing it (it crashed) for LockStaleAfter is taken over.
type Locker interface {
	Lock(ctx context.Context, name string, me LockHolder) (release func(), err error)
}

// LockRenewEvery is how often a holder renews its store lock; a lock not
// renewed for LockStaleAfter is stale.
var (
	LockRenewEvery = 20 * time.Second
	LockStaleAfter = 90 * time.Second
)
