package mail

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/smtp"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// takenBack checks, with the tests' own observations (IMAP and SMTP from
// the network, root's SSH without the connector), what the issue asks of
// a finished run: the master login refused, the provider's redirects and
// copies gone and the other rules untouched, the rotated passwords
// working and the old ones refused, and a test message to a mailbox that
// had a redirect :copy delivered locally and not queued for the
// provider's domain.
func takenBack(t *testing.T, e *testenv.Env, res *engine.Result) {
	m := e.MailHost
	tg := configure(t, mailPlaybook(e, ""))
	ctx := ctxT(t)
	if _, err := rootSSH(e, "doveadm auth cache flush"); err != nil {
		t.Fatal(err)
	}
	login := func(user, pw string) bool {
		ok, _, err := tg.imapLogin(ctx, user, secret.New(pw))
		if err != nil {
			t.Fatalf("imap login %s: %v", user, err)
		}
		return ok
	}
	master := testenv.ReadSecret(t, m.MasterUser.PasswordFile)
	if login("claire.moreau@"+testenv.ClientDomain+m.MasterSeparator+m.MasterUser.Name, master) {
		t.Error("the provider's master login still opens a mailbox")
	}
	// The master passdb held only the provider's master user: its block
	// is gone from dovecot.conf, and the old file kept beside it.
	conf, err := rootSSH(e, "doveconf -n; echo '== backups'; ls /etc/dovecot/")
	if err != nil {
		t.Fatalf("%v: %s", err, conf)
	}
	if strings.Contains(conf, "master = yes") || strings.Contains(conf, "/etc/dovecot/master-users") || !strings.Contains(conf, "dovecot.conf.avant-handover-") {
		t.Errorf("after the run the master passdb is still configured, or no backup of dovecot.conf was kept:\n%s", conf)
	}
	// The provider's ACL on the town hall's INBOX and the .forward's copy
	// are gone; the owner's rights and the other destination kept.
	shared, err := rootSSH(e, "doveadm acl get -u mairie@"+testenv.ClientDomain+" INBOX; echo '== forward'; cat "+strings.Join(m.Forwards, " "))
	if err != nil {
		t.Fatalf("%v: %s", err, shared)
	}
	if strings.Contains(shared, "prestanet") || !strings.Contains(shared, "owner") || !strings.Contains(shared, "sophie.lefevre@") {
		t.Errorf("after the run the ACL or the .forward still opens mail to the provider (or lost the rest):\n%s", shared)
	}
	// Rotated: the old password is refused, the stored one works.
	rotated := 0
	for _, a := range res.Actions {
		if a.Change.Action != plan.RotatePassword || a.Result != plan.Applied {
			continue
		}
		rotated++
		for _, h := range handedMailboxes(e) {
			if h.Name == a.Change.Object && login(h.Name, testenv.ReadSecret(t, h.PasswordFile)) {
				t.Errorf("%s: the handed-over password still logs in", h.Name)
			}
		}
	}
	if rotated < 4 {
		t.Errorf("%d mailbox passwords rotated, want the 4 handed-over staff and function mailboxes at least", rotated)
	}
	pm := "prestanet-support@" + testenv.ClientDomain
	for _, a := range m.Accounts {
		if a.Name == pm && login(pm, testenv.ReadSecret(t, a.PasswordFile)) {
			t.Error("the provider's own mailbox still logs in")
		}
	}
	global, err := rootSSH(e, "cat "+m.GlobalSieve+"; ls "+filepath.Dir(m.GlobalSieve))
	if err != nil {
		t.Fatalf("%v: %s", err, global)
	}
	if strings.Contains(global, "redirect") || !strings.Contains(global, `if address :is "to" "direction@`) || !strings.Contains(global, filepath.Base(m.GlobalSieve)+".avant-handover-") {
		t.Errorf("the global script after the run (its redirect gone, its condition and a backup kept):\n%s", global)
	}
	out, err := rootSSH(e, `for u in claire.moreau mairie urbanisme accueil; do doveadm sieve get -u $u@`+testenv.ClientDomain+` "$(doveadm sieve list -u $u@`+testenv.ClientDomain+` | sed -n 's/ ACTIVE$//p')"; echo "== $u"; done; doveadm sieve list -A; cat /etc/postfix/virtual /etc/postfix/recipient_bcc /etc/aliases`)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{
		`vacation :days 1 :subject "Accueil de la mairie"`, // untouched
		`if header :contains "subject" ["permis", "déclaration préalable"] {`,
		"sauvegarde-avant-handover-", "archivage-avant-handover-", "suivi-permis-avant-handover-",
		"postmaster@" + testenv.ClientDomain + "     sophie.lefevre@" + testenv.ClientDomain + "\n",
		"root: sophie.lefevre@" + testenv.ClientDomain + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("after the run the mail host lacks %q:\n%s", want, out)
		}
	}
	scripts, rest, _ := strings.Cut(out, "== accueil")
	if strings.Contains(scripts, "redirect") {
		t.Errorf("an active script still redirects:\n%s", scripts)
	}
	if strings.Contains(rest, "@"+testenv.ProviderDomain) {
		t.Errorf("a Postfix table still copies to the provider:\n%s", rest)
	}
	// A message to the mailboxes that had redirect :copy (and a BCC copy),
	// and to the address the global script copied.
	mid := deliver(t, m.SMTPAddr, "claire.moreau@"+testenv.ClientDomain, "mairie@"+testenv.ClientDomain, "urbanisme@"+testenv.ClientDomain, "direction@"+testenv.ClientDomain, m.ForwardAddress)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err = rootSSH(e, `grep -F "`+mid+`" /var/log/postfix.log | sed -n 's/.*\]: \([0-9A-F]*\): .*/\1/p' | sort -u | while read id; do grep " $id: " /var/log/postfix.log; done; echo "== queue"; postqueue -j`)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "status=sent") >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	q, _ := rootSSH(e, "postqueue -j")
	// Four mailboxes, and the .forward's account: its local delivery and
	// the forwarded copy to the IT lead.
	if strings.Count(out, "status=sent") < 6 || !strings.Contains(out, "dovecot-lmtp") || !strings.Contains(out, "relay=local") {
		t.Errorf("the test message was not delivered to the four mailboxes and the .forward's account:\n%s", out)
	}
	if strings.Contains(out, testenv.ProviderDomain) || strings.Contains(q, testenv.ProviderDomain) {
		t.Errorf("mail went or is queued for %s:\n%s\n%s", testenv.ProviderDomain, out, q)
	}
}

// deliver sends a test message over SMTP and returns its Message-ID.
func deliver(t *testing.T, addr string, to ...string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	mid := "test-" + hex.EncodeToString(b) + "@tests"
	msg := fmt.Sprintf("From: <tests@%s>\r\nTo: %s\r\nSubject: permis de construire\r\nMessage-ID: <%s>\r\n\r\nbonjour\r\n", testenv.ClientDomain, strings.Join(to, ", "), mid)
	if err := smtp.SendMail(addr, nil, "tests@"+testenv.ClientDomain, to, []byte(msg)); err != nil {
		t.Fatalf("smtp: %v", err)
	}
	return mid
}
