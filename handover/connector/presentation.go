package connector

import "slices"

// Describer is implemented by connectors that say how their systems read
// in the report: what each system kind is called and its colour in the
// schéma de principe, and a card summarising a system in plain words. The
// engine asks it once per run and stores the answer in report.json as
// data, so a report renders, and verifies, without any connector code.
// A connector that does not implement it still reports: its kinds are
// shown as they are spelled, in a neutral colour, with no card.
type Describer interface {
	Describe() Presentation
}

// Presentation is how a connector's systems read in the report.
type Presentation struct {
	// Kinds describes every system kind the connector produces.
	Kinds []KindLook
	// Card summarises one system in plain words for the report's services
	// section; nil, or a nil result, when the system needs none (a host
	// is described by its own table).
	Card func(s System) *Card
}

// KindLook is how one system kind reads in the report.
type KindLook struct {
	Kind  string `json:"kind"`
	Label Text   `json:"label"`
	// Color is the kind's colour in the schéma de principe, "#rrggbb".
	Color string `json:"color"`
	// Service: systems of this kind are services others depend on (a
	// directory, a mail server): the schéma draws them right of the
	// machines that use them.
	Service bool `json:"service,omitempty"`
	// Order places the kind's groups within their column of the schéma,
	// lower first; kinds no connector describes come after.
	Order int `json:"order"`
}

// Card is a system's summary in plain words: a title, a sentence and named
// lists.
type Card struct {
	Title Text       `json:"title"`
	Text  Text       `json:"text,omitempty"`
	Lists []CardList `json:"lists,omitempty"`
}

// CardList is one named list of a card.
type CardList struct {
	Name  Text       `json:"name"`
	Items []CardItem `json:"items"`
}

// CardItem is one entry of a card's list, as the connector found it.
// Provider marks an entry attributed to the outgoing provider.
type CardItem struct {
	Text     string `json:"text"`
	Provider bool   `json:"provider,omitempty"`
}

// Text is one wording in each language the report is written in, keyed by
// language ("fr", "en").
type Text map[string]string

// Same is a wording that reads the same in every language (a name, a
// value found on the system).
func Same(s string) Text { return Text{"en": s, "fr": s} }

// In returns the wording in lang, else in English, else in the first
// language it has (by name); "" when it has none.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	if s, ok := t["en"]; ok {
		return s
	}
	langs := make([]string, 0, len(t))
	for l := range t {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	if len(langs) == 0 {
		return ""
	}
	return t[langs[0]]
}
