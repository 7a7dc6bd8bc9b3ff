package mail

import (
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestMasterSessionEnded: a session the provider opened with its master
// user before the removal does not survive it.
func TestMasterSessionEnded(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t) })
	m := e.MailHost
	tg := configure(t, mailPlaybook(e, ""))
	ctx := ctxT(t)
	c, err := tg.dialIMAP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	login := "mairie@" + testenv.ClientDomain + m.MasterSeparator + m.MasterUser.Name
	if err := c.Login(login, testenv.ReadSecret(t, m.MasterUser.PasswordFile)).Wait(); err != nil {
		t.Fatalf("master login: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := tg.Plan(inv, connector.Decisions{})
	if err != nil {
		t.Fatal(err)
	}
	var master []plan.Change
	for _, ch := range changes {
		if ch.Action == plan.RemoveGrant && ch.Params["kind"] != "acl" {
			master = append(master, ch)
		}
	}
	// The master user's entry, and its master passdb (it held no other).
	if len(master) != 2 {
		t.Fatalf("planned %d master removals, want 2", len(master))
	}
	for i, r := range tg.Apply(ctx, m.Name, master, nil).Results {
		if r.Err != nil {
			t.Fatalf("%s: %v", master[i].Object, r.Err)
		}
	}
	if err := c.Noop().Wait(); err == nil {
		t.Error("the master user's session still answers after its removal")
	}
}
