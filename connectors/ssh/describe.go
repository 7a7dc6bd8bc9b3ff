package ssh

import "github.com/handoverhq/handover/handover/connector"

// KindHost is the kind of the systems an ssh target inventories.
const KindHost = "host"

var _ connector.Describer = Connector{}

// Describe says how a host reads in the report: its kind's name and
// colour. A host has no card: its own table in the dossier describes it.
func (Connector) Describe() connector.Presentation {
	return connector.Presentation{
		Kinds: []connector.KindLook{{
			Kind:  KindHost,
			Label: connector.Text{"fr": "Serveur", "en": "Server"},
			Color: "#1f5fa8",
			Order: 0,
		}},
	}
}
