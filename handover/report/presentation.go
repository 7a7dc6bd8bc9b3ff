package report

import (
	"math"
	"regexp"

	"github.com/handoverhq/handover/handover/connector"
)

// Presentation is what the connectors of a run said of how their systems
// read (connector.Describer): a look per system kind and a card per system
// that has one. The report keeps it as data and renders only from it; a
// kind it does not describe is shown as spelled, in a neutral colour.
type Presentation struct {
	Kinds []connector.KindLook `json:"kinds,omitempty"`
	Cards []Card               `json:"cards,omitempty"`
}

// Card is one system's card, as its connector wrote it.
type Card struct {
	Target string `json:"target"`
	System string `json:"system"`
	connector.Card
}

// Present gathers the presentation of a dossier: describe gives the
// presentation of a target's connector (false when it has none). A kind
// described twice keeps its first look; cards follow the dossier's order.
func Present(dossier []connector.Inventory, describe func(target string) (connector.Presentation, bool)) *Presentation {
	p := &Presentation{}
	seen := map[string]bool{}
	for _, inv := range dossier {
		d, ok := describe(inv.Target)
		if !ok {
			continue
		}
		for _, k := range d.Kinds {
			if !seen[k.Kind] {
				seen[k.Kind] = true
				p.Kinds = append(p.Kinds, k)
			}
		}
		if d.Card == nil {
			continue
		}
		for _, s := range inv.Systems {
			if c := d.Card(s); c != nil {
				p.Cards = append(p.Cards, Card{Target: inv.Target, System: s.Name, Card: *c})
			}
		}
	}
	if len(p.Kinds) == 0 && len(p.Cards) == 0 {
		return nil
	}
	return p
}

// The schéma's own kind: systems a link points to that no target
// inventoried. It is the report's, not a connector's.
const (
	kindExternal  = "external"
	colorExternal = "#6b7280"
	colorNeutral  = "#4b5563"
)

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// looks indexes a report's presentation for the renderer.
type looks struct {
	lang  string
	kinds []connector.KindLook
	by    map[string]connector.KindLook
	cards []Card
}

func looksOf(r *Report, lang string) looks {
	p := r.Presentation
	if r.FormatVersion == format1 {
		p = format1Presentation(r)
	}
	lk := looks{lang: lang, by: map[string]connector.KindLook{}}
	if p == nil {
		return lk
	}
	lk.kinds, lk.cards = p.Kinds, p.Cards
	for _, k := range p.Kinds {
		if _, dup := lk.by[k.Kind]; !dup {
			lk.by[k.Kind] = k
		}
	}
	return lk
}

// label names a system kind: the connector's word, else the kind as
// spelled ("other" for none).
func (lk looks) label(kind string, w words) string {
	if k, ok := lk.by[kind]; ok {
		return k.Label.In(w.lang)
	}
	if kind == "" {
		return w.T("kind.other")
	}
	return kind
}

// column puts external systems on the left, machines in the middle and the
// services they depend on to the right, so most arrows cross one gap and
// none crosses a box. A kind no connector describes goes right, as a
// service; a system of no kind goes in the middle.
func (lk looks) column(kind string) int {
	if kind == kindExternal {
		return 0
	}
	if k, ok := lk.by[kind]; ok {
		if k.Service {
			return 2
		}
		return 1
	}
	if kind == "" {
		return 1
	}
	return 2
}

// rank orders groups within a column: described kinds by their Order,
// then the others, external systems last.
func (lk looks) rank(kind string) int {
	if k, ok := lk.by[kind]; ok {
		return k.Order
	}
	if kind == kindExternal {
		return math.MaxInt32
	}
	return math.MaxInt32 - 1
}

// color is a kind's colour; one that is not "#rrggbb" is not used, since
// it goes into the SVG as it is.
func (lk looks) color(kind string) string {
	if k, ok := lk.by[kind]; ok && hexColor.MatchString(k.Color) {
		return k.Color
	}
	if kind == kindExternal {
		return colorExternal
	}
	return colorNeutral
}
