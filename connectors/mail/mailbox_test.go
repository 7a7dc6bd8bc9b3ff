package mail

import (
	"fmt"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/testenv"
)

// TestMailboxMode: with mailbox passwords only, over IMAP and ManageSieve,
// the provider's redirects are found and removed, the vacation reply and
// the conditions kept, the old scripts kept inactive; and nothing else is
// planned (no password can be changed in this mode).
func TestMailboxMode(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t) })
	m := e.MailHost
	var b strings.Builder
	fmt.Fprintf(&b, "outgoing:\n  domains: [%q]\n  accounts: [\"prestanet-*\"]\n", testenv.ProviderDomain)
	fmt.Fprintf(&b, "targets:\n  - name: boites\n    type: mail\n    mode: mailbox\n    host: %s\n    system: hebergeur\n    ca_cert: %s\n    mailboxes:\n", m.Address, e.CACert)
	for _, a := range handedMailboxes(e) {
		if strings.HasPrefix(a.Name, "mairie@") || strings.HasPrefix(a.Name, "urbanisme@") || strings.HasPrefix(a.Name, "accueil@") {
			fmt.Fprintf(&b, "      - {login: %s, password: '${file:%s}'}\n", a.Name, a.PasswordFile)
		}
	}
	tg := configure(t, b.String())
	ctx := ctxT(t)
	inv, err := tg.Inventory(ctx)
	if err != nil || inv.Systems[0].Error != "" {
		t.Fatalf("inventory: %v %s", err, inv.Systems[0].Error)
	}
	changes, err := tg.Plan(inv, connector.Decisions{Rotate: []connector.Rotation{{System: "hebergeur", Account: "mairie@" + testenv.ClientDomain}}})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, ch := range changes {
		objects = append(objects, string(ch.Action)+" "+ch.Object)
	}
	want := "remove-forward sieve mairie@" + testenv.ClientDomain + " archivage|remove-forward sieve urbanisme@" + testenv.ClientDomain + " suivi-permis"
	if strings.Join(objects, "|") != want {
		t.Fatalf("planned %q, want %q", objects, want)
	}
	applied := tg.Apply(ctx, "hebergeur", changes, nil)
	var done []connector.Done
	for i, r := range applied.Results {
		if r.Err != nil {
			t.Fatalf("%s: %v", changes[i].Object, r.Err)
		}
		done = append(done, connector.Done{Change: changes[i]})
	}
	checks, err := tg.Verify(ctx, "hebergeur", done, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("check failed: %s: %s", c.What, c.Detail)
		}
	}
	if len(checks) != 6 {
		t.Errorf("%d checks, want 3 per script", len(checks))
	}
	out, err := rootSSH(e, "doveadm sieve list -A; doveadm sieve get -u urbanisme@"+testenv.ClientDomain+" suivi-permis; doveadm sieve get -u accueil@"+testenv.ClientDomain+" absence")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"suivi-permis ACTIVE", "archivage ACTIVE", "archivage-avant-handover-", `if header :contains "subject"`, "vacation :days 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the mail host lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.Split(out, "vacation")[0], "redirect :copy \"urbanisme@") {
		t.Errorf("the redirect is still active:\n%s", out)
	}
	// A second plan is empty.
	inv, _ = tg.Inventory(ctx)
	if again, _ := tg.Plan(inv, connector.Decisions{}); len(again) != 0 {
		t.Errorf("second plan: %v", again)
	}
}
