package dns

import (
	"fmt"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// Describe says how a domain reads in the report: its kind's name and
// colour, and a card listing its cloud services and the records that
// point at the outgoing provider.
func (Connector) Describe() connector.Presentation {
	return connector.Presentation{
		Kinds: []connector.KindLook{{
			Kind:    KindDomain,
			Label:   connector.Text{"fr": "Domaine DNS", "en": "DNS domain"},
			Color:   "#0f766e",
			Service: true,
			Order:   4,
		}},
		Card: card,
	}
}

func card(s connector.System) *connector.Card {
	if s.Kind != KindDomain || s.Error != "" {
		return nil
	}
	var svc, prov []connector.CardItem
	for _, f := range s.Findings {
		switch f.Kind {
		case connector.KindCloudService:
			svc = append(svc, connector.CardItem{Text: fmt.Sprintf("%s — %s", f.Object, f.Detail["roles"]), Provider: f.Detail["operated_by"] != ""})
		case connector.KindDNSRecord:
			prov = append(prov, connector.CardItem{Text: f.Detail["record"], Provider: true})
		}
	}
	c := &connector.Card{
		Title: connector.Text{"fr": "Domaine " + s.Name, "en": "Domain " + s.Name},
		Text: connector.Text{
			"fr": fmt.Sprintf("%d service(s) cloud reconnu(s) dans le DNS, %d enregistrement(s) pointant vers le prestataire sortant.", len(svc), len(prov)),
			"en": fmt.Sprintf("%d cloud service(s) recognised from DNS, %d record(s) pointing at the outgoing provider.", len(svc), len(prov)),
		},
	}
	if len(svc) > 0 {
		c.Lists = append(c.Lists, connector.CardList{Name: connector.Text{"fr": "Services cloud", "en": "Cloud services"}, Items: svc})
	}
	if len(prov) > 0 {
		c.Lists = append(c.Lists, connector.CardList{Name: connector.Text{"fr": "Enregistrements du prestataire", "en": "The provider's records"}, Items: prov})
	}
	for _, f := range s.Facts {
		if f.Name == "NS" || f.Name == "SOA" || f.Name == "MX" || strings.HasPrefix(f.Name, "unanswered") || strings.HasPrefix(f.Name, "registr") {
			c.Lists = append(c.Lists, connector.CardList{Name: connector.Same(f.Name), Items: []connector.CardItem{{Text: f.Value}}})
		}
	}
	return c
}
