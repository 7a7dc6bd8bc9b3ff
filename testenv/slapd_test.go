package testenv_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/slapd"
)

// ldapConn binds dn over url (StartTLS or LDAPS, CA verified) and closes
// the connection when the test ends.
func ldapConn(t *testing.T, env *testenv.Env, url, dn, passwordFile string) *ldap.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := slapd.Dial(ctx, url, env.CACert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(dn, testenv.ReadSecret(t, passwordFile)); err != nil {
		t.Fatalf("bind %s at %s: %v", dn, url, err)
	}
	return conn
}

func adminConn(t *testing.T, env *testenv.Env) *ldap.Conn {
	t.Helper()
	return ldapConn(t, env, env.LDAP.URL, env.LDAP.AdminDN, env.LDAP.AdminPasswordFile)
}

func search(t *testing.T, conn *ldap.Conn, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, filter, attrs, nil), 500)
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func dns(entries []*ldap.Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.DN)
	}
	slices.Sort(out)
	return out
}

func TestSlapdBindAsHandedOverAccount(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	for _, tc := range []struct {
		name, url string
	}{
		{"starttls", env.LDAP.URL},
		{"ldaps", env.LDAP.URLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := ldapConn(t, env, tc.url, env.LDAP.AdminDN, env.LDAP.AdminPasswordFile)
			who, err := conn.WhoAmI(nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := "dn:" + env.LDAP.AdminDN; who.AuthzID != want {
				t.Errorf("whoami = %q, want %q", who.AuthzID, want)
			}
		})
	}
}

// A simple bind without TLS is refused (olcSecurity simple_bind=128): the
// password never crosses the wire in clear, even on loopback.
func TestSlapdPlainBindRefused(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	conn, err := ldap.DialURL(env.LDAP.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetTimeout(10 * time.Second)
	err = conn.Bind(env.LDAP.AdminDN, testenv.ReadSecret(t, env.LDAP.AdminPasswordFile))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) {
		t.Fatalf("plain bind: got %v, want confidentiality required", err)
	}
}

func TestSlapdStaffUsers(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	conn := adminConn(t, env)
	people := search(t, conn, "ou=people,"+env.LDAP.BaseDN, "(objectClass=inetOrgPerson)", "uid", "mail")
	if len(people) < env.LDAP.Users {
		t.Fatalf("%d users under ou=people, want at least %d", len(people), env.LDAP.Users)
	}
	// Every staff user's password was handed over in its own file.
	first := people[0]
	ldapConn(t, env, env.LDAP.URL, first.DN, env.LDAP.PasswordDir+"/"+first.GetAttributeValue("uid"))
}

func TestSlapdNestedAdmin(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	conn := adminConn(t, env)
	l := env.LDAP

	admins := search(t, conn, l.AdminGroupDN, "(objectClass=groupOfNames)", "member")
	direct := admins[0].GetAttributeValues("member")
	if slices.Contains(direct, l.NestedAdminDN) {
		t.Errorf("%s is a direct member of %s; it must be one only through %s", l.NestedAdminDN, l.AdminGroupDN, l.NestedGroupDN)
	}
	if !slices.Contains(direct, l.NestedGroupDN) {
		t.Errorf("%s members %v lack the nested group %s", l.AdminGroupDN, direct, l.NestedGroupDN)
	}
	sub := search(t, conn, l.NestedGroupDN, "(objectClass=groupOfNames)", "member")
	if !slices.Contains(sub[0].GetAttributeValues("member"), l.NestedAdminDN) {
		t.Errorf("%s does not list %s", l.NestedGroupDN, l.NestedAdminDN)
	}

	// dynlist computes memberOf through the nesting.
	user := search(t, conn, l.NestedAdminDN, "(objectClass=*)", "memberOf")
	memberOf := user[0].GetAttributeValues("memberOf")
	for _, g := range []string{l.AdminGroupDN, l.NestedGroupDN} {
		if !slices.Contains(memberOf, g) {
			t.Errorf("memberOf of %s = %v, want it to include %s", l.NestedAdminDN, memberOf, g)
		}
	}

	// Every admin, nested ones included, is what env.Admins hands over.
	var people []string
	for _, e := range search(t, conn, l.BaseDN, "(&(memberOf="+l.AdminGroupDN+")(userPassword=*))", "dn") {
		people = append(people, e.DN)
	}
	slices.Sort(people)
	var handed []string
	for _, a := range l.Admins {
		handed = append(handed, a.Name)
		ldapConn(t, env, l.URL, a.Name, a.PasswordFile)
	}
	slices.Sort(handed)
	if !slices.Equal(people, handed) {
		t.Errorf("members of %s (nested) = %v, env.Admins = %v", l.AdminGroupDN, people, handed)
	}
}

func TestSlapdProviderAccounts(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	conn := adminConn(t, env)
	l := env.LDAP
	want := []string{"uid=prestanet-admin,ou=partners," + l.BaseDN, l.LookalikeDN}
	slices.Sort(want)
	got := slices.Clone(l.ProviderDNs)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("ProviderDNs = %v, want %v", got, want)
	}
	byMail := dns(search(t, conn, l.BaseDN, "(mail=*@"+testenv.ProviderDomain+")", "dn"))
	if !slices.Equal(byMail, want) {
		t.Errorf("entries with a @%s mail = %v, want %v", testenv.ProviderDomain, byMail, want)
	}
	if !strings.HasSuffix(l.LookalikeDN, ",ou=people,"+l.BaseDN) {
		t.Errorf("look-alike %s is not filed among the staff", l.LookalikeDN)
	}
	admins := dns(search(t, conn, l.BaseDN, "(memberOf="+l.AdminGroupDN+")", "dn"))
	for _, dn := range want {
		if !slices.Contains(admins, dn) {
			t.Errorf("provider account %s is not an admin (admins: %v)", dn, admins)
		}
	}
}

// The handed-over bind account is not a password administrator in
// ppolicy's sense (it has write, not manage, on userPassword), so the
// default policy holds for its Password Modify operations too.
func TestSlapdPasswordPolicyRejects(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	conn := adminConn(t, env)
	l := env.LDAP

	policy := search(t, conn, l.PolicyDN, "(objectClass=pwdPolicy)",
		"pwdMinLength", "pwdCheckQuality", "pwdInHistory", "pwdLockout")[0]
	for attr, want := range map[string]string{"pwdMinLength": "12", "pwdCheckQuality": "2", "pwdInHistory": "5", "pwdLockout": "TRUE"} {
		if got := policy.GetAttributeValue(attr); got != want {
			t.Errorf("%s %s = %q, want %q", l.PolicyDN, attr, got, want)
		}
	}

	target := search(t, conn, "ou=accueil,ou=people,"+l.BaseDN, "(uid=*)", "uid")[0]
	pwFile := l.PasswordDir + "/" + target.GetAttributeValue("uid")
	for _, tc := range []struct {
		name, password, reason string
	}{
		{"too short", "Court-1", "Password fails quality checking policy"},
		{"current password reused", testenv.ReadSecret(t, pwFile), "Password is not being changed from existing value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := conn.PasswordModify(ldap.NewPasswordModifyRequest(target.DN, "", tc.password))
			var lerr *ldap.Error
			if !errors.As(err, &lerr) || lerr.ResultCode != ldap.LDAPResultConstraintViolation {
				t.Fatalf("password modify of %s: got %v, want constraint violation", target.DN, err)
			}
			if !strings.Contains(lerr.Err.Error(), tc.reason) {
				t.Errorf("reason = %q, want %q", lerr.Err, tc.reason)
			}
		})
	}
	// Nothing changed: the planted password still works.
	ldapConn(t, env, l.URL, target.DN, pwFile)
}

// The bind account rotates its own password: the new one works, the old
// one fails, and reusing the old one is refused by the history. The
// planted state is restored afterwards.
func TestSlapdBindAccountRotatesItself(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "slapd", true)
	l := env.LDAP
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := slapd.RestoreAccounts(ctx, env.Dir, env.CACert, l.AdminDN); err != nil {
			t.Errorf("restore %s: %v", l.AdminDN, err)
		}
		ldapConn(t, env, l.URL, l.AdminDN, l.AdminPasswordFile)
	})
	old := testenv.ReadSecret(t, l.AdminPasswordFile)
	next := rand.Text()
	conn := adminConn(t, env)
	if _, err := conn.PasswordModify(ldap.NewPasswordModifyRequest("", old, next)); err != nil {
		t.Fatalf("self password modify: %v", err)
	}

	fresh, err := slapd.Dial(t.Context(), l.URLS, env.CACert)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.Bind(l.AdminDN, next); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
	if err := fresh.Bind(l.AdminDN, old); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("bind with the old password: got %v, want invalid credentials", err)
	}
	if err := fresh.Bind(l.AdminDN, next); err != nil {
		t.Fatal(err)
	}
	_, err = fresh.PasswordModify(ldap.NewPasswordModifyRequest("", next, old))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) || !strings.Contains(err.Error(), "history") {
		t.Errorf("reusing the old password: got %v, want a history violation", err)
	}
}
