package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/handoverhq/handover/connectors/builtin"
	"github.com/handoverhq/handover/handover/engine"
)

// TestPlaybooksLoad loads every playbook shipped in playbooks/: each must
// parse, and every target's settings must be accepted by its connector.
// (The demo's credential references are resolved by the demo test, which
// has the test estate.)
func TestPlaybooksLoad(t *testing.T) {
	files, err := filepath.Glob("../../playbooks/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d playbooks, want the demo and at least one example", len(files))
	}
	e := &engine.Engine{Registry: builtin.Registry()}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := e.Load(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		})
	}
}
