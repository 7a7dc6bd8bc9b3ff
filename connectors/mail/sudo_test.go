package mail

import (
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestSudoUser: logged in as the host's admin, root through sudo with its
// password (the ssh connector's machinery), the connector reads and
// changes the server as it does as root.
func TestSudoUser(t *testing.T) {
	e := requireMailHost(t)
	m := e.MailHost
	if m.SudoUser == "" {
		t.Fatal("the mail host has no sudo user: run bin/testenv up -only mailhost with this tree")
	}
	testenv.LockComponent(t, "mailhost", true)
	t.Cleanup(func() { resetMailHost(t) })
	text := strings.Replace(mailPlaybook(e, ""), "    ssh: {key_file: ", "    ssh: {user: "+m.SudoUser+", sudo: {password: '${file:"+m.SudoPasswordFile+"}'}, key_file: ", 1)
	tg := configure(t, text)
	ctx := ctxT(t)
	inv, err := tg.Inventory(ctx)
	if err != nil || inv.Systems[0].Error != "" {
		t.Fatalf("inventory through sudo: %v %s", err, inv.Systems[0].Error)
	}
	if len(inv.Systems[0].Accounts) < 10 {
		t.Errorf("%d accounts read through sudo", len(inv.Systems[0].Accounts))
	}
	login := "mediatheque@" + testenv.ClientDomain
	set := tg.SetCredentials(ctx, m.Name, []connector.Credential{{Change: plan.Change{Action: plan.RotatePassword, Object: login}, Secret: secret.New("Nouveau-Mediatheque-2026")}})
	if set[0].Err != nil || set[0].Proven == nil || !set[0].Proven.Works {
		t.Fatalf("rotation through sudo: %v %+v", set[0].Err, set[0].Proven)
	}
	out, err := rootSSH(e, "stat -c '%U:%G %a' /etc/dovecot/users")
	if err != nil || strings.TrimSpace(out) != "root:dovecot 640" {
		t.Errorf("the passwd-file after the rotation: %q %v", out, err)
	}
}
