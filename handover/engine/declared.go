package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
)

// AttestationsFile is the attestation journal's name in the state
// directory: one hash-chained journal per playbook, kept across runs.
const AttestationsFile = "attestations.jsonl"

// AttestationsPath is the playbook's attestation journal.
func (s *Session) AttestationsPath() string {
	return filepath.Join(s.StateDir(), AttestationsFile)
}

// Attestation is what `handover attest` records: who says a declared
// item's step was done, when it was done, what was done, and optionally a
// file as evidence (hashed, never copied).
type Attestation struct {
	Item     string
	By       string
	Note     string
	Done     time.Time // when the step was done; zero: now
	Evidence string    // path of a file, or ""
	// Renew records a new attestation for an item already attested (a
	// new rotation after its period).
	Renew bool
}

// Attest records an attestation in the playbook's attestation journal,
// under the state directory's lock. It refuses an item the playbook does
// not declare, an item whose action is "nothing", and an item already
// attested unless Renew is set; nothing is then recorded.
func (s *Session) Attest(ctx context.Context, a Attestation) (journal.Record, error) {
	now := s.engine.now().UTC()
	item, ok := s.declared(a.Item)
	if !ok {
		var ids []string
		for _, d := range s.Playbook.Declared {
			ids = append(ids, d.ID)
		}
		if len(ids) == 0 {
			return journal.Record{}, fmt.Errorf("%s declares no item (add a declared: section)", s.Playbook.File)
		}
		return journal.Record{}, fmt.Errorf("%s declares no item %q%s (declared: %s)", s.Playbook.File, a.Item, playbook.Suggest(a.Item, ids), strings.Join(ids, ", "))
	}
	if item.Action == playbook.DeclaredNothing {
		return journal.Record{}, fmt.Errorf("declared item %q: its action is nothing, so there is no step to attest", item.ID)
	}
	if strings.TrimSpace(a.By) == "" {
		return journal.Record{}, errors.New("attest: --by names the person who attests (who did the step, or checked it was done)")
	}
	if strings.TrimSpace(a.Note) == "" {
		return journal.Record{}, errors.New("attest: --note says what was done, in writing")
	}
	done := a.Done
	if done.IsZero() {
		done = now
	}
	if done.After(now) {
		return journal.Record{}, fmt.Errorf("attest: the step cannot have been done on %s, after today", done.Format(time.DateOnly))
	}
	detail := map[string]string{
		"by": a.By, "note": a.Note, "done": done.UTC().Format(time.RFC3339),
		"kind": item.Kind, "declared_action": item.Action,
	}
	if a.Evidence != "" {
		sum, size, err := digestFile(a.Evidence)
		if err != nil {
			return journal.Record{}, fmt.Errorf("attest: evidence: %w", err)
		}
		detail["evidence"] = filepath.Base(a.Evidence)
		detail["evidence_sha256"] = sum
		detail["evidence_bytes"] = fmt.Sprint(size)
	}

	unlock, err := s.lock("attest")
	if err != nil {
		return journal.Record{}, err
	}
	defer unlock()
	j, recs, err := journal.Extend(s.AttestationsPath(), "attest-"+now.Format("20060102T150405Z"), s.Operator(), s.engine.now)
	if err != nil {
		return journal.Record{}, fmt.Errorf("attestation journal: %w (nothing was recorded)", err)
	}
	defer j.Close()
	if prev := latestAttestation(recs, item.ID); prev != nil && !a.Renew {
		return journal.Record{}, fmt.Errorf("declared item %q is already attested by %s (done %s, journal record %d): nothing recorded; pass --renew to record a new step (a new rotation)",
			item.ID, prev.Detail["by"], day(prev.Detail["done"]), prev.Seq)
	}
	if err := ctx.Err(); err != nil {
		return journal.Record{}, err
	}
	return j.Append(journal.Record{Kind: journal.Attested, Object: item.ID, Action: item.Action, Result: "attested", Detail: detail})
}

func (s *Session) declared(id string) (playbook.Declared, bool) {
	for _, d := range s.Playbook.Declared {
		if d.ID == id {
			return d, true
		}
	}
	return playbook.Declared{}, false
}

func digestFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// latestAttestation is the last attestation record of item, or nil.
func latestAttestation(recs []journal.Record, item string) *journal.Record {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == journal.Attested && recs[i].Object == item {
			return &recs[i]
		}
	}
	return nil
}

func day(rfc3339 string) string {
	if t, err := time.Parse(time.RFC3339, rfc3339); err == nil {
		return t.Format(time.DateOnly)
	}
	return rfc3339
}

// ReadAttestations reads and verifies the playbook's attestation journal.
// A journal that does not exist yet is empty; a broken one is returned
// with its Error set, and its attestations count for nothing.
func (s *Session) ReadAttestations() *report.Attestations {
	out := &report.Attestations{File: AttestationsFile, Head: journal.Genesis}
	recs, head, err := journal.VerifyFile(s.AttestationsPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		out.Error = err.Error()
		out.Records = recs
	default:
		out.Records, out.Head = recs, head
	}
	return out
}

// DeclaredStatus says where each declared item stands at now, from the
// attestation journal.
func (s *Session) DeclaredStatus(att *report.Attestations, now time.Time) []report.DeclaredItem {
	var out []report.DeclaredItem
	for _, d := range s.Playbook.Declared {
		it := report.DeclaredItem{Item: d}
		var rec *journal.Record
		if att.Error == "" {
			rec = latestAttestation(att.Records, d.ID)
		}
		if rec != nil {
			it.Attestation = attestationOf(*rec)
		}
		switch {
		case it.Attestation != nil && d.Rotation > 0 && now.Sub(it.Attestation.Done) > d.Rotation:
			it.Status = report.DeclaredStale
			it.Detail = fmt.Sprintf("attested as done on %s, longer ago than its rotation period (%s): due again", it.Attestation.Done.Format(time.DateOnly), days(d.Rotation))
		case it.Attestation != nil:
			it.Status = report.DeclaredDone
		case d.Waiver != nil && now.Before(d.Waiver.Expires.AddDate(0, 0, 1)):
			it.Status = report.DeclaredWaived
			it.Detail = fmt.Sprintf("waived until %s by %s: %s", d.Waiver.Expires.Format(time.DateOnly), d.Waiver.Approver, d.Waiver.Justification)
		case d.Action == playbook.DeclaredNothing:
			it.Status = report.DeclaredNotRequired
		default:
			it.Status = report.DeclaredAwaiting
			it.Detail = fmt.Sprintf("%s: no written attestation yet (handover attest %s %s --by NAME --note TEXT)", d.Action, s.Playbook.File, d.ID)
			if d.Waiver != nil {
				it.Detail += fmt.Sprintf("; its waiver expired on %s", d.Waiver.Expires.Format(time.DateOnly))
			}
			if att.Error != "" {
				it.Detail += "; the attestation journal is broken: " + att.Error
			}
		}
		out = append(out, it)
	}
	return out
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func attestationOf(r journal.Record) *report.Attestation {
	a := &report.Attestation{
		By: r.Detail["by"], Note: r.Detail["note"], Evidence: r.Detail["evidence"], EvidenceSHA256: r.Detail["evidence_sha256"],
		Recorded: r.Time, Operator: r.Operator, Seq: r.Seq, Hash: r.Hash,
	}
	if t, err := time.Parse(time.RFC3339, r.Detail["done"]); err == nil {
		a.Done = t.UTC()
	}
	return a
}

// completeness counts every planned change and every declared item.
func completeness(res *Result, items []report.DeclaredItem) *report.Completeness {
	c := &report.Completeness{}
	// This run's changes: an earlier run's change that recovery rolled
	// back is planned again, so it is counted there.
	for _, a := range res.Actions {
		c.Items++
		switch {
		case a.Result.OK() && a.Verified:
			c.Done++
		default:
			c.Failed++
			c.Missing = append(c.Missing, fmt.Sprintf("%s/%s %s %s: %s, verified %v", a.Change.Target, a.Change.System, a.Change.Action, a.Change.Object, a.Result, a.Verified))
		}
	}
	if res.Plan != nil {
		c.Items += len(res.Plan.Waived)
		c.Waived += len(res.Plan.Waived)
		for _, p := range res.Plan.Problems {
			c.Items++
			c.Failed++
			c.Missing = append(c.Missing, fmt.Sprintf("%s/%s not covered: %s", p.Target, p.System, p.Error))
		}
	}
	if res.Plan != nil {
		// The steps a connector saw but could not make: awaiting a person.
		for _, m := range res.Plan.Manual {
			if m.Target == "" {
				continue
			}
			c.Items++
			c.Awaiting++
			c.Missing = append(c.Missing, fmt.Sprintf("%s manual step %s (%s): awaiting a person, then a declared item %s attested", m.Target, m.Item, m.Name, m.Item))
		}
	}
	for _, it := range items {
		c.Items++
		switch it.Status {
		case report.DeclaredDone, report.DeclaredNotRequired:
			c.Done++
		case report.DeclaredWaived:
			c.Waived++
		case report.DeclaredStale:
			c.Stale++
			c.Missing = append(c.Missing, fmt.Sprintf("declared %s (%s): %s", it.Item.ID, it.Item.Name, it.Detail))
		default:
			c.Awaiting++
			c.Missing = append(c.Missing, fmt.Sprintf("declared %s (%s): %s awaiting written attestation", it.Item.ID, it.Item.Name, it.Item.Action))
		}
	}
	slices.Sort(c.Missing)
	c.Complete = c.Done+c.Waived == c.Items
	return c
}

// checkDeclared is the freshness of the declared items: one whose
// attestation is older than its rotation period, or that was never
// attested (and is not waived), has drifted.
func (s *Session) checkDeclared(now time.Time) []Drift {
	if len(s.Playbook.Declared) == 0 {
		return nil
	}
	att := s.ReadAttestations()
	var out []Drift
	if att.Error != "" {
		out = append(out, Drift{Target: "declared", Kind: "attestations-broken", Object: att.File, Detail: att.Error})
	}
	for _, it := range s.DeclaredStatus(att, now) {
		switch it.Status {
		case report.DeclaredStale:
			out = append(out, Drift{Target: "declared", System: it.Item.Kind, Kind: "attestation-age", Object: it.Item.ID, Detail: it.Detail})
		case report.DeclaredAwaiting:
			out = append(out, Drift{Target: "declared", System: it.Item.Kind, Kind: "attestation-missing", Object: it.Item.ID, Detail: it.Detail})
		}
	}
	return out
}

// manualSteps are the declared items' steps as the plan lists them, with
// where each stands at now. Items whose action is nothing are left out.
func (s *Session) manualSteps(now time.Time) []plan.Manual {
	if len(s.Playbook.Declared) == 0 {
		return nil
	}
	var out []plan.Manual
	for _, it := range s.DeclaredStatus(s.ReadAttestations(), now) {
		if it.Status == report.DeclaredNotRequired {
			continue
		}
		m := plan.Manual{Item: it.Item.ID, Kind: it.Item.Kind, Name: it.Item.Name, Owner: it.Item.Owner, Action: it.Item.Action, Status: string(it.Status), Detail: it.Detail}
		if it.Attestation != nil && it.Status == report.DeclaredDone {
			m.Detail = fmt.Sprintf("attested by %s, done %s: %s", it.Attestation.By, it.Attestation.Done.Format(time.DateOnly), it.Attestation.Note)
		}
		out = append(out, m)
	}
	return out
}
