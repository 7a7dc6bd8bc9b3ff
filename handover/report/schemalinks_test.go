package report_test

import (
	"html"
	"regexp"
	"slices"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
)

// TestSchemaLinksToSystems: a link names a host, an address or a URL's
// host; the schéma draws it to the system that has it, and to an external
// box otherwise, in red when the provider controls it.
func TestSchemaLinksToSystems(t *testing.T) {
	r := &report.Report{FormatVersion: report.FormatVersion, Lang: "en", Completeness: &report.Completeness{}}
	r.Dossier = []connector.Inventory{
		{Target: "annuaire", Type: "ldap", Systems: []connector.System{{Name: "directory", Kind: "directory", Address: "ldap://127.0.0.1:10389"}}},
		{Target: "serveurs", Type: "ssh", Systems: []connector.System{
			{Name: "srv-fichiers-01", Kind: "host", Address: "127.0.1.1:22", Links: []connector.Link{
				{To: "127.0.0.1", Kind: "authenticates against", Why: "/etc/ldap/ldap.conf: ldap://127.0.0.1:10389"},
			}},
			{Name: "srv-app-01", Kind: "host", Address: "127.0.1.2:22", Links: []connector.Link{
				{To: "127.0.0.1", Kind: "authenticates against"},
				{To: "127.0.1.1", Kind: "mounts a share from"},
				{To: "mx-secours.prestanet.test", Kind: "relays mail through", Provider: true},
			}},
		}},
	}
	b, err := report.Render(r, "html", "en")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`<path class="(link(?: provider)?)" data-from="([^"]*)" data-to="([^"]*)" data-kind="([^"]*)"[^>]*stroke="(#[0-9a-f]{6})"`).FindAllSubmatch(b, -1) {
		got = append(got, html.UnescapeString(string(m[2])+" → "+string(m[3])+" "+string(m[4])+" "+string(m[1])+" "+string(m[5])))
	}
	slices.Sort(got)
	want := []string{
		"srv-app-01 → directory authenticates against link #374151",
		"srv-app-01 → mx-secours.prestanet.test relays mail through link provider #c81e1e",
		"srv-app-01 → srv-fichiers-01 mounts a share from link #0e7490",
		"srv-fichiers-01 → directory authenticates against link #374151",
	}
	if !slices.Equal(got, want) {
		t.Errorf("edges:\n got %q\nwant %q", got, want)
	}
}
