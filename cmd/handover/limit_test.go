package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/testenv"
)

// TestLimitWithAnsibleInventory: the fleet imported from an Ansible
// inventory with groups, then `inventory --limit` and `plan --limit` read
// only the hosts the pattern names (by group, by name, with exclusions),
// over SSH; a pattern matching nothing is an error.
func TestLimitWithAnsibleInventory(t *testing.T) {
	env := testenv.Require(t)
	if env.Fleet == nil || len(env.Fleet.Hosts) < 4 {
		t.Fatal("the test needs the fleet with at least 4 hosts: run `make testenv-up`")
	}
	testenv.LockComponent(t, "fleet", false)
	dir := t.TempDir()
	// The Ansible inventory the provider left: servers and workstations.
	var ini strings.Builder
	groups := map[string][]string{}
	for _, h := range env.Fleet.Hosts {
		g := "serveurs"
		if strings.HasPrefix(h.Name, "poste-") {
			g = "postes"
		}
		groups[g] = append(groups[g], fmt.Sprintf("%s ansible_host=%s", h.Name, strings.Split(h.Addr, ":")[0]))
	}
	for _, g := range []string{"serveurs", "postes"} {
		fmt.Fprintf(&ini, "[%s]\n%s\n\n", g, strings.Join(groups[g], "\n"))
	}
	ini.WriteString("[mairie:children]\nserveurs\npostes\n")
	if err := os.WriteFile(filepath.Join(dir, "hosts.ini"), []byte(ini.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pb := writePlaybook(t, dir, playbookHead(env, dir)+fmt.Sprintf(`targets:
  - name: parc
    type: ssh
    ansible_inventory: hosts.ini
    auth: {key_file: %[1]s}
    known_hosts: %[2]s
`, env.Fleet.OperatorKey, env.Fleet.KnownHosts))

	var postes, serveurs []string
	for _, h := range env.Fleet.Hosts {
		if strings.HasPrefix(h.Name, "poste-") {
			postes = append(postes, h.Name)
		} else {
			serveurs = append(serveurs, h.Name)
		}
	}
	tests := []struct {
		limit string
		want  []string
	}{
		{"postes", postes},
		{"mairie:!postes", serveurs},
		{serveurs[0] + "," + postes[0], []string{serveurs[0], postes[0]}},
		{"srv-*:&serveurs", serveurs},
	}
	for _, tt := range tests {
		t.Run(tt.limit, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dossier.json")
			text, code, _ := handover(t, nil, "inventory", pb, "--limit", tt.limit, "-o", out)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, text)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var invs []connector.Inventory
			if err := json.Unmarshal(b, &invs); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, inv := range invs {
				for _, s := range inv.Systems {
					if s.Error != "" {
						t.Errorf("%s: %s", s.Name, s.Error)
					}
					got = append(got, s.Name)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("--limit %q read %v, want %v", tt.limit, got, want)
			}
		})
	}
	t.Run("plan records the limit", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "plan.json")
		if text, code, _ := handover(t, nil, "plan", pb, "--limit", "postes", "-o", out); code != 0 {
			t.Fatalf("exit %d:\n%s", code, text)
		}
		b, _ := os.ReadFile(out)
		if !strings.Contains(string(b), `"limit": "postes"`) {
			t.Errorf("the plan does not say it was made under --limit postes")
		}
		for _, s := range serveurs {
			if strings.Contains(string(b), `"system": "`+s+`"`) {
				t.Errorf("the plan under --limit postes has a change on %s", s)
			}
		}
	})
	t.Run("nothing matches", func(t *testing.T) {
		text, code, _ := handover(t, nil, "plan", pb, "--limit", "nowhere")
		if code != 1 || !strings.Contains(text, `--limit "nowhere" matches no target or system`) {
			t.Errorf("exit %d:\n%s", code, text)
		}
	})
}
