package ssh

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// checkPlanted checks that an inventory found, and attributed rightly,
// everything planted on a testenv host.
//
// Long: one check per kind of artefact the testenv plants.
func checkPlanted(t *testing.T, h testenv.Host, sys connector.System) {
	t.Helper()
	if sys.Error != "" {
		t.Fatalf("host error: %s", sys.Error)
	}
	byID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		byID[f.ID] = f
	}
	for _, k := range h.Keys {
		id := "ssh-key:" + k.User + ":" + k.Fingerprint + ":" + k.File
		f, ok := byID[id]
		if !ok {
			t.Errorf("key %s of %s in %s not found", k.Fingerprint, k.User, k.File)
			continue
		}
		if f.Provider != k.Provider {
			t.Errorf("key %s (%s) in %s: provider=%v, want %v (reasons %v)", k.Fingerprint, k.Comment, k.File, f.Provider, k.Provider, f.Reasons)
		}
		if k.Options != "" && f.Detail["options"] == "" {
			t.Errorf("key %s: options %q not reported", k.Fingerprint, k.Options)
		}
	}
	for _, c := range h.Cron {
		var got []connector.Finding
		for _, f := range findingsOf(sys, connector.KindCron) {
			if f.Detail[detailFile] == c.File {
				got = append(got, f)
			}
		}
		if len(got) == 0 {
			t.Errorf("cron file %s: no entry found", c.File)
		}
		for _, f := range got {
			if f.Provider != c.Provider {
				t.Errorf("cron %s: provider=%v, want %v (reasons %v)", f.Summary, f.Provider, c.Provider, f.Reasons)
			}
		}
	}
	for _, file := range h.Sudoers {
		found := false
		for _, f := range findingsOf(sys, connector.KindGrant) {
			if f.Detail[detailFile] == file {
				found = true
				if !f.Provider {
					t.Errorf("grant %s not attributed to the provider", f.Summary)
				}
			}
		}
		if !found {
			t.Errorf("sudoers file %s: no grant found", file)
		}
	}
	for _, a := range h.AgentDetails {
		f, ok := byID["agent:"+a.Name]
		if !ok {
			t.Errorf("agent %s (%s) not found", a.Name, a.State)
			continue
		}
		if !f.Provider || len(f.Reasons) == 0 {
			t.Errorf("agent %s not attributed: %v", a.Name, f.Reasons)
		}
		if a.Package != "" && !strings.Contains(f.Detail["packages"], a.Package) {
			t.Errorf("agent %s: package %s not reported: %v", a.Name, a.Package, f.Detail)
		}
		if a.Running && !strings.Contains(f.Detail["processes"], a.Daemon) {
			t.Errorf("agent %s: process %s not reported: %v", a.Name, a.Daemon, f.Detail)
		}
		if a.State == "rc" && !strings.Contains(f.Summary, "rc") {
			t.Errorf("agent %s: rc state not reported: %s", a.Name, f.Summary)
		}
	}
	var provider, admin connector.Account
	for _, a := range sys.Accounts {
		switch a.Name {
		case h.ProviderUser:
			provider = a
		case h.Admin:
			admin = a
		}
	}
	if !provider.Provider || !provider.Admin {
		t.Errorf("provider account %s: provider=%v admin=%v via %v", h.ProviderUser, provider.Provider, provider.Admin, provider.AdminVia)
	}
	if !admin.Admin || admin.Provider {
		t.Errorf("admin account %s: admin=%v provider=%v", h.Admin, admin.Admin, admin.Provider)
	}
}

func TestInventoryFindsEveryPlantedArtefact(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	tg := configure(t, e, fleetSettings(e, ""), secret.NewMemoryStore(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range sampleHosts(e) {
		sys := inv.Systems[i]
		t.Run(h.Name, func(t *testing.T) {
			checkPlanted(t, h, sys)
			if sys.Hardware == nil || sys.Hardware.CPUs == 0 || sys.Hardware.MemoryMB == 0 {
				t.Errorf("hardware not read: %+v", sys.Hardware)
			}
			if len(sys.Software) == 0 {
				t.Error("no packages read")
			}
			hasSSHD := slices.ContainsFunc(sys.Ports, func(p connector.Port) bool { return strings.HasSuffix(p.Addr, ":22") })
			if !hasSSHD {
				t.Errorf("sshd's port not among %v", sys.Ports)
			}
		})
	}
}

// TestProviderTunnelProcess: a reverse tunnel to the provider's bastion
// runs on the host (as autossh would keep it). The inventory reports the
// process as the provider's, by its command line, with a stable id.
func TestProviderTunnelProcess(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	tunnel := "autossh -M 0 -N -R 2222:localhost:22 tunnel@bastion." + testenv.ProviderDomain
	if out, err := rootSSH(e, ip, "setsid bash -c 'exec -a \""+tunnel+"\" sleep 600' </dev/null >/dev/null 2>&1 & sleep 0.2; pgrep -f bastion >/dev/null && echo started"); err != nil || string(out) != "started\n" {
		t.Fatalf("start the tunnel (%v): %s", err, out)
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	var ids []string
	for range 2 {
		var got []connector.Finding
		for _, f := range findingsOf(okInventory(t, tg).Systems[0], connector.KindProcess) {
			if strings.Contains(f.Summary, tunnel) {
				got = append(got, f)
			}
		}
		if len(got) != 1 || !got[0].Provider {
			t.Fatalf("the tunnel is not reported once as the provider's: %v", got)
		}
		ids = append(ids, got[0].ID)
	}
	if ids[0] != ids[1] {
		t.Errorf("the same process has two ids: %v", ids)
	}
}

// TestMatchBlockKeyFiles: sshd reads some key files for the accounts or
// connections a Match block names only, which `sshd -T` (the global
// settings) does not show: a provider key in a file read for one account
// ("Match User", with %u), and the provider's CA trusted for connections
// from some addresses ("Match Address"). Both are found, attributed to the
// account they serve (not to every account), and removed; neither logs in
// afterwards.
//
// Long: sshd reconfigured, then inventory, removal and the check of each Match block's file.
func TestMatchBlockKeyFiles(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	h := e.Fleet.Hosts[0] // sshd trusts no CA there
	ip := strings.TrimSuffix(h.Addr, ":22")
	t.Cleanup(func() { resetFleet(t) })
	support := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, "support@") })
	if support < 0 {
		t.Fatalf("no support key among %v", e.Fleet.ProviderKeyComments)
	}
	keyLine, err := os.ReadFile(e.Fleet.ProviderKeys[support] + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	caLine, err := os.ReadFile(e.Fleet.ProviderCAKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	const user = "jdupont" // the client's own account: only its own key is planted
	script := fmt.Sprintf(`mkdir -p /etc/ssh/keys.d && printf '%%s' %s > /etc/ssh/keys.d/%s_extra && printf '%%s' %s > /etc/ssh/match_ca.pub &&
printf '\nMatch User %s\n\tAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys.d/%%%%u_extra\nMatch Address 127.0.0.0/8\n\tTrustedUserCAKeys /etc/ssh/match_ca.pub\n' >> /etc/ssh/sshd_config &&
sshd -t`, shellQuote(string(keyLine)), user, shellQuote(string(caLine)), user)
	reconfigureSSHD(t, e, ip, script, "")
	b, err := os.ReadFile(e.Fleet.ProviderKeys[support])
	if err != nil {
		t.Fatal(err)
	}
	logins := func() (key, cert bool) {
		return tryLogin(t, e, h, user, keyAuth(t, b)), tryLogin(t, e, h, "root", caCertAuth(t, e.Fleet.ProviderCAKey, "root"))
	}
	if key, cert := logins(); !key || !cert {
		t.Fatalf("before the run: the key in the Match file logs in: %v, the CA's certificate: %v", key, cert)
	}

	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	inv := okInventory(t, tg)
	sys := inv.Systems[0]
	want := map[string]bool{
		"ssh-key:" + user + ":" + e.Fleet.ProviderFingerprints[support] + ":/etc/ssh/keys.d/" + user + "_extra": false,
		"ssh-key:" + caOwner + ":" + fingerprintOf(t, caLine) + ":/etc/ssh/match_ca.pub":                        false,
	}
	for _, f := range findingsOf(sys, connector.KindSSHKey) {
		if _, ok := want[f.ID]; ok {
			want[f.ID] = true
			if !f.Provider {
				t.Errorf("%s not attributed to the provider: %v", f.ID, f.Reasons)
			}
		} else if strings.Contains(f.ID, "/etc/ssh/keys.d/") {
			t.Errorf("a Match User file counted for another account: %s", f.ID)
		}
	}
	for id, found := range want {
		if !found {
			t.Errorf("not found: %s", id)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	changes, err := tg.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	var remove []plan.Change
	for _, ch := range changes {
		if _, ok := want[ch.Finding]; ok && ch.Action == plan.RemoveKey {
			remove = append(remove, ch)
		}
	}
	if len(remove) != len(want) {
		t.Fatalf("planned %d removals of the Match blocks' keys, want %d", len(remove), len(want))
	}
	for i, res := range tg.Apply(context.Background(), h.Name, remove, nil).Results {
		if res.Err != nil {
			t.Errorf("%s: %v", remove[i].Object, res.Err)
		}
	}
	if key, cert := logins(); key || cert {
		t.Errorf("after the removal: the key in the Match file logs in: %v, the CA's certificate: %v", key, cert)
	}
}
