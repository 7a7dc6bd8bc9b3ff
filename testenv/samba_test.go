package testenv_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

func requireAD(t *testing.T) *testenv.Env {
	t.Helper()
	env := testenv.Require(t)
	if env.AD == nil {
		t.Fatal("the testenv has no Samba AD DC: run `bin/testenv up -only samba`")
	}
	// The ldap connector's tests change the domain and reset it.
	testenv.LockComponent(t, "samba", false)
	return env
}

// adConn dials url (LDAPS, or StartTLS for ldap://) verifying the DC's
// certificate against the testenv CA, and binds dn.
func adConn(t *testing.T, env *testenv.Env, url, dn, password string) (*ldap.Conn, error) {
	t.Helper()
	pem, err := os.ReadFile(env.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("testenv CA: no certificate")
	}
	tc := &tls.Config{RootCAs: pool, ServerName: testenv.ADHost, MinVersion: tls.VersionTLS12}
	conn, err := ldap.DialURL(url, ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetTimeout(10 * time.Second)
	if strings.HasPrefix(url, "ldap://") {
		if err := conn.StartTLS(tc); err != nil {
			t.Fatalf("StartTLS %s: %v", url, err)
		}
	}
	return conn, conn.Bind(dn, password)
}

func adAdmin(t *testing.T, env *testenv.Env) *ldap.Conn {
	t.Helper()
	conn, err := adConn(t, env, env.AD.URLS, env.AD.AdminDN, testenv.ReadSecret(t, env.AD.AdminPasswordFile))
	if err != nil {
		t.Fatalf("bind %s: %v", env.AD.AdminDN, err)
	}
	return conn
}

func adSearch(t *testing.T, conn *ldap.Conn, base, filter string, attrs ...string) *ldap.SearchResult {
	t.Helper()
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil), 500)
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res
}

func TestSambaHandedOverAccountsBind(t *testing.T) {
	env := requireAD(t)
	if len(env.AD.Admins) == 0 {
		t.Fatal("env.AD.Admins is empty")
	}
	for _, a := range env.AD.Admins {
		st, err := os.Stat(a.PasswordFile)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 0600", a.PasswordFile, st.Mode().Perm())
		}
		for _, url := range []string{env.AD.URL, env.AD.URLS} {
			if _, err := adConn(t, env, url, a.Name, testenv.ReadSecret(t, a.PasswordFile)); err != nil {
				t.Errorf("bind %s at %s: %v", a.Name, url, err)
			}
		}
	}
}

func TestSambaRefusesPlainBind(t *testing.T) {
	env := requireAD(t)
	conn, err := ldap.DialURL(env.AD.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// "ldap server require strong auth" (AD's default) refuses a simple
	// bind without TLS.
	err = conn.Bind(env.AD.AdminDN, testenv.ReadSecret(t, env.AD.AdminPasswordFile))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired) {
		t.Fatalf("plain simple bind: %v, want strongAuthRequired", err)
	}
}

func TestSambaNestedAdmin(t *testing.T) {
	env := requireAD(t)
	conn := adAdmin(t, env)
	da := adSearch(t, conn, env.AD.AdminGroupDN, "(objectClass=group)", "member")
	if len(da.Entries) != 1 {
		t.Fatalf("Domain Admins: %d entries", len(da.Entries))
	}
	direct := da.Entries[0].GetAttributeValues("member")
	if slices.Contains(direct, env.AD.NestedAdminDN) {
		t.Errorf("%s is a direct member of Domain Admins; it must be an admin only through a sub-group", env.AD.NestedAdminDN)
	}
	if !slices.Contains(direct, env.AD.AdminDN) {
		t.Errorf("the bind account %s is not a direct member of Domain Admins", env.AD.AdminDN)
	}
	// The server's transitive rule sees the nested admin.
	nested := adSearch(t, conn, env.AD.BaseDN, "(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:="+ldap.EscapeFilter(env.AD.AdminGroupDN)+"))", "1.1")
	var got []string
	for _, e := range nested.Entries {
		got = append(got, e.DN)
	}
	for _, a := range env.AD.Admins {
		if strings.Contains(a.Name, "svc-backup") {
			continue // a Backup Operator, not a Domain Admin
		}
		if !slices.Contains(got, a.Name) {
			t.Errorf("%s is not a (transitive) member of Domain Admins: %q", a.Name, got)
		}
	}
}

func TestSambaProviderAccounts(t *testing.T) {
	env := requireAD(t)
	conn := adAdmin(t, env)
	if len(env.AD.ProviderDNs) != 2 {
		t.Fatalf("provider DNs: %q", env.AD.ProviderDNs)
	}
	var byName, byMail int
	for _, dn := range env.AD.ProviderDNs {
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"sAMAccountName", "mail", "userAccountControl"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s: %v", dn, err)
		}
		e := res.Entries[0]
		if strings.HasPrefix(e.GetAttributeValue("sAMAccountName"), "prestanet-") {
			byName++
		} else if strings.HasSuffix(e.GetAttributeValue("mail"), "@"+testenv.ProviderDomain) {
			byMail++ // the look-alike: a staff-like name, the provider's mail
		}
		if e.GetAttributeValue("userAccountControl") != "512" {
			t.Errorf("%s: userAccountControl %s, want 512 (enabled)", dn, e.GetAttributeValue("userAccountControl"))
		}
	}
	if byName != 1 || byMail != 1 {
		t.Errorf("provider accounts: %d by name, %d look-alike by mail; want 1 and 1", byName, byMail)
	}
}

// TestSambaEvidenceAccounts: the provider's accounts by evidence say
// whose they are only in their description or info, are admins (one only
// through a group whose only member it is, which the provider's account
// manages), and bind with their handed-over passwords.
func TestSambaEvidenceAccounts(t *testing.T) {
	env := requireAD(t)
	conn := adAdmin(t, env)
	if len(env.AD.EvidenceDNs) != 2 || env.AD.SoleGroupDN == "" {
		t.Fatalf("evidence_dns %q, sole_group_dn %q", env.AD.EvidenceDNs, env.AD.SoleGroupDN)
	}
	for i, attr := range []string{"description", "info"} {
		e := adSearch(t, conn, env.AD.EvidenceDNs[i], "(objectClass=user)", attr, "mail", "sAMAccountName").Entries[0]
		if !strings.Contains(e.GetAttributeValue(attr), testenv.ProviderName) || strings.Contains(e.GetAttributeValue("mail"), testenv.ProviderDomain) || strings.Contains(e.GetAttributeValue("sAMAccountName"), "prestanet") {
			t.Errorf("%s: %s %q, mail %q, name %q: want only its %s to name the provider", env.AD.EvidenceDNs[i], attr, e.GetAttributeValue(attr), e.GetAttributeValue("mail"), e.GetAttributeValue("sAMAccountName"), attr)
		}
	}
	g := adSearch(t, conn, env.AD.SoleGroupDN, "(objectClass=group)", "member", "managedBy", "memberOf").Entries[0]
	if m := g.GetAttributeValues("member"); len(m) != 1 || m[0] != env.AD.EvidenceDNs[1] {
		t.Errorf("%s members %q, want only %s", env.AD.SoleGroupDN, m, env.AD.EvidenceDNs[1])
	}
	if !slices.Contains(env.AD.ProviderDNs, g.GetAttributeValue("managedBy")) {
		t.Errorf("%s managedBy %q, want the provider's account", env.AD.SoleGroupDN, g.GetAttributeValue("managedBy"))
	}
	nested := adSearch(t, conn, env.AD.BaseDN, "(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:="+ldap.EscapeFilter(env.AD.AdminGroupDN)+"))", "1.1")
	for _, dn := range env.AD.EvidenceDNs {
		if !slices.ContainsFunc(nested.Entries, func(e *ldap.Entry) bool { return e.DN == dn }) {
			t.Errorf("%s is not a (transitive) member of Domain Admins", dn)
		}
	}
}

func TestSambaServiceAccounts(t *testing.T) {
	env := requireAD(t)
	conn := adAdmin(t, env)
	// Under the client's OU: the domain's own krbtgt and dns-dc1 have SPNs
	// too.
	spn := adSearch(t, conn, "OU=Mairie,"+env.AD.BaseDN, "(&(objectCategory=person)(servicePrincipalName=*))", "sAMAccountName")
	if len(spn.Entries) != 1 || spn.Entries[0].GetAttributeValue("sAMAccountName") != "svc-sql" {
		t.Errorf("accounts with an SPN: %d", len(spn.Entries))
	}
	bo := adSearch(t, conn, env.AD.BaseDN, "(&(objectClass=group)(objectSid=S-1-5-32-551))", "member")
	if len(bo.Entries) != 1 || !slices.ContainsFunc(bo.Entries[0].GetAttributeValues("member"), func(m string) bool { return strings.HasPrefix(m, "CN=svc-backup,") }) {
		t.Errorf("svc-backup is not in Backup Operators")
	}
	staff := adSearch(t, conn, "OU=Agents,OU=Mairie,"+env.AD.BaseDN, "(objectClass=user)", "1.1")
	// Staff, plus the nested admin, the look-alike and the on-call
	// technician of the provider's by evidence filed among them.
	if len(staff.Entries) != env.AD.Users+3 {
		t.Errorf("staff OU holds %d users, want %d", len(staff.Entries), env.AD.Users+3)
	}
}

// TestSambaSubtreeFromRootReturnsReferrals records an AD quirk the
// connector handles: a subtree search from the domain root names the
// other partitions as referrals.
func TestSambaSubtreeFromRootReturnsReferrals(t *testing.T) {
	env := requireAD(t)
	conn := adAdmin(t, env)
	res := adSearch(t, conn, env.AD.BaseDN, "(sAMAccountName=adm-mairie)", "1.1")
	if len(res.Entries) != 1 {
		t.Errorf("entries: %d", len(res.Entries))
	}
	if len(res.Referrals) == 0 {
		t.Error("no referrals: the quirk the connector handles is gone")
	}
}

// TestSambaOldPasswordAllowedPeriod measures what the testenv keeps on
// purpose (AD's default): after an administrator resets a password, an
// LDAP simple bind still accepts the previous one for an hour, and the
// KDC does not. It changes the password of a staff account nobody was
// handed, to a fresh random one each run.
func TestSambaOldPasswordAllowedPeriod(t *testing.T) {
	env := requireAD(t)
	admin := adAdmin(t, env)
	staff := adSearch(t, admin, "OU=Agents,OU=Mairie,"+env.AD.BaseDN, "(&(objectClass=user)(sAMAccountName=camille.*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))", "sAMAccountName")
	if len(staff.Entries) == 0 {
		t.Fatal("no enabled staff account to try")
	}
	dn, login := staff.Entries[0].DN, staff.Entries[0].GetAttributeValue("sAMAccountName")
	set := func(pw secret.Secret) {
		t.Helper()
		u := utf16.Encode([]rune(`"` + pw.Reveal() + `"`))
		b := make([]byte, 2*len(u))
		for i, r := range u {
			binary.LittleEndian.PutUint16(b[2*i:], r)
		}
		req := ldap.NewModifyRequest(dn, nil)
		req.Replace("unicodePwd", []string{string(b)})
		if err := admin.Modify(req); err != nil {
			t.Fatalf("set password of %s: %v", dn, err)
		}
	}
	old, _ := secret.Generate(nil, secret.DefaultPolicy())
	next, _ := secret.Generate(nil, secret.DefaultPolicy())
	set(old)
	set(next)
	if _, err := adConn(t, env, env.AD.URLS, dn, old.Reveal()); err != nil {
		t.Errorf("simple bind with the previous password: %v; the testenv's smb.conf should keep AD's 60-minute old password allowed period", err)
	}
	if _, err := adConn(t, env, env.AD.URLS, dn, next.Reveal()); err != nil {
		t.Errorf("simple bind with the new password: %v", err)
	}
	if kinit(t, env, login, old) {
		t.Error("Kerberos accepted the previous password")
	}
	if !kinit(t, env, login, next) {
		t.Error("Kerberos refused the new password")
	}
}

func kinit(t *testing.T, env *testenv.Env, login string, pw secret.Secret) bool {
	t.Helper()
	return testenv.KerberosLogin(t, env, login, pw.Reveal())
}
