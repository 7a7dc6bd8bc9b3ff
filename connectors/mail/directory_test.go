package mail

import (
	"context"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// TestLDAPPassdbLinked: a mailbox an LDAP passdb authenticates is the
// directory's: the mail server is linked to the directory server in the
// dossier, and the plan proves the ldap target's rotation over IMAP
// instead of rotating it here. No server: the estate is given.
func TestLDAPPassdbLinked(t *testing.T) {
	conf := "# 2.3.19.1 (9b53102964): /etc/dovecot/dovecot.conf\npassdb {\n  args = /etc/dovecot/dovecot-ldap.conf.ext\n  driver = ldap\n}\nuserdb {\n  args = /etc/dovecot/dovecot-ldap.conf.ext\n  driver = ldap\n}\n"
	root, err := parseDoveconf(conf)
	if err != nil {
		t.Fatal(err)
	}
	e := &estate{Conf: root, ConfPath: doveconfPath(conf), DBs: authDBs(root), Passwd: map[string][]passwdEntry{},
		Raw:        map[string]string{"/etc/dovecot/dovecot-ldap.conf.ext": "uris = ldaps://annuaire.mairie.test:636\nbase = ou=people,dc=mairie,dc=test\nauth_bind = yes\nauth_bind_userdn = uid=%n,ou=people,dc=mairie,dc=test\n"},
		Unreadable: map[string]string{}, Postconf: map[string]string{}}
	tg := configure(t, "outgoing:\n  domains: [prestanet.test]\ntargets:\n  - name: messagerie\n    type: mail\n    host: 192.0.2.1\n    system: mail\n    ssh: {key_file: /nonexistent, host_key: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA}\n    directory: annuaire\n    mailboxes:\n      - {login: mairie@mairie.test, password: '${env:X}'}\n      - {login: accueil@mairie.test, password: '${env:X}', dn: 'cn=Accueil,ou=services,dc=mairie,dc=test'}\n")
	sys := connector.System{Name: "mail"}
	tg.describeEstate(context.Background(), e, &sys)
	if len(sys.Links) != 1 || sys.Links[0].To != "annuaire.mairie.test" || sys.Links[0].Kind != "authenticates against" {
		t.Errorf("links %+v", sys.Links)
	}
	inv := &connector.Inventory{Target: "messagerie", Systems: []connector.System{sys}}
	changes, err := tg.Plan(inv, connector.Decisions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"mairie@mairie.test":  "annuaire/directory/uid=mairie,ou=people,dc=mairie,dc=test",
		"accueil@mairie.test": "annuaire/directory/cn=Accueil,ou=services,dc=mairie,dc=test",
	}
	for _, ch := range changes {
		if ch.Action != plan.ProveLogin || want[ch.Object] != ch.Params["secret_path"] {
			t.Errorf("change %s %s %v", ch.Action, ch.Object, ch.Params)
		}
		delete(want, ch.Object)
	}
	if len(want) > 0 {
		t.Errorf("no prove-login for %v", want)
	}
	for _, tt := range []struct{ template, login, want string }{
		{"uid=%n,ou=people,dc=x", "a.b@x.test", "uid=a.b,ou=people,dc=x"},
		{"mail=%u,dc=x", "a@x.test", "mail=a@x.test,dc=x"},
		{"uid=%{username},dc=%{domain}", "a@x.test", "uid=a,dc=x.test"},
		{"uid=%Ln,dc=x", "a@x.test", ""},
	} {
		if got := bindDN(tt.template, tt.login); got != tt.want {
			t.Errorf("bindDN(%q, %q) = %q, want %q", tt.template, tt.login, got, tt.want)
		}
	}
}
