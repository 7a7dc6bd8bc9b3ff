package plan_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/plan"
)

func TestMakeIDIsStable(t *testing.T) {
	base := plan.Change{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "root"}
	id := base.MakeID()
	if len(id) != 12 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("MakeID() = %q, want 12 hex digits", id)
	}
	if base.ID != id {
		t.Errorf("MakeID did not set ID: %q", base.ID)
	}
	// What the change is about, not how it is described, makes its id.
	same := []plan.Change{
		base,
		{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "root", ID: "stale"},
		{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "root", Before: "set 2019-01-01", After: "new password", Reason: "admin account"},
		{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "root", Finding: "credential-age:root", SecretPath: "serveurs/srv-app1/root", Params: map[string]string{"uid": "0"}, Last: true},
	}
	for i, c := range same {
		if got := c.MakeID(); got != id {
			t.Errorf("change %d: MakeID() = %s, want %s", i, got, id)
		}
	}
}

func TestMakeIDIsDistinct(t *testing.T) {
	changes := []plan.Change{
		{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "root"},
		{Target: "annuaire", System: "srv-app1", Action: plan.RotatePassword, Object: "root"},
		{Target: "serveurs", System: "srv-app2", Action: plan.RotatePassword, Object: "root"},
		{Target: "serveurs", System: "srv-app1", Action: plan.LockAccount, Object: "root"},
		{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "admin"},
		{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "Root"},
		// Fields are separated: moving text from one to the next is a
		// different change.
		{Target: "serveurs", System: "srv-app1r", Action: plan.RotatePassword, Object: "oot"},
		{Target: "serveurss", System: "rv-app1", Action: plan.RotatePassword, Object: "root"},
		{Target: "", System: "", Action: "", Object: ""},
		{Target: "a", System: "", Action: "", Object: ""},
		{Target: "", System: "a", Action: "", Object: ""},
		{Target: "", System: "", Action: "", Object: "a"},
	}
	seen := map[string]int{}
	for i, c := range changes {
		id := c.MakeID()
		if j, dup := seen[id]; dup {
			t.Errorf("changes %d and %d share id %s", j, i, id)
		}
		seen[id] = i
	}
}

func TestActions(t *testing.T) {
	all := []plan.Action{plan.RotatePassword, plan.InstallKey, plan.RemoveKey, plan.LockAccount, plan.RemoveMembership, plan.RemoveGrant, plan.RemoveCron, plan.RemoveAgent, plan.RemoveForward, plan.RevokeToken, plan.RemovePersistence, plan.ProveLogin}
	if len(plan.Actions()) != len(all) {
		t.Errorf("Actions lists %d actions, want %d", len(plan.Actions()), len(all))
	}
	for _, a := range all {
		if !a.Known() || plan.Actions()[a.Order()] != a {
			t.Errorf("%s: Known() = %v, Order() = %d", a, a.Known(), a.Order())
		}
	}
	for _, a := range []plan.Action{"", "delete-account", "Rotate-Password", "rotate-password "} {
		if a.Known() || a.Order() != -1 {
			t.Errorf("%q: Known() = %v, Order() = %d; want false, -1", a, a.Known(), a.Order())
		}
	}
	// The new access comes before anything is taken away, agents last.
	order := []plan.Action{plan.InstallKey, plan.RotatePassword, plan.RemoveKey, plan.RemoveAgent}
	for i := 1; i < len(order); i++ {
		if order[i-1].Order() >= order[i].Order() {
			t.Errorf("%s is not applied before %s", order[i-1], order[i])
		}
	}
	if plan.RemoveAgent.Order() != len(plan.Actions())-1 {
		t.Errorf("%s is not the last action", plan.RemoveAgent)
	}
	// The list is the caller's copy: changing it changes no order.
	mine := plan.Actions()
	mine[0], mine[len(mine)-1] = "", ""
	if plan.InstallKey.Order() != 0 || plan.Actions()[0] != plan.InstallKey || !plan.RemoveAgent.Known() {
		t.Errorf("changing the list Actions returned changed the actions' order")
	}
}

func TestSort(t *testing.T) {
	ch := func(target, system string, a plan.Action, object string, last bool) plan.Change {
		return plan.Change{Target: target, System: system, Action: a, Object: object, Last: last, Reason: target + "/" + system + "/" + string(a) + "/" + object}
	}
	tests := []struct {
		name string
		in   []plan.Change
		want []plan.Change
	}{
		{
			name: "targets, then systems",
			in:   []plan.Change{ch("b", "s1", plan.RemoveKey, "k", false), ch("a", "s2", plan.RemoveKey, "k", false), ch("a", "s1", plan.RemoveKey, "k", false)},
			want: []plan.Change{ch("a", "s1", plan.RemoveKey, "k", false), ch("a", "s2", plan.RemoveKey, "k", false), ch("b", "s1", plan.RemoveKey, "k", false)},
		},
		{
			name: "action order within a system",
			in: []plan.Change{
				ch("t", "s", plan.RemoveAgent, "teamviewer", false),
				ch("t", "s", plan.RemoveCron, "backup", false),
				ch("t", "s", plan.RemoveKey, "SHA256:x", false),
				ch("t", "s", plan.RotatePassword, "admin", false),
				ch("t", "s", plan.InstallKey, "handover", false),
				ch("t", "s", plan.LockAccount, "presta", false),
			},
			want: []plan.Change{
				ch("t", "s", plan.InstallKey, "handover", false),
				ch("t", "s", plan.RotatePassword, "admin", false),
				ch("t", "s", plan.RemoveKey, "SHA256:x", false),
				ch("t", "s", plan.LockAccount, "presta", false),
				ch("t", "s", plan.RemoveCron, "backup", false),
				ch("t", "s", plan.RemoveAgent, "teamviewer", false),
			},
		},
		{
			name: "last changes after every other change of their system",
			in: []plan.Change{
				ch("t", "s", plan.RotatePassword, "root", true),
				ch("t", "s", plan.RemoveAgent, "anydesk", false),
				ch("t", "s", plan.RotatePassword, "admin", false),
				ch("t", "s2", plan.InstallKey, "handover", false),
			},
			want: []plan.Change{
				ch("t", "s", plan.RotatePassword, "admin", false),
				ch("t", "s", plan.RemoveAgent, "anydesk", false),
				ch("t", "s", plan.RotatePassword, "root", true),
				ch("t", "s2", plan.InstallKey, "handover", false),
			},
		},
		{
			name: "last changes keep action order among themselves",
			in: []plan.Change{
				ch("t", "s", plan.RotatePassword, "root", true),
				ch("t", "s", plan.InstallKey, "handover", true),
				ch("t", "s", plan.RemoveKey, "k", false),
			},
			want: []plan.Change{
				ch("t", "s", plan.RemoveKey, "k", false),
				ch("t", "s", plan.InstallKey, "handover", true),
				ch("t", "s", plan.RotatePassword, "root", true),
			},
		},
		{
			name: "objects within an action",
			in:   []plan.Change{ch("t", "s", plan.RemoveKey, "c", false), ch("t", "s", plan.RemoveKey, "a", false), ch("t", "s", plan.RemoveKey, "b", false)},
			want: []plan.Change{ch("t", "s", plan.RemoveKey, "a", false), ch("t", "s", plan.RemoveKey, "b", false), ch("t", "s", plan.RemoveKey, "c", false)},
		},
		{
			name: "equal keys keep their order",
			in: []plan.Change{
				{Target: "t", System: "s", Action: plan.RemoveCron, Object: "x", Reason: "first"},
				{Target: "t", System: "s", Action: plan.RemoveCron, Object: "x", Reason: "second"},
			},
			want: []plan.Change{
				{Target: "t", System: "s", Action: plan.RemoveCron, Object: "x", Reason: "first"},
				{Target: "t", System: "s", Action: plan.RemoveCron, Object: "x", Reason: "second"},
			},
		},
		{name: "empty", in: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan.Plan{Changes: tt.in}
			p.Sort()
			if !reflect.DeepEqual(p.Changes, tt.want) {
				t.Errorf("sorted:\n%s\nwant:\n%s", reasons(p.Changes), reasons(tt.want))
			}
		})
	}
}

func reasons(cs []plan.Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Reason)
	}
	return strings.Join(out, "\n")
}

func TestValidate(t *testing.T) {
	ok := func(cs ...plan.Change) plan.Plan { return plan.Plan{FormatVersion: plan.FormatVersion, Changes: cs} }
	c1 := plan.Change{ID: "aaa", Action: plan.RemoveKey}
	c2 := plan.Change{ID: "bbb", Action: plan.RotatePassword}
	tests := []struct {
		name    string
		p       plan.Plan
		wantErr string
	}{
		{"valid", ok(c1, c2), ""},
		{"no change", ok(), ""},
		{"format version 0", plan.Plan{Changes: []plan.Change{c1}}, "plan format version 0 is not supported (this build reads 1)"},
		{"format version 2", plan.Plan{FormatVersion: 2}, "plan format version 2 is not supported (this build reads 1)"},
		{"unknown action", ok(c1, plan.Change{ID: "ccc", Action: "delete-everything"}), `plan change ccc: unknown action "delete-everything"`},
		{"empty action", ok(plan.Change{ID: "ccc"}), `plan change ccc: unknown action ""`},
		{"duplicate id", ok(c1, c2, plan.Change{ID: "aaa", Action: plan.RemoveCron}), "plan change aaa appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if got := errString(err); got != tt.wantErr {
				t.Errorf("Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func fullPlan() *plan.Plan {
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Created:       time.Date(2026, 11, 23, 9, 30, 0, 5, time.UTC),
		Playbook:      "mairie.yaml",
		PlaybookHash:  strings.Repeat("ab", 32),
		Fingerprints:  map[string]string{"serveurs": "f1", "annuaire": "f2"},
		Changes: []plan.Change{
			{Target: "serveurs", System: "srv-app1", Action: plan.RotatePassword, Object: "root", Before: "set 2019-01-01", After: "generated, 24 characters", Reason: "admin account", Finding: "credential-age:root", SecretPath: "serveurs/srv-app1/root", Params: map[string]string{"uid": "0"}, Last: true},
			{Target: "serveurs", System: "srv-app1", Action: plan.RemoveAgent, Object: "teamviewer", Reason: "catalogue agent", Finding: "agent:teamviewer"},
		},
		Waived: []plan.Waived{{
			Change:        plan.Change{Target: "serveurs", System: "srv-sauvegarde", Action: plan.RemoveAgent, Object: "zabbix-agent"},
			Justification: "monitoring kept", Approver: "Jean Martin", Expires: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC),
		}},
		Problems: []plan.Problem{{Target: "annuaire", System: "ldap", Error: "connection refused"}, {Target: "mail", Error: "timeout"}},
	}
	for i := range p.Changes {
		p.Changes[i].MakeID()
	}
	p.Waived[0].Change.MakeID()
	return p
}

func TestMarshalRoundTrip(t *testing.T) {
	plans := map[string]*plan.Plan{
		"full":    fullPlan(),
		"minimal": {FormatVersion: plan.FormatVersion},
	}
	for name, p := range plans {
		t.Run(name, func(t *testing.T) {
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(b, []byte("}\n")) || !bytes.Contains(b, []byte("\n  \"format_version\": 1,")) {
				t.Errorf("Marshal() is not an indented document ending in a newline:\n%s", b)
			}
			got, err := plan.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Errorf("round trip changed the plan:\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, p))
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("second Marshal differs (%v):\n%s\nfirst:\n%s", err, again, b)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUnmarshalRefuses(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"not JSON", "plan: yes", "plan: invalid character"},
		{"empty", "", "plan: unexpected end of JSON input"},
		{"wrong type", `{"format_version": "1"}`, "plan: json: cannot unmarshal"},
		{"no version", `{"changes": []}`, "plan format version 0 is not supported"},
		{"future version", `{"format_version": 2}`, "plan format version 2 is not supported"},
		{"unknown action", `{"format_version": 1, "changes": [{"id": "a", "action": "format-disk"}]}`, `plan change a: unknown action "format-disk"`},
		{"duplicate id", `{"format_version": 1, "changes": [{"id": "a", "action": "remove-key"}, {"id": "a", "action": "remove-cron"}]}`, "plan change a appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Unmarshal([]byte(tt.data))
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Unmarshal() error = %v, want it to start with %q", err, tt.wantErr)
			}
			if p != nil {
				t.Error("Unmarshal returned a plan with its error")
			}
		})
	}
}
