package main

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/testenv"
)

// faultDirectory is a directory of the test estate the fault tests
// rotate an admin of: its component, the target's settings, and the
// local address its certificate names (where the proxy listens).
type faultDirectory struct {
	component, dialect, urls, ip string
	bindDN, bindPasswordFile     string
	baseDN, adminGroups          string // adminGroups: a YAML list, or ""
	admin                        testenv.Account
}

func (d faultDirectory) target(url string) string {
	groups := ""
	if d.adminGroups != "" {
		groups = "    admin_groups: " + d.adminGroups + "\n"
	}
	return fmt.Sprintf(`  - name: annuaire
    type: ldap
    url: %s
    ca_cert: %%s
    dialect: %s
    bind_dn: "%s"
    password: ${file:%s}
    base_dn: "%s"
%s    accounts:
      - {dn: "%s", password: "${file:%s}"}
`, url, d.dialect, d.bindDN, d.bindPasswordFile, d.baseDN, groups, d.admin.Name, d.admin.PasswordFile)
}

// TestLDAPTargetFaultsMidChange: the test estate's OpenLDAP and Samba AD
// DC, each reached through a TCP proxy that, in the middle of the
// rotation of an admin's password (the intent journaled, the change about
// to be sent), resets the connection, or lets the change through and holds
// the directory's answer back past the change's time limit. Each time the
// run exits non-zero saying what happened; no credential is lost (the
// handed-over password or a value of the store binds); the journal
// verifies; and the next run, the network healthy again, finishes the
// job: the stored password binds, the handed-over one is refused, nothing
// is pending.
func TestLDAPTargetFaultsMidChange(t *testing.T) {
	env := testenv.Require(t)
	if env.LDAP == nil || env.AD == nil || env.Operator == nil {
		t.Fatal("the test estate has no OpenLDAP or no Samba AD: run `make testenv-up`")
	}
	bin := buildHandover(t, crashTestTag)
	dirs := []faultDirectory{{
		component: "slapd", dialect: "openldap", urls: env.LDAP.URLS, ip: "127.0.0.1",
		bindDN: env.LDAP.AdminDN, bindPasswordFile: env.LDAP.AdminPasswordFile,
		baseDN: env.LDAP.BaseDN, adminGroups: fmt.Sprintf("[%q]", env.LDAP.AdminGroupDN),
	}, {
		component: "samba", dialect: "ad", urls: env.AD.URLS, ip: testenv.ADHost,
		bindDN: env.AD.AdminDN, bindPasswordFile: env.AD.AdminPasswordFile, baseDN: env.AD.BaseDN,
	}}
	for _, d := range dirs {
		t.Run(d.component, func(t *testing.T) {
			testenv.LockComponent(t, d.component, true)
			resetComponents(t, d.component)
			t.Cleanup(func() { resetComponents(t, d.component) })
			env := testenv.Require(t)
			admins := env.LDAP.Admins
			if d.component == "samba" {
				admins = env.AD.Admins
			}
			i := slices.IndexFunc(admins, func(a testenv.Account) bool {
				return !strings.EqualFold(a.Name, d.bindDN) && !strings.Contains(strings.ToLower(a.Name), "prestanet") && !strings.HasPrefix(a.Name, "CN=Administrator,")
			})
			if i < 0 {
				t.Fatal("the test directory has no admin of the client's besides its bind account")
			}
			d.admin = admins[i]
			directoryFaults(t, env, bin, d)
		})
	}
}

func directoryFaults(t *testing.T, env *testenv.Env, bin string, d faultDirectory) {
	up, err := url.Parse(d.urls)
	if err != nil {
		t.Fatal(err)
	}
	upstream := up.Host
	if up.Port() == "" {
		upstream = net.JoinHostPort(up.Hostname(), "636")
	}
	admin := d.admin
	for _, tc := range []struct {
		name  string
		fault func(p *faultProxy)
		want  []string
		slice bool
	}{
		{"reset-at-once", func(p *faultProxy) { p.resetAfter(0) }, []string{"connection reset", "eof", "broken pipe", "closing", "network"}, false},
		// The password change reaches the directory, which makes it; its
		// answer never comes back in time.
		{"answer-too-late", func(p *faultProxy) { p.stallAfter(0) }, []string{"did not answer in time", "timeout", "deadline", "timed out"}, true},
	} {
		if !inSlice(tc.slice) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			binds := func(password string) bool { return ldapBinds(t, env, d.urls, d.ip, admin.Name, password) }
			old := testenv.ReadSecret(t, admin.PasswordFile)
			if !binds(old) {
				resetComponents(t, d.component)
			}
			dir := t.TempDir()
			p := newFaultProxyOn(t, d.ip, upstream)
			pb := writePlaybook(t, dir, playbookHead(env, dir)+directoryPolicy(admin.Name)+"targets:\n"+fmt.Sprintf(d.target("ldaps://"+p.addr()), env.CACert))
			faultedRun(t, bin, pb, p, tc.fault, tc.want)
			storePath := filepath.Join(dir, "secrets.age")
			path := connector.SecretPath("annuaire", "directory", admin.Name)
			noCredentialLost(t, openStoreRO(t, env, storePath), path, admin.Name, old, binds)
			journalsIntact(t, dir)
			out, code, _ := handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("next run, the network healthy: exit %d\n%s", code, out)
			}
			cur := settledCredential(t, env, dir, storePath, path)
			if !binds(cur) {
				t.Errorf("the stored password of %s does not bind", admin.Name)
			}
			// On AD an LDAP bind accepts the previous password for an hour
			// (docs/connectors/ldap.md): the KDC says whether it is dead.
			if d.dialect == "ad" {
				c := ldapDialName(t, env, d.urls, d.ip)
				if err := c.Bind(admin.Name, cur); err != nil {
					t.Fatal(err)
				}
				r, err := c.Search(goldap.NewSearchRequest(admin.Name, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"sAMAccountName"}, nil))
				c.Close()
				if err != nil || len(r.Entries) != 1 {
					t.Fatalf("read %s: %v", admin.Name, err)
				}
				login := r.Entries[0].GetAttributeValue("sAMAccountName")
				if testenv.KerberosLogin(t, env, login, old) {
					t.Errorf("the handed-over password of %s still gets a Kerberos ticket", login)
				}
				if !testenv.KerberosLogin(t, env, login, cur) {
					t.Errorf("the stored password of %s gets no Kerberos ticket", login)
				}
			} else if binds(old) {
				t.Errorf("the handed-over password of %s still binds", admin.Name)
			}
		})
	}
}

// ldapBinds says whether dn binds with password on the directory at u,
// over LDAPS, without the connector: the test's own observation.
func ldapBinds(t *testing.T, env *testenv.Env, u, serverName, dn, password string) bool {
	t.Helper()
	c := ldapDialName(t, env, u, serverName)
	defer c.Close()
	err := c.Bind(dn, password)
	if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind as %s: %v", dn, err)
	}
	return err == nil
}

// directoryTarget is the playbook's ldap target "annuaire" on the test
// estate's OpenLDAP at url, with the handed-over password of the account
// dn (in file) besides the bind account's.
func directoryTarget(env *testenv.Env, url, dn, file string) string {
	return fmt.Sprintf(`  - name: annuaire
    type: ldap
    url: %[1]s
    ca_cert: %[2]s
    dialect: openldap
    bind_dn: %[3]s
    password: ${file:%[4]s}
    base_dn: %[5]s
    admin_groups: ["%[6]s"]
    accounts:
      - {dn: "%[7]s", password: "${file:%[8]s}"}
`, url, env.CACert, env.LDAP.AdminDN, env.LDAP.AdminPasswordFile, env.LDAP.BaseDN, env.LDAP.AdminGroupDN, dn, file)
}

// directoryPolicy rotates only the account dn of the target "annuaire",
// and waives the locks of the directory's provider accounts (they cannot
// be proven without their passwords, and are not these tests').
func directoryPolicy(dn string) string {
	return fmt.Sprintf(`policy:
  rotate: {admins: false, accounts: ["annuaire:%s"]}
waivers:
  - {target: annuaire, finding: "account:*", justification: "provider accounts locked by another test", approver: DSI, expires: 2099-01-01}
`, dn)
}
