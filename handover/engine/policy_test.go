package engine

import (
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// The rotation policy is the engine's, the same for every connector: these
// tests are the only ones of policy.rotate.* and max_credential_age.

func TestRotationPolicy(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { ts := now.Add(-d); return &ts }
	day := 24 * time.Hour
	pw := func(h connector.Held) *connector.Password { return &connector.Password{Held: h} }
	base := playbook.Policy{RotateAdmins: true, MaxCredentialAge: 90 * day, RotateAccounts: []string{"dir:cn=Backup, ou=svc,dc=example", "dir:jdupont", "other:root"}}
	tests := []struct {
		name   string
		policy func(p *playbook.Policy)
		acct   connector.Account
		want   bool
	}{
		{"admin not held", nil, connector.Account{Name: "root", Admin: true, State: "enabled", Password: pw(connector.HeldAbsent)}, true},
		{"admin held, changed since", nil, connector.Account{Name: "root", Admin: true, State: "enabled", PasswordChanged: ago(day), Password: pw(connector.HeldCurrent)}, false},
		{"admin held but changed by someone else", nil, connector.Account{Name: "root", Admin: true, State: "enabled", Password: pw(connector.HeldDiffers)}, true},
		{"admin held, older than max age", nil, connector.Account{Name: "root", Admin: true, State: "enabled", PasswordChanged: ago(91 * day), Password: pw(connector.HeldCurrent)}, true},
		{"admin held, old, no max age", func(p *playbook.Policy) { p.MaxCredentialAge = 0 }, connector.Account{Name: "root", Admin: true, State: "enabled", PasswordChanged: ago(400 * day), Password: pw(connector.HeldCurrent)}, false},
		{"admin held, no date to age it by", nil, connector.Account{Name: "root", Admin: true, State: "enabled", Password: pw(connector.HeldCurrent)}, false},
		{"admins not rotated by policy", func(p *playbook.Policy) { p.RotateAdmins = false }, connector.Account{Name: "root", Admin: true, State: "enabled", Password: pw(connector.HeldAbsent)}, false},
		{"disabled admin", nil, connector.Account{Name: "old", Admin: true, State: "locked", Password: pw(connector.HeldAbsent)}, false},
		{"admin service account", nil, connector.Account{Name: "app", Admin: true, Service: true, State: "enabled", Password: pw(connector.HeldAbsent)}, false},
		{"provider's admin (locked, not rotated)", nil, connector.Account{Name: "presta", Admin: true, Provider: true, State: "enabled", Password: pw(connector.HeldAbsent)}, false},
		{"no rotatable password", nil, connector.Account{Name: "root", Admin: true, State: "enabled"}, false},
		{"named by DN, other spacing", nil, connector.Account{Name: "CN=backup,OU=svc,DC=example", Service: true, State: "enabled", Password: pw(connector.HeldAbsent)}, true},
		{"named by login", nil, connector.Account{Name: "uid=jdupont,ou=people,dc=example", State: "enabled", Password: &connector.Password{Login: "JDupont", Held: connector.HeldAbsent}}, true},
		{"named for another target", nil, connector.Account{Name: "root", State: "enabled", Password: pw(connector.HeldAbsent)}, false},
		{"named, already held", nil, connector.Account{Name: "jdupont", State: "enabled", PasswordChanged: ago(day), Password: pw(connector.HeldCurrent)}, false},
		{"the connector's own login, even if not an admin", nil, connector.Account{Name: "cn=handover", State: "enabled", Password: &connector.Password{Connector: true, Held: connector.HeldAbsent}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			if tt.policy != nil {
				tt.policy(&p)
			}
			inv := &connector.Inventory{Target: "dir", Systems: []connector.System{{Name: "s", Accounts: []connector.Account{tt.acct}}, {Name: "down", Error: "unreachable", Accounts: []connector.Account{tt.acct}}}}
			d := Decide(p, "dir", inv, now)
			r, got := d.Rotation("s", tt.acct.Name)
			if got != tt.want {
				t.Fatalf("rotate = %v (%q), want %v", got, r.Reason, tt.want)
			}
			if got && r.Reason == "" {
				t.Error("a rotation without a reason")
			}
			if _, ok := d.Rotation("down", tt.acct.Name); ok {
				t.Error("rotation decided on an unreachable system")
			}
		})
	}
}

func TestAccessKeyTypeDefault(t *testing.T) {
	inv := &connector.Inventory{}
	if got := Decide(playbook.Policy{}, "t", inv, time.Time{}).AccessKeyType; got != "ed25519" {
		t.Errorf("default access key type %q", got)
	}
	if got := Decide(playbook.Policy{AccessKeyType: "rsa"}, "t", inv, time.Time{}).AccessKeyType; got != "rsa" {
		t.Errorf("access key type %q, want rsa", got)
	}
}
