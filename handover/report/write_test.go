package report_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestReportWriteFollowsNoLink: handover may run as root and write into a
// directory a user can write to. A link the user planted in place of a
// report file is replaced, never written through; one in place of
// report.json is refused like a report already there.
func TestReportWriteFollowsNoLink(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	signer, err := report.LoadSigner(context.Background(), playbook.SigningSettings{Key: f.Key}, "")
	if err != nil {
		t.Fatal(err)
	}
	journalFile := filepath.Join(f.Dir, "run", "journal.jsonl")
	tests := []struct {
		name      string
		link      string // the report file the planted link stands in for
		dangling  bool
		wantError string
	}{
		{"html links to another file", report.HTMLFile, false, ""},
		{"signature links to another file", report.JSONFile + report.SigSuffix, false, ""},
		{"report.json links to another file", report.JSONFile, false, "never overwritten"},
		{"report.json links to no file yet", report.JSONFile, true, "never overwritten"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, victim := t.TempDir(), filepath.Join(t.TempDir(), "victim")
			if !tt.dangling {
				if err := os.WriteFile(victim, []byte("victim"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(victim, filepath.Join(dir, tt.link)); err != nil {
				t.Fatal(err)
			}
			_, err := report.Write(context.Background(), dir, f.Report, journalFile, signer)
			if tt.wantError == "" && err != nil || tt.wantError != "" && (err == nil || !strings.Contains(err.Error(), tt.wantError)) {
				t.Fatalf("Write: %v; want an error saying %q", err, tt.wantError)
			}
			b, err := os.ReadFile(victim)
			switch {
			case tt.dangling && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("the link's target was created: %q, %v", b, err)
			case !tt.dangling && string(b) != "victim":
				t.Errorf("the link's target holds %q (%v), want it untouched", b, err)
			}
			fi, err := os.Lstat(filepath.Join(dir, tt.link))
			if err != nil {
				t.Fatal(err)
			}
			if isLink := fi.Mode()&fs.ModeSymlink != 0; isLink != (tt.wantError != "") {
				t.Errorf("%s is a link: %v; want the link replaced only when the report was written", tt.link, isLink)
			}
		})
	}
}
