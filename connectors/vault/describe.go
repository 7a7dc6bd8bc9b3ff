package vault

import (
	"fmt"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// KindVault is the kind of the system a vault target inventories.
const KindVault = "vault"

var _ connector.Describer = Connector{}

// Describe says how a Vault reads in the report: its kind's name and
// colour, and a card listing its mounts, auth methods, policies and the
// tokens worth naming, the provider's marked.
func (Connector) Describe() connector.Presentation {
	return connector.Presentation{
		Kinds: []connector.KindLook{{
			Kind:    KindVault,
			Label:   connector.Text{"fr": "Coffre de secrets", "en": "Secrets vault"},
			Color:   "#2f7d32",
			Service: true,
			Order:   3,
		}},
		Card: card,
	}
}

func card(s connector.System) *connector.Card {
	if s.Kind != KindVault {
		return nil
	}
	var mounts, auths, audits, facts, policies []connector.CardItem
	kv := 0
	for _, f := range s.Facts {
		switch {
		case strings.HasPrefix(f.Name, "mount "):
			mounts = append(mounts, connector.CardItem{Text: strings.TrimPrefix(f.Name, "mount ") + " " + f.Value})
		case strings.HasPrefix(f.Name, "auth "):
			auths = append(auths, connector.CardItem{Text: strings.TrimPrefix(f.Name, "auth ") + " " + f.Value})
		case strings.HasPrefix(f.Name, "audit "):
			audits = append(audits, connector.CardItem{Text: strings.TrimPrefix(f.Name, "audit ") + " " + f.Value})
		case strings.HasPrefix(f.Name, "policy "):
			policies = append(policies, connector.CardItem{Text: strings.TrimPrefix(f.Name, "policy ") + ": " + f.Value})
		case strings.HasPrefix(f.Name, "kv "):
			kv++
		default:
			facts = append(facts, connector.CardItem{Text: f.Name + ": " + f.Value})
		}
	}
	var tokens, logins, unread []connector.CardItem
	prov := 0
	for _, f := range s.Findings {
		if f.Provider {
			prov++
		}
		item := connector.CardItem{Text: f.Summary, Provider: f.Provider}
		switch f.Kind {
		case connector.KindPolicy:
			for i := range policies {
				if strings.HasPrefix(policies[i].Text, strings.TrimPrefix(f.Object, "policy ")+": ") {
					policies[i].Provider = f.Provider
				}
			}
		case connector.KindToken:
			tokens = append(tokens, item)
		case KindUnread:
			unread = append(unread, item)
		case KindAudit:
			for i := range audits {
				if strings.HasPrefix(audits[i].Text, strings.TrimPrefix(f.Object, "audit device ")+" ") {
					audits[i].Provider = true
				}
			}
		default:
			logins = append(logins, item)
		}
	}
	for _, a := range s.Accounts {
		if !a.Provider {
			logins = append(logins, connector.CardItem{Text: a.Name + " (" + a.Display + ")"})
		}
	}
	c := &connector.Card{
		Title: connector.Text{"fr": "Coffre de secrets (Vault)", "en": "Secrets vault (Vault)"},
		Text: connector.Text{
			"fr": fmt.Sprintf("%d montage(s), %d méthode(s) d'authentification, %d chemin(s) KV (valeurs jamais lues), %d élément(s) attribué(s) au prestataire sortant.", len(mounts), len(auths), kv, prov),
			"en": fmt.Sprintf("%d mount(s), %d auth method(s), %d KV path(s) (values never read), %d item(s) attributed to the outgoing provider.", len(mounts), len(auths), kv, prov),
		},
	}
	add := func(fr, en string, items []connector.CardItem) {
		if len(items) > 0 {
			c.Lists = append(c.Lists, connector.CardList{Name: connector.Text{"fr": fr, "en": en}, Items: items})
		}
	}
	add("Serveur", "Server", facts)
	add("Moteurs de secrets", "Secrets engines", mounts)
	add("Méthodes d'authentification", "Auth methods", auths)
	add("Politiques", "Policies", policies)
	add("Jetons", "Tokens", tokens)
	add("Identifiants et identités", "Logins and identities", logins)
	add("Journaux d'audit", "Audit devices", audits)
	add("Non lu", "Not read", unread)
	return c
}
