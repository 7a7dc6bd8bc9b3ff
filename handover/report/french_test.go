package report_test

import (
	"context"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestRenderFrenchHasNoEnglish renders the town hall's report in French,
// with what the connectors write in English (account states, sshd
// settings, reasons, links, finding kinds), and scans the page's text for
// the phrases the tool generates in English: the English label table, the
// connectors' presentations (connectors/*/describe.go) and the reasons and
// states the connectors write. Values from the estate stay as they are.
func TestRenderFrenchHasNoEnglish(t *testing.T) {
	f, err := reporttest.Write(context.Background(), t.TempDir(), reporttest.Options{Lang: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	r := *f.Report
	// What the ssh and ldap connectors also write: sshd's settings as
	// facts, a disabled and a locked account.
	inv := r.Dossier[0]
	inv.Systems = append([]connector.System(nil), inv.Systems...)
	s := inv.Systems[0]
	s.Facts = append(append([]connector.Fact(nil), s.Facts...),
		connector.Fact{Name: "sshd_passwordauthentication", Value: "no"},
		connector.Fact{Name: "sshd_permitrootlogin", Value: "prohibit-password"},
		connector.Fact{Name: "systemd", Value: "running"})
	s.Accounts = append(append([]connector.Account(nil), s.Accounts...),
		connector.Account{Name: "ancien", State: "disabled"},
		connector.Account{Name: "stagiaire", State: "locked", Admin: true, AdminVia: []string{"wheel group"}})
	inv.Systems[0] = s
	r.Dossier = append([]connector.Inventory{inv}, r.Dossier[1:]...)

	phrases := englishPhrases(t)
	t.Logf("scanning for %d English phrases", len(phrases))
	if len(phrases) < 150 {
		t.Fatalf("only %d English phrases to look for", len(phrases))
	}
	for _, format := range []string{"html", "md"} {
		b, err := report.Render(&r, format, "fr")
		if err != nil {
			t.Fatal(err)
		}
		text, cells := visibleText(string(b), format)
		for _, p := range phrases {
			if strings.Contains(text, p) {
				i := strings.Index(text, p)
				t.Errorf("%s: the French report says %q: …%s…", format, p, text[max(0, i-80):min(len(text), i+len(p)+40)])
			}
		}
		for _, word := range []string{"enabled", "disabled", "locked", "expired", "unknown", "running"} {
			if cells[word] {
				t.Errorf("%s: the French report prints the state %q", format, word)
			}
		}
		if m := regexp.MustCompile(`\bsshd_[a-z]+`).FindString(text); m != "" {
			t.Errorf("%s: the French report prints the raw key %s", format, m)
		}
		// The estate's values stay.
		for _, v := range []string{"prohibit-password", "prestanet*", "support@prestanet.fr", "Debian GNU/Linux 12 (bookworm)"} {
			if !strings.Contains(text, v) {
				t.Errorf("%s: the French report lost the estate's value %q", format, v)
			}
		}
	}
	// The English rendering keeps the connectors' words.
	b, err := report.Render(&r, "html", "en")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `matches outgoing.accounts pattern`) {
		t.Errorf("the English report lost the connectors' reasons")
	}
}

// visibleText is a rendering's text (tags, styles and scripts removed)
// and the set of its table cells' whole texts.
func visibleText(page, format string) (string, map[string]bool) {
	cells := map[string]bool{}
	if format == "md" {
		for _, line := range strings.Split(page, "\n") {
			for _, c := range strings.Split(line, "|") {
				cells[strings.TrimSpace(c)] = true
			}
		}
		return page, cells
	}
	if i := strings.Index(page, "<body>"); i >= 0 {
		page = page[i:]
	}
	page = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`).ReplaceAllString(page, "")
	for _, m := range regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`).FindAllStringSubmatch(page, -1) {
		cells[strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], "")))] = true
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(page, "\n")), cells
}

// englishPhrases are the English phrases the tool writes: the English
// labels that differ from the French ones, the connectors' English
// presentations, and the connectors' English reasons and words.
func englishPhrases(t *testing.T) []string {
	t.Helper()
	var out []string
	add := func(en, fr string) {
		if en == fr {
			return
		}
		for _, frag := range regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`).Split(en, -1) {
			frag = strings.TrimSpace(frag)
			if len(frag) >= 12 && strings.Contains(frag, " ") && !strings.Contains(fr, frag) {
				out = append(out, frag)
			}
		}
	}
	labelPairs, toolPairs := report.WordPairs()
	for _, p := range labelPairs {
		add(p[0], p[1])
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "connectors", "*", "describe.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no connectors/*/describe.go (%v)", err)
	}
	// "en": "…" (or fmt.Sprintf("…") beside "fr": "…"), and the card
	// lists' add(en, fr, …) or add(fr, en, …) calls.
	lit := `"((?:\\.|[^"\\])*)"`
	enLit := regexp.MustCompile(`"en":\s*(?:fmt\.Sprintf\()?` + lit)
	frLit := regexp.MustCompile(`"fr":\s*(?:fmt\.Sprintf\()?` + lit)
	addCall := regexp.MustCompile(`add\(` + lit + `,\s*` + lit)
	n := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		var frs []string
		for _, m := range frLit.FindAllStringSubmatch(src, -1) {
			frs = append(frs, m[1])
		}
		fr := strings.Join(frs, "\n")
		for _, m := range enLit.FindAllStringSubmatch(src, -1) {
			n++
			add(m[1], fr)
		}
		enFirst := strings.Contains(src, "func(en, fr string")
		for _, m := range addCall.FindAllStringSubmatch(src, -1) {
			n++
			if enFirst {
				add(m[1], m[2])
			} else {
				add(m[2], m[1])
			}
		}
	}
	if n < 10 {
		t.Fatalf("read only %d wordings from %s", n, strings.Join(files, ", "))
	}
	for _, p := range toolPairs {
		add(p[0], p[1])
	}
	out = append(out, "matches outgoing", "is in the provider's domain", "mentions the provider's", "the provider's account",
		"in the catalogue", "authenticates against", "relays mail to", "backs up to", "sudo group", "wheel group")
	return out
}
