package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/handoverhq/handover/handover/report"
)

// format2 is a report of format_version 2 (three hosts, a directory, a
// mail server and a vault, with links), written and signed by the build
// before format 3 added the declared items and cloud services.
var format2 = filepath.Join("testdata", "v2")

// TestVerifyFormat2 verifies a format 2 report as it was signed: what
// format 3 added to the renderings is not rendered for it.
func TestVerifyFormat2(t *testing.T) {
	js := filepath.Join(format2, report.JSONFile)
	v, err := verify(t, js, report.TrustAllowedSigners(filepath.Join(format2, report.AllowedSignersFile)))
	if err != nil {
		t.Fatalf("a format 2 report does not verify: %v", err)
	}
	if len(v.Files) != 4 {
		t.Errorf("checked %d files, want 4", len(v.Files))
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.FormatVersion != 2 {
		t.Fatalf("format_version %d", r.FormatVersion)
	}
	for _, tc := range []struct{ format, file string }{{"html", report.HTMLFile}, {"md", report.MarkdownFile}} {
		got, err := report.Render(r, tc.format, "")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(format2, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rendering again differs from the signed file", tc.file)
		}
	}
}
