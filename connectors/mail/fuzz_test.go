package mail

import "testing"

// What the mail server says (doveconf -n, postconf -n, map sources,
// passwd-files, Sieve scripts, ManageSieve answers) never makes the
// connector panic. `make fuzz` runs each for a bounded time.

func FuzzSieve(f *testing.F) {
	f.Add(`require ["copy", "vacation"];
if header :contains "subject" "permis" { redirect :copy "urbanisme@prestanet.test"; }
vacation :days 3 :subject "Absent" text:
Je suis absent.
.
;`)
	f.Add(`# comment
/* block */ redirect "a@b"; keep; stop;`)
	f.Fuzz(func(t *testing.T, src string) {
		tokenizeSieve(src)
		parseSieve(src)
	})
}

func FuzzDoveconf(f *testing.F) {
	f.Add("passdb {\n  args = /etc/dovecot/master-users\n  driver = passwd-file\n  master = yes\n}\nauth_master_user_separator = *\n")
	f.Fuzz(func(t *testing.T, text string) { parseDoveconf(text) })
}

func FuzzPostfix(f *testing.F) {
	f.Add("virtual_alias_maps = hash:/etc/postfix/virtual\nrecipient_bcc_maps = hash:/etc/postfix/bcc\n", "dg@mairie.test copie@prestanet.test, dg@mairie.test\n# comment\n")
	f.Fuzz(func(t *testing.T, postconf, source string) {
		postfixMaps(parsePostconf(postconf))
		parseMapSource(source, false)
		parseMapSource(source, true)
		dropMapValues(source, false, "dg@mairie.test", func(v string) bool { return len(v)%2 == 0 })
	})
}

func FuzzPasswdFile(f *testing.F) {
	f.Add("mairie@mairie.test:{SHA512-CRYPT}$6$abc$def:65534:65534::/home/x::\n")
	f.Fuzz(func(t *testing.T, text string) { parsePasswdFile(text) })
}

func FuzzManageSieveResponse(f *testing.F) {
	f.Add(`NO (QUOTA/MAXSIZE) "Script too large"`)
	f.Add("OK \"done\"")
	f.Fuzz(func(t *testing.T, line string) { parseSieveResponse(line) })
}
