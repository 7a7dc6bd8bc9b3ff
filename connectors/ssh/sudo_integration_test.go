package ssh

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

func TestSudoUser(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	h := e.Fleet.Hosts[0]
	settings := fmt.Sprintf(`hosts: [%s]
user: %s
auth: {password: '${file:%s}'}
sudo: {password: '${file:%s}'}
known_hosts: %s
access_key: false
`, strings.TrimSuffix(h.Addr, ":22"), h.Admin, h.AdminPassFile, h.AdminPassFile, e.Fleet.KnownHosts)
	inventoryAsRoot(t, e, settings)
}

// TestSudoWithoutPassword logs in as an account whose sudo rule needs no
// password (NOPASSWD: the provider's own account, here): the inventory
// runs as root through `sudo -n`.
func TestSudoWithoutPassword(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	h := e.Fleet.Hosts[0]
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	if i < 0 {
		t.Fatalf("no key of the provider's account %s among %v", h.ProviderUser, e.Fleet.ProviderKeyComments)
	}
	settings := fmt.Sprintf("hosts: [%s]\nuser: %s\nauth: {key_file: %s}\nsudo: true\nknown_hosts: %s\naccess_key: false\n",
		strings.TrimSuffix(h.Addr, ":22"), h.ProviderUser, e.Fleet.ProviderKeys[i], e.Fleet.KnownHosts)
	inventoryAsRoot(t, e, settings)

	// The provider's account is the only access here and no access key
	// replaces it: the plan removes everything of the provider's but what
	// this very login needs (its account, its key, its sudo rule), which
	// would lock the incoming team out. With an access key, all of it.
	planned := func(settings string) map[plan.Action][]string {
		tg := configure(t, e, settings, secret.NewMemoryStore(), nil)
		inv, err := tg.Inventory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		changes, err := tg.Plan(inv, decisions(inv))
		if err != nil {
			t.Fatal(err)
		}
		got := map[plan.Action][]string{}
		for _, ch := range changes {
			got[ch.Action] = append(got[ch.Action], ch.Object)
		}
		return got
	}
	own := []struct {
		action plan.Action
		object string
	}{
		{plan.LockAccount, h.ProviderUser},
		{plan.RemoveKey, h.ProviderUser + ":" + e.Fleet.ProviderFingerprints[i] + ":/home/" + h.ProviderUser + "/.ssh/authorized_keys"},
		{plan.RemoveGrant, "/etc/sudoers.d/prestanet:" + h.ProviderUser + " ALL=(ALL:ALL) NOPASSWD: ALL"},
	}
	without := planned(settings)
	for _, o := range own {
		if slices.Contains(without[o.action], o.object) {
			t.Errorf("without an access key, planned %s %s: the run would cut its own access", o.action, o.object)
		}
	}
	if len(without[plan.RemoveAgent]) == 0 || len(without[plan.RemoveKey]) == 0 {
		t.Errorf("without an access key, the rest of the provider's access is not planned: %v", without)
	}
	with := planned(strings.Replace(settings, "access_key: false\n", "", 1))
	for _, o := range own {
		if !slices.Contains(with[o.action], o.object) {
			t.Errorf("with an access key, %s %s not planned: %v", o.action, o.object, with[o.action])
		}
	}
}

// TestSudoRequiresTTY: on a host whose sudoers demand a terminal
// (`Defaults requiretty`, as older RHEL had), the inventory as a sudo user
// fails and says what to change.
func TestSudoRequiresTTY(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	if out, err := rootSSH(e, ip, "printf 'Defaults requiretty\\n' > /etc/sudoers.d/tty && chmod 440 /etc/sudoers.d/tty && visudo -c -q"); err != nil {
		t.Fatalf("requiretty: %v\n%s", err, out)
	}
	tg := configure(t, e, fmt.Sprintf("hosts: [%s]\nuser: %s\nauth: {password: '${file:%s}'}\nsudo: {password: '${file:%s}'}\nknown_hosts: %s\naccess_key: false\n",
		ip, h.Admin, h.AdminPassFile, h.AdminPassFile, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Systems[0].Error; !strings.Contains(got, "requiretty") || !strings.Contains(got, "!requiretty") {
		t.Errorf("error %q, want one that names requiretty and the fix", got)
	}
}

// TestSudoersIncludedFileAndContinuedRule: the provider's sudo rights sit
// in a file /etc/sudoers includes by name (not in /etc/sudoers.d), given
// through a User_Alias, in a rule continued over three lines. The rule is
// found whole, attributed through the alias, and removed whole (the
// result still passes visudo): the provider's account can no longer sudo.
func TestSudoersIncludedFileAndContinuedRule(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	const local = "/etc/sudoers.local"
	script := `rm /etc/sudoers.d/prestanet && printf 'User_Alias N2 = ` + h.ProviderUser + `\nN2 ALL=(ALL) NOPASSWD: \\\n    /usr/bin/apt, \\\n    ALL\n' > ` + local + ` && chmod 440 ` + local + ` &&
printf '#include ` + local + `\n' >> /etc/sudoers && visudo -c -q`
	if out, err := rootSSH(e, ip, script); err != nil {
		t.Fatalf("plant: %v\n%s", err, out)
	}
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	key, err := os.ReadFile(e.Fleet.ProviderKeys[i])
	if err != nil {
		t.Fatal(err)
	}
	sudo := func() bool { return canSudo(t, e, h, h.ProviderUser, key) }
	if !sudo() {
		t.Fatal("before the run, the provider's account cannot sudo through the included file")
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	ch := plannedChange(t, tg, plan.RemoveGrant, local+":N2 ALL=(ALL) NOPASSWD: /usr/bin/apt, ALL")
	if res := tg.Apply(context.Background(), h.Name, []plan.Change{ch}, nil).Results[0]; res.Err != nil {
		t.Fatalf("remove the rule: %v", res.Err)
	}
	if sudo() {
		t.Error("after the removal, the provider's account can still sudo")
	}
	if out, err := rootSSH(e, ip, "cat "+local+"; visudo -c -q && echo valid"); err != nil || string(out) != "User_Alias N2 = "+h.ProviderUser+"\nvalid\n" {
		t.Errorf("%s after the removal (%v):\n%s", local, err, out)
	}
}

// TestSudoersRuleSharedWithTheClient: one rule grants sudo to the
// provider's account and to the client's own admin. The provider's account
// is taken out of it; the client's admin keeps its rights.
func TestSudoersRuleSharedWithTheClient(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	const client = "jdupont"
	rule := h.ProviderUser + ", " + client + " ALL=(ALL) NOPASSWD: ALL"
	if out, err := rootSSH(e, ip, "rm /etc/sudoers.d/prestanet && printf '%s\\n' '"+rule+"' > /etc/sudoers.d/equipe && chmod 440 /etc/sudoers.d/equipe && visudo -c -q"); err != nil {
		t.Fatalf("plant: %v\n%s", err, out)
	}
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	providerKey, err := os.ReadFile(e.Fleet.ProviderKeys[i])
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := os.ReadFile(e.Fleet.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	sudo := func(user string, key []byte) bool { return canSudo(t, e, h, user, key) }
	if !sudo(h.ProviderUser, providerKey) || !sudo(client, clientKey) {
		t.Fatal("before the run, the shared rule does not grant both accounts")
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	ch := plannedChange(t, tg, plan.RemoveGrant, "/etc/sudoers.d/equipe:"+rule)
	if res := tg.Apply(context.Background(), h.Name, []plan.Change{ch}, nil).Results[0]; res.Err != nil {
		t.Fatalf("apply: %v", res.Err)
	}
	if sudo(h.ProviderUser, providerKey) {
		t.Error("the provider's account can still sudo")
	}
	if !sudo(client, clientKey) {
		t.Error("the client's admin lost its sudo rights with the provider's")
	}
	checks, err := tg.Verify(context.Background(), h.Name, done([]plan.Change{ch}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
}
