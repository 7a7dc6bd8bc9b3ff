package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/handoverhq/handover/handover/report"
)

// format1 is a report of format_version 1 as the ssh and ldap connectors
// wrote them (three hosts and a directory), written and signed before the
// format's version 2: its checks say what they prove only in their words.
var format1 = filepath.Join("testdata", "v1")

// TestVerifyFormat1 verifies a format 1 report as it was signed: its
// signatures, journal chain and renderings hold, and it renders again.
func TestVerifyFormat1(t *testing.T) {
	js := filepath.Join(format1, report.JSONFile)
	v, err := verify(t, js, filepath.Join(format1, report.AllowedSignersFile))
	if err != nil {
		t.Fatalf("a format 1 report does not verify: %v", err)
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
	for _, tc := range []struct{ format, file string }{{"html", report.HTMLFile}, {"md", report.MarkdownFile}} {
		got, err := report.Render(r, tc.format, "")
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(format1, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: rendering again differs from the signed file", tc.file)
		}
	}
}
