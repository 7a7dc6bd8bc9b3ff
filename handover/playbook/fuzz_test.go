package playbook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/handoverhq/handover/handover/playbook"
)

// seedPlaybooks returns the example playbooks and those of the CLI's
// script tests.
func seedPlaybooks(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	examples, err := filepath.Glob(filepath.Join("..", "..", "playbooks", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range examples {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	scripts, err := filepath.Glob(filepath.Join("..", "..", "cmd", "handover", "testdata", "script", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range scripts {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if strings.HasSuffix(f.Name, ".yaml") {
				seeds = append(seeds, f.Data)
			}
		}
	}
	if len(examples) == 0 || len(scripts) == 0 {
		t.Fatalf("no seed playbooks: %d examples, %d scripts", len(examples), len(scripts))
	}
	return seeds
}

// FuzzParse: no input makes Parse panic, every diagnostic names the file
// and comes in order, and a playbook without diagnostics has what every
// command relies on.
func FuzzParse(f *testing.F) {
	for _, s := range seedPlaybooks(f) {
		f.Add(s)
	}
	f.Add([]byte(base))
	f.Add([]byte(complete))
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, d := playbook.Parse("f.yaml", data)
		diags := d.Diagnostics()
		for i, dg := range diags {
			if dg.Pos.File != "f.yaml" {
				t.Errorf("diagnostic %v names another file", dg)
			}
			if i > 0 && less(dg.Pos, diags[i-1].Pos) {
				t.Errorf("diagnostics out of order: %v before %v", diags[i-1], dg)
			}
		}
		if len(diags) != 0 {
			return
		}
		if pb.Version != playbook.SchemaVersion || len(pb.Targets) == 0 || pb.Handover.Client.Name == "" || pb.State == "" || pb.Report.Dir == "" {
			t.Errorf("a playbook without diagnostics lacks required values: %+v", pb)
		}
		for _, tg := range pb.Targets {
			if tg.Name == "" || tg.Type == "" || tg.Settings == nil {
				t.Errorf("target %+v lacks its name, type or settings", tg)
			}
		}
	})
}

func less(a, b playbook.Pos) bool {
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}

func TestSeedPlaybooksParse(t *testing.T) {
	// The examples are valid playbooks (target settings aside, which
	// their connectors check).
	examples, err := filepath.Glob(filepath.Join("..", "..", "playbooks", "*.yaml"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example playbooks: %v", err)
	}
	for _, p := range examples {
		pb, d, err := playbook.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if diags := d.Diagnostics(); len(diags) != 0 {
			t.Errorf("%s:\n%v", p, diags)
		}
		if len(pb.Targets) == 0 {
			t.Errorf("%s has no target", p)
		}
	}
}
