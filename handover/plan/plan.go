// Package plan owns the plan as data: a closed set of actions and the list
// of changes a run will make, computed from an inventory without touching
// any target. Apply consumes only a plan.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Action is what a change does. The set is closed: a connector cannot
// invent an action the report and the journal do not know.
type Action string

const (
	// RotatePassword sets a new generated password (write-ahead protocol).
	RotatePassword Action = "rotate-password"
	// ProveLogin proves, over the target's own protocol, a credential that
	// another target rotates (a mailbox whose password is the
	// directory's): nothing is changed by it.
	ProveLogin Action = "prove-login"
	// InstallKey authorises the new access key (before anything is removed).
	InstallKey Action = "install-key"
	// RemoveKey removes an authorized key.
	RemoveKey Action = "remove-key"
	// LockAccount locks or disables an account (never deletes it).
	LockAccount Action = "lock-account"
	// RemoveMembership removes an account from a privileged group.
	RemoveMembership Action = "remove-membership"
	// RemoveGrant removes a privilege grant (sudoers entry, policy).
	RemoveGrant Action = "remove-grant"
	// RemoveCron removes a scheduled job.
	RemoveCron Action = "remove-cron"
	// RemoveAgent stops, disables and removes a remote-access agent.
	RemoveAgent Action = "remove-agent"
	// RemoveForward removes a mail forward or redirect.
	RemoveForward Action = "remove-forward"
	// RevokeToken revokes an API token or login method.
	RevokeToken Action = "revoke-token"
	// RemovePersistence removes what starts again on its own: a service
	// or timer, an init script, a start-up or login hook's line, a PAM
	// line, a preloaded library.
	RemovePersistence Action = "remove-persistence"
)

// actions is every action, in the order a system's changes are applied:
// the new access first, so nothing removed can lock the operator out; the
// provider's access next; agents last, so their removal is proven by a
// final re-inventory.
var actions = [...]Action{InstallKey, RotatePassword, ProveLogin, RemoveKey, RemoveMembership, RemoveGrant, LockAccount, RevokeToken, RemoveForward, RemoveCron, RemovePersistence, RemoveAgent}

// Actions lists every action in the order a system's changes are applied.
// The slice is the caller's own: changing it changes no order.
func Actions() []Action { return slices.Clone(actions[:]) }

// Known reports whether a is one of Actions.
func (a Action) Known() bool { return slices.Contains(actions[:], a) }

// Order is a's position in Actions.
func (a Action) Order() int { return slices.Index(actions[:], a) }

// Change is one step of a plan. It never carries a secret: a rotation names
// where the new value will be stored, not the value.
type Change struct {
	ID     string `json:"id"`
	Target string `json:"target"`
	// System is the host or service inside the target ("srv-app1",
	// "directory").
	System string `json:"system"`
	Action Action `json:"action"`
	// Object is what the action is about: an account, a key fingerprint, an
	// agent name, a file path.
	Object string `json:"object"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Reason string `json:"reason"`
	// Finding is the id of the inventory finding this change acts on.
	Finding string `json:"finding,omitempty"`
	// SecretPath is where a rotated credential is stored (store-relative).
	SecretPath string `json:"secret_path,omitempty"`
	// Params carries what the connector needs to apply the change. Never a
	// secret.
	Params map[string]string `json:"params,omitempty"`
	// Last marks a change applied after every other change of its system:
	// the rotation of the very credential the connector logs in with.
	Last bool `json:"last,omitempty"`
}

// MakeID derives a change's id from what it does, so the same change gets
// the same id in every plan.
func (c *Change) MakeID() string {
	h := sha256.Sum256([]byte(strings.Join([]string{c.Target, c.System, string(c.Action), c.Object}, "\x00")))
	c.ID = hex.EncodeToString(h[:6])
	return c.ID
}

// Waived is a change the plan will not make because of a waiver.
type Waived struct {
	Change        Change    `json:"change"`
	Justification string    `json:"justification"`
	Approver      string    `json:"approver"`
	Expires       time.Time `json:"expires"`
}

// Problem is a target or system the plan could not cover.
type Problem struct {
	Target string `json:"target"`
	System string `json:"system,omitempty"`
	Error  string `json:"error"`
	// Kind says what the problem is: "" a system not read (unreachable,
	// a plan that failed), ProblemWaiverExpired a waiver past its date.
	Kind string `json:"kind,omitempty"`
}

// ProblemWaiverExpired is the kind of a problem raised by a waiver whose
// expiry date has passed: the deviation it allowed is no longer accepted.
const ProblemWaiverExpired = "waiver-expired"

// FormatVersion is the version of the plan file format.
const FormatVersion = 1

// Plan is everything a run will change, and what it was computed from.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	Created       time.Time `json:"created"`
	Playbook      string    `json:"playbook"`
	PlaybookHash  string    `json:"playbook_hash"`
	// Fingerprints holds, per target, the digest of the inventory the plan
	// was computed from; apply refuses a plan whose target changed since.
	Fingerprints map[string]string `json:"fingerprints"`
	// Limit is the --limit the plan was made under, if any: it covers only
	// what the limit matched, and is applied only under the same limit.
	Limit    string    `json:"limit,omitempty"`
	Changes  []Change  `json:"changes"`
	Waived   []Waived  `json:"waived,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	// Manual are the declared items' steps, for a person (manual.go).
	Manual []Manual `json:"manual,omitempty"`
}

// Sort puts changes in apply order: per target and system, then by action
// order, then by object.
func (p *Plan) Sort() {
	slices.SortStableFunc(p.Changes, func(a, b Change) int {
		if c := strings.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		if a.Last != b.Last {
			if a.Last {
				return 1
			}
			return -1
		}
		if c := a.Action.Order() - b.Action.Order(); c != 0 {
			return c
		}
		return strings.Compare(a.Object, b.Object)
	})
}

// Validate checks a plan read from a file.
func (p *Plan) Validate() error {
	if p.FormatVersion != FormatVersion {
		return fmt.Errorf("plan format version %d is not supported (this build reads %d)", p.FormatVersion, FormatVersion)
	}
	seen := map[string]bool{}
	for _, c := range p.Changes {
		if !c.Action.Known() {
			return fmt.Errorf("plan change %s: unknown action %q", c.ID, c.Action)
		}
		if seen[c.ID] {
			return fmt.Errorf("plan change %s appears twice", c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

// Marshal encodes a plan for a file.
func (p *Plan) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes and validates a plan file.
func Unmarshal(b []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
