package ldap

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func decodeTarget(t *testing.T, settings string) (connector.Target, playbook.Diagnostics) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("pb.yaml")
	env := connector.Env{
		Outgoing: connector.NewOutgoing(playbook.Outgoing{Domains: []string{"prestanet.test"}, Accounts: []string{"prestanet-*"}}),
		Named:    []string{"svc-listed"},
		Resolver: &playbook.Resolver{Dir: t.TempDir()},
		Now:      func() time.Time { return testNow },
	}
	tgt := New().Configure(d, playbook.Target{Name: "annuaire", Type: Type, Settings: doc.Content[0]}, env)
	return tgt, d.Diagnostics()
}

func TestLDAPConfigureDiagnostics(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		want     []string // "line:col: message fragment"
	}{
		{
			name:     "valid",
			settings: "url: ldaps://dc1.example\nbind_dn: cn=admin,dc=example\npassword: ${env:PW}\ndialect: ad\npage_size: 200\naccounts:\n  - dn: cn=a,dc=example\n    password: ${file:a.pw}\n",
		},
		{
			name:     "unknown key with a suggestion",
			settings: "url: ldaps://dc1.example\nbind_dnn: cn=admin\npassword: ${env:PW}\n",
			want:     []string{`1:1: ldap target annuaire: missing required key "bind_dn"`, `2:1: unknown key "bind_dnn" in ldap target annuaire (did you mean "bind_dn"?)`},
		},
		{
			name:     "literal password",
			settings: "url: ldaps://dc1.example\nbind_dn: cn=admin\npassword: hunter2hunter2\n",
			want:     []string{"3:11: password: credentials must be references"},
		},
		{
			name:     "wrong scheme",
			settings: "url: https://dc1.example\nbind_dn: cn=admin\npassword: ${env:PW}\n",
			want:     []string{`1:6: url "https://dc1.example": use ldap:// (StartTLS) or ldaps://`},
		},
		{
			name:     "bad dialect and page size",
			settings: "url: ldap://dc1.example\nbind_dn: cn=admin\npassword: ${env:PW}\ndialect: novell\npage_size: 0\n",
			want:     []string{"4:10: dialect must be one of openldap, ad, auto", "5:12: page_size must be between 1 and 5000"},
		},
		{
			name:     "unquoted DN in a flow list",
			settings: "url: ldap://dc1.example\nbind_dn: cn=admin\npassword: ${env:PW}\nadmin_groups: [cn=admins,ou=groups,dc=x]\n",
			want:     []string{"4:15: admin_groups: in a [...] list commas separate items, so this DN was split in 3"},
		},
		{
			name:     "quoted DNs in a flow list",
			settings: "url: ldap://dc1.example\nbind_dn: cn=admin\npassword: ${env:PW}\nadmin_groups: [\"cn=admins,ou=groups,dc=x\", Domain Admins]\n",
		},
		{
			name:     "account listed twice",
			settings: "url: ldap://dc1.example\nbind_dn: cn=admin\npassword: ${env:PW}\naccounts:\n  - {dn: 'CN=A,DC=x', password: '${env:A}'}\n  - {dn: 'cn=a, dc=x', password: '${env:B}'}\n",
			want:     []string{"6:5: accounts: cn=a, dc=x is listed twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgt, ds := decodeTarget(t, tt.settings)
			if len(ds) != len(tt.want) {
				t.Fatalf("diagnostics:\n%v\nwant %d: %q", ds, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				got := strings.TrimPrefix(ds[i].String(), "pb.yaml:")
				if !strings.HasPrefix(got, w) {
					t.Errorf("diagnostic %d: %q, want prefix %q", i, got, w)
				}
			}
			if (tgt == nil) != (len(tt.want) > 0) {
				t.Errorf("target returned: %v, with %d diagnostics", tgt != nil, len(ds))
			}
		})
	}
}

func TestADWellKnownSIDs(t *testing.T) {
	// S-1-5-21-746590625-803852070-2716341487
	domain := []byte{0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x15, 0x00, 0x00, 0x00, 0xa1, 0x11, 0x80, 0x2c, 0x26, 0xcf, 0xe9, 0x2f, 0xef, 0x14, 0xe8, 0xa1}
	tests := []struct {
		name string
		sid  []byte
		want string
	}{
		{"domain", domain, "S-1-5-21-746590625-803852070-2716341487"},
		{"domain admins", withRID(domain, 512), "S-1-5-21-746590625-803852070-2716341487-512"},
		{"administrators", builtinSID(544), "S-1-5-32-544"},
		{"backup operators", builtinSID(551), "S-1-5-32-551"},
	}
	for _, tt := range tests {
		if got := sidString(tt.sid); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if rid, ok := ridOf(withRID(domain, 519)); !ok || rid != 519 {
		t.Errorf("ridOf: %d %v", rid, ok)
	}
	if got := filterBytes([]byte{1, 0xff}); got != `\01\ff` {
		t.Errorf("filterBytes: %s", got)
	}
}

func TestADTimesAndNames(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"134399464544661520", time.Date(2026, 11, 23, 22, 27, 34, 466152000, time.UTC), true},
		{"0", time.Time{}, false},
		{"9223372036854775807", time.Time{}, false},
		{"garbage", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := fileTime(tt.in)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("fileTime(%s) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := realmOf("DC=ad,DC=mairie-saint-exemple,DC=test"); got != "AD.MAIRIE-SAINT-EXEMPLE.TEST" {
		t.Errorf("realmOf: %s", got)
	}
	if got, err := parseGeneralizedTime("20190402091500Z"); err != nil || !got.Equal(time.Date(2019, 4, 2, 9, 15, 0, 0, time.UTC)) {
		t.Errorf("parseGeneralizedTime: %v %v", got, err)
	}
	if normDN("CN=Julie Bernard, OU=Agents,DC=ad") != normDN("cn=julie bernard,ou=agents,dc=AD") {
		t.Error("normDN: equal DNs compare different")
	}
}

// TestLDAPPlanRules: the plan rotates exactly what the engine decided (the
// bind account last) and removes the provider's memberships and logins.
// Which accounts are rotated is the engine's policy, tested there.
func TestLDAPPlanRules(t *testing.T) {
	tgt, ds := decodeTarget(t, "url: ldaps://dc1.example\nbind_dn: cn=bind,dc=x\npassword: ${env:PW}\n")
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	fresh := testNow.Add(-24 * time.Hour)
	pw := func(login string, bind bool) *connector.Password {
		return &connector.Password{Login: login, Held: connector.HeldAbsent, Connector: bind}
	}
	inv := &connector.Inventory{Target: "annuaire", Systems: []connector.System{{
		Name:  System,
		Facts: []connector.Fact{{Name: "dialect", Value: OpenLDAP}},
		Accounts: []connector.Account{
			{Name: "cn=never,dc=x", Admin: true, State: "enabled", PasswordChanged: &fresh, Password: pw("never", false)},
			{Name: "cn=undecided,dc=x", Admin: true, State: "enabled", PasswordChanged: &fresh, Password: pw("undecided", false)},
			{Name: "cn=bind,dc=x", Admin: true, State: "enabled", PasswordChanged: &fresh, Password: pw("bind", true)},
			{Name: "cn=prestanet-admin,dc=x", Admin: true, Provider: true, State: "enabled", Reasons: []string{"name"}},
			{Name: "cn=gone,dc=x", Provider: true, State: "locked", Reasons: []string{"mail"}},
		},
		Findings: []connector.Finding{
			{ID: "account:cn=prestanet-admin,dc=x", Kind: connector.KindAccount, Object: "cn=prestanet-admin,dc=x", Provider: true, Detail: map[string]string{"login": "prestanet-admin"}},
			{ID: "membership:cn=prestanet-admin,dc=x:cn=admins,dc=x", Kind: connector.KindMember, Object: "cn=prestanet-admin,dc=x", Provider: true,
				Data: membership{Group: "cn=admins,dc=x", Attr: "member", Value: "cn=prestanet-admin,dc=x"}},
			{ID: "account:cn=gone,dc=x", Kind: connector.KindAccount, Object: "cn=gone,dc=x", Provider: true},
		},
	}}}
	d := connector.Decisions{Rotate: []connector.Rotation{
		{System: System, Account: "cn=never,dc=x", Reason: "admin"},
		{System: System, Account: "cn=bind,dc=x", Reason: "the account handover logs in with"},
	}}
	changes, err := tgt.Plan(inv, d)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{ // action object -> Last
		"rotate-password cn=never,dc=x":                               false,
		"rotate-password cn=bind,dc=x":                                true,
		"remove-membership cn=prestanet-admin,dc=x in cn=admins,dc=x": false,
		"lock-account cn=prestanet-admin,dc=x":                        false,
	}
	got := map[string]bool{}
	for _, ch := range changes {
		got[string(ch.Action)+" "+ch.Object] = ch.Last
		if ch.ID == "" || ch.Reason == "" {
			t.Errorf("%s %s: id %q reason %q", ch.Action, ch.Object, ch.ID, ch.Reason)
		}
		if ch.Action == plan.RotatePassword && ch.SecretPath != "annuaire/directory/"+ch.Object {
			t.Errorf("%s: secret path %q", ch.Object, ch.SecretPath)
		}
	}
	if len(got) != len(want) {
		t.Errorf("plan has %d changes, want %d: %v", len(got), len(want), got)
	}
	for k, last := range want {
		if gl, ok := got[k]; !ok || gl != last {
			t.Errorf("%s: planned=%v last=%v, want last=%v", k, ok, gl, last)
		}
	}
}
