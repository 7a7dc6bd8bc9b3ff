package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/testenv"
)

// TestDirectoryMailboxRotatedAndProvenInOneRun: the mail host's Dovecot
// authenticates a mailbox against the test estate's OpenLDAP (an LDAP
// passdb binding as the user). One run of a playbook with both targets:
// the ldap target rotates the directory entry's password (handed over),
// and the mail target, linked to it (`directory:`), proves the rotation
// over IMAP in the same run; afterwards the stored password logs in over
// IMAP and the handed-over one is refused, observed by the test itself.
func TestDirectoryMailboxRotatedAndProvenInOneRun(t *testing.T) {
	env := testenv.Require(t)
	if env.LDAP == nil || env.MailHost == nil || env.Operator == nil || env.LDAP.NestedAdminDN == "" {
		t.Fatal("the test estate has no OpenLDAP or no mail host: run `make testenv-up`")
	}
	testenv.LockComponent(t, "slapd", true)
	testenv.LockComponent(t, "mailhost", true)
	resetComponents(t, "slapd,mailhost")
	t.Cleanup(func() { resetComponents(t, "slapd,mailhost") })
	env = testenv.Require(t)
	dn := env.LDAP.NestedAdminDN // an admin of the directory, nested
	uid := strings.TrimPrefix(strings.SplitN(dn, ",", 2)[0], "uid=")
	rest := strings.SplitN(dn, ",", 2)[1]
	oldFile := filepath.Join(env.LDAP.PasswordDir, uid)
	old := testenv.ReadSecret(t, oldFile)
	ca, err := os.ReadFile(env.CACert)
	if err != nil {
		t.Fatal(err)
	}
	// The LDAP passdb, as a real installation declares it: over LDAPS,
	// binding as the user, its DN from a template.
	mailRoot(t, env, "cat > /etc/dovecot/ldap-ca.pem <<'EOF'\n"+string(ca)+"EOF\n"+
		"cat > /etc/dovecot/dovecot-ldap.conf.ext <<'EOF'\nuris = "+env.LDAP.URLS+"\ntls_ca_cert_file = /etc/dovecot/ldap-ca.pem\nauth_bind = yes\nauth_bind_userdn = uid=%n,"+rest+"\nbase = "+env.LDAP.BaseDN+"\nEOF\n"+
		"chmod 600 /etc/dovecot/dovecot-ldap.conf.ext\n"+
		"printf 'passdb {\\n  driver = ldap\\n  args = /etc/dovecot/dovecot-ldap.conf.ext\\n}\\nuserdb {\\n  driver = static\\n  args = uid=vmail gid=vmail home=/var/vmail/annuaire/%%n\\n}\\n' >> /etc/dovecot/dovecot.conf\n"+
		"doveconf -n >/dev/null && doveadm reload")
	if ok, why := imapLogin(t, env, uid, old); !ok {
		t.Fatalf("before the run, the directory's handed-over password does not log in over IMAP: %s", why)
	}

	dir := t.TempDir()
	m := env.MailHost
	pb := writePlaybook(t, dir, playbookHead(env, dir)+directoryPolicy(dn)+"targets:\n"+directoryTarget(env, env.LDAP.URLS, dn, oldFile)+fmt.Sprintf(`  - name: messagerie
    type: mail
    host: %[1]s
    system: %[2]s
    ssh: {key_file: %[3]s, known_hosts: %[4]s}
    ca_cert: %[5]s
    smtp: %[6]s
    directory: annuaire
    mailboxes:
      - {login: %[7]s, password: "${file:%[8]s}"}
`, m.Address, m.Name, m.OperatorKey, m.KnownHosts, env.CACert, m.SMTPAddr, uid, oldFile))
	out, code, _ := handover(t, nil, "run", "--yes", pb)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "prove-login") && !strings.Contains(out, "0 failed") {
		t.Errorf("the run's summary:\n%s", out)
	}
	// The run's own proof, in its signed report.
	reports, _ := filepath.Glob(filepath.Join(dir, "state", "reports", "*", "report.json"))
	if len(reports) != 1 {
		t.Fatalf("%d reports", len(reports))
	}
	b, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"prove-login"`) {
		t.Errorf("the report holds no prove-login action")
	}
	// The test's own look, over IMAP.
	cur := settledCredential(t, env, dir, filepath.Join(dir, "secrets.age"), connector.SecretPath("annuaire", "directory", dn))
	if ok, why := imapLogin(t, env, uid, cur); !ok {
		t.Errorf("the directory's new password does not log in over IMAP: %s", why)
	}
	if ok, _ := imapLogin(t, env, uid, old); ok {
		t.Errorf("the handed-over password still logs in over IMAP")
	}
	// Nothing left to do.
	if out, code, _ := handover(t, nil, "plan", pb); code != 0 {
		t.Errorf("plan after the run: exit %d\n%s", code, out)
	}
}

// mailRoot runs script as root on the mail host over SSH with the
// operator's key, the host key checked.
func mailRoot(t *testing.T, env *testenv.Env, script string) {
	t.Helper()
	rootShell(t, env.MailHost.OperatorKey, env.MailHost.KnownHosts, env.MailHost.SSHAddr, "sh -e", script)
}

// imapLogin logs in over IMAPS (the certificate verified): whether the
// server accepted, and its words when it refused.
func imapLogin(t *testing.T, env *testenv.Env, login, password string) (bool, string) {
	t.Helper()
	c, err := imapclient.DialTLS(env.MailHost.IMAPSAddr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: testCAPool(t, env), ServerName: env.MailHost.TLSName}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login(login, password).Wait()
	var ie *imap.Error
	switch {
	case err == nil:
		_ = c.Logout().Wait()
		return true, ""
	case errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo:
		return false, ie.Text
	}
	t.Fatalf("imap login as %s: %v", login, err)
	return false, ""
}
