package drift_test

import (
	"encoding/json"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

func host(name string) connector.System {
	return connector.System{
		Name: name, Kind: "host", Address: "127.0.1.1",
		Accounts: []connector.Account{
			{Name: "root", Admin: true, AdminVia: []string{"uid 0"}, State: "enabled"},
			{Name: "alice", State: "enabled"},
		},
		Software: []connector.Package{{Name: "openssh-server", Version: "1:9.2"}, {Name: "bash", Version: "5.2"}},
		Ports:    []connector.Port{{Proto: "tcp", Addr: "0.0.0.0:22", Process: "sshd"}},
		Services: []connector.Service{{Name: "ssh.service", Enabled: true}},
		Findings: []connector.Finding{{
			ID: "ssh-key:root:SHA256:aaa:/root/.ssh/authorized_keys", Kind: connector.KindSSHKey, Object: "root:SHA256:aaa",
			Summary: "ed25519 key of ops", Detail: map[string]string{"file": "/root/.ssh/authorized_keys", "line": "1"}, Volatile: []string{"line"},
		}},
	}
}

func dir() connector.System {
	return connector.System{Name: "ldap", Kind: "directory", Accounts: []connector.Account{
		{Name: "uid=admin,dc=x", Admin: true, AdminVia: []string{"cn=admins"}},
		{Name: "uid=bob,dc=x"},
	}}
}

// roundTrip is the dossier as a signed report holds it: Data plain JSON.
func roundTrip(t *testing.T, invs []connector.Inventory) []connector.Inventory {
	t.Helper()
	b, err := json.Marshal(invs)
	if err != nil {
		t.Fatal(err)
	}
	var out []connector.Inventory
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func estate() []connector.Inventory {
	return []connector.Inventory{
		{Target: "fleet", Type: "ssh", Systems: []connector.System{host("h1"), host("h2")}},
		{Target: "dir", Type: "ldap", Systems: []connector.System{dir()}},
	}
}

func fresh(invs []connector.Inventory) []*connector.Inventory {
	out := make([]*connector.Inventory, len(invs))
	for i := range invs {
		out[i] = &invs[i]
	}
	return out
}

type want struct {
	target, system, kind string
	change               drift.Change
	id, from, to         string
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name  string
		plant func(e []connector.Inventory) []connector.Inventory
		want  []want
	}{
		{"unchanged", func(e []connector.Inventory) []connector.Inventory { return e }, nil},
		{"new sudo admin on a host", func(e []connector.Inventory) []connector.Inventory {
			s := &e[0].Systems[0]
			s.Accounts = append(s.Accounts, connector.Account{Name: "mallory", Admin: true, AdminVia: []string{"sudo group"}, State: "enabled"})
			return e
		}, []want{{"fleet", "h1", drift.KindAdmin, drift.Added, "account:mallory", "not in the dossier", "sudo group"}}},
		{"existing account made admin", func(e []connector.Inventory) []connector.Inventory {
			a := &e[0].Systems[1].Accounts[1]
			a.Admin, a.AdminVia = true, []string{"sudoers /etc/sudoers.d/x"}
			return e
		}, []want{{"fleet", "h2", drift.KindAdmin, drift.Added, "account:alice", "not an admin", "sudoers /etc/sudoers.d/x"}}},
		{"new host", func(e []connector.Inventory) []connector.Inventory {
			e[0].Systems = append(e[0].Systems, host("h3"))
			return e
		}, []want{{"fleet", "h3", drift.KindSystem, drift.Added, "system:h3", "", "127.0.1.1"}}},
		{"vanished host", func(e []connector.Inventory) []connector.Inventory {
			e[0].Systems = e[0].Systems[:1]
			return e
		}, []want{{"fleet", "h2", drift.KindSystem, drift.Removed, "system:h2", "127.0.1.1", ""}}},
		{"unreachable host", func(e []connector.Inventory) []connector.Inventory {
			e[0].Systems[1] = connector.System{Name: "h2", Kind: "host", Error: "dial tcp: connection refused"}
			return e
		}, []want{{"fleet", "h2", drift.KindUnreachable, drift.Changed, "system:h2", "read", "dial tcp: connection refused"}}},
		{"new agent, not the provider's, with its package", func(e []connector.Inventory) []connector.Inventory {
			s := &e[0].Systems[0]
			s.Software = append(s.Software, connector.Package{Name: "anydesk", Version: "6.3"}, connector.Package{Name: "jq", Version: "1.6"})
			s.Findings = append(s.Findings, connector.Finding{ID: "agent:anydesk", Kind: connector.KindAgent, Object: "anydesk", Summary: "AnyDesk",
				Detail: map[string]string{"packages": "anydesk", "processes": "12:anydesk"}, Volatile: []string{"processes"}})
			return e
		}, []want{
			{"fleet", "h1", connector.KindAgent, drift.Added, "agent:anydesk", "", "AnyDesk"},
			{"fleet", "h1", drift.KindPackage, drift.Added, "package:anydesk", "", "6.3"},
			{"fleet", "h1", drift.KindPackages, drift.Changed, "packages", "2 packages", "4 packages"},
		}},
		{"new authorized key", func(e []connector.Inventory) []connector.Inventory {
			s := &e[0].Systems[1]
			s.Findings = append(s.Findings, connector.Finding{ID: "ssh-key:alice:SHA256:bbb:/home/alice/.ssh/authorized_keys", Kind: connector.KindSSHKey,
				Object: "alice:SHA256:bbb", Summary: "ed25519 key stranger@x"})
			return e
		}, []want{{"fleet", "h2", connector.KindSSHKey, drift.Added, "ssh-key:alice:SHA256:bbb:/home/alice/.ssh/authorized_keys", "", "ed25519 key stranger@x"}}},
		{"a key's line moved is not drift; its options changed is", func(e []connector.Inventory) []connector.Inventory {
			f := &e[0].Systems[0].Findings[0]
			f.Detail = map[string]string{"file": "/root/.ssh/authorized_keys", "line": "7", "options": "from=\"10.0.0.1\""}
			return e
		}, []want{{"fleet", "h1", connector.KindSSHKey, drift.Changed, "ssh-key:root:SHA256:aaa:/root/.ssh/authorized_keys", `options=""`, `options="from=\"10.0.0.1\""`}}},
		{"new LDAP admin through a nested group", func(e []connector.Inventory) []connector.Inventory {
			a := &e[1].Systems[0].Accounts[1]
			a.Admin, a.AdminVia = true, []string{"cn=admins <- cn=helpdesk"}
			return e
		}, []want{{"dir", "ldap", drift.KindAdmin, drift.Added, "account:uid=bob,dc=x", "not an admin", "cn=admins <- cn=helpdesk"}}},
		{"admin removed", func(e []connector.Inventory) []connector.Inventory {
			a := &e[1].Systems[0].Accounts[0]
			a.Admin, a.AdminVia = false, nil
			return e
		}, []want{{"dir", "ldap", drift.KindAdmin, drift.Removed, "account:uid=admin,dc=x", "cn=admins", "not an admin"}}},
		{"new listening port, a port closed", func(e []connector.Inventory) []connector.Inventory {
			s := &e[0].Systems[0]
			s.Ports = []connector.Port{{Proto: "tcp", Addr: "0.0.0.0:5900", Process: "x11vnc"}}
			return e
		}, []want{
			{"fleet", "h1", drift.KindPort, drift.Removed, "port:tcp:0.0.0.0:22", "sshd", ""},
			{"fleet", "h1", drift.KindPort, drift.Added, "port:tcp:0.0.0.0:5900", "", "x11vnc"},
		}},
		{"a finding kind no code here knows diffs too", func(e []connector.Inventory) []connector.Inventory {
			e[1].Systems[0].Findings = append(e[1].Systems[0].Findings, connector.Finding{ID: "forward:bob:ext@evil.test", Kind: "forward", Object: "bob", Summary: "redirect to ext@evil.test"})
			return e
		}, []want{{"dir", "ldap", "forward", drift.Added, "forward:bob:ext@evil.test", "", "redirect to ext@evil.test"}}},
		{"package upgraded, counted only", func(e []connector.Inventory) []connector.Inventory {
			e[0].Systems[0].Software[1].Version = "5.3"
			return e
		}, []want{{"fleet", "h1", drift.KindPackages, drift.Changed, "packages", "2 packages", "2 packages"}}},
		{"service disabled", func(e []connector.Inventory) []connector.Inventory {
			e[0].Systems[0].Services[0].Enabled = false
			return e
		}, []want{{"fleet", "h1", drift.KindServiceUnit, drift.Changed, "unit:ssh.service", "enabled", "disabled"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &report.Report{Dossier: roundTrip(t, estate())}
			got := drift.Compare(drift.FromReport(b), fresh(tt.plant(estate())))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d items, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Target != w.target || g.System != w.system || g.Kind != w.kind || g.Change != w.change || g.ID != w.id || g.From != w.from || g.To != w.to {
					t.Errorf("item %d = %+v, want %+v", i, g, w)
				}
				if g.Detail == "" {
					t.Errorf("item %d has no detail", i)
				}
			}
		})
	}
}

// TestCompareRunRemovals: what the baseline's run removed is expected
// gone (with the agent's package, unit and port); present again, it is
// drift.
func TestCompareRunRemovals(t *testing.T) {
	before := estate()
	s := &before[0].Systems[0]
	key := connector.Finding{ID: "ssh-key:root:SHA256:ppp:/root/.ssh/authorized_keys", Kind: connector.KindSSHKey, Object: "root:SHA256:ppp", Summary: "key of prestanet", Provider: true}
	agent := connector.Finding{ID: "agent:teamviewer", Kind: connector.KindAgent, Object: "teamviewer", Summary: "TeamViewer", Provider: true,
		Detail: map[string]string{"packages": "teamviewer", "units": "teamviewerd.service", "processes": "99:teamviewerd"}}
	s.Findings = append(s.Findings, key, agent)
	s.Software = append(s.Software, connector.Package{Name: "teamviewer", Version: "15"})
	s.Services = append(s.Services, connector.Service{Name: "teamviewerd.service", Enabled: true})
	s.Ports = append(s.Ports, connector.Port{Proto: "tcp", Addr: "0.0.0.0:5938", Process: "teamviewerd"})
	s.Accounts = append(s.Accounts, connector.Account{Name: "prestanet", Admin: true, AdminVia: []string{"sudo group"}, State: "enabled", Provider: true})
	r := &report.Report{
		Run:     report.Run{ID: "20261202T100000Z-abcdef"},
		Dossier: roundTrip(t, before),
		Actions: []report.Action{
			{Change: plan.Change{Target: "fleet", System: "h1", Action: plan.RemoveKey, Object: "root", Finding: key.ID, ID: "c1"}, Result: plan.Applied},
			{Change: plan.Change{Target: "fleet", System: "h1", Action: plan.RemoveAgent, Object: "teamviewer", Finding: agent.ID, ID: "c2"}, Result: plan.Applied},
			{Change: plan.Change{Target: "fleet", System: "h1", Action: plan.LockAccount, Object: "prestanet", Finding: "account:prestanet", ID: "c3"}, Result: plan.Applied},
		},
		Outgoing: []report.ProviderAccess{
			{Target: "fleet", System: "h1", Finding: key, Fate: report.FateRemoved},
			{Target: "fleet", System: "h1", Finding: agent, Fate: report.FateRemoved},
		},
	}
	after := estate()
	after[0].Systems[0].Accounts = append(after[0].Systems[0].Accounts, connector.Account{Name: "prestanet", State: "locked", Provider: true})
	if got := drift.Compare(drift.FromReport(r), fresh(after)); len(got) != 0 {
		t.Fatalf("the run's own removals are drift: %+v", got)
	}
	after[0].Systems[0].Findings = append(after[0].Systems[0].Findings, key)
	got := drift.Compare(drift.FromReport(r), fresh(after))
	if len(got) != 1 || got[0].ID != key.ID || got[0].Change != drift.Added || !got[0].Provider {
		t.Fatalf("a removed key back: got %+v", got)
	}
}

// TestCompareAfter: a report that re-inventoried after its changes sets
// that reading as the baseline (a sudoers line the run rewrote, the new
// access key); a system the re-inventory could not read keeps the
// dossier's.
func TestCompareAfter(t *testing.T) {
	before := estate()
	grant := connector.Finding{ID: "grant:/etc/sudoers.d/x:aaa", Kind: connector.KindGrant, Object: "ops,prestanet", Summary: "ops, prestanet ALL", Provider: true,
		Detail: map[string]string{"file": "/etc/sudoers.d/x", "text": "ops, prestanet ALL"}}
	before[0].Systems[0].Findings = append(before[0].Systems[0].Findings, grant)
	after := estate()
	rewritten := connector.Finding{ID: "grant:/etc/sudoers.d/x:bbb", Kind: connector.KindGrant, Object: "ops", Summary: "ops ALL", Detail: map[string]string{"file": "/etc/sudoers.d/x", "text": "ops ALL"}}
	access := connector.Finding{ID: "ssh-key:root:SHA256:new:/root/.ssh/authorized_keys", Kind: connector.KindSSHKey, Object: "root:SHA256:new", Summary: "the new access key"}
	after[0].Systems[0].Findings = append(after[0].Systems[0].Findings, rewritten, access)
	after[0].Systems[1] = connector.System{Name: "h2", Kind: "host", Error: "timeout"}
	r := &report.Report{
		Run: report.Run{ID: "r1"}, Dossier: roundTrip(t, before), After: roundTrip(t, after),
		Actions: []report.Action{{Change: plan.Change{Target: "fleet", System: "h1", Action: plan.RemoveGrant, Object: "prestanet", Finding: grant.ID, ID: "c1"}, Result: plan.Applied}},
	}
	now := estate()
	now[0].Systems[0].Findings = append(now[0].Systems[0].Findings, rewritten, access)
	if got := drift.Compare(drift.FromReport(r), fresh(now)); len(got) != 0 {
		t.Fatalf("the estate as the run left it is drift: %+v", got)
	}
	now[0].Systems[0].Findings = append(now[0].Systems[0].Findings, grant)
	got := drift.Compare(drift.FromReport(r), fresh(now))
	if len(got) != 1 || got[0].ID != grant.ID || got[0].Change != drift.Added {
		t.Fatalf("the removed grant back: %+v", got)
	}
}
