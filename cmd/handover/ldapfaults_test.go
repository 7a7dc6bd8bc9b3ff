package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestLDAPTargetFaultsMidChange: the test estate's OpenLDAP reached
// through a TCP proxy that, in the middle of the rotation of an admin's
// password (the intent journaled, the change about to be sent), resets
// the connection, or lets the change through and holds the directory's
// answer back past the change's time limit. Each time the run exits
// non-zero saying what happened; no credential is lost (the handed-over
// password or a value of the store binds); the journal verifies; and the
// next run, the network healthy again, finishes the job: the stored
// password binds, the handed-over one is refused, nothing is pending.
func TestLDAPTargetFaultsMidChange(t *testing.T) {
	env := testenv.Require(t)
	if env.LDAP == nil || env.Operator == nil {
		t.Fatal("the test estate has no OpenLDAP: run `make testenv-up`")
	}
	testenv.LockComponent(t, "slapd", true)
	resetComponents(t, "slapd")
	t.Cleanup(func() { resetComponents(t, "slapd") })
	env = testenv.Require(t)
	i := slices.IndexFunc(env.LDAP.Admins, func(a testenv.Account) bool { return !strings.EqualFold(a.Name, env.LDAP.AdminDN) })
	if i < 0 {
		t.Fatal("the test directory has no admin besides its bind account")
	}
	admin := env.LDAP.Admins[i]
	up, err := url.Parse(env.LDAP.URLS)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildHandover(t, crashTestTag)
	for _, tc := range []struct {
		name  string
		fault func(p *faultProxy)
		want  []string
		slice bool
	}{
		{"reset-at-once", func(p *faultProxy) { p.resetAfter(0) }, []string{"connection reset", "EOF", "broken pipe", "closing", "network"}, false},
		// The Password Modify request reaches the directory, which
		// changes the password; its answer never comes back in time.
		{"answer-too-late", func(p *faultProxy) { p.stallAfter(0) }, []string{"did not answer in time", "timeout", "deadline", "timed out"}, true},
	} {
		if !inSlice(tc.slice) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			old := testenv.ReadSecret(t, admin.PasswordFile)
			if !ldapBinds(t, env, env.LDAP.URLS, admin.Name, old) {
				resetComponents(t, "slapd")
			}
			dir := t.TempDir()
			p := newFaultProxy(t, up.Host)
			pb := writePlaybook(t, dir, playbookHead(env, dir)+directoryPolicy(admin.Name)+"targets:\n"+directoryTarget(env, "ldaps://"+p.addr(), admin.Name, admin.PasswordFile))
			_, finish := pausedRun(t, bin, []string{"HANDOVER_CHANGE_TIMEOUT=4s"}, "run", "--yes", pb)
			tc.fault(p)
			out, code := finish()
			p.unstall()
			t.Logf("the failed run said:\n%s", out)
			if code == 0 {
				t.Errorf("run with the directory's connection faulted mid-change: exit 0")
			}
			if !slices.ContainsFunc(tc.want, func(w string) bool { return strings.Contains(strings.ToLower(out), w) }) {
				t.Errorf("the failed run's output says none of %q", tc.want)
			}
			storePath := filepath.Join(dir, "secrets.age")
			path := connector.SecretPath("annuaire", "directory", admin.Name)
			if !ldapBinds(t, env, env.LDAP.URLS, admin.Name, old) {
				st := openStoreRO(t, env, storePath)
				vs, err := st.List(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				works := false
				for _, v := range vs {
					if !strings.EqualFold(v.Path, path) || v.State == secret.Failed {
						continue
					}
					val, _, err := st.Get(context.Background(), v.Path, v.Version)
					if err == nil && ldapBinds(t, env, env.LDAP.URLS, admin.Name, val.Reveal()) {
						works = true
					}
				}
				if !works {
					t.Fatalf("neither the handed-over password of %s nor any value of the store binds: a credential was lost", admin.Name)
				}
			}
			journalsIntact(t, dir)
			out, code, _ = handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("next run, the network healthy: exit %d\n%s", code, out)
			}
			st := openStoreRO(t, env, storePath)
			vs, _ := st.List(context.Background())
			for _, v := range vs {
				if strings.EqualFold(v.Path, path) {
					path = v.Path // as the directory spells the DN
				}
			}
			cur, v, err := st.Get(context.Background(), path, 0)
			if err != nil || v.State != secret.Current {
				t.Fatalf("no current password of %s in the store: %v %+v", admin.Name, err, v)
			}
			if !ldapBinds(t, env, env.LDAP.URLS, admin.Name, cur.Reveal()) {
				t.Errorf("the stored password of %s does not bind", admin.Name)
			}
			if ldapBinds(t, env, env.LDAP.URLS, admin.Name, old) {
				t.Errorf("the handed-over password of %s still binds", admin.Name)
			}
			for _, v := range vs {
				if v.State == secret.Pending {
					t.Errorf("%s#%d still pending", v.Path, v.Version)
				}
			}
			journalsIntact(t, dir)
		})
	}
}

// ldapBinds says whether dn binds with password on the directory at u,
// over LDAPS, without the connector: the test's own observation.
func ldapBinds(t *testing.T, env *testenv.Env, u, dn, password string) bool {
	t.Helper()
	c := ldapDial(t, env, u)
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
