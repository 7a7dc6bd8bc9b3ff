package vault_test

import (
	"html"
	"regexp"
	"testing"

	"github.com/handoverhq/handover/connectors/vault"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
)

// TestSchemaDrawsLDAPAuth: the link a Vault's LDAP auth method gives (its
// directory's URL) is drawn to the ldap target of that address, the
// Vault's box on the Vault's side, even though both sit on the same host.
func TestSchemaDrawsLDAPAuth(t *testing.T) {
	r := &report.Report{FormatVersion: report.FormatVersion, Lang: "en", Completeness: &report.Completeness{}}
	r.Dossier = []connector.Inventory{
		{Target: "annuaire", Type: "ldap", Systems: []connector.System{{Name: "directory", Kind: "directory", Address: "ldap://127.0.0.1:10389"}}},
		{Target: "coffre", Type: vault.Type, Systems: []connector.System{{Name: vault.System, Kind: vault.KindVault, Address: "https://127.0.0.1:18200", Links: []connector.Link{
			{To: "ldap://127.0.0.1:10389", Kind: vault.LinkAuth, Why: "auth/ldap/config url (LDAP auth method ldap/)"},
		}}}},
	}
	b, err := report.Render(r, "html", "en")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`<path class="link[^"]*" data-from="([^"]*)" data-to="([^"]*)" data-kind="([^"]*)"`).FindAllSubmatch(b, -1) {
		got = append(got, html.UnescapeString(string(m[1])+" → "+string(m[2])+" "+string(m[3])))
	}
	if len(got) != 1 || got[0] != "vault → directory authenticates against" {
		t.Errorf("edges: %q, want the Vault's to the directory", got)
	}
}
