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
//
// The contract, in the order the engine calls it: Inventory reads; Plan
// turns what was read and the engine's Decisions into changes; the engine
// then applies each system's changes through Rotator and Applier, and asks
// Verifier for an independent proof. Every call returns what it did and
// what it proved: a connector keeps nothing between calls but its
// connections and what it read, so any call may come in any run, after a
// crash, in a fresh process.
type Target interface {
	// Inventory reads the target's state. It never changes anything.
	Inventory(ctx context.Context) (*Inventory, error)
	// Plan derives the changes from an inventory and the engine's
	// decisions: the rotations the engine decided (Decisions.Rotate), and
	// the removals of the provider's access the connector found. It does
	// no I/O.
	Plan(inv *Inventory, d Decisions) ([]plan.Change, error)
	// Close releases connections.
	Close() error
}

// Decisions are what the engine decided from the playbook's policy and the
// inventory's facts; connectors do not read the policy themselves.
type Decisions struct {
	// Rotate lists the accounts whose credential the plan rotates.
	Rotate []Rotation
	// AccessKeyType is the type of a new access key: "ed25519" or "rsa".
	AccessKeyType string
}

// Rotation is the engine's decision to rotate one account's credential.
type Rotation struct {
	System  string
	Account string // Account.Name
	Reason  string // why, for the plan and the report
}

// Rotation returns the decision to rotate account on system, if any.
func (d Decisions) Rotation(system, account string) (Rotation, bool) {
	for _, r := range d.Rotate {
		if r.System == system && r.Account == account {
			return r, true
		}
	}
	return Rotation{}, false
}

// Applier makes changes that are not credential rotations (removing a key,
// an agent, a grant, locking an account), one system's group at a time: in
// one round trip where the connector can. The engine journals every
// change's intent before the call and every outcome after it.
type Applier interface {
	Apply(ctx context.Context, system string, changes []plan.Change, secrets SecretReader) Applied
}

// Applied is what one Apply call did.
type Applied struct {
	// Results has one entry per change, in the order of the changes.
	Results []ChangeResult
	// After is what the connector read of the system once the changes were
	// made, in the same session (a re-inventory at the end of its script),
	// or nil. The engine does not look inside: it hands the latest one back
	// to Verify when no change of the system ran after it.
	After Observation
}

// ChangeResult is the outcome of one change: Err nil means applied.
type ChangeResult struct {
	Err    error
	Detail string
}

// A Reobserver reads its target again after a run (the estate as the run
// left it, for the report and the checks that follow) taking a system's
// reading from seen, the Observation its last changes' session returned
// (Applied.After) when no change of the system ran after it, and reading
// every other system as Inventory does.
type Reobserver interface {
	InventoryAfter(ctx context.Context, seen map[string]Observation) (*Inventory, error)
}

// Observation is a connector's own reading of a system, passed back to
// it by the engine. Only the connector that made it knows its type.
type Observation any

// Rotator changes credentials under the engine's write-ahead protocol: the
// engine stores every new value as pending and journals its intent before
// SetCredentials, proves the results with TryCredentials (new works, old
// fails) and only then makes the new values current. Credentials come in
// groups of one system (one remote script, one login where the connector
// can); results are in the order of creds, one per credential.
type Rotator interface {
	// SetCredentials makes each credential the one of its change's object.
	SetCredentials(ctx context.Context, system string, creds []Credential) []Set
	// TryCredentials reports, for each credential, whether it
	// authenticates its change's object right now with a fresh login.
	TryCredentials(ctx context.Context, system string, creds []Credential) []Tried
	// KnownCredential returns ch.Object's credential as handed over (from
	// the playbook), if the connector has one.
	KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error)
}

// StoredChecker is a Rotator that can tell, for `handover check`, that a
// stored credential is still the system's by reading what the system keeps
// (a password compared with the account's hash) rather than by a login.
// What it cannot settle that way it proves as TryCredentials does: a
// credential is reported as not working only when a login refused it.
// Each Tried's Method names what was observed.
type StoredChecker interface {
	CheckStored(ctx context.Context, system string, creds []Credential) []Tried
}

// Credential is one credential of a group: the change it belongs to and
// the value to set or try.
type Credential struct {
	Change plan.Change
	Secret secret.Secret
}

// Set is the outcome of setting one credential.
type Set struct {
	// Err is nil when the target took the value; an *ErrRejected when it
	// refused it (the engine retries with a fresh one); any other error
	// when the outcome is unknown (the engine asks with TryCredentials).
	Err error
	// Proven, when not nil, is a login with the new value made right after
	// setting it in the same session; the engine records it as the proof
	// that the new credential works instead of trying it again.
	Proven *Tried
}

// Tried is what trying one credential showed.
type Tried struct {
	// Works: the credential was accepted. Err: it could not be told
	// (target unreachable); Works is then meaningless.
	Works bool
	Err   error
	// Method names how it was tried ("fresh SSH password login", "su on
	// the host", "Kerberos pre-authentication"), for the check's words.
	Method string
	// Detail is what else the attempt showed, for the report (never a
	// secret).
	Detail string
}

// Generator is implemented by connectors whose new credential is not a
// password (an SSH key pair). The engine calls it instead of generating a
// password for the change.
type Generator interface {
	NewCredential(ctx context.Context, ch plan.Change, rand io.Reader) (secret.Secret, error)
}

// ManualStepper is implemented by connectors that can see, in an
// inventory, a step they cannot make themselves (a Vault rekey without
// the quorum of key shares). The plan lists each as a manual step and the
// report records it as a deviation, until a declared item of the same id
// is attested. A pure function of the inventory, like Plan.
type ManualStepper interface {
	ManualSteps(inv *Inventory) []plan.Manual
}

// Verifier proves the changes made on one system by an independent
// re-observation, after all of them ran: each removed thing absent, each
// installed thing present, each account in its new state.
type Verifier interface {
	// Verify returns checks for the changes in done. after is the last
	// Applied.After of the system when no change ran after it, else nil
	// (then the connector reads the system again).
	Verify(ctx context.Context, system string, done []Done, after Observation) ([]Check, error)
}

// Done is a change the target took, for Verify.
type Done struct {
	Change plan.Change
	// At is when the engine asked the target for the change.
	At time.Time
}

// ErrRejected wraps a target's refusal of a new credential (password
// policy, history). The engine retries with a fresh secret, within limits.
type ErrRejected struct {
	Reason string // the server's own words
}

func (e *ErrRejected) Error() string { return "rejected by the target: " + e.Reason }

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
	// Named are the accounts the playbook names for this target
	// (policy.rotate.accounts): inventoried with their Password facts even
	// when they are not admins, for the engine to decide on.
	Named []string
	// Outgoing recognises the outgoing provider (playbook outgoing:).
	Outgoing Outgoing
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
