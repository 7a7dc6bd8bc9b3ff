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
	})
	if ft.batch {
		return &batchFake{fakeTarget: ft}
	}
	return ft
}

// batchFake is the fake target taking groups of changes, as the SSH
// connector does: it counts the calls, and a group is applied one change
// after the other (a crash between two leaves them half done).
type batchFake struct {
	*fakeTarget
	sets, tries, applies atomic.Int32
}

var (
	_ connector.BatchRotator = (*batchFake)(nil)
	_ connector.BatchApplier = (*batchFake)(nil)
)

func (b *batchFake) SetCredentials(ctx context.Context, _ string, creds []connector.Credential) []error {
	b.sets.Add(1)
	out := make([]error, len(creds))
	for i, c := range creds {
		out[i] = b.SetCredential(ctx, c.Change, c.Secret)
	}
	return out
}

func (b *batchFake) TryCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Tried {
	b.tries.Add(1)
	out := make([]connector.Tried, len(creds))
	for i, c := range creds {
		out[i].Works, out[i].Err = b.TryCredential(ctx, c.Change, c.Secret)
	}
	return out
}

func (b *batchFake) ApplyBatch(ctx context.Context, _ string, chs []plan.Change, secrets connector.SecretReader) []connector.Applied {
	b.applies.Add(1)
	out := make([]connector.Applied, len(chs))
	for i, ch := range chs {
		out[i].Outcome, out[i].Err = b.Apply(ctx, ch, secrets)
	}
	return out
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
	env    connector.Env
	mu     sync.Mutex
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
	sys := connector.System{Name: "box", Kind: "host"}
	if s.Down {
		sys.Error = "dial tcp 127.0.0.1:1: connection refused"
		return &connector.Inventory{Systems: []connector.System{sys}}, nil
	}
	for _, a := range s.Admins {
		sys.Accounts = append(sys.Accounts, connector.Account{Name: a, Admin: true})
	}
	for _, k := range s.ProviderKeys {
		sys.Findings = append(sys.Findings, connector.Finding{ID: "ssh-key:" + k, Kind: connector.KindSSHKey, Object: k, Provider: true, Reasons: []string{"test key"}})
	}
	return &connector.Inventory{Systems: []connector.System{sys}}, nil
}

func (t *fakeTarget) Plan(inv *connector.Inventory) ([]plan.Change, error) {
	var out []plan.Change
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		for _, a := range sys.Accounts {
			path := connector.SecretPath(t.name, sys.Name, a.Name)
			if _, ok, _ := t.env.Secrets.Current(context.Background(), path); ok {
				continue // already rotated by handover
			}
			out = append(out, plan.Change{System: sys.Name, Action: plan.RotatePassword, Object: a.Name, Reason: "admin account", SecretPath: path})
		}
		for _, f := range sys.Findings {
			out = append(out, plan.Change{System: sys.Name, Action: plan.RemoveKey, Object: f.Object, Finding: f.ID, Reason: "provider key"})
		}
	}
	return out, nil
}

func (t *fakeTarget) Close() error { return nil }

// setHook, when set, runs at the start of every SetCredential (tests of
// interruption use it to cancel a run mid-change).
var setHook func()

func (t *fakeTarget) SetCredential(ctx context.Context, ch plan.Change, next secret.Secret) error {
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

func (t *fakeTarget) TryCredential(ctx context.Context, ch plan.Change, cred secret.Secret) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.load()
	if err != nil {
		return false, err
	}
	if s.Down {
		return false, errors.New("connection refused")
	}
	return s.Passwords[ch.Object] == cred.Reveal(), nil
}

func (t *fakeTarget) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	return secret.New("handed-over-" + ch.Object), true, nil
}

func (t *fakeTarget) Apply(ctx context.Context, ch plan.Change, _ connector.SecretReader) (connector.Outcome, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.load()
	if err != nil {
		return connector.Outcome{}, err
	}
	var keep []string
	for _, k := range s.ProviderKeys {
		if k != ch.Object {
			keep = append(keep, k)
		}
	}
	s.ProviderKeys = keep
	return connector.Outcome{Detail: "removed from authorized_keys"}, t.save(s)
}

func (t *fakeTarget) Verify(ctx context.Context, system string, applied []plan.Change) ([]connector.Check, error) {
	inv, err := t.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	left := map[string]bool{}
	for _, f := range inv.Systems[0].Findings {
		left[f.Object] = true
	}
	var out []connector.Check
	for _, ch := range applied {
		if ch.Action == plan.RemoveKey {
			out = append(out, connector.Check{Change: ch.ID, What: "key absent on re-inventory", OK: !left[ch.Object]})
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
