package testenv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/handoverhq/handover/testenv"
)

// mailHostLogin logs in to the mail host over IMAPS, the certificate
// checked against the testenv CA for the host's address.
func mailHostLogin(t *testing.T, env *testenv.Env, user, password string) error {
	t.Helper()
	pem, err := os.ReadFile(env.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", env.MailHost.IMAPSAddr)
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: env.MailHost.Address})
	if err := tc.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(tc, nil)
	defer c.Close()
	return c.Login(user, password).Wait()
}

// TestMailHostEstate: the mail host answers SSH (with the host key of
// env.json) and IMAP as docs/testenv/mail.md says: every planted mailbox
// logs in with its planted password, the master user opens a mailbox,
// the Sieve scripts and Postfix copies are there.
func TestMailHostEstate(t *testing.T) {
	env := testenv.Require(t)
	if env.MailHost == nil {
		t.Fatal("no mail host: run bin/testenv up -only mailhost")
	}
	testenv.LockComponent(t, "mailhost", false)
	m := env.MailHost
	for _, a := range m.Accounts {
		if err := mailHostLogin(t, env, a.Name, testenv.ReadSecret(t, a.PasswordFile)); err != nil {
			t.Errorf("%s: %v", a.Name, err)
		}
	}
	master := "mairie@" + testenv.ClientDomain + m.MasterSeparator + m.MasterUser.Name
	if err := mailHostLogin(t, env, master, testenv.ReadSecret(t, m.MasterUser.PasswordFile)); err != nil {
		t.Errorf("master login %s: %v", master, err)
	}
	if err := mailHostLogin(t, env, m.MasterUser.Name, testenv.ReadSecret(t, m.MasterUser.PasswordFile)); err == nil {
		t.Error("the master user logs in as a mailbox")
	}
	out, err := exec.Command("ssh", "-i", m.OperatorKey, "-o", "UserKnownHostsFile="+m.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "root@"+m.Address, "doveadm sieve list -A; postmap -s hash:/etc/postfix/virtual; postmap -s hash:/etc/postfix/recipient_bcc; postalias -s hash:/etc/aliases; cat "+strings.Join(m.Forwards, " ")+"; doveadm acl get -u mairie@"+testenv.ClientDomain+" INBOX").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s", err, out)
	}
	for _, u := range m.Forwarding {
		if !strings.Contains(string(out), u+" ") {
			t.Errorf("no Sieve script for %s:\n%s", u, out)
		}
	}
	// The Postfix copies, the .forward's, and the ACL on mairie@'s INBOX.
	for _, want := range []string{"alertes@" + testenv.ProviderDomain, "dgs-copie@" + testenv.ProviderDomain, "alertes-serveur@" + testenv.ProviderDomain,
		"supervision-sauvegardes@" + testenv.ProviderDomain, "user=prestanet-support@" + testenv.ClientDomain} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no Postfix copy to %s:\n%s", want, out)
		}
	}
}
