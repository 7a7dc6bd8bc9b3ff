package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestPresentationIsData: the report labels, colours and summarises
// systems from the presentation report.json carries, in either language,
// and without one falls back to the kinds as spelled, in a neutral colour,
// with no card.
func TestPresentationIsData(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	for _, tc := range []struct {
		name    string
		edit    func(r *report.Report)
		lang    string
		want    []string
		notWant []string
	}{
		{
			name: "as written", lang: "en",
			want: []string{`<td>Directory</td>`, `fill="#6b3fa0"`, `<h4>Directory — directory</h4>`, `<h4>Secrets vault — vault</h4>`, `<strong>Forwards</strong>`},
		},
		{
			name: "in the other language", lang: "fr",
			want: []string{`<td>Annuaire</td>`, `<h4>Coffre-fort de secrets — vault</h4>`, `<strong>Renvois</strong>`},
		},
		{
			name: "none", lang: "en",
			edit:    func(r *report.Report) { r.Presentation = nil },
			want:    []string{`<td>directory</td>`, `<td>host</td>`, `fill="#4b5563"`, "No directory, mail or vault in this handover."},
			notWant: []string{`fill="#6b3fa0"`, `<div class="card">`},
		},
		{
			name: "a colour that is not one", lang: "en",
			edit: func(r *report.Report) {
				p := *r.Presentation
				p.Kinds = append([]connector.KindLook{{Kind: "host", Label: connector.Same("Machine"), Color: `red"/><script>`}}, p.Kinds...)
				r.Presentation = &p
			},
			want:    []string{`<td>Machine</td>`},
			notWant: []string{`<script>`, `red"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *f.Report
			if tc.edit != nil {
				tc.edit(&r)
			}
			b, err := report.Render(&r, "html", tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			body := b[bytes.Index(b, []byte("<body>")):]
			for _, w := range tc.want {
				if !bytes.Contains(body, []byte(w)) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if bytes.Contains(body, []byte(w)) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
}

// TestPresentInDossierOrder: Present keeps a kind's first look and makes
// cards only where the connector gives one, in the dossier's order.
func TestPresentInDossierOrder(t *testing.T) {
	look := func(kind string) connector.KindLook {
		return connector.KindLook{Kind: kind, Label: connector.Same(kind)}
	}
	dossier := []connector.Inventory{
		{Target: "a", Systems: []connector.System{{Name: "a1", Kind: "box"}, {Name: "a2", Kind: "box"}}},
		{Target: "b", Systems: []connector.System{{Name: "b1", Kind: "box"}}},
		{Target: "c", Systems: []connector.System{{Name: "c1", Kind: "tub"}}},
	}
	p := report.Present(dossier, func(target string) (connector.Presentation, bool) {
		switch target {
		case "a":
			return connector.Presentation{Kinds: []connector.KindLook{look("box")}, Card: func(s connector.System) *connector.Card {
				if s.Name == "a2" {
					return nil
				}
				return &connector.Card{Title: connector.Same(s.Name)}
			}}, true
		case "b":
			return connector.Presentation{Kinds: []connector.KindLook{{Kind: "box", Label: connector.Same("second")}, look("tub")}}, true
		}
		return connector.Presentation{}, false
	})
	var kinds, cards []string
	for _, k := range p.Kinds {
		kinds = append(kinds, k.Kind+"="+k.Label.In("en"))
	}
	for _, c := range p.Cards {
		cards = append(cards, c.Target+"/"+c.System)
	}
	if got, want := strings.Join(kinds, ","), "box=box,tub=tub"; got != want {
		t.Errorf("kinds %s, want %s", got, want)
	}
	if got, want := strings.Join(cards, ","), "a/a1"; got != want {
		t.Errorf("cards %s, want %s", got, want)
	}
	if p := report.Present(dossier, func(string) (connector.Presentation, bool) { return connector.Presentation{}, false }); p != nil {
		t.Errorf("nothing described, presentation %+v, want none", p)
	}
}
