package ldap_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/connectors/ldap"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/testenv"
)

// The conformance suite drives the connector through the engine against
// the testenv's OpenLDAP and Samba AD DC, as a real handover would.

func TestConformanceOpenLDAP(t *testing.T) { runConformance(t, openLDAP(t)) }
func TestConformanceSamba(t *testing.T)    { runConformance(t, activeDirectory(t)) }

// TestConformanceCrash is the process the suite kills mid-rotation.
func TestConformanceCrash(t *testing.T) {
	connectortest.CrashHelper(t, connector.NewRegistry(ldap.New()))
}

func runConformance(t *testing.T, d directory) {
	testenv.LockComponent(t, d.component, true)
	t.Cleanup(func() { reset(t, d) })
	e := testenv.Require(t)
	connectortest.Run(t, connectortest.Harness{
		Registry: connector.NewRegistry(ldap.New()),
		Playbook: func(t *testing.T, dir string) string {
			return connectortest.WritePlaybook(t, dir, playbookFor(d, e.CACert))
		},
		Reset:     func(t *testing.T) { reset(t, d) },
		Snapshot:  snapshotter(t, d),
		CrashTest: "TestConformanceCrash",
		After:     afterRun(d),
	})
}

// playbookFor is the playbook part naming the provider and the directory,
// with every admin's handed-over password (so the old ones are proven
// dead).
func playbookFor(d directory, ca string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "outgoing:\n  names: [%q]\n  domains: [%q]\n  accounts: [\"prestanet-*\"]\n", testenv.ProviderName, testenv.ProviderDomain)
	fmt.Fprintf(&b, "targets:\n  - name: annuaire\n    type: ldap\n    url: %s\n    ca_cert: %s\n    bind_dn: %q\n    password: ${file:%s}\n    page_size: 100\n", d.urls, ca, d.bindDN, d.bindFile)
	if len(d.adminGroups) > 0 {
		fmt.Fprintf(&b, "    admin_groups: [%q]\n", d.adminGroups[0])
	}
	fmt.Fprintf(&b, "    service_accounts:\n      ous: [%q]\n      patterns: [\"svc-*\"]\n", d.serviceOUs[0])
	b.WriteString("    accounts:\n")
	for _, a := range d.accounts() {
		fmt.Fprintf(&b, "      - dn: %q\n        password: ${file:%s}\n", a.Name, a.PasswordFile)
	}
	return b.String()
}

// snapshotter reads what a change would alter (memberships, password
// hashes and dates, lock and disable flags), never through the connector:
// OpenLDAP as the testenv's own rootdn over LDAPS, the AD DC from its
// database with ldbsearch (every AD admin is handed over and rotated).
func snapshotter(t *testing.T, d directory) func(context.Context) (string, error) {
	e := testenv.Require(t)
	if d.dialect == ldap.AD {
		return func(ctx context.Context) (string, error) {
			out, err := exec.CommandContext(ctx, "ldbsearch", "-H", e.AD.SamLDB, "-b", e.AD.BaseDN,
				"(|(objectClass=user)(objectClass=group))", "member", "userAccountControl", "pwdLastSet", "primaryGroupID").Output()
			if err != nil {
				return "", fmt.Errorf("ldbsearch: %w", err)
			}
			return sortedRecords(string(out)), nil
		}
	}
	pw := testenv.ReadSecret(t, e.LDAP.ObserverPasswordFile)
	ca, err := os.ReadFile(e.CACert)
	if err != nil {
		t.Fatal(err)
	}
	tc := tlsConfig(t, ca, d.urls)
	return func(ctx context.Context) (string, error) {
		conn, err := goldap.DialURL(d.urls, goldap.DialWithTLSConfig(tc))
		if err != nil {
			return "", err
		}
		defer conn.Close()
		if err := conn.Bind(e.LDAP.ObserverDN, pw); err != nil {
			return "", fmt.Errorf("observer bind: %w", err)
		}
		res, err := conn.SearchWithPaging(goldap.NewSearchRequest(e.LDAP.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"member", "uniqueMember", "userPassword", "pwdChangedTime", "pwdAccountLockedTime"}, nil), 500)
		if err != nil {
			return "", err
		}
		var recs []string
		for _, en := range res.Entries {
			var attrs []string
			for _, a := range en.Attributes {
				vs := slices.Clone(a.Values)
				slices.Sort(vs)
				attrs = append(attrs, a.Name+"="+strings.Join(vs, "|"))
			}
			slices.Sort(attrs)
			recs = append(recs, en.DN+"\n"+strings.Join(attrs, "\n"))
		}
		slices.Sort(recs)
		return strings.Join(recs, "\n\n"), nil
	}
}

// sortedRecords puts ldbsearch's records (blank-line separated) and their
// lines in a stable order.
func sortedRecords(out string) string {
	var recs []string
	for _, r := range strings.Split(out, "\n\n") {
		lines := strings.Split(strings.TrimSpace(r), "\n")
		var keep []string
		for _, l := range lines {
			if l != "" && !strings.HasPrefix(l, "#") {
				keep = append(keep, l)
			}
		}
		slices.Sort(keep)
		if len(keep) > 0 {
			recs = append(recs, strings.Join(keep, "\n"))
		}
	}
	slices.Sort(recs)
	return strings.Join(recs, "\n\n")
}
