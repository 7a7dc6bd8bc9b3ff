package mail

import (
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestRotateClientMasterUser: a master user that is not the provider's is
// an admin whose password is rotated, and proven by master logins
// (MAILBOX*MASTER), the only way a master user logs in.
func TestRotateClientMasterUser(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t) })
	m := e.MailHost
	// The outgoing provider is someone else here: the master user is the
	// client's own.
	text := strings.Replace(mailPlaybook(e, ""), "accounts: [\"prestanet-*\"]", "accounts: [\"autre-*\"]", 1)
	tg := configure(t, text)
	ctx := ctxT(t)
	inv, err := tg.Inventory(ctx)
	if err != nil || inv.Systems[0].Error != "" {
		t.Fatalf("%v %s", err, inv.Systems[0].Error)
	}
	changes, err := tg.Plan(inv, connector.Decisions{Rotate: []connector.Rotation{{System: m.Name, Account: m.MasterUser.Name, Reason: "admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ch plan.Change
	for _, c := range changes {
		if c.Action == plan.RotatePassword && c.Object == m.MasterUser.Name {
			ch = c
		}
	}
	if !strings.HasSuffix(ch.Params["imap_login"], m.MasterSeparator+m.MasterUser.Name) {
		t.Fatalf("the rotation of the master user has no master login to prove it: %+v", ch)
	}
	next := secret.New("Nouveau-maitre-2026")
	set := tg.SetCredentials(ctx, m.Name, []connector.Credential{{Change: ch, Secret: next}})
	if set[0].Err != nil || set[0].Proven == nil || !set[0].Proven.Works {
		t.Fatalf("set: %v %+v", set[0].Err, set[0].Proven)
	}
	old := secret.New(testenv.ReadSecret(t, m.MasterUser.PasswordFile))
	tried := tg.TryCredentials(ctx, m.Name, []connector.Credential{{Change: ch, Secret: old}, {Change: ch, Secret: next}})
	if tried[0].Err != nil || tried[0].Works || tried[1].Err != nil || !tried[1].Works {
		t.Errorf("old: %+v; new: %+v", tried[0], tried[1])
	}
}
