package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// The fake target's state lives in a JSON file, so that a process killed
// mid-rotation leaves it as a real target would, and the harness reads it
// on its own as a real one reads a server.

// Flaws a fake can be given, each breaking one property.
const (
	flawNone            = ""
	flawInventoryWrites = "inventory-writes"   // Inventory records that it ran
	flawPlanIO          = "plan-reads"         // Plan reads the target again
	flawNoKind          = "check-without-kind" // Verify's checks have no kind
	flawGhost           = "ghost-finding"      // a finding no removal makes go away
	flawLeak            = "leaky-detail"       // TryCredentials puts the value in Detail
	flawKeepsOld        = "keeps-old"          // a new password is added, the old one kept
	flawTryAccepts      = "try-accepts-all"    // TryCredentials only checks that it can connect
)

type fakeConnector struct{}

func (fakeConnector) Type() string { return "fake" }

func (fakeConnector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	ft := &fakeTarget{name: t.Name, env: env}
	d.Map(t.Settings, "fake target", map[string]playbook.Field{
		"file": {Required: true, Decode: func(n *yaml.Node) { ft.file = env.Resolver.Path(d.NonEmpty(n, "file")) }},
		"flaw": {Decode: func(n *yaml.Node) { ft.flaw = n.Value }},
	})
	return ft
}

type fakeState struct {
	// Passwords holds each admin's accepted passwords.
	Passwords    map[string][]string `json:"passwords"`
	Admins       []string            `json:"admins"`
	ProviderKeys []string            `json:"provider_keys"`
	Inventories  int                 `json:"inventories,omitempty"`
}

type fakeTarget struct {
	name   string
	file   string
	flaw   string
	env    connector.Env
	mu     sync.Mutex
	closed bool
}

var (
	_ connector.Rotator  = (*fakeTarget)(nil)
	_ connector.Applier  = (*fakeTarget)(nil)
	_ connector.Verifier = (*fakeTarget)(nil)
)

func (t *fakeTarget) load() (fakeState, error) {
	var s fakeState
	if t.closed {
		return s, errors.New("use of closed connection")
	}
	b, err := os.ReadFile(t.file)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func (t *fakeTarget) save(s fakeState) error { return writeState(t.file, s) }

func writeState(path string, s fakeState) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (t *fakeTarget) Inventory(ctx context.Context) (*connector.Inventory, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.load()
	if err != nil {
		return nil, err
	}
	if t.flaw == flawInventoryWrites {
		s.Inventories++
		if err := t.save(s); err != nil {
			return nil, err
		}
	}
	sys := connector.System{Name: "box", Kind: "host"}
	for _, a := range s.Admins {
		held := connector.HeldAbsent
		cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, sys.Name, a))
		switch {
		case err != nil:
			held = connector.HeldUnknown
		case ok && accepts(s, a, cur.Reveal()):
			held = connector.HeldCurrent
		case ok:
			held = connector.HeldDiffers
		}
		sys.Accounts = append(sys.Accounts, connector.Account{Name: a, Admin: true, AdminVia: []string{"test admin"}, State: "enabled", Password: &connector.Password{Held: held}})
	}
	keys := s.ProviderKeys
	if t.flaw == flawGhost {
		keys = append(keys, "SHA256:ghost")
	}
	for _, k := range keys {
		sys.Findings = append(sys.Findings, connector.Finding{ID: "ssh-key:" + k, Kind: connector.KindSSHKey, Object: k, Provider: true, Reasons: []string{"test key"}})
	}
	return &connector.Inventory{Systems: []connector.System{sys}}, nil
}

func accepts(s fakeState, account, password string) bool {
	for _, p := range s.Passwords[account] {
		if p == password {
			return true
		}
	}
	return false
}

func (t *fakeTarget) Plan(inv *connector.Inventory, d connector.Decisions) ([]plan.Change, error) {
	if t.flaw == flawPlanIO {
		t.mu.Lock()
		_, err := t.load()
		t.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("reading the target: %w", err)
		}
	}
	var out []plan.Change
	for _, sys := range inv.Systems {
		for _, a := range sys.Accounts {
			if r, ok := d.Rotation(sys.Name, a.Name); ok {
				out = append(out, plan.Change{System: sys.Name, Action: plan.RotatePassword, Object: a.Name, Reason: r.Reason, SecretPath: connector.SecretPath(t.name, sys.Name, a.Name)})
			}
		}
		for _, f := range sys.Findings {
			out = append(out, plan.Change{System: sys.Name, Action: plan.RemoveKey, Object: f.Object, Finding: f.ID, Reason: "provider key"})
		}
	}
	return out, nil
}

func (t *fakeTarget) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}

func (t *fakeTarget) SetCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Set {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]connector.Set, len(creds))
	s, err := t.load()
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	for _, c := range creds {
		if t.flaw == flawKeepsOld {
			s.Passwords[c.Change.Object] = append(s.Passwords[c.Change.Object], c.Secret.Reveal())
		} else {
			s.Passwords[c.Change.Object] = []string{c.Secret.Reveal()}
		}
	}
	err = t.save(s)
	for i := range out {
		out[i].Err = err
	}
	return out
}

func (t *fakeTarget) TryCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Tried {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]connector.Tried, len(creds))
	s, err := t.load()
	for i, c := range creds {
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i] = connector.Tried{Works: accepts(s, c.Change.Object, c.Secret.Reveal()) || t.flaw == flawTryAccepts, Method: "fake login"}
		if t.flaw == flawLeak {
			out[i].Detail = "tried " + c.Secret.Reveal()
		}
	}
	return out
}

func (t *fakeTarget) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	return secret.New(handedOver(ch.Object)), true, nil
}

func handedOver(account string) string { return "handed-over-" + account }

func (t *fakeTarget) Apply(ctx context.Context, _ string, chs []plan.Change, _ connector.SecretReader) connector.Applied {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := connector.Applied{Results: make([]connector.ChangeResult, len(chs))}
	s, err := t.load()
	if err != nil {
		for i := range out.Results {
			out.Results[i].Err = err
		}
		return out
	}
	for i, ch := range chs {
		var keep []string
		for _, k := range s.ProviderKeys {
			if k != ch.Object {
				keep = append(keep, k)
			}
		}
		s.ProviderKeys = keep
		out.Results[i].Detail = "removed from authorized_keys"
	}
	err = t.save(s)
	for i := range out.Results {
		out.Results[i].Err = err
	}
	return out
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
		if d.Change.Action != plan.RemoveKey {
			continue
		}
		c := connector.Check{Change: d.Change.ID, Kind: connector.Absent, What: "key " + d.Change.Object + " in the fake state file", OK: !left[d.Change.Object]}
		switch t.flaw {
		case flawNoKind:
			c.Kind = ""
		case flawGhost:
			c.OK = true // the lie that hides the ghost from the run
		}
		out = append(out, c)
	}
	return out, nil
}

var fakeAdmins = []string{"admin", "root"}

// fakeHarness plants a fake target with two admins whose passwords were
// handed over and two provider keys.
func fakeHarness(t *testing.T, flaw string) Harness {
	state := filepath.Join(t.TempDir(), "box.json")
	return Harness{
		Registry: connector.NewRegistry(fakeConnector{}),
		Playbook: func(t *testing.T, dir string) string {
			return WritePlaybook(t, dir, fmt.Sprintf("outgoing:\n  names: [Conformance Provider]\ntargets:\n  - name: box\n    type: fake\n    file: %s\n    flaw: %q\n", state, flaw))
		},
		Reset: func(t *testing.T) {
			s := fakeState{Passwords: map[string][]string{}, Admins: fakeAdmins, ProviderKeys: []string{"SHA256:provider-1", "SHA256:provider-2"}}
			for _, a := range fakeAdmins {
				s.Passwords[a] = []string{handedOver(a)}
			}
			if err := writeState(state, s); err != nil {
				t.Fatal(err)
			}
		},
		Snapshot: func(context.Context) (string, error) {
			b, err := os.ReadFile(state)
			return string(b), err
		},
		Cut: func(t *testing.T) func() {
			if err := os.Rename(state, state+".cut"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Rename(state+".cut", state); err != nil {
					t.Fatal(err)
				}
			}
		},
		CrashTest: "TestCrashHelper",
	}
}
