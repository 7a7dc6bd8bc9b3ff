package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// fakeConnector is a unit-test target whose state lives in a JSON file, so
// that a process killed mid-rotation leaves it as a real target would: the
// change made or not, and a later process sees it.
type fakeConnector struct{}

func (fakeConnector) Type() string { return "fake" }

func (fakeConnector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	ft := &fakeTarget{name: t.Name, env: env}
	d.Map(t.Settings, "fake target", map[string]playbook.Field{
		"file":   {Required: true, Decode: func(n *yaml.Node) { ft.file = env.Resolver.Path(d.NonEmpty(n, "file")) }},
		"reject": {Decode: func(n *yaml.Node) { ft.reject = d.Int(n, "reject", 0, 100) }},
		"batch":  {Decode: func(n *yaml.Node) { ft.batch = d.Bool(n, "batch") }},
		// unknown_old: no password was handed over (KnownCredential has
		// none), as when a provider refused to give them.
		"unknown_old": {Decode: func(n *yaml.Node) { ft.unknownOld = d.Bool(n, "unknown_old") }},
		// manual_step: a step the connector sees but cannot make.
		"manual_step": {Decode: func(n *yaml.Node) { ft.manualStep = d.NonEmpty(n, "manual_step") }},
	})
	if ft.manualStep != "" {
		return &stepFake{fakeTarget: ft}
	}
	if ft.batch {
		return &batchFake{fakeTarget: ft}
	}
	return ft
}

// stepFake is the fake target asking for a manual step it cannot make.
type stepFake struct{ *fakeTarget }

func (s *stepFake) ManualSteps(inv *connector.Inventory) []plan.Manual {
	return []plan.Manual{{Item: s.manualStep, Kind: "fake", Name: "the box's keys", Owner: "DSI", Action: "rotate", Detail: "only a person can"}}
}

// batchFake is the fake target counting the calls the engine makes, as
// the SSH connector would see them: a group is still applied one change
// after the other (a crash between two leaves them half done).
type batchFake struct {
	*fakeTarget
	sets, tries, applies, fromSeen atomic.Int32
}

func (b *batchFake) SetCredentials(ctx context.Context, system string, creds []connector.Credential) []connector.Set {
	b.sets.Add(1)
	return b.fakeTarget.SetCredentials(ctx, system, creds)
}

func (b *batchFake) TryCredentials(ctx context.Context, system string, creds []connector.Credential) []connector.Tried {
	b.tries.Add(1)
	return b.fakeTarget.TryCredentials(ctx, system, creds)
}

// Apply reads the box again once its changes are made, in the same call,
// as the SSH connector does at the end of its removals' script.
func (b *batchFake) Apply(ctx context.Context, system string, chs []plan.Change, secrets connector.SecretReader) connector.Applied {
	b.applies.Add(1)
	out := b.fakeTarget.Apply(ctx, system, chs, secrets)
	if inv, err := b.fakeTarget.Inventory(ctx); err == nil {
		out.After = seenBox{inv.Systems[0]}
	}
	return out
}

// seenBox is the batch fake's reading made by Apply.
type seenBox struct{ sys connector.System }

// InventoryAfter takes the box from Apply's reading when it has one, and
// counts the systems so taken.
func (b *batchFake) InventoryAfter(ctx context.Context, seen map[string]connector.Observation) (*connector.Inventory, error) {
	if s, ok := seen["box"].(seenBox); ok {
		b.fromSeen.Add(1)
		return &connector.Inventory{Systems: []connector.System{s.sys}}, nil
	}
	return b.fakeTarget.Inventory(ctx)
}

type fakeState struct {
	// Passwords by account; Admins are rotated.
	Passwords map[string]string `json:"passwords"`
	Admins    []string          `json:"admins"`
	// ProviderKeys are the outgoing provider's keys, removed by the plan.
	ProviderKeys []string `json:"provider_keys"`
	// Rejected counts rejected SetCredential calls.
	Rejected int `json:"rejected"`
	// Down makes every call fail as an unreachable host.
	Down bool `json:"down"`
}

type fakeTarget struct {
	name   string
	file   string
	reject int // reject this many new passwords before accepting
	batch  bool
	// unknownOld: KnownCredential knows no handed-over password.
	unknownOld bool
	manualStep string
	env        connector.Env
	mu         sync.Mutex
}

var (
	_ connector.Rotator  = (*fakeTarget)(nil)
	_ connector.Applier  = (*fakeTarget)(nil)
	_ connector.Verifier = (*fakeTarget)(nil)
)

func (t *fakeTarget) load() (fakeState, error) {
	var s fakeState
	b, err := os.ReadFile(t.file)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func (t *fakeTarget) save(s fakeState) error {
	b, _ := json.Marshal(s)
	tmp := t.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, t.file)
}

func (t *fakeTarget) Inventory(ctx context.Context) (*connector.Inventory, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.load()
	if err != nil {
		return nil, err
	}
	sys := connector.System{Name: "box", Kind: "host", Address: t.file}
	if s.Down {
		sys.Error = "dial tcp 127.0.0.1:1: connection refused"
		return &connector.Inventory{Systems: []connector.System{sys}}, nil
	}
	for _, a := range s.Admins {
		held := connector.HeldAbsent
		cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, sys.Name, a))
		switch {
		case err != nil:
			held = connector.HeldUnknown
		case ok && cur.Reveal() == s.Passwords[a]:
			held = connector.HeldCurrent
		case ok:
			held = connector.HeldDiffers
		}
		sys.Accounts = append(sys.Accounts, connector.Account{Name: a, Admin: true, AdminVia: []string{"test admin"}, State: "enabled", Password: &connector.Password{Held: held}})
	}
	for _, k := range s.ProviderKeys {
		sys.Findings = append(sys.Findings, connector.Finding{ID: "ssh-key:" + k, Kind: connector.KindSSHKey, Object: k, Provider: true, Reasons: []string{"test key"}})
	}
	return &connector.Inventory{Systems: []connector.System{sys}}, nil
}

func (t *fakeTarget) Plan(inv *connector.Inventory, d connector.Decisions) ([]plan.Change, error) {
	var out []plan.Change
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		for _, a := range sys.Accounts {
			r, ok := d.Rotation(sys.Name, a.Name)
			if !ok {
				continue
			}
			out = append(out, plan.Change{System: sys.Name, Action: plan.RotatePassword, Object: a.Name, Reason: r.Reason, SecretPath: connector.SecretPath(t.name, sys.Name, a.Name)})
		}
		for _, f := range sys.Findings {
			out = append(out, plan.Change{System: sys.Name, Action: plan.RemoveKey, Object: f.Object, Finding: f.ID, Reason: "provider key"})
		}
	}
	return out, nil
}

func (t *fakeTarget) Close() error { return nil }

// setHook, when set, runs at the start of every credential set (tests of
// interruption use it to cancel a run mid-change).
var setHook func()

func (t *fakeTarget) SetCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Set {
	out := make([]connector.Set, len(creds))
	for i, c := range creds {
		out[i].Err = t.set(ctx, c.Change, c.Secret)
	}
	return out
}

func (t *fakeTarget) set(ctx context.Context, ch plan.Change, next secret.Secret) error {
	if setHook != nil {
		setHook()
	}
	if err := ctx.Err(); err != nil {
		return err // a change in flight must not see the operator's Ctrl-C
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.load()
	if err != nil {
		return err
	}
	if s.Down {
		return errors.New("connection refused")
	}
	if s.Rejected < t.reject {
		s.Rejected++
		if err := t.save(s); err != nil {
			return err
		}
		return &connector.ErrRejected{Reason: "password is in history"}
	}
	s.Passwords[ch.Object] = next.Reveal()
	return t.save(s)
}

func (t *fakeTarget) TryCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Tried {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]connector.Tried, len(creds))
	s, err := t.load()
	if err == nil && s.Down {
		err = errors.New("connection refused")
	}
	for i, c := range creds {
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i] = connector.Tried{Works: s.Passwords[c.Change.Object] == c.Secret.Reveal(), Method: "fake login"}
	}
	return out
}

func (t *fakeTarget) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	if t.unknownOld {
		return secret.Secret{}, false, nil
	}
	return secret.New("handed-over-" + ch.Object), true, nil
}

func (t *fakeTarget) Apply(ctx context.Context, _ string, chs []plan.Change, _ connector.SecretReader) connector.Applied {
	out := connector.Applied{Results: make([]connector.ChangeResult, len(chs))}
	for i, ch := range chs {
		out.Results[i] = t.remove(ch)
	}
	return out
}

func (t *fakeTarget) remove(ch plan.Change) connector.ChangeResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.load()
	if err != nil {
		return connector.ChangeResult{Err: err}
	}
	var keep []string
	for _, k := range s.ProviderKeys {
		if k != ch.Object {
			keep = append(keep, k)
		}
	}
	s.ProviderKeys = keep
	return connector.ChangeResult{Detail: "removed from authorized_keys", Err: t.save(s)}
}

func (t *fakeTarget) Verify(ctx context.Context, system string, done []connector.Done, _ connector.Observation) ([]connector.Check, error) {
	inv, err := t.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	left := map[string]bool{}
	for _, f := range inv.Systems[0].Findings {
		left[f.Object] = true
	}
	var out []connector.Check
	for _, d := range done {
		if d.Change.Action == plan.RemoveKey {
			out = append(out, connector.Check{Change: d.Change.ID, Kind: connector.Absent, What: "key " + d.Change.Object + " in the fake state file", OK: !left[d.Change.Object]})
		}
	}
	return out, nil
}

// writeFakeState writes a fake target with admins whose passwords are the
// handed-over ones.
func writeFakeState(path string, admins []string, keys []string) error {
	s := fakeState{Passwords: map[string]string{}, Admins: admins, ProviderKeys: keys}
	for _, a := range admins {
		s.Passwords[a] = "handed-over-" + a
	}
	sort.Strings(s.Admins)
	b, _ := json.Marshal(s)
	return os.WriteFile(path, b, 0o600)
}

func readFakeState(path string) (fakeState, error) {
	var s fakeState
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

const fakePlaybook = `version: 1
handover:
  client: {name: Mairie de Test}
  outgoing: {name: Prestataire Sortant}
  date: 2026-11-23
state: %[1]s/state
secrets:
  file:
    path: %[1]s/secrets.age
    passphrase: ${env:HANDOVER_TEST_PASSPHRASE}
outgoing:
  names: [Prestataire Sortant]
policy:
  retries: 2
targets:
  - name: box
    type: fake
    file: %[1]s/box.json
%[2]s
`

func playbookText(dir string, extra string) string {
	return fmt.Sprintf(fakePlaybook, dir, strings.TrimRight(extra, "\n"))
}

func itoa(n int) string { return fmt.Sprint(n) }

func toStrings(ss []secret.State) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
