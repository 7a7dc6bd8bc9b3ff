package mail

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// Faults: each says what happened, names the target's host, and plans
// nothing on a system it could not read.

func TestUnreachableMailHost(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", false)
	text := strings.Replace(mailPlaybook(e, ""), "host: "+e.MailHost.Address, "host: 127.0.3.99", 1)
	tg := configure(t, text)
	inv, err := tg.Inventory(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	sys := inv.Systems[0]
	if !strings.Contains(sys.Error, "127.0.3.99") || !strings.Contains(sys.Error, "connection refused") {
		t.Errorf("error %q does not say the host refused the connection", sys.Error)
	}
	if ch, _ := tg.Plan(inv, connector.Decisions{}); len(ch) != 0 {
		t.Errorf("planned %d changes on an unreachable host", len(ch))
	}
}

func TestWrongHostKey(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", false)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := ssh.NewPublicKey(pub)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(e.MailHost.Address+" "+string(ssh.MarshalAuthorizedKey(k))), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := configure(t, strings.Replace(mailPlaybook(e, ""), "known_hosts: "+e.MailHost.KnownHosts, "known_hosts: "+kh, 1))
	inv, _ := tg.Inventory(ctxT(t))
	if got := inv.Systems[0].Error; !strings.Contains(got, "does not match") || !strings.Contains(got, e.MailHost.HostKeySHA256) {
		t.Errorf("error %q does not say the host key does not match", got)
	}
	// A pinned key that is not the host's is refused too.
	tg = configure(t, strings.Replace(mailPlaybook(e, ""), "known_hosts: "+e.MailHost.KnownHosts, "host_key: "+ssh.FingerprintSHA256(k), 1))
	inv, _ = tg.Inventory(ctxT(t))
	if got := inv.Systems[0].Error; !strings.Contains(got, "does not match") {
		t.Errorf("pinned: error %q does not say the host key does not match", got)
	}
}

// TestBadTLS: a server whose certificate the CA does not vouch for gets no
// password.
func TestBadTLS(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", false)
	ca := filepath.Join(t.TempDir(), "other-ca.pem")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tls := range []string{"implicit", "starttls"} {
		tg := configure(t, strings.Replace(mailPlaybook(e, "    imap_tls: "+tls+"\n"), "ca_cert: "+e.CACert, "ca_cert: "+ca, 1))
		_, _, err := tg.imapLogin(ctxT(t), "mairie@"+testenv.ClientDomain, secret.New("anything"))
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: login over an unverified TLS connection: %v", tls, err)
		}
	}
}

// TestServerFaults changes the mail host (then resets it): a passdb the
// connector does not support, a Sieve script it cannot parse, and doveadm
// missing.
func TestServerFaults(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t) })
	local := "/var/vmail/" + testenv.ClientDomain + "/karim.benali"
	if out, err := rootSSH(e, `printf 'passdb {\n  driver = checkpassword\n  args = /usr/local/bin/checkpw\n}\n' >> /etc/dovecot/dovecot.conf
mkdir -p `+local+`/sieve && printf 'require ["copy"];\nredirect :copy "karim@prestanet.test"\n' > `+local+`/sieve/casse.sieve && chown -R vmail:vmail `+local+`/sieve`); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	tg := configure(t, mailPlaybook(e, ""))
	inv, err := tg.Inventory(ctxT(t))
	if err != nil || inv.Systems[0].Error != "" {
		t.Fatalf("inventory: %v %s", err, inv.Systems[0].Error)
	}
	var unsupported, unparsed bool
	for _, f := range inv.Systems[0].Findings {
		unsupported = unsupported || strings.Contains(f.Summary, "does not support the checkpassword driver")
		if strings.HasPrefix(f.ID, "sieve-unparsed:karim.benali@") {
			unparsed = f.Provider && strings.Contains(f.Summary, "cannot be parsed")
		}
	}
	if !unsupported {
		t.Error("the checkpassword passdb is not reported as unsupported")
	}
	if !unparsed {
		t.Error("the unparsable script is not reported (and attributed)")
	}
	changes, err := tg.Plan(inv, connector.Decisions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if strings.Contains(ch.Object, "karim") {
			t.Errorf("planned %s on a script it cannot parse", ch.Object)
		}
	}
	if len(changes) < 6 {
		t.Errorf("the rest of the server is still planned: %d changes, want the master user, the provider's mailbox, 3 redirects and 3 Postfix copies", len(changes))
	}
	if out, err := rootSSH(e, "chmod -x /usr/bin/doveadm"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	tg = configure(t, mailPlaybook(e, ""))
	inv, _ = tg.Inventory(ctxT(t))
	if got := inv.Systems[0].Error; !strings.Contains(got, "doveadm is not installed") {
		t.Errorf("error %q does not say doveadm is missing", got)
	}
}
