package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestRenderDeterministic renders every format and language twice and
// checks the written renderings are exactly Render's output.
func TestRenderDeterministic(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	js, err := os.ReadFile(f.Files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := report.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, js) {
		t.Fatal("report.json does not survive Unmarshal then Marshal unchanged")
	}
	sha := report.SHA256(js)
	for _, tc := range []struct{ format, lang, written string }{
		{"html", "fr", f.Files.HTML}, {"md", "fr", f.Files.Markdown}, {"html", "en", ""}, {"md", "en", ""},
	} {
		t.Run(tc.format+"-"+tc.lang, func(t *testing.T) {
			a, err := report.Render(r, tc.format, tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			b, err := report.Render(r, tc.format, tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatal("two renderings differ")
			}
			if !bytes.Contains(a, []byte(sha)) {
				t.Error("rendering does not embed report.json's SHA-256")
			}
			if tc.written == "" {
				return
			}
			w, err := os.ReadFile(tc.written)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, w) {
				t.Errorf("%s is not Render's output", tc.written)
			}
		})
	}
	for _, bad := range [][2]string{{"pdf", "fr"}, {"html", "de"}} {
		if _, err := report.Render(r, bad[0], bad[1]); err == nil {
			t.Errorf("Render(%s, %s) succeeded", bad[0], bad[1])
		}
	}
}

// TestRenderLanguages checks each language speaks its own words.
func TestRenderLanguages(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"fr", []string{"Rapport de passation informatique", "Passation partielle", "2. Dossier technique", "5. Écarts", "Dérogations approuvées", "12 mars 2026", "Nouveau accepté", "Changement du mot de passe"}},
		{"en", []string{"IT handover report", "Handover partly completed", "2. Technical dossier", "5. Deviations", "Approved waivers", "March 12, 2026", "New accepted", "Password changed"}},
	} {
		for _, format := range []string{"html", "md"} {
			b, err := report.Render(f.Report, format, tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("%s/%s lacks %q", format, tc.lang, w)
				}
			}
		}
	}
}

// TestRenderScale renders a 200-host dossier: the schéma folds hosts into
// one box, the per-host details are collapsed, and it stays quick.
func TestRenderScale(t *testing.T) {
	f := fixture(t, reporttest.Options{Hosts: 200})
	start := time.Now()
	b, err := report.Render(f.Report, "html", "fr")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("rendering 200 hosts took %v", d)
	}
	svg := b[bytes.Index(b, []byte("<svg")):bytes.Index(b, []byte("</svg>"))]
	if n := bytes.Count(svg, []byte(`<g class="system">`)); n > 30 {
		t.Errorf("the schéma draws %d system boxes for 200 hosts", n)
	}
	if !bytes.Contains(svg, []byte("+ 191 autre(s)")) {
		t.Error("the schéma does not fold the other 191 hosts into one box")
	}
	if bytes.Contains(b, []byte(`<details class="target" open>`+"<summary>serveurs")) {
		t.Error("the 200-host target is unfolded")
	}
	if n := bytes.Count(b, []byte(`<details class="system"`)); n != 203 {
		t.Errorf("%d system details, want 203 (200 hosts, directory, mail, vault)", n)
	}
}

// TestReportInBrowser renders report.html in headless Chromium and checks
// the DOM it builds: sections, the schéma, the tables, and that no secret
// used to build the fixture appears anywhere, in the DOM or in any file.
func TestReportInBrowser(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	if len(f.Secrets) < 6 {
		t.Fatalf("the fixture used %d secrets, want at least 6", len(f.Secrets))
	}
	dom := dumpDOM(t, f.Files.HTML)
	for _, id := range []string{"cover", "result", "summary", "dossier", "schema", "actions", "outgoing", "deviations", "journal", "signature", "journal-head", "report-sha256"} {
		if !strings.Contains(dom, `id="`+id+`"`) {
			t.Errorf("DOM lacks #%s", id)
		}
	}
	checks := []struct {
		what string
		re   string
		min  int
	}{
		{"schéma svg", `<svg[^>]*class="schema"`, 1},
		{"system boxes in the schéma", `<g class="system">`, 7},
		{"arrows in the schéma", `marker-end="url\(#arrow-`, 5},
		{"tables", `<table`, 10},
		{"action rows", `<span class="pill ok">Réalisée</span>`, 19},
		{"verified rotations", `<span class="pill yes">oui</span>`, 12},
		{"failed action", `<span class="pill bad">Échec</span>`, 1},
		{"waiver", `Claire Lefèvre, DGS`, 1},
		{"credential location", `saint-aubin/annuaire/cn=admin`, 1},
		{"journal head", regexp.QuoteMeta(f.Report.Journal.Head), 1},
	}
	for _, c := range checks {
		if n := len(regexp.MustCompile(c.re).FindAllStringIndex(dom, -1)); n < c.min {
			t.Errorf("%s: %d in the DOM, want at least %d", c.what, n, c.min)
		}
	}
	sources := map[string]string{"DOM": dom}
	for _, p := range f.Files.All() {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources[filepath.Base(p)] = string(b)
	}
	for name, text := range sources {
		for i, s := range f.Secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains secret #%d", name, i)
			}
		}
	}
}

func dumpDOM(t *testing.T, file string) string {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("headless Chromium is required (make deps installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+abs)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, errb.String())
	}
	if out.Len() == 0 {
		t.Fatalf("chromium dumped an empty DOM:\n%s", errb.String())
	}
	return out.String()
}

// TestRenderVerifyInstructions: a current report tells the auditor to
// verify with their own copy of the signer's key, not with the
// allowed_signers shipped beside it, in both languages and formats.
func TestRenderVerifyInstructions(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	js, err := os.ReadFile(f.Files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"fr": "votre propre copie de la clé publique du signataire", "en": "your own copy of the signer"}
	for _, format := range []string{"html", "md"} {
		for _, lang := range []string{"fr", "en"} {
			out, err := report.Render(r, format, lang)
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			for _, w := range []string{want[lang], "handover verify --allowed-signers trusted_signers report.json", "ssh-keygen -Y verify -f trusted_signers -I " + reporttest.Identity} {
				if !strings.Contains(s, w) {
					t.Errorf("%s %s lacks %q", format, lang, w)
				}
			}
			if strings.Contains(s, "-f allowed_signers") || strings.Contains(s, "--allowed-signers allowed_signers") {
				t.Errorf("%s %s tells the auditor to trust the allowed_signers shipped with the report", format, lang)
			}
		}
	}
}
