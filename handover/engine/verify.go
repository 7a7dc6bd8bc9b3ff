package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

// verifySystem lets the connector prove the system's changes by an
// independent re-observation and attaches each check to its action. A
// change other than a credential is proven only when every check of it
// holds and there is at least one.
func (r *runner) verifySystem(ctx context.Context, t *Target, actions []report.Action, after connector.Observation) {
	var done []connector.Done
	for _, a := range actions {
		if a.Result == plan.Applied {
			done = append(done, connector.Done{Change: a.Change, At: a.Started})
		}
	}
	if len(done) == 0 {
		return
	}
	byID := map[string]*report.Action{}
	for i := range actions {
		byID[actions[i].Change.ID] = &actions[i]
	}
	vf, ok := t.Impl.(connector.Verifier)
	if !ok {
		// Credential changes were proven by login; the rest rests on the
		// connector's own outcome, which proves nothing.
		for _, d := range done {
			if !isCredential(d.Change.Action) {
				byID[d.Change.ID].Verified = false
			}
		}
		return
	}
	system := done[0].Change.System
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout(len(done)))
	defer cancel()
	checks, err := vf.Verify(vctx, system, done, after)
	rec := journal.Record{Kind: journal.Verified, Target: t.Spec.Name, System: system, Result: plan.Verified}
	if err != nil {
		rec.Result, rec.Error = plan.Failed, err.Error()
	}
	okByChange := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range checks {
		if c.At.IsZero() {
			c.At = r.now()
		}
		if !c.Kind.Known() {
			c.OK, c.Detail = false, strings.TrimSpace(fmt.Sprintf("the connector gave this check no known kind (%q) %s", c.Kind, c.Detail))
		}
		a := byID[c.Change]
		if a == nil {
			continue
		}
		a.Verification = append(a.Verification, c)
		if !seen[c.Change] {
			okByChange[c.Change] = true
			seen[c.Change] = true
		}
		// A note says how a proof was made; it proves nothing itself.
		if c.Kind != connector.Note {
			okByChange[c.Change] = okByChange[c.Change] && c.OK
		}
	}
	n, bad := 0, 0
	for _, d := range done {
		ch := d.Change
		a := byID[ch.ID]
		if isCredential(ch.Action) {
			if seen[ch.ID] {
				a.Verified = a.Verified && okByChange[ch.ID]
			}
			continue
		}
		a.Verified = err == nil && seen[ch.ID] && okByChange[ch.ID]
		if err != nil {
			a.Verification = append(a.Verification, connector.Check{Change: ch.ID, Kind: connector.Absent, What: "re-observation of " + system, OK: false, Detail: err.Error(), At: r.now()})
		}
		n++
		if !a.Verified {
			bad++
		}
	}
	rec.Detail = map[string]string{"checks": strconv.Itoa(len(checks)), "changes": strconv.Itoa(n), "unproven": strconv.Itoa(bad)}
	if bad > 0 && rec.Result == plan.Verified {
		rec.Result = plan.Unproven
	}
	_ = r.record(rec)
}
