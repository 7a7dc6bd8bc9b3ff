package secret

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is where a stored version stands in the rotation protocol.
type State string

const (
	// Pending: stored before the target was changed; it may or may not be
	// the target's credential yet.
	Pending State = "pending"
	// Current: verified on the target.
	Current State = "current"
	// Superseded: was current before a newer version was verified.
	Superseded State = "superseded"
	// Failed: never became the target's credential (rejected or rolled back).
	Failed State = "failed"
)

// Version is the metadata of one stored value. It never holds the value.
type Version struct {
	Path    string            `json:"path"`
	Version int               `json:"version"`
	State   State             `json:"state"`
	Created time.Time         `json:"created"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// Ref names a stored version without its value, for plans, journals and
// reports: "vault:handover/mairie/ldap/cn=admin#3".
type Ref struct {
	Store   string `json:"store"`
	Path    string `json:"path"`
	Version int    `json:"version"`
}

func (r Ref) String() string { return r.Store + ":" + r.Path + "#" + strconv.Itoa(r.Version) }

// ParseRef parses the String form of a Ref.
func ParseRef(s string) (Ref, error) {
	store, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Ref{}, fmt.Errorf("secret ref %q: missing store", s)
	}
	i := strings.LastIndexByte(rest, '#')
	if i < 0 {
		return Ref{}, fmt.Errorf("secret ref %q: missing #version", s)
	}
	v, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return Ref{}, fmt.Errorf("secret ref %q: %w", s, err)
	}
	return Ref{Store: store, Path: rest[:i], Version: v}, nil
}

// ErrNotFound is returned for a path or version that does not exist.
var ErrNotFound = errors.New("secret not found")

// Store keeps credentials durably. Every write is durable when the call
// returns: the rotation protocol relies on it (write-ahead).
type Store interface {
	// Kind is "vault" or "file"; Location says where (address or path).
	Kind() string
	Location() string
	// Check proves the store is reachable, unsealed and writable, before a
	// run changes anything.
	Check(ctx context.Context) error
	// PutPending stores value as a new pending version of path.
	PutPending(ctx context.Context, path string, value Secret, meta map[string]string) (Version, error)
	// SetState moves a version to another state. Making a version Current
	// makes the previous current one Superseded.
	SetState(ctx context.Context, path string, version int, state State) error
	// Get returns a version (0 = the current one) with its metadata.
	Get(ctx context.Context, path string, version int) (Secret, Version, error)
	// List returns the metadata of every version of every path.
	List(ctx context.Context) ([]Version, error)
}

// Batcher is implemented by stores that make several writes in one
// durable write: the file store re-encrypts and rewrites its whole table on
// each, so a system's credentials are written together. Each call is all
// or nothing, and durable when it returns, like the Store's own writes.
type Batcher interface {
	PutPendingAll(ctx context.Context, puts []Put) ([]Version, error)
	SetStates(ctx context.Context, changes []StateChange) error
}

// Put is one new pending version of a batch.
type Put struct {
	Path  string
	Value Secret
	Meta  map[string]string
}

// StateChange moves one version to another state, as SetState does.
type StateChange struct {
	Path    string
	Version int
	State   State
}

// RefOf returns the printable reference of a stored version.
func RefOf(s Store, v Version) Ref { return Ref{Store: s.Kind(), Path: v.Path, Version: v.Version} }
