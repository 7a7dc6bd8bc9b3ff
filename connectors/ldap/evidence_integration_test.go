package ldap_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestLDAPAttributionByEvidenceOpenLDAP: slapd holds two accounts that
// are the provider's by what their entries say, not by name or mail: a
// service account whose description names the provider, and a
// technician whose manager is the provider's account. The technician is
// the only member of a groupOfNames that is itself in cn=admins: the
// group cannot be emptied, so the run takes the group out of cn=admins
// instead, says so in the plan, and proves the technician no longer an
// admin while the client's other admins (direct, and through the sibling
// group cn=it-support) keep their rights. Both accounts are locked (the
// service account like the provider's other accounts, the plan says
// why).
//
// Long: the whole cycle, with its independent look at the directory.
func TestLDAPAttributionByEvidenceOpenLDAP(t *testing.T) {
	d := openLDAP(t)
	testenv.LockComponent(t, d.component, true)
	reset(t, d) // this tree's plants, whatever binary reset slapd last
	e := testenv.Require(t)
	t.Cleanup(func() {
		reset(t, d)
		// The next reset, by whichever build, plants its own estate
		// rather than reusing this one's data.
		os.Remove(filepath.Join(e.Dir, "slapd", "data.ldif"))
	})
	l := e.LDAP
	if len(l.EvidenceDNs) != 2 || l.SoleGroupDN == "" {
		t.Fatalf("slapd plants no accounts of the provider's by evidence (evidence_dns %v, sole_group_dn %q): reset it with this tree's testenv", l.EvidenceDNs, l.SoleGroupDN)
	}
	service, oncall := l.EvidenceDNs[0], l.EvidenceDNs[1]
	// The env as this tree's reset wrote it; the service account's
	// password handed over too, so its lock is proven by a failed bind.
	d = openLDAP(t)
	ctx := testCtx(t)
	tgt := configure(t, d, d.url, secret.NewMemoryStore(), options{})
	inv, err := tgt.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for dn, why := range map[string]string{service: "description", oncall: "manager"} {
		a, ok := accountByName(inv, dn)
		if !ok || !a.Provider || !slices.ContainsFunc(a.Reasons, func(r string) bool { return strings.HasPrefix(r, why+" ") }) {
			t.Errorf("%s: found=%v provider=%v reasons=%q, want a reason from its %s", dn, ok, a.Provider, a.Reasons, why)
		}
	}
	changes, err := tgt.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	var apply []plan.Change
	for _, ch := range changes {
		if ch.Params["account"] == oncall || ch.Object == oncall || ch.Object == service {
			apply = append(apply, ch)
		}
	}
	cut := slices.IndexFunc(apply, func(c plan.Change) bool { return c.Action == plan.RemoveMembership })
	if cut < 0 {
		t.Fatalf("no membership removal planned for %s: %v", oncall, apply)
	}
	if c := apply[cut]; !strings.EqualFold(c.Params["value"], l.SoleGroupDN) || !strings.EqualFold(c.Params["group"], l.AdminGroupDN) || c.Params["via"] == "" || !strings.Contains(c.Reason, "cannot be emptied") {
		t.Errorf("membership change: %s %s %v (%s); want %s out of %s, saying why", c.Action, c.Object, c.Params, c.Reason, l.SoleGroupDN, l.AdminGroupDN)
	}
	for _, dn := range []string{service, oncall} {
		i := slices.IndexFunc(apply, func(c plan.Change) bool { return c.Action == plan.LockAccount && c.Object == dn })
		if i < 0 {
			t.Errorf("no lock planned for %s", dn)
		} else if dn == service && !strings.Contains(apply[i].Reason, "service account") {
			t.Errorf("the service account's lock does not say why it is locked rather than rotated: %s", apply[i].Reason)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	res := tgt.Apply(ctx, "directory", apply, nil)
	for i, r := range res.Results {
		if r.Err != nil {
			t.Errorf("apply %s %s: %v", apply[i].Action, apply[i].Object, r.Err)
		}
	}
	dones := make([]connector.Done, len(apply))
	for i, ch := range apply {
		dones[i] = connector.Done{Change: ch}
	}
	checks, err := tgt.Verify(ctx, apply[0].System, dones, nil)
	if err != nil {
		t.Fatal(err)
	}
	keep := false
	for _, c := range checks {
		if !c.OK {
			t.Errorf("check %q: %s", c.What, c.Detail)
		}
		keep = keep || strings.Contains(c.What, "other admins")
	}
	if !keep {
		t.Error("no check that the client's other admins keep their rights")
	}

	// An independent look, as the directory's own root: the group left
	// cn=admins and kept its member; the nested admin list.
	conn := observer(t, e)
	g, err := conn.Search(goldap.NewSearchRequest(l.SoleGroupDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"member"}, nil))
	if err != nil || len(g.Entries) != 1 || len(g.Entries[0].GetAttributeValues("member")) != 1 {
		t.Errorf("%s after the run: %v %v", l.SoleGroupDN, err, g)
	}
	admins, err := conn.Search(goldap.NewSearchRequest(l.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, "(memberOf="+l.AdminGroupDN+")", []string{"1.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range admins.Entries {
		got = append(got, strings.ToLower(en.DN))
	}
	if slices.Contains(got, strings.ToLower(oncall)) {
		t.Errorf("%s is still an admin (memberOf %s)", oncall, l.AdminGroupDN)
	}
	for _, dn := range []string{l.DirectAdminDN, l.NestedAdminDN} {
		if !slices.Contains(got, strings.ToLower(dn)) {
			t.Errorf("the client's admin %s lost its rights: admins now %v", dn, got)
		}
	}
	for _, dn := range []string{service, oncall} {
		if simpleBind(t, d, dn, secret.New(testenv.ReadSecret(t, d.passwordFile(t, dn)))) {
			t.Errorf("%s still binds", dn)
		}
	}
}

// observer binds as the testenv's own root, outside the tree.
func observer(t *testing.T, e *testenv.Env) *goldap.Conn {
	t.Helper()
	pem, err := os.ReadFile(e.CACert)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := goldap.DialURL(e.LDAP.URLS, goldap.DialWithTLSConfig(tlsConfig(t, pem, e.LDAP.URLS)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(e.LDAP.ObserverDN, testenv.ReadSecret(t, e.LDAP.ObserverPasswordFile)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestADAttributionByEvidenceSamba: the Samba AD DC holds two accounts
// that are the provider's by what their entries say, not by name or
// mail: svc-supervision, a service account whose description names the
// provider, and tech.astreinte, whose info names it and whose only admin
// right comes through GG-Astreinte-N2, a group managed by the provider's
// account whose only member it is, inside GG-Admins-Reseau beside the
// client's own julie.bernard. AD lets a group be empty: the run takes
// tech.astreinte out of GG-Astreinte-N2 (the group stays), takes
// svc-supervision out of GG-Admins-Reseau, locks both (the service
// account like the provider's other accounts, the plan says why); the
// connector's checks pass; the directory itself, read anew, shows neither
// as a member of Domain Admins any more (the server's transitive rule),
// while julie.bernard keeps her rights through the sibling membership;
// neither binds.
//
// Long: the whole cycle, with its independent look at the directory.
func TestADAttributionByEvidenceSamba(t *testing.T) {
	d := activeDirectory(t)
	testenv.LockComponent(t, d.component, true)
	reset(t, d) // this tree's plants, whatever binary reset samba last
	t.Cleanup(func() { reset(t, d) })
	e := testenv.Require(t)
	a := e.AD
	if len(a.EvidenceDNs) != 2 || a.SoleGroupDN == "" {
		t.Fatalf("samba plants no accounts of the provider's by evidence (evidence_dns %v, sole_group_dn %q): reset it with this tree's testenv", a.EvidenceDNs, a.SoleGroupDN)
	}
	service, oncall := a.EvidenceDNs[0], a.EvidenceDNs[1]
	d = activeDirectory(t)
	ctx := testCtx(t)
	tgt := configure(t, d, d.url, secret.NewMemoryStore(), options{})
	inv, err := tgt.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for dn, why := range map[string]string{service: "description", oncall: "info"} {
		acc, ok := accountByName(inv, dn)
		if !ok || !acc.Provider || !acc.Admin || !slices.ContainsFunc(acc.Reasons, func(r string) bool { return strings.HasPrefix(r, why+" ") }) {
			t.Errorf("%s: found=%v provider=%v admin=%v reasons=%q, want an admin of the provider's by its %s", dn, ok, acc.Provider, acc.Admin, acc.Reasons, why)
		}
		// Nothing else ties it to the provider: not its name, not its mail.
		for _, r := range acc.Reasons {
			if !strings.HasPrefix(r, why+" ") {
				t.Errorf("%s: a reason besides its %s: %q", dn, why, r)
			}
		}
	}
	if acc, _ := accountByName(inv, service); !acc.Service {
		t.Errorf("%s is not seen as a service account", service)
	}
	// The group the provider's account manages is the provider's too: a
	// finding with the step to take by hand (its manager's right to change
	// the members is an ACE no attribute change removes).
	var managed *connector.Finding
	for i, f := range inv.Systems[0].Findings {
		if strings.EqualFold(f.Object, a.SoleGroupDN) && strings.HasPrefix(f.ID, "group:") {
			managed = &inv.Systems[0].Findings[i]
		}
	}
	switch {
	case managed == nil:
		t.Errorf("no finding on %s, managed by the provider's account", a.SoleGroupDN)
	case !managed.Provider || !slices.ContainsFunc(managed.Reasons, func(r string) bool { return strings.HasPrefix(r, "managedBy ") }) || !strings.Contains(managed.Detail["manual"], "Managed By"):
		t.Errorf("%s: provider=%v reasons=%q manual=%q, want the provider's by its managedBy, with the step by hand", a.SoleGroupDN, managed.Provider, managed.Reasons, managed.Detail["manual"])
	}
	changes, err := tgt.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	var apply []plan.Change
	for _, ch := range changes {
		if ch.Params["account"] == oncall || ch.Params["account"] == service || ch.Object == oncall || ch.Object == service {
			apply = append(apply, ch)
		}
	}
	out := func(account, group string) {
		t.Helper()
		if !slices.ContainsFunc(apply, func(c plan.Change) bool {
			return c.Action == plan.RemoveMembership && strings.EqualFold(c.Params["account"], account) && strings.EqualFold(c.Params["group"], group)
		}) {
			t.Errorf("no removal of %s from %s planned: %v", account, group, apply)
		}
	}
	out(oncall, a.SoleGroupDN)
	out(service, "CN=GG-Admins-Reseau,OU=Groupes,OU=Mairie,"+a.BaseDN)
	for _, dn := range []string{service, oncall} {
		i := slices.IndexFunc(apply, func(c plan.Change) bool { return c.Action == plan.LockAccount && c.Object == dn })
		if i < 0 {
			t.Errorf("no lock planned for %s", dn)
		} else if dn == service && !strings.Contains(apply[i].Reason, "service account") {
			t.Errorf("the service account's lock does not say why it is locked rather than rotated: %s", apply[i].Reason)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	res := tgt.Apply(ctx, "directory", apply, nil)
	for i, r := range res.Results {
		if r.Err != nil {
			t.Errorf("apply %s %s: %v", apply[i].Action, apply[i].Object, r.Err)
		}
	}
	dones := make([]connector.Done, len(apply))
	for i, ch := range apply {
		dones[i] = connector.Done{Change: ch}
	}
	checks, err := tgt.Verify(ctx, apply[0].System, dones, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("check %q: %s", c.What, c.Detail)
		}
	}

	// An independent look, as the client's own admin (not changed here):
	// the group stays, empty; the server's transitive rule.
	conn := adObserver(t, d)
	g, err := conn.Search(goldap.NewSearchRequest(a.SoleGroupDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false, "(objectClass=group)", []string{"member"}, nil))
	if err != nil || len(g.Entries) != 1 || len(g.Entries[0].GetAttributeValues("member")) != 0 {
		t.Errorf("%s after the run: %v %v, want the group, empty", a.SoleGroupDN, err, g)
	}
	admins, err := conn.Search(goldap.NewSearchRequest(a.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:="+goldap.EscapeFilter(a.AdminGroupDN)+"))", []string{"1.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range admins.Entries {
		got = append(got, strings.ToLower(en.DN))
	}
	for _, dn := range []string{service, oncall} {
		if slices.Contains(got, strings.ToLower(dn)) {
			t.Errorf("%s is still a (transitive) member of %s", dn, a.AdminGroupDN)
		}
	}
	for _, dn := range []string{a.NestedAdminDN, a.AdminDN} {
		if !slices.Contains(got, strings.ToLower(dn)) {
			t.Errorf("the client's admin %s lost its rights: admins now %v", dn, got)
		}
	}
	for _, dn := range []string{service, oncall} {
		if simpleBind(t, d, dn, secret.New(testenv.ReadSecret(t, d.passwordFile(t, dn)))) {
			t.Errorf("%s still binds", dn)
		}
	}
}

// adObserver binds to the DC as the directory's bind account.
func adObserver(t *testing.T, d directory) *goldap.Conn {
	t.Helper()
	e := testenv.Require(t)
	pem, err := os.ReadFile(e.CACert)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := goldap.DialURL(d.urls, goldap.DialWithTLSConfig(tlsConfig(t, pem, d.urls)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(d.bindDN, testenv.ReadSecret(t, d.bindFile)); err != nil {
		t.Fatal(err)
	}
	return conn
}
