package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/handoverhq/handover/handover/report/pdf"
)

// TestReportRenderPDF prints the fixture's report to PDF through the
// machine's headless Chromium: the file is a PDF of several A4 pages (the
// report, then the procès-verbal), its title names the client, and it
// holds no secret. It fails when Chromium is not installed.
func TestReportRenderPDF(t *testing.T) {
	if _, err := pdf.Chromium(); err != nil {
		t.Fatal(err)
	}
	f := writeFixture(t)
	out := filepath.Join(t.TempDir(), "report.pdf")
	code, _, stderr := runCLI(t, "report", "render", f.Files.JSON, "--format", "pdf", "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b[len(b)-1024:], []byte("%%EOF")) {
		t.Fatalf("report.pdf is not a PDF (%d bytes, starts %q)", len(b), b[:min(len(b), 16)])
	}
	pages := 0
	for _, m := range regexp.MustCompile(`/Type\s*/Pages\b[^>]*?/Count\s+(\d+)`).FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		pages = max(pages, n)
	}
	if pages == 0 {
		for _, m := range regexp.MustCompile(`/Count\s+(\d+)[^>]*?/Type\s*/Pages\b`).FindAllSubmatch(b, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			pages = max(pages, n)
		}
	}
	t.Logf("report.pdf: %d bytes, %d pages", len(b), pages)
	if pages < 4 {
		t.Errorf("report.pdf has %d pages, want the report and its procès-verbal (4 or more)", pages)
	}
	title := pdfTitle(b)
	if !strings.Contains(title, f.Report.Handover.Client.Name) {
		t.Errorf("report.pdf's title %q does not name the client %q", title, f.Report.Handover.Client.Name)
	}
	for _, s := range f.Secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("report.pdf holds a secret")
		}
	}
	// A missing browser is said, and nothing is written.
	t.Setenv("HANDOVER_CHROMIUM", "no-such-chromium")
	out2 := filepath.Join(t.TempDir(), "none.pdf")
	if code, _, stderr := runCLI(t, "report", "render", f.Files.JSON, "--format", "pdf", "-o", out2); code == exitOK || !strings.Contains(stderr, "no-such-chromium") {
		t.Errorf("without a browser: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(out2); err == nil {
		t.Errorf("without a browser, %s was written", out2)
	}
}

// pdfTitle reads the document information's /Title, a literal or a
// UTF-16 hex string.
func pdfTitle(b []byte) string {
	if m := regexp.MustCompile(`/Title\s*<([0-9A-Fa-f\s]+)>`).FindSubmatch(b); m != nil {
		raw, err := hex.DecodeString(strings.Join(strings.Fields(string(m[1])), ""))
		if err == nil && len(raw) >= 2 && raw[0] == 0xfe && raw[1] == 0xff {
			u := make([]uint16, 0, len(raw)/2)
			for i := 2; i+1 < len(raw); i += 2 {
				u = append(u, uint16(raw[i])<<8|uint16(raw[i+1]))
			}
			return string(utf16.Decode(u))
		}
		return string(raw)
	}
	if m := regexp.MustCompile(`/Title\s*\(((?:\\.|[^\\)])*)\)`).FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}
