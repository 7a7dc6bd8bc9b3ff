package ssh

import (
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

func TestSudoersRules(t *testing.T) {
	sudoers := "# distribution file\nroot ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n"
	support := "# Prestanet - support\nUser_Alias SUPPORT = prestanet, %prestanet-n2 : NOBODY = nobody\n" +
		"SUPPORT ALL=(ALL) NOPASSWD: \\\n    /usr/bin/apt, \\\n    ALL\n" +
		"jdupont ALL=(ALL) /usr/bin/systemctl restart apache2\n"
	h := &hostData{Files: []remoteFile{
		{Kind: "sudoers", Path: "/etc/sudoers", Data: []byte(sudoers)},
		{Kind: "sudoers", Path: "/etc/sudoers.d/support", Data: []byte(support)},
		{Kind: "sudoers", Path: "/etc/sudoers.d/support.dpkg-old", Data: []byte("prestanet ALL=(ALL) ALL\n")},
	}}
	gs := parseGrants(h, connector.NewOutgoing(playbook.Outgoing{Accounts: []string{"prestanet"}}))
	var texts []string
	for _, g := range gs {
		texts = append(texts, g.File+": "+g.Text)
	}
	want := []string{
		"/etc/sudoers: root ALL=(ALL:ALL) ALL",
		"/etc/sudoers.d/support: SUPPORT ALL=(ALL) NOPASSWD: /usr/bin/apt, ALL",
		"/etc/sudoers.d/support: jdupont ALL=(ALL) /usr/bin/systemctl restart apache2",
	}
	if !slices.Equal(texts, want) {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	g := gs[1]
	if !g.All || !slices.Equal(g.Members, []string{"prestanet", "%prestanet-n2"}) {
		t.Errorf("continued rule: all=%v members=%v", g.All, g.Members)
	}
	if f := g.finding(map[string]bool{"prestanet": true}); !f.Provider {
		t.Errorf("a rule for an alias of the provider's account is not the provider's: %v", f.Reasons)
	}
	if f := gs[2].finding(map[string]bool{"prestanet": true}); f.Provider {
		t.Errorf("the client's own rule attributed to the provider: %v", f.Reasons)
	}
	if why := adminReasons(h, gs); len(why["prestanet"]) == 0 {
		t.Errorf("prestanet is not an admin through the alias: %v", why)
	}
	out, n := removeSudoersRule([]byte(support), g.Text, "")
	if n != 1 || string(out) != "# Prestanet - support\nUser_Alias SUPPORT = prestanet, %prestanet-n2 : NOBODY = nobody\njdupont ALL=(ALL) /usr/bin/systemctl restart apache2\n" {
		t.Errorf("removed %d:\n%s", n, out)
	}
}

// A rule that names the provider's account beside others loses the
// provider's account only; one that reaches it through an alias shared
// with others is left to the admin.
func TestSudoersMixedRules(t *testing.T) {
	data := "User_Alias MIXED = prestanet, jdupont\nUser_Alias PROV = prestanet\n" +
		"prestanet, jdupont ALL=(ALL) ALL\n" +
		"jdupont,prestanet,%admins  ALL = (root) NOPASSWD: /usr/bin/apt\n" +
		"MIXED ALL=(ALL) ALL\n" +
		"PROV, jdupont ALL=(ALL) ALL\n" +
		"prestanet ALL=(ALL) ALL\n"
	h := &hostData{Files: []remoteFile{{Kind: "sudoers", Path: "/etc/sudoers.d/equipe", Data: []byte(data)}}}
	gs := parseGrants(h, connector.NewOutgoing(playbook.Outgoing{Accounts: []string{"prestanet"}}))
	type want struct {
		rewritten string
		shared    bool
	}
	wants := []want{
		{"jdupont ALL=(ALL) ALL", false},
		{"jdupont, %admins ALL = (root) NOPASSWD: /usr/bin/apt", false},
		{"", true},
		{"jdupont ALL=(ALL) ALL", false},
		{"", false},
	}
	if len(gs) != len(wants) {
		t.Fatalf("%d rules, want %d", len(gs), len(wants))
	}
	for i, g := range gs {
		if got := (want{g.rewritten(), g.SharedAlias}); got != wants[i] {
			t.Errorf("%s: rewritten %q shared %v, want %q %v", g.Text, got.rewritten, got.shared, wants[i].rewritten, wants[i].shared)
		}
	}
	out, n := removeSudoersRule([]byte(data), gs[0].Text, gs[0].rewritten())
	if n != 1 || !strings.Contains(string(out), "\njdupont ALL=(ALL) ALL\njdupont,prestanet") {
		t.Errorf("rewrite:\n%s", out)
	}
}
