package mail

import (
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// Describe says how mail systems read in the report: a service others
// depend on, with a card listing its mailboxes and forwards.
func (Connector) Describe() connector.Presentation {
	return connector.Presentation{
		Kinds: []connector.KindLook{{
			Kind:    "mail",
			Label:   connector.Text{"en": "Mail server", "fr": "Serveur de messagerie"},
			Color:   "#b45309",
			Service: true,
			Order:   20,
		}},
		Card: card,
	}
}

func card(s connector.System) *connector.Card {
	if s.Kind != "mail" {
		return nil
	}
	fact := func(n string) string {
		for _, f := range s.Facts {
			if f.Name == n {
				return f.Value
			}
		}
		return ""
	}
	var sw []string
	for _, p := range s.Software {
		sw = append(sw, p.Name+" "+p.Version)
	}
	c := &connector.Card{Title: connector.Same("Messagerie " + s.Name)}
	text := strings.Join(sw, ", ")
	if d := fact("domains"); d != "" {
		c.Text = connector.Text{"en": text + "; domains " + d, "fr": text + " ; domaines " + d}
	} else {
		c.Text = connector.Same(text)
	}
	if s.Error != "" {
		c.Text = connector.Same(s.Error)
		return c
	}
	var boxes, masters, forwards, shared []connector.CardItem
	for _, a := range s.Accounts {
		item := connector.CardItem{Text: a.Name, Provider: a.Provider}
		var about []string
		if a.State != "" && a.State != "enabled" {
			about = append(about, a.State)
		}
		if v := fact("mailbox " + a.Name); v != "" {
			about = append(about, v)
		}
		if len(about) > 0 {
			item.Text += " (" + strings.Join(about, ", ") + ")"
		}
		if len(a.AdminVia) > 0 && strings.HasPrefix(a.AdminVia[0], "master passdb") {
			masters = append(masters, item)
			continue
		}
		boxes = append(boxes, item)
	}
	for _, f := range s.Findings {
		switch f.Kind {
		case connector.KindForward:
			forwards = append(forwards, connector.CardItem{Text: f.Summary, Provider: f.Provider})
		case connector.KindGrant:
			shared = append(shared, connector.CardItem{Text: f.Summary, Provider: f.Provider})
		}
	}
	add := func(en, fr string, items []connector.CardItem) {
		if len(items) > 0 {
			c.Lists = append(c.Lists, connector.CardList{Name: connector.Text{"en": en, "fr": fr}, Items: items})
		}
	}
	add("Mailboxes", "Boîtes aux lettres", boxes)
	add("Master users", "Utilisateurs maîtres", masters)
	add("Forwards and copies", "Redirections et copies", forwards)
	add("Access to others' mailboxes (IMAP ACLs)", "Accès aux boîtes d'autrui (ACL IMAP)", shared)
	return c
}
