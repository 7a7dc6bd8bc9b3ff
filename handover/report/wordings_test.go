package report_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/frenchtest"
)

// toolWordings are the English wordings the connectors and the engine
// write into a report, read from their code.
func toolWordings(t *testing.T) []frenchtest.Wording {
	t.Helper()
	dirs, err := frenchtest.Dirs(filepath.Join("..", "..", "connectors"))
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, filepath.Join("..", "connector"), filepath.Join("..", "engine"))
	ws, err := frenchtest.Wordings(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestFrenchWordingsOfTheCode reads from the code every English wording
// the connectors and the engine write into a report (a finding's summary,
// the step left to do by hand, reasons, a change's before and after, a
// check, an error, a deviation), fills its values with samples and
// translates it as a French rendering does: it must read as the tool's
// phrases, keep every value, and leave no English. A wording added to the
// code without its French fails here.
func TestFrenchWordingsOfTheCode(t *testing.T) {
	ws := toolWordings(t)
	t.Logf("%d wordings read from the code", len(ws))
	if len(ws) < 400 {
		t.Fatalf("only %d wordings read from the code", len(ws))
	}
	for _, w := range ws {
		if notPrinted(w) {
			continue
		}
		text, samples := frenchtest.Fill(w.Format)
		out, score, unknown := report.ToolRead("fr", text)
		unknown = slices.DeleteFunc(unknown, func(u string) bool {
			return slices.Contains(samples, strings.Trim(u, `"`))
		})
		var bad []string
		if len(unknown) > 0 {
			bad = append(bad, "no French for "+strings.Join(quoteAll(unknown), ", "))
		}
		// An error's words are often few and plain ("read %s: %w"): a
		// loose wording of the tool's ("%s %s: %s") may read it, leaving
		// them in English. Its own wording must read every one of them.
		if own := frenchtest.OwnText(w.Format); w.Sink == frenchtest.ErrorSink && len(unknown) == 0 && score < own {
			bad = append(bad, fmt.Sprintf("no wording of its own (the French reads %d of its %d characters)", score, own))
		}
		if leaks := frenchtest.Leaks(out, frenchtest.Fragments(w.Format)); len(leaks) > 0 {
			bad = append(bad, "English left: "+strings.Join(quoteAll(leaks), ", "))
		}
		if en := frenchtest.EnglishWords(out); len(en) > 0 {
			bad = append(bad, "English words: "+strings.Join(en, " "))
		}
		for _, s := range samples {
			if !strings.Contains(out, s) {
				bad = append(bad, "lost the value "+s)
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s (%s) %q\n\tin French: %q\n\t%s", w.Pos, w.Sink, text, out, strings.Join(bad, "; "))
		}
	}
}

// notPrinted tells the wordings the code reads that are no phrases to
// translate: the names of the /proc fields an agent's process was
// recognised by (comm, exe, cmdline...), printed as they are, and the
// engine's progress line, which no report prints.
func notPrinted(w frenchtest.Wording) bool {
	switch {
	case strings.HasSuffix(w.Pos[:strings.LastIndex(w.Pos, ":")], "engine/session.go") && w.Sink == "Detail":
		return true
	case strings.Contains(w.Pos, "ssh/agents.go") && w.Sink == "why":
		return slices.Contains([]string{"comm", "exe", "cmdline", "cwd", "fd", "maps", "cgroup"}, w.Format)
	}
	return false
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = `"` + s + `"`
	}
	return out
}
