// Package connector defines the small interfaces a target type implements,
// the inventory model every connector fills, and the registry the engine
// looks connectors up in.
//
// A connector reads in Inventory and decides in Plan; both are free of
// writes by construction: they receive no handle that can change a target.
// Changes happen only in Applier and Rotator, which the engine calls with a
// plan's changes, under the write-ahead journal.
package connector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// Connector is a target type ("ssh", "ldap", "mail", "vault").
type Connector interface {
	Type() string
	// Configure decodes a target's settings (t.Settings), reporting every
	// problem to d with its position. It does not connect anywhere. It
	// returns nil when the settings are unusable.
	Configure(d *playbook.Decoder, t playbook.Target, env Env) Target
}

// Target is one configured target.
type Target interface {
	// Inventory reads the target's state. It never changes anything.
	Inventory(ctx context.Context) (*Inventory, error)
	// Plan derives the changes the playbook's policy calls for from an
	// inventory. It does no I/O.
	Plan(inv *Inventory) ([]plan.Change, error)
	// Close releases connections.
	Close() error
}

// Applier makes a change that is not a credential rotation (removing a key,
// an agent, a grant; installing the new access key).
type Applier interface {
	Apply(ctx context.Context, ch plan.Change, secrets SecretReader) (Outcome, error)
}

// Rotator changes credentials under the engine's write-ahead protocol: the
// engine stores the new value as pending before it calls SetCredential, and
// proves the result with TryCredential (new works, old fails) before making
// it current.
type Rotator interface {
	// SetCredential makes next the credential of ch.Object on the target.
	SetCredential(ctx context.Context, ch plan.Change, next secret.Secret) error
	// TryCredential reports whether cred authenticates ch.Object right now
	// with a fresh login: (true, nil) accepted, (false, nil) rejected, an
	// error when it cannot tell (target unreachable).
	TryCredential(ctx context.Context, ch plan.Change, cred secret.Secret) (bool, error)
	// KnownCredential returns ch.Object's credential as handed over (from
	// the playbook), if the connector has one.
	KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error)
}

// BatchApplier is implemented by connectors that apply several changes of
// one system in a single round trip. The engine journals every change's
// intent before the call and every outcome after it; results are in the
// order of changes, one per change.
type BatchApplier interface {
	ApplyBatch(ctx context.Context, system string, changes []plan.Change, secrets SecretReader) []Applied
}

// Applied is the outcome of one change of a batch: Err nil means applied.
type Applied struct {
	Outcome Outcome
	Err     error
}

// BatchRotator is implemented by connectors that set and try several
// credentials of one system at once (one remote script, one login). The
// engine keeps the write-ahead protocol for each credential: every new value
// is pending in the store and its intent journaled before SetCredentials.
// Results are in the order of creds, one per credential.
type BatchRotator interface {
	SetCredentials(ctx context.Context, system string, creds []Credential) []error
	TryCredentials(ctx context.Context, system string, creds []Credential) []Tried
}

// Credential is one credential of a batch: the change it belongs to and
// the value to set or try.
type Credential struct {
	Change plan.Change
	Secret secret.Secret
}

// Tried is what trying one credential showed, as TryCredential returns it.
type Tried struct {
	Works bool
	Err   error
}

// Generator is implemented by connectors whose new credential is not a
// password (an SSH key pair). The engine calls it instead of generating a
// password for the change.
type Generator interface {
	NewCredential(ctx context.Context, ch plan.Change, rand io.Reader) (secret.Secret, error)
}

// Verifier proves the changes applied on one system, typically by a fresh
// re-inventory, after all of them ran.
type Verifier interface {
	Verify(ctx context.Context, system string, applied []plan.Change) ([]Check, error)
}

// ErrRejected wraps a target's refusal of a new credential (password
// policy, history). The engine retries with a fresh secret, within limits.
type ErrRejected struct {
	Reason string // the server's own words
}

func (e *ErrRejected) Error() string { return "rejected by the target: " + e.Reason }

// Outcome says what Apply did.
type Outcome struct {
	Detail string `json:"detail,omitempty"`
}

// CheckKind says what a check proves. The report fills its proof columns
// by kind, never by reading a check's words.
type CheckKind string

const (
	// NewWorks: the new credential logs in (or the new access key does).
	NewWorks CheckKind = "new-works"
	// OldRejected: the previous credential no longer logs in.
	OldRejected CheckKind = "old-rejected"
	// Absent: what the change removed is gone on an independent
	// re-observation (a re-inventory, a re-read of the directory).
	Absent CheckKind = "absent"
	// Present: what the change installed or kept is there on
	// re-observation (the new access key, the stored hash on the host, a
	// rewritten rule's other users).
	Present CheckKind = "present"
	// State: the object is in the state the change set (an account locked,
	// disabled, expired).
	State CheckKind = "state"
	// Note: an observation that proves nothing by itself (how a proof was
	// made); its OK is informative.
	Note CheckKind = "note"
)

// Known reports whether k is one of the kinds above.
func (k CheckKind) Known() bool {
	switch k {
	case NewWorks, OldRejected, Absent, Present, State, Note:
		return true
	}
	return false
}

// Check is one verified fact after a change: what was looked at (What, in
// the connector's words, naming the thing observed and how), what it
// proves (Kind) and whether it held.
type Check struct {
	Change string `json:"change"` // change id
	// Kind is omitted from JSON when unset: checks in reports of format 1
	// had none, and decoding then encoding such a report must give back
	// its exact bytes.
	Kind   CheckKind `json:"kind,omitempty"`
	What   string    `json:"what"` // e.g. "agent teamviewer: no process left (ps, /proc)"
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// SecretReader gives connectors read access to the secret store.
type SecretReader interface {
	// Current returns the current value at path, if any.
	Current(ctx context.Context, path string) (secret.Secret, bool, error)
}

// Recorder lets a connector put an event in the run's journal (for example
// a host key trusted on first use). Detail must not hold a secret.
type Recorder interface {
	Record(kind, system string, detail map[string]string)
}

// Env is what the engine hands a connector at Configure time.
type Env struct {
	Playbook *playbook.Playbook
	Resolver *playbook.Resolver
	Secrets  SecretReader
	Recorder Recorder
	Log      *slog.Logger
	Now      func() time.Time
}

// SecretPath is the store path of a credential: target/system/object.
// Characters that would split the path are replaced.
func SecretPath(target, system, object string) string {
	clean := func(s string) string {
		s = strings.ReplaceAll(s, "/", "_")
		s = strings.ReplaceAll(s, "#", "_")
		s = strings.TrimSpace(s)
		// path.Join would resolve "." and "..", moving the secret to
		// another system's or target's path.
		if s == "." || s == ".." {
			s = strings.Repeat("_", len(s))
		}
		return s
	}
	return path.Join(clean(target), clean(system), clean(object))
}

// Registry maps target types to connectors. It is a value built
// explicitly (connectors/builtin), not filled by init functions.
type Registry struct {
	byType map[string]Connector
}

// NewRegistry returns a registry of the given connectors.
func NewRegistry(cs ...Connector) *Registry {
	r := &Registry{byType: map[string]Connector{}}
	for _, c := range cs {
		if _, dup := r.byType[c.Type()]; dup {
			panic(fmt.Sprintf("connector: type %q registered twice", c.Type()))
		}
		r.byType[c.Type()] = c
	}
	return r
}

// Lookup returns the connector of a type.
func (r *Registry) Lookup(typ string) (Connector, bool) {
	c, ok := r.byType[typ]
	return c, ok
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	ts := make([]string, 0, len(r.byType))
	for t := range r.byType {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}
