package mail

import (
	"strings"
	"testing"
)

func TestSieveActions(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      []string // kind addresses copy conditional
	}{
		{"redirect copy", "require [\"copy\"];\nredirect :copy \"a@p.test\";\n", []string{"redirect a@p.test copy"}},
		{"comment and string hide nothing", "# redirect \"x@p.test\";\n/* redirect \"y@p.test\"; */\nkeep;\nfileinto \"redirect \\\"z@p.test\\\"\";\n", nil},
		{"conditional", "if header :contains \"subject\" [\"permis\", \"x\"] {\n  redirect :copy \"u@p.test\";\n} else { keep; }\n", []string{"redirect u@p.test copy conditional"}},
		{"anyof with nested tests", "if anyof (address :is \"from\" \"a@b\", not exists \"x\") { redirect \"v@p.test\"; stop; }", []string{"redirect v@p.test conditional"}},
		{"vacation with addresses", "require \"vacation\";\nvacation :days 1 :from \"acc@c.test\" :addresses [\"a@c.test\"] text:\nBonjour\n..point\n.\n;\n", []string{"vacation acc@c.test,a@c.test"}},
		{"notify mailto", "require \"enotify\";\nnotify :message \"m\" \"mailto:n@p.test?subject=x\";\n", []string{"notify n@p.test"}},
		{"include", "require \"include\";\ninclude :global \"commun\";\ninclude :personal \"perso\";\n", []string{"include commun global", "include perso"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := parseSieve(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range sieveActions(tt.src, cmds) {
				s := a.Kind
				if a.Include != "" {
					s += " " + a.Include
				}
				if len(a.Addresses) > 0 {
					s += " " + strings.Join(a.Addresses, ",")
				}
				if a.Copy {
					s += " copy"
				}
				if a.Global {
					s += " global"
				}
				if a.Conditional {
					s += " conditional"
				}
				got = append(got, s)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSieveParseErrors(t *testing.T) {
	for _, src := range []string{
		"redirect \"a@p.test\"\n",  // no ;
		"if true { keep;\n",        // no }
		"redirect \"a@p.test;\n",   // unterminated string
		"/* open comment\nkeep;",   // unterminated comment
		"vacation text:\nno end\n", // unterminated text:
		"redirect [\"a\" \"b\"];",  // list without ,
	} {
		if _, err := parseSieve(src); err == nil {
			t.Errorf("parseSieve(%q): no error", src)
		}
	}
}

func TestRemoveSieveActions(t *testing.T) {
	src := "# Suivi\nrequire [\"copy\", \"vacation\"];\nif header :contains \"subject\" \"permis\" {\n  redirect :copy \"u@p.test\";\n  fileinto \"Permis\";\n}\nredirect \"keep@c.test\"; redirect :copy \"x@p.test\";\nvacation \"absent\";\n"
	cmds, err := parseSieve(src)
	if err != nil {
		t.Fatal(err)
	}
	var spans [][2]int
	for _, a := range sieveActions(src, cmds) {
		for _, ad := range a.Addresses {
			if strings.HasSuffix(ad, "@p.test") {
				spans = append(spans, [2]int{a.Start, a.End})
			}
		}
	}
	got := removeSieveActions(src, spans)
	want := "# Suivi\nrequire [\"copy\", \"vacation\"];\nif header :contains \"subject\" \"permis\" {\n  fileinto \"Permis\";\n}\nredirect \"keep@c.test\"; \nvacation \"absent\";\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := parseSieve(got); err != nil {
		t.Errorf("the rewritten script does not parse: %v", err)
	}
}

func TestPostfixMaps(t *testing.T) {
	src := "# Adresses\ncontact@c.test      mairie@c.test\npostmaster@c.test   sophie@c.test, alertes@p.test\nlist@c.test a@c.test,\n  b@p.test\n"
	drop := func(v string) bool { return strings.HasSuffix(v, "@p.test") }
	got, ok := dropMapValues(src, false, "postmaster@c.test", drop)
	if !ok || got != "# Adresses\ncontact@c.test      mairie@c.test\npostmaster@c.test   sophie@c.test\nlist@c.test a@c.test,\n  b@p.test\n" {
		t.Errorf("postmaster: %v\n%s", ok, got)
	}
	got, _ = dropMapValues(src, false, "list@c.test", drop)
	if !strings.Contains(got, "list@c.test a@c.test\n") || strings.Contains(got, "b@p.test") {
		t.Errorf("continuation line:\n%s", got)
	}
	aliases := "postmaster: root\nroot: s@c.test, a@p.test\nonly: z@p.test\n"
	got, _ = dropMapValues(aliases, true, "root", drop)
	got, _ = dropMapValues(got, true, "only", drop)
	if got != "postmaster: root\nroot: s@c.test\n" {
		t.Errorf("aliases:\n%q", got)
	}
	if _, ok := dropMapValues(aliases, true, "postmaster", drop); ok {
		t.Error("an entry with nothing to drop was changed")
	}
}

func TestPasswdEdits(t *testing.T) {
	src := "# comptes\na@c.test:{SHA512-CRYPT}$6$x$y:5000:5000::/h/a::\nb@c.test:{SHA512-CRYPT}$6$u$v:5000:5000::/h/b::\n"
	got, missing := editPasswdFile(src, []string{"b@c.test", "z@c.test"}, func(_ string, f []string) []string { f[1] = "{SHA512-CRYPT}new"; return f })
	if len(missing) != 1 || missing[0] != "z@c.test" || !strings.Contains(got, "b@c.test:{SHA512-CRYPT}new:5000:5000::/h/b::\n") || !strings.Contains(got, "a@c.test:{SHA512-CRYPT}$6$x$y:") {
		t.Errorf("%v\n%s", missing, got)
	}
	got, _ = editPasswdFile(src, []string{"a@c.test"}, func(string, []string) []string { return nil })
	if got != "# comptes\nb@c.test:{SHA512-CRYPT}$6$u$v:5000:5000::/h/b::\n" {
		t.Errorf("removal:\n%s", got)
	}
	if s, v := hashScheme("{SHA512-CRYPT}$6$a$b", "CRYPT"); s != "SHA512-CRYPT" || v != "$6$a$b" {
		t.Errorf("hashScheme: %s %s", s, v)
	}
	if !extraHas("nologin reason=x", "nologin") || extraHas("allow_nets=1.2.3.4", "nologin") {
		t.Error("extraHas")
	}
}

func TestDoveconf(t *testing.T) {
	root, err := parseDoveconf("# 2.3.19.1\nauth_master_user_separator = *\npassdb {\n  args = scheme=SHA512-CRYPT /etc/dovecot/master-users\n  driver = passwd-file\n  master = yes\n}\npassdb {\n  args = /etc/dovecot/%d/passwd\n  driver = passwd-file\n}\npassdb {\n  args = /etc/dovecot/dovecot-sql.conf.ext\n  driver = sql\n}\nuserdb {\n  driver = static\n  args = uid=vmail\n}\nplugin {\n  sieve = file:~/sieve;active=~/.dovecot.sieve\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	dbs := authDBs(root)
	if len(dbs) != 4 || !dbs[0].Master || dbs[0].File != "/etc/dovecot/master-users" || dbs[0].Scheme != "SHA512-CRYPT" || !dbs[1].Variables || dbs[2].Driver != "sql" || dbs[3].Kind != "userdb" {
		t.Errorf("%+v", dbs)
	}
	if pluginSettings(root)["sieve"] == "" {
		t.Error("plugin sieve")
	}
	if _, err := parseDoveconf("passdb {\n"); err == nil {
		t.Error("an unclosed section parsed")
	}
}

func TestMasterPassdbBlock(t *testing.T) {
	conf := "# header\nauth_master_user_separator = *\n\n# Acces support\npassdb {\n  driver = passwd-file\n  args = scheme=SHA512-CRYPT /etc/dovecot/master-users\n  master = yes\n}\npassdb {\n  driver = passwd-file\n  args = /etc/dovecot/users\n}\nservice x {\n  unix_listener y {\n    mode = 0\n  }\n}\n!include conf.d/*.conf\n"
	b, ok := masterPassdbBlock(conf, "/etc/dovecot/master-users")
	if !ok || b.Start != 4 || b.End != 8 {
		t.Fatalf("block %+v %v", b, ok)
	}
	if _, ok := masterPassdbBlock(conf, "/etc/dovecot/users"); ok {
		t.Error("a passdb without master = yes was taken for the master one")
	}
	got := removeBlock(conf, b, "removed")
	want := "# header\nauth_master_user_separator = *\n\n# Acces support\n# removed\npassdb {\n  driver = passwd-file\n  args = /etc/dovecot/users\n}\nservice x {\n  unix_listener y {\n    mode = 0\n  }\n}\n!include conf.d/*.conf\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if inc := includes(conf, "/etc/dovecot"); len(inc) != 1 || inc[0] != "/etc/dovecot/conf.d/*.conf" {
		t.Errorf("includes %q", inc)
	}
	if p := doveconfPath("# 2.3.19.1 (9b53102964): /etc/dovecot/dovecot.conf\n# OS: Linux\n"); p != "/etc/dovecot/dovecot.conf" {
		t.Errorf("doveconf path %q", p)
	}
}

func TestACLFiles(t *testing.T) {
	root := mailRoot("maildir:~/Maildir:LAYOUT=maildir++", "/var/vmail/d/mairie")
	if root != "/var/vmail/d/mairie/Maildir" {
		t.Fatalf("mail root %q", root)
	}
	for _, loc := range []string{"mdbox:~/mdbox", "maildir:/var/mail/%Ln", ""} {
		if r := mailRoot(loc, "/h"); r != "" {
			t.Errorf("mailRoot(%q) = %q, want none", loc, r)
		}
	}
	inbox := parseACLFile("mairie@d", root, root+"/dovecot-acl", "owner lrwstipekxa\nuser=p@x lrs\n# comment\n\n", false, "/")
	if inbox.Mailbox != "INBOX" || len(inbox.Entries) != 2 || inbox.Entries[1] != (aclEntry{"user=p@x", "lrs"}) {
		t.Errorf("INBOX: %+v", inbox)
	}
	if sub := parseACLFile("mairie@d", root, root+"/.Archives.2024/dovecot-acl", "anyone lr\n", false, "/"); sub.Mailbox != "Archives/2024" {
		t.Errorf("folder: %+v", sub)
	}
	if w := rightWords("lrs"); w != "lookup read write-seen" {
		t.Errorf("rights %q", w)
	}
}
