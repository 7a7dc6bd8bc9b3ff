package report

import (
	"fmt"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// format1 is the first version of report.json, still read, verified and
// rendered. It differs from the current format in one way the renderer
// must know: its checks carry no kind, only words.
const format1 = 1

// format1CheckKind derives a format 1 check's kind from the words format 1
// checks used to say what they proved, as format 1's renderer read them.
// Only reports of format 1 are read this way.
func format1CheckKind(c connector.Check) connector.CheckKind {
	what := strings.ToLower(c.What)
	switch {
	case strings.Contains(what, "new credential works"):
		return connector.NewWorks
	case strings.Contains(what, "old credential rejected"):
		return connector.OldRejected
	case strings.Contains(what, "absent on re-inventory"):
		return connector.Absent
	}
	return connector.Note
}

// format1Kinds are the system kinds format 1's renderer knew, with its
// words and colours: a format 1 report carries no presentation, and its
// renderings, signed, must come out of Render byte for byte. Its legend
// listed these four whatever the report held.
var format1Kinds = []connector.KindLook{
	{Kind: "host", Label: connector.Text{"fr": "Serveur", "en": "Server"}, Color: "#1f5fa8", Order: 0},
	{Kind: "directory", Label: connector.Text{"fr": "Annuaire", "en": "Directory"}, Color: "#6b3fa0", Service: true, Order: 2},
	{Kind: "mail", Label: connector.Text{"fr": "Messagerie", "en": "Mail"}, Color: "#b5561b", Service: true, Order: 1},
	{Kind: "vault", Label: connector.Text{"fr": "Coffre-fort", "en": "Vault"}, Color: "#2b7a4b", Service: true, Order: 3},
}

// format1Presentation is the presentation format 1's renderer applied:
// its kinds, and a card for each directory. Format 1 reports were written
// by the ssh and ldap connectors only, so no other card is made.
func format1Presentation(r *Report) *Presentation {
	p := &Presentation{Kinds: format1Kinds}
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			if s.Kind != "directory" {
				continue
			}
			var admins, svc, prov int
			for _, a := range s.Accounts {
				if a.Admin {
					admins++
				}
				if a.Service {
					svc++
				}
				if a.Provider {
					prov++
				}
			}
			c := Card{Target: inv.Target, System: s.Name}
			c.Title = connector.Text{"fr": "Annuaire", "en": "Directory"}
			c.Text = connector.Text{
				"fr": fmt.Sprintf("%d compte(s), dont %d administrateur(s), %d compte(s) de service et %d attribué(s) au prestataire sortant.", len(s.Accounts), admins, svc, prov),
				"en": fmt.Sprintf("%d account(s), of which %d administrator(s), %d service account(s) and %d attributed to the outgoing provider.", len(s.Accounts), admins, svc, prov),
			}
			for _, f := range s.Facts {
				c.Lists = append(c.Lists, connector.CardList{Name: connector.Same(f.Name), Items: []connector.CardItem{{Text: f.Value}}})
			}
			p.Cards = append(p.Cards, c)
		}
	}
	return p
}
