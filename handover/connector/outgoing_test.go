package connector_test

import (
	"reflect"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

var provider = connector.NewOutgoing(playbook.Outgoing{
	Names:       []string{"Prestanet", ""},
	Domains:     []string{"prestanet.fr", "Presta-Support.COM"},
	SSHKeys:     []string{"SHA256:U/L5Wcyge4MKOVBNbewnJG4guxKShpQb6CRetldeb0g"},
	KeyComments: []string{"*@prestanet*", "deploy-*"},
	Accounts:    []string{"prestanet-*", "presta_*", "uid=ext-*"},
})

func TestOutgoingAccount(t *testing.T) {
	tests := []struct {
		name  string
		login string
		mails []string
		want  []string
	}{
		{name: "login by glob", login: "prestanet-admin", want: []string{
			`name "prestanet-admin" matches outgoing.accounts pattern "prestanet-*"`,
		}},
		{name: "login, other case", login: "Presta_Backup", want: []string{
			`name "Presta_Backup" matches outgoing.accounts pattern "presta_*"`,
		}},
		{name: "unrelated login", login: "jdupont", want: nil},
		{name: "pattern is anchored", login: "ex-prestanet-admin", want: nil},
		{name: "DN by its first RDN", login: "uid=prestanet-admin,ou=people,dc=mairie,dc=fr", want: []string{
			`name "prestanet-admin" matches outgoing.accounts pattern "prestanet-*"`,
		}},
		{name: "DN by its first RDN, cn with spaces", login: "CN=Presta_Jean Martin,CN=Users,DC=mairie,DC=lan", want: []string{
			`name "presta_jean martin" matches outgoing.accounts pattern "presta_*"`,
		}},
		{name: "DN by a pattern on the whole DN", login: "uid=ext-jean,ou=people,dc=mairie,dc=fr", want: []string{
			`name "uid=ext-jean,ou=people,dc=mairie,dc=fr" matches outgoing.accounts pattern "uid=ext-*"`,
		}},
		{name: "DN matching only in a later RDN", login: "uid=jdupont,ou=prestanet-users,dc=mairie,dc=fr", want: nil},
		{name: "* stops at /", login: "prestanet-a/b", want: nil},
		{name: "mail in the domain", login: "jdupont", mails: []string{"j.dupont@prestanet.fr"}, want: []string{
			`mail "j.dupont@prestanet.fr" is in the provider's domain prestanet.fr`,
		}},
		{name: "mail in a subdomain", login: "jdupont", mails: []string{"jd@support.prestanet.fr"}, want: []string{
			`mail "jd@support.prestanet.fr" is in the provider's domain prestanet.fr`,
		}},
		{name: "mail, domain case ignored", login: "jdupont", mails: []string{"JD@presta-support.com"}, want: []string{
			`mail "JD@presta-support.com" is in the provider's domain Presta-Support.COM`,
		}},
		{name: "mail in a look-alike domain", login: "jdupont", mails: []string{"jd@notprestanet.fr", "jd@prestanet.fr.example.com"}, want: nil},
		{name: "several mails", login: "jdupont", mails: []string{"jd@mairie.fr", "jd@prestanet.fr", "jd@it.prestanet.fr"}, want: []string{
			`mail "jd@prestanet.fr" is in the provider's domain prestanet.fr`,
			`mail "jd@it.prestanet.fr" is in the provider's domain prestanet.fr`,
		}},
		{name: "login and mail", login: "prestanet-ops", mails: []string{"ops@prestanet.fr"}, want: []string{
			`name "prestanet-ops" matches outgoing.accounts pattern "prestanet-*"`,
			`mail "ops@prestanet.fr" is in the provider's domain prestanet.fr`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := provider.Account(tt.login, tt.mails...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Account(%q, %q) =\n%q\nwant\n%q", tt.login, tt.mails, got, tt.want)
			}
		})
	}
}

func TestOutgoingDomain(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"prestanet.fr", "prestanet.fr"},
		{"PRESTANET.FR", "prestanet.fr"},
		{"  srv1.prestanet.fr \n", "prestanet.fr"},
		{"a.b.c.prestanet.fr", "prestanet.fr"},
		{"support@prestanet.fr", "prestanet.fr"},
		{"support@Mail.Prestanet.Fr", "prestanet.fr"},
		{"presta-support.com", "Presta-Support.COM"},
		{"xprestanet.fr", ""},
		{"prestanet.fr.example.com", ""},
		{"prestanet.fr@mairie.fr", ""},
		{"prestanet", ""},
		{"mairie.fr", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := provider.Domain(tt.addr); got != tt.want {
				t.Errorf("Domain(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := connector.NewOutgoing(playbook.Outgoing{}).Domain("prestanet.fr"); got != "" {
		t.Errorf("with no domains, Domain = %q", got)
	}
}

func TestOutgoingText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"domain in a cron line", "0 3 * * * curl -s https://backup.presta-support.com/report | sh", []string{"mentions the provider's domain Presta-Support.COM"}},
		{"domain, other case", "redirect :copy \"archive@PRESTA-SUPPORT.com\";", []string{"mentions the provider's domain Presta-Support.COM"}},
		{"name in a comment", "# managed by PRESTANET, do not edit", []string{`mentions the provider's name "Prestanet"`}},
		{"name and domain", "# Prestanet: mail support@prestanet.fr", []string{"mentions the provider's domain prestanet.fr", `mentions the provider's name "Prestanet"`}},
		{"nothing", "0 3 * * * /usr/local/bin/backup", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := provider.Text(tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Text(%q) =\n%q\nwant\n%q", tt.text, got, tt.want)
			}
		})
	}
}

// TestOutgoingEmptyClues: an empty name or domain in the playbook must not
// make every text the provider's.
func TestOutgoingEmptyClues(t *testing.T) {
	m := connector.NewOutgoing(playbook.Outgoing{Names: []string{""}, Domains: []string{""}})
	if got := m.Text("0 3 * * * /usr/local/bin/backup"); got != nil {
		t.Errorf("Text with empty clues = %q, want nil", got)
	}
	if got := m.Domain("mairie.fr"); got != "" {
		t.Errorf("Domain with an empty domain = %q, want \"\"", got)
	}
	if got := m.Key("SHA256:x", "root@srv1"); got != nil {
		t.Errorf("Key with empty clues = %q, want nil", got)
	}
}

func TestOutgoingKey(t *testing.T) {
	const listed = "SHA256:U/L5Wcyge4MKOVBNbewnJG4guxKShpQb6CRetldeb0g"
	const other = "SHA256:AAAAWcyge4MKOVBNbewnJG4guxKShpQb6CRetldeb0g"
	tests := []struct {
		name        string
		fp, comment string
		want        []string
	}{
		{"listed fingerprint", listed, "laptop", []string{"fingerprint " + listed + " is listed in outgoing.ssh_keys"}},
		{"fingerprint is exact", "sha256:u/l5wcyge4mkovbnbewnjg4guxkshpqb6cretldeb0g", "laptop", nil},
		{"comment glob", other, "jean@prestanet-laptop", []string{`comment "jean@prestanet-laptop" matches outgoing.key_comments pattern "*@prestanet*"`}},
		{"comment glob, case ignored", other, "DEPLOY-ci", []string{`comment "DEPLOY-ci" matches outgoing.key_comments pattern "deploy-*"`}},
		{"comment in a subdomain", other, "backup@srv.prestanet.fr", []string{
			`comment "backup@srv.prestanet.fr" is in the provider's domain prestanet.fr`,
		}},
		{"host comment in the domain", other, "support.presta-support.com", []string{`comment "support.presta-support.com" is in the provider's domain Presta-Support.COM`}},
		{"comment with spaces is not an address", other, "key for prestanet.fr", nil},
		{"everything", listed, "root@prestanet.fr", []string{
			"fingerprint " + listed + " is listed in outgoing.ssh_keys",
			`comment "root@prestanet.fr" matches outgoing.key_comments pattern "*@prestanet*"`,
			`comment "root@prestanet.fr" is in the provider's domain prestanet.fr`,
		}},
		{"nothing", other, "jdupont@mairie", nil},
		{"no comment", other, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := provider.Key(tt.fp, tt.comment); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Key(%q, %q) =\n%q\nwant\n%q", tt.fp, tt.comment, got, tt.want)
			}
		})
	}
}

func TestOutgoingAgent(t *testing.T) {
	tests := []struct {
		name   string
		agents []string
		agent  string
		want   bool
	}{
		{"no agents key: all", nil, "teamviewer", true},
		{"empty list: all", []string{}, "anydesk", true},
		{"all", []string{"all"}, "zabbix-agent", true},
		{"All", []string{"All"}, "zabbix-agent", true},
		{"all among names", []string{"teamviewer", "all"}, "anydesk", true},
		{"listed", []string{"teamviewer", "anydesk"}, "anydesk", true},
		{"listed, case ignored", []string{"TeamViewer"}, "teamviewer", true},
		{"not listed", []string{"teamviewer"}, "anydesk", false},
		{"prefix is not a name", []string{"team"}, "teamviewer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := connector.NewOutgoing(playbook.Outgoing{Agents: tt.agents})
			if got := m.Agent(tt.agent); got != tt.want {
				t.Errorf("Agent(%q) with agents %q = %v, want %v", tt.agent, tt.agents, got, tt.want)
			}
		})
	}
}
