package reporttest

import (
	"fmt"
	"strings"

	"github.com/handoverhq/handover/connectors/ldap"
	"github.com/handoverhq/handover/connectors/ssh"
	"github.com/handoverhq/handover/handover/connector"
)

// describe is how the fixture's targets read in the report: the hosts and
// the directory as their connectors describe them, the mail server and
// the vault as a connector for them would.
func describe(target string) (connector.Presentation, bool) {
	switch target {
	case tServers:
		return ssh.New().(connector.Describer).Describe(), true
	case tLDAP:
		return ldap.New().(connector.Describer).Describe(), true
	case tMail:
		return mailPresentation, true
	case tVault:
		return vaultPresentation, true
	}
	return connector.Presentation{}, false
}

var mailPresentation = connector.Presentation{
	Kinds: []connector.KindLook{{Kind: "mail", Label: connector.Text{"fr": "Messagerie", "en": "Mail"}, Color: "#b5561b", Service: true, Order: 1}},
	Card: func(s connector.System) *connector.Card {
		var fwd, prov int
		var forwards []connector.CardItem
		for _, f := range s.Findings {
			if f.Kind == connector.KindForward {
				fwd++
				if f.Provider {
					prov++
				}
				forwards = append(forwards, connector.CardItem{Text: f.Summary, Provider: f.Provider})
			}
		}
		c := &connector.Card{
			Title: connector.Text{"fr": "Messagerie", "en": "Mail"},
			Text: connector.Text{
				"fr": fmt.Sprintf("%d boîte(s) aux lettres, %d renvoi(s) dont %d vers le prestataire sortant.", len(s.Accounts), fwd, prov),
				"en": fmt.Sprintf("%d mailbox(es), %d forward(s) of which %d to the outgoing provider.", len(s.Accounts), fwd, prov),
			},
		}
		if len(forwards) > 0 {
			c.Lists = []connector.CardList{{Name: connector.Text{"fr": "Renvois", "en": "Forwards"}, Items: forwards}}
		}
		return c
	},
}

var vaultPresentation = connector.Presentation{
	Kinds: []connector.KindLook{{Kind: "vault", Label: connector.Text{"fr": "Coffre-fort", "en": "Vault"}, Color: "#2b7a4b", Service: true, Order: 3}},
	Card: func(s connector.System) *connector.Card {
		var auth, pol, tok []connector.CardItem
		for _, f := range s.Facts {
			name := strings.ToLower(f.Name)
			switch {
			case strings.Contains(name, "auth"):
				auth = append(auth, connector.CardItem{Text: f.Name + ": " + f.Value})
			case strings.Contains(name, "polic"):
				pol = append(pol, connector.CardItem{Text: f.Name + ": " + f.Value})
			}
		}
		for _, f := range s.Findings {
			switch f.Kind {
			case connector.KindAuth:
				auth = append(auth, connector.CardItem{Text: f.Summary})
			case connector.KindPolicy:
				pol = append(pol, connector.CardItem{Text: f.Summary})
			case connector.KindToken:
				tok = append(tok, connector.CardItem{Text: f.Summary})
			}
		}
		c := &connector.Card{Title: connector.Text{"fr": "Coffre-fort de secrets", "en": "Secrets vault"}}
		for _, l := range []connector.CardList{
			{Name: connector.Text{"fr": "Méthodes d'authentification", "en": "Authentication methods"}, Items: auth},
			{Name: connector.Text{"fr": "Politiques", "en": "Policies"}, Items: pol},
			{Name: connector.Text{"fr": "Jetons et accès", "en": "Tokens and access"}, Items: tok},
		} {
			if len(l.Items) > 0 {
				c.Lists = append(c.Lists, l)
			}
		}
		return c
	},
}
