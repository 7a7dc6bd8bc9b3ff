package ssh

import (
	"cmp"
	"context"
	"encoding/json"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestLinksOnFleet: the dependencies planted in the sample hosts'
// configuration (the directory in ldap.conf, the AD domain controller in
// sssd.conf, the file server's shares in fstab, the provider's relay in
// Postfix's main.cf, the backups: an rsync to the provider's storage from a
// cron script, a restic repository, rsnapshot's remote source, the
// provider's curl upload in a crontab) are the inventory's links, the
// provider's marked; the schéma draws each as an arrow; and neither the
// CIFS mount's password nor a backup password appears anywhere.
func TestLinksOnFleet(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	// The fleet as this tree plants it (another tree's reset may have
	// planted it without the dependencies).
	resetFleet(t)
	e = testenv.Require(t)
	t.Cleanup(func() { resetFleet(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg := configure(t, e, fleetSettings(e, ""), secret.NewMemoryStore(), nil)
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var provider int
	for i, h := range sampleHosts(e) {
		sys := inv.Systems[i]
		if sys.Error != "" {
			t.Fatalf("%s: %s", h.Name, sys.Error)
		}
		if len(h.Links) == 0 {
			t.Fatalf("%s: env.json describes no planted link: reset the fleet with this tree's bin/testenv", h.Name)
		}
		for _, want := range h.Links {
			found := false
			for _, l := range sys.Links {
				if l.Kind == want.Kind && l.To == want.To && l.Provider == want.Provider && strings.HasPrefix(l.Why, want.File+": ") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no link %+v among %+v", h.Name, want, sys.Links)
			}
			if want.Provider {
				provider++
			}
		}
		for _, l := range sys.Links {
			if l.Kind != LinkResolver && l.Kind != LinkAgent && !slices.ContainsFunc(h.Links, func(w testenv.HostLink) bool { return w.Kind == l.Kind && w.To == l.To }) {
				t.Errorf("%s: link %+v was not planted", h.Name, l)
			}
		}
		// Every agent whose daemon runs links the host to its service,
		// as the provider's (outgoing.agents selects them all).
		for _, name := range h.Agents {
			var title string
			for _, a := range cat.Agents {
				if a.Name == name {
					title = a.Title
				}
			}
			if !slices.ContainsFunc(sys.Links, func(l connector.Link) bool { return l.Kind == LinkAgent && l.To == title && l.Provider }) {
				t.Errorf("%s: no link to %s's service (%q) among %+v", h.Name, name, title, sys.Links)
			}
		}
	}
	if provider == 0 {
		t.Error("no sample host depends on the provider's relay")
	}
	b, _ := json.Marshal(inv)
	if strings.Contains(string(b), testenv.ShareMountPassword) {
		t.Error("the CIFS mount's password is in the inventory")
	}
	for _, secret := range []string{testenv.ResticRepoPassword, testenv.ProviderBackupPassword} {
		if strings.Contains(string(b), secret) {
			t.Error("a backup password is in the inventory")
		}
	}

	// The schéma draws each link as an arrow: to the fleet host that has
	// the address linked to, else to an external box; red where the
	// provider controls it. The planted backups are among them.
	r := &report.Report{FormatVersion: report.FormatVersion, Lang: "en", Completeness: &report.Completeness{}, Dossier: []connector.Inventory{*inv}}
	page, err := report.Render(r, "html", "en")
	if err != nil {
		t.Fatal(err)
	}
	var drawn []string
	for _, m := range regexp.MustCompile(`<path class="(link(?: provider)?)" data-from="([^"]*)" data-to="([^"]*)" data-kind="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		drawn = append(drawn, html.UnescapeString(m[2]+" | "+m[4]+" | "+m[3]+" | "+m[1]))
	}
	byAddr := map[string]string{}
	for _, h := range sampleHosts(e) {
		byAddr[strings.TrimSuffix(h.Addr, ":22")] = h.Name
	}
	var want []string
	for i, h := range sampleHosts(e) {
		for _, l := range inv.Systems[i].Links {
			if l.Kind == LinkResolver || l.Kind == LinkAgent {
				continue
			}
			to := cmp.Or(byAddr[l.To], l.To)
			class := "link"
			if l.Provider {
				class = "link provider"
			}
			want = append(want, h.Name+" | "+l.Kind+" | "+to+" | "+class)
		}
	}
	for _, w := range want {
		if !slices.Contains(drawn, w) {
			t.Errorf("the schéma has no edge %q; edges: %q", w, drawn)
		}
	}
	for _, w := range []string{
		"srv-app-01 | " + LinkBackup + " | stockage." + testenv.ProviderDomain + " | link provider",
		"poste-accueil-01 | " + LinkBackup + " | srv-sauvegarde-01 | link",
		"srv-sauvegarde-01 | " + LinkBackupFrom + " | srv-app-01 | link",
		"srv-fichiers-01 | " + LinkBackup + " | backup." + testenv.ProviderDomain + " | link provider",
	} {
		if !slices.Contains(drawn, w) {
			t.Errorf("the schéma lacks the planted backup edge %q; edges: %q", w, drawn)
		}
	}
	if strings.Contains(string(page), testenv.ResticRepoPassword) || strings.Contains(string(page), testenv.ProviderBackupPassword) {
		t.Error("a backup password is in the rendered report")
	}
}
