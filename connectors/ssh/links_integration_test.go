package ssh

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestLinksOnFleet: the dependencies planted in the sample hosts'
// configuration (the directory in ldap.conf, the AD domain controller in
// sssd.conf, the file server's shares in fstab, the provider's relay in
// Postfix's main.cf) are the inventory's links, the provider's marked, and
// the CIFS mount's password appears nowhere in the inventory.
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
}
