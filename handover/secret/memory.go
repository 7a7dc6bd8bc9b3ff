package secret

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryStore keeps secrets in memory, for tests. It applies the same rules
// as the durable stores: path syntax, version numbering and state
// transitions.
type MemoryStore struct {
	mu  sync.Mutex
	tab table
	now func() time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{tab: newTable(), now: time.Now}
}

func (*MemoryStore) Kind() string     { return "memory" }
func (*MemoryStore) Location() string { return "memory" }

// Check always succeeds: memory is always reachable.
func (*MemoryStore) Check(ctx context.Context) error { return ctx.Err() }

func (m *MemoryStore) PutPending(ctx context.Context, path string, value Secret, meta map[string]string) (Version, error) {
	if err := ctx.Err(); err != nil {
		return Version{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tab.put(path, value, meta, m.now())
}

func (m *MemoryStore) SetState(ctx context.Context, path string, version int, state State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tab.setState(path, version, state)
}

// PutPendingAll stores every put, or none.
func (m *MemoryStore) PutPendingAll(ctx context.Context, puts []Put) ([]Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.tab.clone()
	vs, err := next.putAll(puts, m.now())
	if err != nil {
		next.wipe()
		return nil, err
	}
	m.tab.wipe()
	m.tab = next
	return vs, nil
}

// SetStates makes every state change, or none.
func (m *MemoryStore) SetStates(ctx context.Context, changes []StateChange) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.tab.clone()
	if err := next.setStates(changes); err != nil {
		next.wipe()
		return err
	}
	m.tab.wipe()
	m.tab = next
	return nil
}

func (m *MemoryStore) Get(ctx context.Context, path string, version int) (Secret, Version, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, Version{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tab.get(path, version)
}

func (m *MemoryStore) List(ctx context.Context) ([]Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tab.list(), nil
}

// table is the whole content of a memory or file store: every path with
// every version, value included. The file store serialises it as JSON
// inside its age envelope.
type table struct {
	Format string            `json:"format"`
	Paths  map[string]*entry `json:"paths"`
}

const tableFormat = "handover-secret-store/1"

type entry struct {
	Versions []record `json:"versions"` // ascending by Version
}

type record struct {
	Version int               `json:"version"`
	State   State             `json:"state"`
	Created time.Time         `json:"created"`
	Meta    map[string]string `json:"meta,omitempty"`
	// Value is []byte so that JSON carries any byte sequence intact
	// (base64), not only valid UTF-8.
	Value []byte `json:"value"`
}

func newTable() table { return table{Format: tableFormat, Paths: map[string]*entry{}} }

func (t table) clone() table {
	c := table{Format: t.Format, Paths: make(map[string]*entry, len(t.Paths))}
	for p, e := range t.Paths {
		ne := &entry{Versions: make([]record, len(e.Versions))}
		for i, r := range e.Versions {
			r.Meta = maps.Clone(r.Meta)
			r.Value = slices.Clone(r.Value)
			ne.Versions[i] = r
		}
		c.Paths[p] = ne
	}
	return c
}

// wipe overwrites every value held by the table.
func (t table) wipe() {
	for _, e := range t.Paths {
		for i := range e.Versions {
			clear(e.Versions[i].Value)
		}
	}
}

func (r record) version(path string) Version {
	return Version{Path: path, Version: r.Version, State: r.State, Created: r.Created, Meta: maps.Clone(r.Meta)}
}

func (t table) put(path string, value Secret, meta map[string]string, now time.Time) (Version, error) {
	if err := validPut(path, value, meta); err != nil {
		return Version{}, err
	}
	e := t.Paths[path]
	if e == nil {
		e = &entry{}
		t.Paths[path] = e
	}
	n := 1
	if len(e.Versions) > 0 {
		n = e.Versions[len(e.Versions)-1].Version + 1
	}
	r := record{
		Version: n,
		State:   Pending,
		Created: now.UTC().Truncate(time.Microsecond),
		Meta:    maps.Clone(meta),
		Value:   value.RevealBytes(),
	}
	e.Versions = append(e.Versions, r)
	return r.version(path), nil
}

// putAll puts every version in order; on an error the table is left
// part-written, for the caller to drop.
func (t table) putAll(puts []Put, now time.Time) ([]Version, error) {
	vs := make([]Version, 0, len(puts))
	for _, p := range puts {
		v, err := t.put(p.Path, p.Value, p.Meta, now)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// setStates makes the changes in order; on an error the table is left
// part-written, for the caller to drop.
func (t table) setStates(changes []StateChange) error {
	for _, c := range changes {
		if err := t.setState(c.Path, c.Version, c.State); err != nil {
			return err
		}
	}
	return nil
}

func (t table) find(path string, version int) (*entry, int, error) {
	if err := ValidPath(path); err != nil {
		return nil, 0, err
	}
	e := t.Paths[path]
	if e == nil {
		return nil, 0, fmt.Errorf("secret %s: %w", path, ErrNotFound)
	}
	if version == 0 {
		for i, r := range e.Versions {
			if r.State == Current {
				return e, i, nil
			}
		}
		return nil, 0, fmt.Errorf("secret %s has no current version: %w", path, ErrNotFound)
	}
	for i, r := range e.Versions {
		if r.Version == version {
			return e, i, nil
		}
	}
	return nil, 0, fmt.Errorf("secret %s#%d: %w", path, version, ErrNotFound)
}

func (t table) setState(path string, version int, state State) error {
	if version <= 0 {
		return fmt.Errorf("secret %s: version %d: a state change names a version", path, version)
	}
	e, i, err := t.find(path, version)
	if err != nil {
		return err
	}
	if err := CheckTransition(e.Versions[i].State, state); err != nil {
		return fmt.Errorf("secret %s#%d: %w", path, version, err)
	}
	if state == Current {
		for j := range e.Versions {
			if j != i && e.Versions[j].State == Current {
				e.Versions[j].State = Superseded
			}
		}
	}
	e.Versions[i].State = state
	return nil
}

func (t table) get(path string, version int) (Secret, Version, error) {
	e, i, err := t.find(path, version)
	if err != nil {
		return Secret{}, Version{}, err
	}
	r := e.Versions[i]
	return FromBytes(slices.Clone(r.Value)), r.version(path), nil
}

func (t table) list() []Version {
	var out []Version
	for _, p := range slices.Sorted(maps.Keys(t.Paths)) {
		for _, r := range t.Paths[p].Versions {
			out = append(out, r.version(p))
		}
	}
	return out
}

// ErrTransition is returned for a state change the rotation protocol does
// not allow.
var ErrTransition = errors.New("state change not allowed")

// CheckTransition says whether a version may move from one state to
// another. Every store applies these rules:
//   - pending → current (verified on the target) or failed;
//   - failed → current (recovery found the target uses it after all);
//   - current → superseded happens only by making another version current;
//   - moving to the state a version already has is a no-op, so a step that
//     is retried after a crash succeeds.
func CheckTransition(from, to State) error {
	switch to {
	case Pending, Current, Superseded, Failed:
	default:
		return fmt.Errorf("unknown secret state %q", to)
	}
	if from == to {
		return nil
	}
	switch {
	case from == Pending && (to == Current || to == Failed):
		return nil
	case from == Failed && to == Current:
		return nil
	}
	return fmt.Errorf("%s → %s: %w", from, to, ErrTransition)
}

// reservedMeta is a metadata key the stores use for the value itself.
const reservedMeta = "value"

// ValidPath reports whether path can name a secret in every store: slash
// separated segments, none empty, "." or "..", no leading or trailing
// slash, no control characters.
func ValidPath(path string) error {
	if path == "" {
		return errors.New("secret path is empty")
	}
	if len(path) > 512 {
		return fmt.Errorf("secret path %.40q...: longer than 512 bytes", path)
	}
	for _, seg := range strings.Split(path, "/") {
		switch seg {
		case "":
			return fmt.Errorf("secret path %q: empty segment", path)
		case ".", "..":
			return fmt.Errorf("secret path %q: segment %q", path, seg)
		}
	}
	for _, c := range path {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("secret path %q: control character", path)
		}
	}
	if strings.ContainsAny(path, "#?%*") {
		return fmt.Errorf("secret path %q: # ? %% and * are not allowed", path)
	}
	return nil
}

func validPut(path string, value Secret, meta map[string]string) error {
	if err := ValidPath(path); err != nil {
		return err
	}
	if value.IsZero() {
		return fmt.Errorf("secret %s: empty value", path)
	}
	for k := range meta {
		if k == "" || k == reservedMeta {
			return fmt.Errorf("secret %s: metadata key %q is reserved", path, k)
		}
	}
	return nil
}
