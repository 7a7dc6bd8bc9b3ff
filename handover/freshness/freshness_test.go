package freshness_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/freshness"
)

func TestRecordStatus(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		res    *engine.CheckResult
		err    error
		status freshness.Status
		code   int
	}{
		{"clean", &engine.CheckResult{Checked: at}, nil, freshness.Clean, 0},
		{"drift", &engine.CheckResult{Checked: at, Drift: []engine.Drift{{Target: "t", Kind: "admin"}}}, nil, freshness.Drift, 2},
		{"waived only", &engine.CheckResult{Checked: at, Waived: []engine.Drift{{Target: "t", Kind: "agent"}}}, nil, freshness.Clean, 0},
		{"failed", nil, errors.New("baseline: does not verify"), freshness.Failed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := freshness.NewRecord("id", "pb.yaml", at, tt.res, tt.err)
			if r.Status != tt.status || r.ExitCode() != tt.code || r.Drift == nil {
				t.Errorf("status %s exit %d drift %v, want %s %d and a list", r.Status, r.ExitCode(), r.Drift, tt.status, tt.code)
			}
		})
	}
}

func TestHistoryKeepsTheLatest(t *testing.T) {
	h := freshness.History{Dir: t.TempDir(), Keep: 3}
	for i := range 5 {
		at := time.Date(2026, 12, 2, 10, i, 0, 0, time.UTC)
		if err := h.Add(freshness.NewRecord(at.Format("20060102T150405Z")+fmt.Sprintf("-%06d", i), "pb.yaml", at, &engine.CheckResult{Checked: at}, nil)); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := h.List(0)
	if err != nil || len(rs) != 3 || rs[0].Checked.Minute() != 4 || rs[2].Checked.Minute() != 2 {
		t.Fatalf("history: %d records, %v", len(rs), err)
	}
	if _, err := h.Get(rs[1].ID); err != nil {
		t.Error(err)
	}
	for _, id := range []string{"../x", "..", "", "a/b"} {
		if _, err := h.Get(id); err == nil {
			t.Errorf("Get(%q) read a file", id)
		}
	}
}

// TestTextfileOfAFailedCheck: the metrics of a check that failed say so.
func TestTextfileOfAFailedCheck(t *testing.T) {
	m := freshness.NewMetrics()
	m.Observe(freshness.NewRecord("id", "pb.yaml", time.Now(), nil, errors.New("sealed")))
	f := filepath.Join(t.TempDir(), "h.prom")
	if err := m.WriteTextfile(f); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	if !strings.Contains(string(b), `handover_check_success{playbook="pb.yaml"} 0`) {
		t.Errorf("textfile:\n%s", b)
	}
}
