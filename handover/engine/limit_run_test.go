package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/engine"
)

// TestLimitNarrowsTheRun: under --limit a run reads, plans and changes only
// what the limit matches, its plan says so, a plan made under one limit is
// not applied under another, and a limit matching nothing is an error.
func TestLimitNarrowsTheRun(t *testing.T) {
	dir, pb := setup(t, "", []string{"root"}, []string{"SHA256:provider"})
	// A second target, with its own state.
	if err := os.WriteFile(pb, []byte(playbookText(dir, "  - name: other\n    type: fake\n    file: "+filepath.Join(dir, "other.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFakeState(filepath.Join(dir, "other.json"), []string{"root"}, []string{"SHA256:provider"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	load := func(pattern string) *engine.Session {
		t.Helper()
		s, err := newEngine().Load(ctx, pb)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if pattern != "" {
			l, err := engine.ParseLimit(pattern)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetLimit(l); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}

	s := load("other")
	p := s.Plan(s.Inventory(ctx, 0))
	if p.Limit != "other" {
		t.Errorf("plan.Limit = %q", p.Limit)
	}
	for _, ch := range p.Changes {
		if ch.Target != "other" {
			t.Errorf("a change outside the limit: %+v", ch)
		}
	}
	if len(p.Changes) == 0 {
		t.Fatal("the limited plan is empty")
	}

	// The limited plan is refused by an unlimited run, before any change.
	if _, err := load("").Run(ctx, engine.RunOptions{Plan: p}); err == nil || !strings.Contains(err.Error(), `made with --limit "other" and this run is without --limit`) {
		t.Fatalf("a limited plan applied without the limit: %v", err)
	}
	if st, _ := readFakeState(filepath.Join(dir, "other.json")); st.Passwords["root"] != "handed-over-root" {
		t.Error("the refused plan changed the target")
	}

	res, err := load("other").Run(ctx, engine.RunOptions{Plan: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) == 0 {
		t.Fatal("the limited run did nothing")
	}
	if st, _ := readFakeState(filepath.Join(dir, "box.json")); st.Passwords["root"] != "handed-over-root" || len(st.ProviderKeys) != 1 {
		t.Errorf("the run changed a target outside its limit: %+v", st)
	}
	if st, _ := readFakeState(filepath.Join(dir, "other.json")); st.Passwords["root"] == "handed-over-root" {
		t.Error("the run did not rotate the limited target's password")
	}

	s2, err := newEngine().Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	l, _ := engine.ParseLimit("nowhere*")
	if err := s2.SetLimit(l); err == nil || !strings.Contains(err.Error(), "matches no target or system") {
		t.Errorf("a limit matching nothing: %v", err)
	}
}
