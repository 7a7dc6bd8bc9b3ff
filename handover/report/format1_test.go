package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/handoverhq/handover/handover/plan"
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
	v, err := verify(t, js, report.TrustAllowedSigners(filepath.Join(format1, report.AllowedSignersFile)))
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
	// Its checks' words give them their kinds: the proof columns are
	// filled as format 1 filled them.
	rows := proofColumns(t, r)
	for i, a := range r.Actions {
		want := [3]string{"na", "na", "na"}
		switch {
		case !a.Verified:
		case a.Change.Action == plan.RotatePassword:
			want = [3]string{"yes", "yes", "na"}
		default:
			want = [3]string{"na", "na", "yes"}
		}
		if got := rows[i+1]; got != want {
			t.Errorf("action %d (%s): proof columns %v, want %v", i+1, a.Change.Action, got, want)
		}
	}
}
