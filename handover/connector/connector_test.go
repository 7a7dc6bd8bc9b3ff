package connector_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

func TestSecretPath(t *testing.T) {
	tests := []struct {
		name                   string
		target, system, object string
		want                   string
	}{
		{"plain", "serveurs", "srv-app1", "root", "serveurs/srv-app1/root"},
		{"DN", "annuaire", "directory", "uid=admin,ou=services,dc=mairie,dc=fr", "annuaire/directory/uid=admin,ou=services,dc=mairie,dc=fr"},
		{"slash in the object", "serveurs", "srv-app1", "backup/daily", "serveurs/srv-app1/backup_daily"},
		{"slashes everywhere", "a/b", "c/d", "/e/", "a_b/c_d/_e_"},
		{"hash (the store's key separator)", "serveurs", "srv#1", "root#3", "serveurs/srv_1/root_3"},
		{"spaces trimmed", " serveurs ", "srv-app1\t", " root", "serveurs/srv-app1/root"},
		{"dot-dot cannot climb", "serveurs", "..", "root", "serveurs/__/root"},
		{"dot-dot object", "serveurs", "srv", "..", "serveurs/srv/__"},
		{"dot system", "serveurs", ".", "root", "serveurs/_/root"},
		{"dots inside are kept", "serveurs", "srv.mairie.lan", "root.access-key", "serveurs/srv.mairie.lan/root.access-key"},
		{"dot-slash-dot-dot", "serveurs", "srv", "./..", "serveurs/srv/._.."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connector.SecretPath(tt.target, tt.system, tt.object); got != tt.want {
				t.Errorf("SecretPath(%q, %q, %q) = %q, want %q", tt.target, tt.system, tt.object, got, tt.want)
			}
		})
	}
	// Dots cannot make two systems or objects share a path.
	seen := map[string]string{}
	for _, sys := range []string{"srv", "..", ".", "srv/.."} {
		for _, obj := range []string{"root", "..", ".", "../root", "root/.."} {
			p := connector.SecretPath("t", sys, obj)
			if prev, dup := seen[p]; dup {
				t.Errorf("SecretPath(t, %q, %q) = %q, the path of %s too", sys, obj, p, prev)
			}
			seen[p] = sys + "|" + obj
		}
	}
}

type fake struct{ typ string }

func (f fake) Type() string { return f.typ }
func (f fake) Configure(*playbook.Decoder, playbook.Target, connector.Env) connector.Target {
	return nil
}

func TestRegistry(t *testing.T) {
	r := connector.NewRegistry(fake{"ssh"}, fake{"ldap"}, fake{"mail"})
	if got, want := r.Types(), []string{"ldap", "mail", "ssh"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Types() = %q, want %q", got, want)
	}
	for _, typ := range []string{"ssh", "ldap", "mail"} {
		c, ok := r.Lookup(typ)
		if !ok || c.Type() != typ {
			t.Errorf("Lookup(%q) = %v, %v", typ, c, ok)
		}
	}
	for _, typ := range []string{"", "SSH", "vault", "ldapp"} {
		if c, ok := r.Lookup(typ); ok || c != nil {
			t.Errorf("Lookup(%q) = %v, %v; want nothing", typ, c, ok)
		}
	}
	empty := connector.NewRegistry()
	if got := empty.Types(); got == nil || len(got) != 0 {
		t.Errorf("empty registry: Types() = %#v, want an empty list", got)
	}
}

func TestRegistryDuplicatePanics(t *testing.T) {
	defer func() {
		got := recover()
		if want := `connector: type "ssh" registered twice`; got != want {
			t.Errorf("recovered %v, want %q", got, want)
		}
	}()
	connector.NewRegistry(fake{"ssh"}, fake{"ldap"}, fake{"ssh"})
	t.Error("a duplicate type did not panic")
}

func inventory() *connector.Inventory {
	changed := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	return &connector.Inventory{
		Target:   "serveurs",
		Type:     "ssh",
		Started:  time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		Finished: time.Date(2026, 11, 23, 9, 1, 0, 0, time.UTC),
		Systems: []connector.System{
			{
				Name: "srv-app1", Kind: "host", Address: "192.168.10.11",
				Facts:    []connector.Fact{{Name: "os", Value: "Debian 12"}, {Name: "access_key_file", Value: "/root/.ssh/authorized_keys", Planned: true}},
				Hardware: &connector.Hardware{Vendor: "Dell", Model: "R640", CPUs: 8, MemoryMB: 32768, Disks: []connector.Disk{{Name: "sda", SizeMB: 480000}}, IPs: []string{"192.168.10.11"}},
				Software: []connector.Package{{Name: "openssh-server", Version: "1:9.2p1-2", State: "ii"}},
				Services: []connector.Service{{Name: "ssh", Enabled: true, Running: true}},
				Ports:    []connector.Port{{Proto: "tcp", Addr: "0.0.0.0:22", Process: "sshd"}},
				Accounts: []connector.Account{
					{Name: "root", Admin: true, AdminVia: []string{"uid 0"}, State: "enabled", PasswordChanged: &changed},
					{Name: "prestanet", Display: "Prestanet support", State: "enabled", Provider: true, Reasons: []string{"name matches"}},
				},
				Findings: []connector.Finding{
					{ID: "agent:teamviewer", Kind: connector.KindAgent, Object: "teamviewer", Summary: "TeamViewer 15", Provider: true, Detail: map[string]string{"unit": "teamviewerd.service"}},
					{ID: "credential-age:root", Kind: connector.KindCredAge, Object: "root", Summary: "root password", Detail: map[string]string{"state": "enabled"}},
				},
				Links: []connector.Link{{To: "annuaire", Kind: "authenticates against"}},
			},
			{Name: "srv-app2", Kind: "host", Error: "connection refused"},
		},
	}
}

func TestFingerprintIgnoresWhatPlansDoNotUse(t *testing.T) {
	base := inventory().Fingerprint()
	if len(base) != 64 {
		t.Fatalf("Fingerprint() = %q, want a SHA-256 in hex", base)
	}
	if again := inventory().Fingerprint(); again != base {
		t.Fatalf("two fingerprints of one inventory differ: %s, %s", base, again)
	}
	edits := map[string]func(*connector.Inventory){
		"times":            func(inv *connector.Inventory) { inv.Started, inv.Finished = time.Now(), time.Now() },
		"hardware":         func(inv *connector.Inventory) { inv.Systems[0].Hardware.MemoryMB = 65536 },
		"hardware removed": func(inv *connector.Inventory) { inv.Systems[0].Hardware = nil },
		"disk added": func(inv *connector.Inventory) {
			h := inv.Systems[0].Hardware
			h.Disks = append(h.Disks, connector.Disk{Name: "sdb"})
		},
		"software upgraded": func(inv *connector.Inventory) { inv.Systems[0].Software[0].Version = "1:9.2p1-2+deb12u3" },
		"software installed": func(inv *connector.Inventory) {
			inv.Systems[0].Software = append(inv.Systems[0].Software, connector.Package{Name: "htop"})
		},
		"service stopped": func(inv *connector.Inventory) { inv.Systems[0].Services[0].Running = false },
		"port opened": func(inv *connector.Inventory) {
			inv.Systems[0].Ports = append(inv.Systems[0].Ports, connector.Port{Proto: "tcp", Addr: ":80"})
		},
		"link":            func(inv *connector.Inventory) { inv.Systems[0].Links = nil },
		"address":         func(inv *connector.Inventory) { inv.Systems[0].Address = "10.0.0.1" },
		"display name":    func(inv *connector.Inventory) { inv.Systems[0].Accounts[1].Display = "Prestanet" },
		"system kind":     func(inv *connector.Inventory) { inv.Systems[0].Kind = "server" },
		"inventory label": func(inv *connector.Inventory) { inv.Type = "ssh2" },
		"fact":            func(inv *connector.Inventory) { inv.Systems[0].Facts[0].Value = "Debian 13" },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			inv := inventory()
			edit(inv)
			if got := inv.Fingerprint(); got != base {
				t.Errorf("fingerprint changed from %s to %s", base, got)
			}
		})
	}
}

func TestFingerprintFollowsAccountsAndFindings(t *testing.T) {
	edits := map[string]func(*connector.Inventory){
		"account added": func(inv *connector.Inventory) {
			inv.Systems[0].Accounts = append(inv.Systems[0].Accounts, connector.Account{Name: "jdupont", State: "enabled"})
		},
		"account removed":  func(inv *connector.Inventory) { inv.Systems[0].Accounts = inv.Systems[0].Accounts[:1] },
		"account renamed":  func(inv *connector.Inventory) { inv.Systems[0].Accounts[1].Name = "prestanet2" },
		"account locked":   func(inv *connector.Inventory) { inv.Systems[0].Accounts[1].State = "locked" },
		"admin no more":    func(inv *connector.Inventory) { inv.Systems[0].Accounts[0].Admin = false },
		"provider no more": func(inv *connector.Inventory) { inv.Systems[0].Accounts[1].Provider = false },
		"finding added": func(inv *connector.Inventory) {
			inv.Systems[0].Findings = append(inv.Systems[0].Findings, connector.Finding{ID: "agent:anydesk"})
		},
		"finding removed":      func(inv *connector.Inventory) { inv.Systems[0].Findings = inv.Systems[0].Findings[1:] },
		"finding id":           func(inv *connector.Inventory) { inv.Systems[0].Findings[0].ID = "agent:teamviewer2" },
		"finding object":       func(inv *connector.Inventory) { inv.Systems[0].Findings[0].Object = "teamviewer2" },
		"finding provider":     func(inv *connector.Inventory) { inv.Systems[0].Findings[1].Provider = true },
		"finding detail":       func(inv *connector.Inventory) { inv.Systems[0].Findings[1].Detail["state"] = "locked" },
		"finding detail added": func(inv *connector.Inventory) { inv.Systems[0].Findings[1].Detail["in_store"] = "current" },
		"system error":         func(inv *connector.Inventory) { inv.Systems[1].Error = "" },
		"system renamed":       func(inv *connector.Inventory) { inv.Systems[1].Name = "srv-app3" },
		"system removed":       func(inv *connector.Inventory) { inv.Systems = inv.Systems[:1] },
		"system added": func(inv *connector.Inventory) {
			inv.Systems = append(inv.Systems, connector.System{Name: "srv-app3"})
		},
		"no systems":   func(inv *connector.Inventory) { inv.Systems = nil },
		"planned fact": func(inv *connector.Inventory) { inv.Systems[0].Facts[1].Value = "/etc/ssh/keys/root" },
	}
	seen := map[string]string{inventory().Fingerprint(): "unchanged"}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			inv := inventory()
			edit(inv)
			got := inv.Fingerprint()
			if prev, dup := seen[got]; dup {
				t.Errorf("fingerprint %s is the same as %s", got, prev)
			}
			seen[got] = name
		})
	}
}
