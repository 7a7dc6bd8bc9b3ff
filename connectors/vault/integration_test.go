package vault_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/testenv"
)

// TestInventoryFindsEveryPlant: every planted item of docs/testenv/vault.md
// is found and attributed, the client's own things are not, nothing the
// connector or the store uses is planned, and no value is read.
func TestInventoryFindsEveryPlant(t *testing.T) {
	e := testenv.RequireVault(t, true)
	v := e.Vault
	_, pb := writePlaybook(t, pbOpts{})
	sys, p := inventoryAndPlan(t, pb)
	if sys.Error != "" {
		t.Fatalf("inventory error: %s", sys.Error)
	}
	findings := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		findings[f.ID] = f
		t.Logf("finding %s provider=%v: %s %v", f.ID, f.Provider, f.Summary, f.Reasons)
	}
	provider := []string{
		"token:" + v.ProviderTokenAccessor, "token:" + v.ProviderPeriodicAccessor, "token:" + v.ProviderRootTokenAccessor,
		"token:" + v.ProviderLoginTokenAccessor, "token:" + v.ProviderChildTokenAccessor, "token:" + v.ProviderAppRoleTokenAccessor,
		"userpass-user:userpass/" + v.ProviderUser, "userpass-user:" + v.ProviderOpsMount + "/" + v.ProviderOpsUser,
		"approle:approle/" + v.ProviderAppRole, "identity-entity:" + v.ProviderEntity, "identity-group:" + v.ProviderGroup,
		"policy:" + v.ProviderPolicy, "audit-device:" + v.ProviderAuditPath,
		"grant:group:" + v.ClientGroup + ":" + v.ProviderPolicy,
	}
	for _, id := range provider {
		f, ok := findings[id]
		if !ok {
			t.Errorf("planted %s not found", id)
			continue
		}
		if !f.Provider || len(f.Reasons) == 0 {
			t.Errorf("%s not attributed to the provider (reasons %v)", id, f.Reasons)
		}
	}
	for _, f := range sys.Findings {
		if f.Kind == KindUnreadForTest {
			t.Errorf("the root token could not read something: %s", f.Summary)
		}
	}
	accounts := map[string]connector.Account{}
	for _, a := range sys.Accounts {
		accounts[a.Name] = a
	}
	for _, name := range []string{"userpass/" + v.ClientUser, "approle/" + v.ClientAppRole} {
		a, ok := accounts[name]
		switch {
		case !ok:
			t.Errorf("client account %s not inventoried", name)
		case a.Provider:
			t.Errorf("client account %s attributed to the provider: %v", name, a.Reasons)
		case a.Password == nil || a.Password.Held != connector.HeldAbsent:
			t.Errorf("client account %s: password facts %+v, want held absent", name, a.Password)
		}
	}
	facts := map[string]string{}
	for _, f := range sys.Facts {
		facts[f.Name] = f.Value
	}
	for _, name := range []string{"version", "key_shares", "mount secret/", "auth userpass/", "auth " + v.ProviderOpsMount + "/", "auth approle/", "kv secret/infra/wifi", "audit " + v.ProviderAuditPath} {
		if _, ok := facts[name]; !ok {
			t.Errorf("fact %q missing", name)
		}
	}
	if !strings.HasPrefix(facts["kv secret/infra/wifi"], "version 2,") {
		t.Errorf("kv secret/infra/wifi: %q, want version 2", facts["kv secret/infra/wifi"])
	}
	// The root token this run uses is kept, never planned.
	planned := map[string]plan.Change{}
	for _, ch := range p.Changes {
		planned[ch.Object] = ch
		t.Logf("change %s %s: %s", ch.Action, ch.Object, ch.Reason)
	}
	kept := false
	for _, f := range sys.Findings {
		if strings.Contains(f.Summary, "kept: the connector's own token") {
			kept = true
			if _, ok := planned[f.Object]; ok {
				t.Errorf("the connector's own token is planned: %s", f.Object)
			}
		}
	}
	if !kept {
		t.Errorf("the connector's own (root) token is not reported as kept")
	}
	for _, w := range []string{"Printemps2021", "Automne2023", "Syno-Mairie", "Stormshield"} {
		for _, f := range sys.Facts {
			if strings.Contains(f.Value, w) {
				t.Errorf("a KV value leaked into the dossier: %s", f.Name)
			}
		}
	}
	if !slices.ContainsFunc(p.Changes, func(ch plan.Change) bool { return ch.Action == plan.RotatePassword }) {
		t.Errorf("no rotation planned")
	}

	// The LDAP auth method backed by the client's directory: a link to it
	// (the schéma joins it to the ldap target of that address), its
	// settings shown, its bind account the provider's, its bind password
	// nowhere.
	if !slices.ContainsFunc(sys.Links, func(l connector.Link) bool {
		return l.To == v.LDAPAuthURL && l.Kind == "authenticates against" && !l.Provider && strings.Contains(l.Why, "auth/"+v.LDAPAuthMount+"/config")
	}) {
		t.Errorf("no link to the directory %s of the LDAP auth method: %+v", v.LDAPAuthURL, sys.Links)
	}
	conf := facts["ldap auth "+v.LDAPAuthMount+"/"]
	for _, want := range []string{"url=" + v.LDAPAuthURL, "binddn=" + v.LDAPAuthBindDN, "userdn=ou=people,", "groupdn=ou=groups,"} {
		if !strings.Contains(conf, want) {
			t.Errorf("ldap auth fact %q lacks %q", conf, want)
		}
	}
	if f, ok := findings["ldap-auth:"+v.LDAPAuthMount]; !ok || !f.Provider || !strings.Contains(f.Summary, "manual step") {
		t.Errorf("the LDAP auth method bound as the provider's account: finding %+v", f)
	}
	if _, ok := planned["ldap auth "+v.LDAPAuthMount+"/"]; ok {
		t.Errorf("the LDAP auth method's configuration is planned: it is the client's to change")
	}
	bindPass := testenv.ReadSecret(t, v.LDAPAuthBindPassFile)
	if raw := fmt.Sprintf("%+v", sys); strings.Contains(raw, bindPass) {
		t.Errorf("the LDAP auth method's bind password is in the inventory")
	}
}

const KindUnreadForTest = "not-read"

// TestRun: after a run, the provider's tokens (orphan, periodic, root,
// its login's and that login's child, its AppRole's), userpass logins on
// both mounts and AppRole credentials no longer work; the client's admin
// and application log in with their new credentials (and not the old)
// and read their KV secrets, untouched; the client's group lost only the
// provider's policy; the provider's audit device is replaced; the
// connector's own root token still works; a second plan is empty.
func TestRun(t *testing.T) {
	e := lockVault(t)
	v := e.Vault
	ctx := ctxFor(t, 5*time.Minute)
	// The provider held unseal key shares, none handed over: the rekey is
	// a manual step, and a deviation of the report.
	_, pb := writePlaybook(t, pbOpts{keyShares: "    key_shares:\n      kind: unseal\n"})
	root := client(t, e, v.RootTokenFile)
	before := map[string]int{}
	for _, p := range v.ClientSecrets {
		md, err := root.KVv2(v.KVMount).GetMetadata(ctx, strings.TrimPrefix(p, v.KVMount+"/"))
		if err != nil {
			t.Fatal(err)
		}
		before[p] = md.CurrentVersion
	}

	res, store := connectortest.RunOnce(t, registry(), pb)
	if !slices.ContainsFunc(res.Report.Deviations.Residual, func(d string) bool {
		return strings.HasPrefix(d, "coffre: manual step coffre.rekey (rotate, unseal key shares of coffre") && strings.Contains(d, "vault operator rekey")
	}) {
		t.Errorf("the rekey left to the key holders is not a deviation of the report: %q", res.Report.Deviations.Residual)
	}
	if c := res.Report.Completeness; c == nil || c.Complete || c.Awaiting < 1 {
		t.Errorf("completeness with a manual step awaiting: %+v", c)
	}
	for _, a := range res.Actions {
		if a.Change.Action == plan.InstallKey {
			t.Errorf("a rekey was made without the quorum")
		}
		if a.Result != plan.Applied || !a.Verified {
			t.Errorf("%s %s: %s (verified %v) %s", a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error)
		}
		for _, c := range a.Verification {
			if !c.OK && c.Kind != connector.Note {
				t.Errorf("%s %s: check %q failed: %s", a.Change.Action, a.Change.Object, c.What, c.Detail)
			}
		}
	}

	for name, f := range map[string]string{
		"orphan": v.ProviderTokenFile, "periodic": v.ProviderPeriodicTokenFile, "root": v.ProviderRootTokenFile,
		"login": v.ProviderLoginTokenFile, "child of the login (revoked with it)": v.ProviderChildTokenFile, "approle": v.ProviderAppRoleTokenFile,
	} {
		if _, err := client(t, e, f).Auth().Token().LookupSelfWithContext(ctx); err == nil {
			t.Errorf("the provider's %s token still works", name)
		}
	}
	anon := client(t, e, "")
	login := func(path string, data map[string]any) (*api.Secret, error) {
		return anon.Logical().WriteWithContext(ctx, path, data)
	}
	if _, err := login("auth/userpass/login/"+v.ProviderUser, map[string]any{"password": testenv.ReadSecret(t, v.ProviderPasswordFile)}); err == nil {
		t.Error("the provider's userpass login still works")
	}
	if _, err := login("auth/"+v.ProviderOpsMount+"/login/"+v.ProviderOpsUser, map[string]any{"password": testenv.ReadSecret(t, v.ProviderOpsPasswordFile)}); err == nil {
		t.Error("the provider's login on the second userpass mount still works")
	}
	if _, err := login("auth/approle/login", map[string]any{"role_id": testenv.ReadSecret(t, v.ProviderRoleIDFile), "secret_id": testenv.ReadSecret(t, v.ProviderSecretIDFile)}); err == nil {
		t.Error("the provider's AppRole login still works")
	}
	if _, err := root.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		t.Errorf("the run's own root token was revoked: %v", err)
	}

	// The client's admin: new password works and reads the secrets; the
	// old one fails.
	stored := func(object string) string {
		val, _, err := store.Get(ctx, connector.SecretPath("coffre", "vault", object), 0)
		if err != nil {
			t.Fatalf("store %s: %v", object, err)
		}
		return val.Reveal()
	}
	if _, err := login("auth/userpass/login/"+v.ClientUser, map[string]any{"password": testenv.ReadSecret(t, v.ClientPasswordFile)}); err == nil {
		t.Error("the client admin's old password still works")
	}
	s, err := login("auth/userpass/login/"+v.ClientUser, map[string]any{"password": stored("userpass/" + v.ClientUser)})
	if err != nil {
		t.Fatalf("the client admin's new password: %v", err)
	}
	admin := client(t, e, "")
	admin.SetToken(s.Auth.ClientToken)
	for _, p := range v.ClientSecrets {
		sec, err := admin.KVv2(v.KVMount).Get(ctx, strings.TrimPrefix(p, v.KVMount+"/"))
		if err != nil || len(sec.Data) == 0 {
			t.Errorf("the client admin cannot read %s: %v", p, err)
			continue
		}
		if sec.VersionMetadata.Version != before[p] {
			t.Errorf("%s: version %d, was %d", p, sec.VersionMetadata.Version, before[p])
		}
	}
	// The client's application: the new secret-id works, the old fails.
	roleID := testenv.ReadSecret(t, v.ClientRoleIDFile)
	if _, err := login("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": testenv.ReadSecret(t, v.ClientSecretIDFile)}); err == nil {
		t.Error("the client application's old secret-id still works")
	}
	if _, err := login("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": stored("approle/" + v.ClientAppRole)}); err != nil {
		t.Errorf("the client application's new secret-id: %v", err)
	}
	// The client's group keeps its own policy only.
	g, err := root.Logical().ReadWithContext(ctx, "identity/group/name/"+v.ClientGroup)
	if err != nil || g == nil {
		t.Fatalf("client group: %v", err)
	}
	if got := fmt.Sprint(g.Data["policies"]); got != "["+v.ClientPolicy+"]" {
		t.Errorf("client group policies %s, want [%s]", got, v.ClientPolicy)
	}
	devs, err := root.Sys().ListAuditWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := devs[v.ProviderAuditPath]; ok {
		t.Error("the provider's audit device is still enabled")
	}
	if _, ok := devs["mairie-audit/"]; !ok {
		t.Error("the replacement audit device is not enabled")
	}
	if pol, _ := root.Sys().GetPolicyWithContext(ctx, v.ProviderPolicy); pol != "" {
		t.Error("the provider's policy is still there")
	}
	_, p := inventoryAndPlan(t, pb)
	for _, ch := range p.Changes {
		t.Errorf("second plan: %s %s: %s", ch.Action, ch.Object, ch.Reason)
	}
	checkCard(t, res.Report)
}

// checkCard: the report's dossier card of the Vault lists its mounts,
// auth methods, policies and tokens, the provider's marked, and renders.
func checkCard(t *testing.T, r *report.Report) {
	t.Helper()
	if r.Presentation == nil {
		t.Fatal("the report has no presentation")
	}
	var card *report.Card
	for i := range r.Presentation.Cards {
		if r.Presentation.Cards[i].Target == "coffre" {
			card = &r.Presentation.Cards[i]
		}
	}
	if card == nil {
		t.Fatal("no card for the Vault")
	}
	lists := map[string][]connector.CardItem{}
	for _, l := range card.Lists {
		lists[l.Name.In("en")] = l.Items
	}
	for _, name := range []string{"Secrets engines", "Auth methods", "Policies", "Tokens", "Audit devices"} {
		if len(lists[name]) == 0 {
			t.Errorf("card list %q is empty", name)
		}
	}
	for _, name := range []string{"Policies", "Tokens", "Audit devices"} {
		if !slices.ContainsFunc(lists[name], func(i connector.CardItem) bool { return i.Provider }) {
			t.Errorf("card list %q marks nothing as the provider's", name)
		}
	}
	html, err := report.Render(r, "html", "fr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "Coffre de secrets") {
		t.Error("the HTML report does not show the Vault's card")
	}
}

// TestSavedPlan: a plan saved, then applied a little later (as `handover
// plan -o` then `run --plan`), is not refused as stale: nothing in the
// inventory moves by itself (a token's remaining TTL is not recorded).
func TestSavedPlan(t *testing.T) {
	lockVault(t)
	ctx := ctxFor(t, 3*time.Minute)
	_, pb := writePlaybook(t, pbOpts{})
	var lg strings.Builder
	sess := session(t, pb, &lg)
	p := sess.Plan(sess.Inventory(ctx, 1))
	if len(p.Changes) == 0 {
		t.Fatal("nothing planned")
	}
	time.Sleep(2 * time.Second)
	res, err := session(t, pb, &lg).Run(ctx, engine.RunOptions{Plan: p})
	if err != nil {
		t.Fatalf("run with the saved plan: %v", err)
	}
	if len(res.Actions) != len(p.Changes) {
		t.Errorf("%d actions for %d planned changes", len(res.Actions), len(p.Changes))
	}
	for _, a := range res.Actions {
		if a.Result != plan.Applied || !a.Verified {
			t.Errorf("%s %s: %s (verified %v) %s", a.Change.Action, a.Change.Object, a.Result, a.Verified, a.Error)
		}
	}
}
