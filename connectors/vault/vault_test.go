package vault

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
)

// Unit tests: settings, policy rules, and the plan from an inventory (no
// server).

func decodeTarget(t *testing.T, settings string) (connector.Target, playbook.Diagnostics) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("pb.yaml")
	env := connector.Env{
		Outgoing: connector.NewOutgoing(playbook.Outgoing{Domains: []string{"prestanet.test"}, Accounts: []string{"prestanet*"}}),
		Resolver: &playbook.Resolver{Dir: t.TempDir()},
		Now:      func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
	}
	tgt := New().Configure(d, playbook.Target{Name: "coffre", Type: Type, Settings: doc.Content[0]}, env)
	return tgt, d.Diagnostics()
}

func TestConfigureDiagnostics(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		want     []string // "line:col: message prefix"
	}{
		{
			name: "valid",
			settings: "address: https://vault.example:8200\ntoken: ${env:T}\naccounts:\n  - {userpass: userpass/alice, password: '${env:A}'}\n  - {approle: approle/app, secret_id: '${env:S}'}\n" +
				"audit_replacement: {path: mine, type: file, options: {file_path: /var/log/a.log}}\nkey_shares: {kind: unseal, shares: ['${env:K1}'], new_shares: 5, new_threshold: 3}\n",
		},
		{
			name:     "plain http",
			settings: "address: http://vault.example:8200\ntoken: ${env:T}\n",
			want:     []string{`1:10: address "http://vault.example:8200": use https://`},
		},
		{
			name:     "literal token",
			settings: "address: https://vault.example\ntoken: s.abcdefabcdef\n",
			want:     []string{"2:8: token: credentials must be references"},
		},
		{
			name:     "login that is not mount/name",
			settings: "address: https://vault.example\ntoken: ${env:T}\naccounts:\n  - {userpass: alice, password: '${env:A}'}\n",
			want:     []string{`4:16: accounts.userpass "alice": write mount/name`},
		},
		{
			name:     "approle without its secret_id",
			settings: "address: https://vault.example\ntoken: ${env:T}\naccounts:\n  - {approle: approle/app}\n",
			want:     []string{"4:5: accounts item approle/app: an approle needs secret_id"},
		},
		{
			name:     "threshold above shares",
			settings: "address: https://vault.example\ntoken: ${env:T}\nkey_shares: {shares: ['${env:K}'], new_shares: 2, new_threshold: 3}\n",
			want:     []string{"3:13: key_shares: new_threshold 3 is above new_shares 2"},
		},
		{
			name:     "recipients: fewer than new_shares, one with both keys, one age key that is not one",
			settings: "address: https://vault.example\ntoken: ${env:T}\nkey_shares:\n  new_shares: 3\n  recipients:\n    - {age: age1notakey}\n    - {age: age1x, pgp: /k.asc}\n",
			want: []string{"4:3: key_shares: new_shares 3, but 2 recipients", `6:7: key_shares.recipients item: age recipient "age1notakey"`,
				"7:7: key_shares.recipients item: give age: RECIPIENT or pgp: PUBLIC-KEY-FILE"},
		},
		{
			name:     "recipients: threshold above their number",
			settings: "address: https://vault.example\ntoken: ${env:T}\nkey_shares:\n  new_threshold: 2\n  recipients:\n    - {age: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p}\n",
			want:     []string{"4:3: key_shares: new_threshold 2 is above new_shares 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgt, ds := decodeTarget(t, tt.settings)
			if len(ds) != len(tt.want) {
				t.Fatalf("diagnostics:\n%v\nwant %d: %q", ds, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if got := strings.TrimPrefix(ds[i].String(), "pb.yaml:"); !strings.HasPrefix(got, w) {
					t.Errorf("diagnostic %d: %q, want prefix %q", i, got, w)
				}
			}
			if (tgt == nil) != (len(tt.want) > 0) {
				t.Errorf("target returned: %v, with %d diagnostics", tgt != nil, len(ds))
			}
		})
	}
}

func TestAdminRules(t *testing.T) {
	tests := []struct {
		name, policy string
		admin        bool
	}{
		{"everything", `path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }`, true},
		{"sudo somewhere", `path "auth/token/accessors" { capabilities = ["list", "sudo"] }`, true},
		{"writes sys", "path \"sys/*\" {\n  capabilities = [\"update\"]\n}", true},
		{"reads everything", `path "*" { capabilities = ["read", "list"] }`, false},
		{"kv only", `path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }`, false},
		{"denied", `path "*" { capabilities = ["deny", "sudo"] }`, false},
	}
	for _, tt := range tests {
		if got := len(adminRules(tt.policy)) > 0; got != tt.admin {
			t.Errorf("%s: admin %v, want %v (%v)", tt.name, got, tt.admin, adminRules(tt.policy))
		}
	}
}

// TestPlanKeepsWhatHandoverUses: a kept token (the connector's, the
// store's) is never planned, nor a policy it carries; an audit device with
// no replacement and no other device is left (never a Vault without one);
// a rekey needs the shares handed over.
func TestPlanKeepsWhatHandoverUses(t *testing.T) {
	tgt, ds := decodeTarget(t, "address: https://vault.example\ntoken: ${env:T}\n")
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	prov := []string{"matches"}
	inv := &connector.Inventory{Target: "coffre", Systems: []connector.System{{Name: System, Kind: KindVault, Findings: []connector.Finding{
		{ID: "token:self", Kind: connector.KindToken, Object: "token self", Data: tokenData{Accessor: "self", Policies: []string{"prestanet-admin"}, Kept: "the secret store's token"}},
		{ID: "token:p", Kind: connector.KindToken, Object: "token p", Provider: true, Reasons: prov, Data: tokenData{Accessor: "p", Orphan: true}},
		{ID: "policy:prestanet-admin", Kind: connector.KindPolicy, Object: "policy prestanet-admin", Provider: true, Reasons: prov, Data: policyData{Name: "prestanet-admin"}},
		{ID: "policy:prestanet-ro", Kind: connector.KindPolicy, Object: "policy prestanet-ro", Provider: true, Reasons: prov, Data: policyData{Name: "prestanet-ro"}},
		{ID: "audit-device:siem/", Kind: KindAudit, Object: "audit device siem/", Provider: true, Reasons: prov, Data: auditData{Path: "siem/", Type: "file"}},
		{ID: "key-shares:unseal", Kind: KindShares, Object: "unseal key shares", Provider: true, Reasons: prov, Data: sharesData{Shares: 5, Threshold: 3, Held: connector.HeldAbsent}},
	}}}}
	chs, err := tgt.Plan(inv, connector.Decisions{})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, ch := range chs {
		objects = append(objects, string(ch.Action)+" "+ch.Object)
	}
	want := []string{"remove-grant policy prestanet-ro", "revoke-token token p"}
	if !slices.Equal(objects, want) {
		t.Errorf("plan %q, want %q", objects, want)
	}
	for _, ch := range chs {
		if ch.ID == "" || ch.Action == plan.RotatePassword {
			t.Errorf("change %+v", ch)
		}
	}
}
