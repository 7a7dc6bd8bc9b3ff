package report_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// actionRow matches a row of the actions table: its number and the pills
// of its three proof columns (new works, old rejected, absent).
var actionRow = regexp.MustCompile(`<tr><td class="num">(\d+)</td><td class="mono">[^<]*</td>.*?<td><span class="pill (\w+)">[^<]*</span></td><td><span class="pill (\w+)">[^<]*</span></td><td><span class="pill (\w+)">[^<]*</span></td></tr>`)

// proofColumns renders r's HTML and returns each action row's proof
// column classes ("yes", "no", "na"), by action number.
func proofColumns(t *testing.T, r *report.Report) map[int][3]string {
	t.Helper()
	b, err := report.Render(r, "html", "en")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int][3]string{}
	for _, m := range actionRow.FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		rows[n] = [3]string{string(m[2]), string(m[3]), string(m[4])}
	}
	if len(rows) != len(r.Actions) {
		t.Fatalf("found %d action rows, want %d", len(rows), len(r.Actions))
	}
	return rows
}

// TestProofColumnsByKind: every verified action fills the proof columns
// its kind of change calls for, from its checks' kinds whatever their
// words: a rotation shows the new credential works and the old one is
// rejected, a removal (an agent's included) shows it is absent.
func TestProofColumnsByKind(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	rows := proofColumns(t, f.Report)
	want := map[plan.Action][3]string{
		plan.RotatePassword:   {"yes", "yes", "na"},
		plan.RemoveAgent:      {"na", "na", "yes"},
		plan.RemoveKey:        {"na", "na", "yes"},
		plan.LockAccount:      {"na", "na", "yes"},
		plan.RemoveMembership: {"na", "na", "yes"},
		plan.RemoveForward:    {"na", "na", "yes"},
		plan.RevokeToken:      {"na", "na", "yes"},
	}
	seen := map[plan.Action]bool{}
	for i, a := range f.Report.Actions {
		if !a.Verified {
			continue
		}
		w, ok := want[a.Change.Action]
		if !ok {
			t.Errorf("action %d: no expectation for %s", i+1, a.Change.Action)
			continue
		}
		seen[a.Change.Action] = true
		if got := rows[i+1]; got != w {
			t.Errorf("action %d (%s %s): proof columns %v, want %v", i+1, a.Change.Action, a.Change.Object, got, w)
		}
	}
	for _, act := range []plan.Action{plan.RotatePassword, plan.RemoveAgent} {
		if !seen[act] {
			t.Errorf("the fixture has no verified %s to check", act)
		}
	}
}

// TestProofColumnFailedCheck: a column says "no" as soon as one check of
// its kind failed, and a check of another kind is listed, not counted.
func TestProofColumnFailedCheck(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	r := *f.Report
	r.Actions = append([]report.Action{}, r.Actions...)
	i := 0 // the first action is a rotation
	if r.Actions[i].Change.Action != plan.RotatePassword {
		t.Fatalf("action 1 is %s, want a rotation", r.Actions[i].Change.Action)
	}
	a := r.Actions[i]
	a.Verification = append(append([]connector.Check{}, a.Verification...),
		connector.Check{Change: a.Change.ID, Kind: connector.NewWorks, What: "second login", OK: false},
		connector.Check{Change: a.Change.ID, Kind: connector.State, What: "new credential works (as its words say)", OK: true},
	)
	r.Actions[i] = a
	if got, want := proofColumns(t, &r)[i+1], [3]string{"no", "yes", "na"}; got != want {
		t.Errorf("proof columns %v, want %v", got, want)
	}
}
