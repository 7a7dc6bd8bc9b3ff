package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// storeMap is a secret store reader holding current values by path.
type storeMap map[string]string

func (s storeMap) Current(_ context.Context, path string) (secret.Secret, bool, error) {
	v, ok := s[path]
	if !ok {
		return secret.Secret{}, false, nil
	}
	return secret.New(v), true, nil
}

// TestDirectoryMailboxProvenOverIMAP: with an LDAP passdb on the mail
// host asking the testenv's slapd, a handed-over mailbox in the directory
// is linked to it and gets a prove-login change; its proof fails while the
// directory's entry was not rotated, and holds once it was (the new
// password logs in over IMAP, the handed-over one is refused).
func TestDirectoryMailboxProvenOverIMAP(t *testing.T) {
	e := requireMailHost(t)
	if e.LDAP == nil || e.LDAP.NestedAdminDN == "" {
		t.Fatal("integration test needs slapd: run bin/testenv up -only slapd")
	}
	testenv.LockComponent(t, "slapd", true)
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t); resetComponent(t, "slapd") })
	dn := e.LDAP.NestedAdminDN // uid=kbenali,ou=services-techniques,ou=people,...
	uid := strings.TrimPrefix(strings.SplitN(dn, ",", 2)[0], "uid=")
	rest := strings.SplitN(dn, ",", 2)[1]
	old := testenv.ReadSecret(t, filepath.Join(e.LDAP.PasswordDir, uid))
	ca, err := os.ReadFile(e.CACert)
	if err != nil {
		t.Fatal(err)
	}
	// The LDAP passdb, as a real installation declares it: over LDAPS,
	// binding as the user (auth_bind), the entry from a template.
	setup := "cat > /etc/dovecot/ldap-ca.pem <<'EOF'\n" + string(ca) + "EOF\n" +
		"cat > /etc/dovecot/dovecot-ldap.conf.ext <<'EOF'\nuris = " + e.LDAP.URLS + "\ntls_ca_cert_file = /etc/dovecot/ldap-ca.pem\nauth_bind = yes\nauth_bind_userdn = uid=%n," + rest + "\nbase = " + e.LDAP.BaseDN + "\nEOF\n" +
		"chmod 600 /etc/dovecot/dovecot-ldap.conf.ext\n" +
		"printf 'passdb {\\n  driver = ldap\\n  args = /etc/dovecot/dovecot-ldap.conf.ext\\n}\\nuserdb {\\n  driver = static\\n  args = uid=vmail gid=vmail home=/var/vmail/annuaire/%%n\\n}\\n' >> /etc/dovecot/dovecot.conf\n" +
		"doveconf -n >/dev/null && doveadm reload"
	if out, err := rootSSH(e, setup); err != nil {
		t.Fatalf("LDAP passdb on the mail host: %v\n%s", err, out)
	}
	store := storeMap{}
	// The handed-over mailboxes, and the directory's one.
	boxes := append(handedMailboxes(e), testenv.Account{Name: uid, PasswordFile: filepath.Join(e.LDAP.PasswordDir, uid)})
	text := strings.Replace(mailPlaybook(e, ""), "targets:", "", 1)
	text = text[:strings.Index(text, "  - name: messagerie")] + mailTarget(e, boxes, "    directory: annuaire\n")
	tg := configure(t, text)
	tg.env.Secrets = store
	ctx := ctxT(t)
	inv, err := tg.Inventory(ctx)
	if err != nil || inv.Systems[0].Error != "" {
		t.Fatalf("inventory: %v %s", err, inv.Systems[0].Error)
	}
	sys := inv.Systems[0]
	linked := false
	for _, l := range sys.Links {
		linked = linked || l.To == "127.0.0.1" && l.Kind == linkAuth
	}
	if !linked {
		t.Errorf("the mail server is not linked to the directory server: %+v", sys.Links)
	}
	changes, err := tg.Plan(inv, connector.Decisions{})
	if err != nil {
		t.Fatal(err)
	}
	var prove []plan.Change
	for _, ch := range changes {
		if ch.Action == plan.ProveLogin {
			prove = append(prove, ch)
		}
	}
	if len(prove) != 1 || prove[0].Object != uid || prove[0].Params["secret_path"] != "annuaire/directory/"+dn {
		t.Fatalf("prove-login changes: %+v", prove)
	}
	if r := tg.Apply(ctx, sys.Name, prove, nil); r.Results[0].Err != nil {
		t.Fatal(r.Results[0].Err)
	}
	done := []connector.Done{{Change: prove[0]}}
	held := func(checks []connector.Check, kind connector.CheckKind) (bool, bool) {
		for _, c := range checks {
			if c.Kind == kind {
				t.Logf("%s ok=%v: %s (%s)", c.Kind, c.OK, c.What, c.Detail)
				return true, c.OK
			}
		}
		return false, false
	}
	// Not rotated by the directory's target: the proof fails, and says why.
	checks, err := tg.Verify(ctx, sys.Name, done, nil)
	if err != nil {
		t.Fatal(err)
	}
	if found, ok := held(checks, connector.NewWorks); !found || ok {
		t.Errorf("the proof holds while the directory's password was not rotated: %+v", checks)
	}
	// The directory's target rotates it (here, a password change in
	// slapd), and the store holds the new value.
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	next := "Nv-" + hex.EncodeToString(b) + "-Zq9!"
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	lc, err := ldap.DialURL(e.LDAP.URLS, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if err := lc.Bind(dn, old); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PasswordModify(ldap.NewPasswordModifyRequest("", old, next)); err != nil {
		t.Fatal(err)
	}
	store[prove[0].Params["secret_path"]] = next
	checks, err = tg.Verify(ctx, sys.Name, done, nil)
	if err != nil {
		t.Fatal(err)
	}
	if found, ok := held(checks, connector.NewWorks); !found || !ok {
		t.Errorf("the directory's new password does not log in over IMAP: %+v", checks)
	}
	if found, ok := held(checks, connector.OldRejected); !found || !ok {
		t.Errorf("the handed-over password still logs in over IMAP: %+v", checks)
	}
}
