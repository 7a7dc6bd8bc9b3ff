package ldap

import (
	"fmt"

	"github.com/handoverhq/handover/handover/connector"
)

// KindDirectory is the kind of the system an ldap target inventories.
const KindDirectory = "directory"

var _ connector.Describer = Connector{}

// Describe says how a directory reads in the report: its kind's name and
// colour, and a card counting its accounts and listing its facts.
func (Connector) Describe() connector.Presentation {
	return connector.Presentation{
		Kinds: []connector.KindLook{{
			Kind:    KindDirectory,
			Label:   connector.Text{"fr": "Annuaire", "en": "Directory"},
			Color:   "#6b3fa0",
			Service: true,
			Order:   2,
		}},
		Card: card,
	}
}

// card summarises a directory: how many accounts, admins, service accounts
// and the provider's, then the facts read from the RootDSE.
func card(s connector.System) *connector.Card {
	if s.Kind != KindDirectory {
		return nil
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
	c := &connector.Card{
		Title: connector.Text{"fr": "Annuaire", "en": "Directory"},
		Text: connector.Text{
			"fr": fmt.Sprintf("%d compte(s), dont %d administrateur(s), %d compte(s) de service et %d attribué(s) au prestataire sortant.", len(s.Accounts), admins, svc, prov),
			"en": fmt.Sprintf("%d account(s), of which %d administrator(s), %d service account(s) and %d attributed to the outgoing provider.", len(s.Accounts), admins, svc, prov),
		},
	}
	for _, f := range s.Facts {
		c.Lists = append(c.Lists, connector.CardList{Name: connector.Same(f.Name), Items: []connector.CardItem{{Text: f.Value}}})
	}
	return c
}
