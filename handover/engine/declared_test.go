package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/report"
)

const declaredSection = `declared:
  - {id: pare-feu, kind: firewall, name: Pare-feu SN310, owner: DSI, credential: "KeePass DSI", provider_knew: true, action: rotate, rotation: 365d}
  - {id: wifi, kind: wifi, name: Wi-Fi agents, owner: DSI, provider_knew: true, action: rotate, rotation: 180d}
  - {id: registrar, kind: registrar, name: Compte Gandi, owner: Secrétariat, provider_knew: true, action: transfer-ownership,
     waiver: {justification: "contrat au nom du prestataire jusqu'au 31/12", approver: Maire, expires: 2027-01-31}}
  - {id: m365, kind: m365-tenant, name: Tenant Microsoft 365, owner: DSI, provider_knew: true, action: revoke-provider-account}
  - {id: licences, kind: licence, name: Licences bureautiques, owner: DSI, provider_knew: false, action: nothing}
`

func clockAt(t *time.Time) func() time.Time { return func() time.Time { return *t } }

func TestDeclaredAttestedAndReported(t *testing.T) {
	dir, pb := setup(t, declaredSection, []string{"root"}, nil)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := newEngine()
	e.Now = clockAt(&now)
	ctx := context.Background()
	s, err := e.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// The plan lists every step but the "nothing" one, none attested yet.
	p := s.Plan(s.Inventory(ctx, 1))
	if len(p.Manual) != 4 || p.Manual[0].Item != "pare-feu" || p.Manual[0].Status != string(report.DeclaredAwaiting) || p.Manual[2].Status != string(report.DeclaredWaived) {
		t.Fatalf("manual steps: %+v", p.Manual)
	}

	evidence := filepath.Join(dir, "pv-pare-feu.pdf")
	os.WriteFile(evidence, []byte("procès-verbal signé"), 0o600)
	sum := sha256.Sum256([]byte("procès-verbal signé"))
	if _, err := s.Attest(ctx, engine.Attestation{Item: "pare-feu", By: "Jeanne Martin (DSI)", Note: "mot de passe admin changé, compte presta supprimé", Evidence: evidence, Done: now.AddDate(0, 0, -1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attest(ctx, engine.Attestation{Item: "wifi", By: "Jeanne Martin (DSI)", Note: "clé WPA2 changée sur les 3 bornes"}); err != nil {
		t.Fatal(err)
	}

	// Refusals record nothing.
	for _, bad := range []struct {
		a    engine.Attestation
		want string
	}{
		{engine.Attestation{Item: "pare-few", By: "x", Note: "y"}, `declares no item "pare-few" (did you mean "pare-feu"?)`},
		{engine.Attestation{Item: "wifi", By: "x", Note: "again"}, `"wifi" is already attested by Jeanne Martin (DSI)`},
		{engine.Attestation{Item: "licences", By: "x", Note: "y"}, "its action is nothing"},
		{engine.Attestation{Item: "m365", By: "", Note: "y"}, "--by names the person"},
		{engine.Attestation{Item: "m365", By: "x", Note: "y", Done: now.AddDate(0, 0, 2)}, "after today"},
		{engine.Attestation{Item: "m365", By: "x", Note: "y", Evidence: filepath.Join(dir, "absent.pdf")}, "evidence"},
	} {
		if _, err := s.Attest(ctx, bad.a); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("attest %+v: error %v, want %q", bad.a, err, bad.want)
		}
	}
	recs, head, err := journal.VerifyFile(s.AttestationsPath())
	if err != nil || len(recs) != 2 {
		t.Fatalf("attestation journal: %d records, %v", len(recs), err)
	}
	if recs[0].Detail["evidence_sha256"] != hex.EncodeToString(sum[:]) || recs[0].Detail["by"] != "Jeanne Martin (DSI)" || recs[0].Detail["done"] != "2026-11-22T10:00:00Z" {
		t.Errorf("record: %+v", recs[0].Detail)
	}

	res, err := s.Run(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	st := map[string]report.DeclaredStatus{}
	for _, it := range r.Declared {
		st[it.Item.ID] = it.Status
	}
	want := map[string]report.DeclaredStatus{"pare-feu": report.DeclaredDone, "wifi": report.DeclaredDone, "registrar": report.DeclaredWaived, "m365": report.DeclaredAwaiting, "licences": report.DeclaredNotRequired}
	for id, w := range want {
		if st[id] != w {
			t.Errorf("%s: status %s, want %s", id, st[id], w)
		}
	}
	if r.Declared[0].Attestation == nil || r.Declared[0].Attestation.EvidenceSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("pare-feu attestation: %+v", r.Declared[0].Attestation)
	}
	if r.Attestations == nil || r.Attestations.Head != head || len(r.Attestations.Records) != 2 {
		t.Errorf("attestations in the report: %+v", r.Attestations)
	}
	c := r.Completeness
	// One rotation of the fake target plus five declared items.
	if c == nil || c.Items != len(res.Actions)+5 || c.Done != len(res.Actions)+3 || c.Awaiting != 1 || c.Waived != 1 || c.Complete {
		t.Errorf("completeness: %+v (actions %d)", c, len(res.Actions))
	}
	if len(c.Missing) != 1 || !strings.Contains(c.Missing[0], "m365") {
		t.Errorf("missing: %v", c.Missing)
	}
	var residual bool
	for _, x := range r.Deviations.Residual {
		if strings.HasPrefix(x, "declared m365") {
			residual = true
		}
	}
	if !residual {
		t.Errorf("the awaiting step is no deviation: %v", r.Deviations.Residual)
	}
	// The run's journal pins the attestation journal's head.
	var pinned bool
	for _, rec := range r.Journal.Records {
		if rec.Detail["event"] == "attestations" && rec.Detail["head"] == head {
			pinned = true
		}
	}
	if !pinned {
		t.Error("the run's journal does not pin the attestation journal's head")
	}

	// Seven months later the Wi-Fi key is due again: check says so, says
	// the M365 step was never attested, and that the registrar's waiver
	// has expired.
	now = now.AddDate(0, 7, 0)
	cr, err := s.Check(ctx, engine.CheckOptions{Parallel: 1, NoBaseline: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, d := range cr.Drift {
		if d.Target == "declared" {
			kinds[d.Object] = d.Kind
		}
	}
	if kinds["wifi"] != "attestation-age" || kinds["m365"] != "attestation-missing" || kinds["registrar"] != "attestation-missing" || kinds["pare-feu"] != "" || len(kinds) != 3 {
		t.Errorf("check drift: %v", kinds)
	}
	// A renewal is then accepted.
	if _, err := s.Attest(ctx, engine.Attestation{Item: "wifi", By: "Jeanne Martin (DSI)", Note: "clé WPA2 changée", Renew: true}); err != nil {
		t.Fatal(err)
	}
}

// A tampered attestation journal counts for nothing, takes no new record,
// and is a failure in the report.
func TestDeclaredTamperedJournal(t *testing.T) {
	_, pb := setup(t, declaredSection, []string{"root"}, nil)
	e := newEngine()
	ctx := context.Background()
	s, err := e.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Attest(ctx, engine.Attestation{Item: "wifi", By: "Jeanne", Note: "fait"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.AttestationsPath())
	os.WriteFile(s.AttestationsPath(), []byte(strings.Replace(string(b), "Jeanne", "Jeannot", 1)), 0o600)
	if _, err := s.Attest(ctx, engine.Attestation{Item: "m365", By: "Jeanne", Note: "fait"}); err == nil || !strings.Contains(err.Error(), "nothing was recorded") {
		t.Errorf("attest on a tampered journal: %v", err)
	}
	res, err := s.Run(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Attestations.Error == "" || res.Report.Declared[1].Status != report.DeclaredAwaiting {
		t.Errorf("tampered journal read as good: %+v %+v", res.Report.Attestations, res.Report.Declared[1])
	}
	if len(res.Report.Deviations.Failures) == 0 {
		t.Error("a tampered attestation journal is no failure in the report")
	}
}

// A saved plan's manual steps read as they stand when it is applied: a
// step attested after the plan was made is done.
func TestSavedPlanManualStepsCurrent(t *testing.T) {
	_, pb := setup(t, declaredSection, []string{"root"}, nil)
	e := newEngine()
	ctx := context.Background()
	s, err := e.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	saved := s.Plan(s.Inventory(ctx, 1))
	if _, err := s.Attest(ctx, engine.Attestation{Item: "pare-feu", By: "Jeanne", Note: "fait"}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(ctx, engine.RunOptions{Plan: saved})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Plan.Manual[0]; m.Item != "pare-feu" || m.Status != string(report.DeclaredDone) {
		t.Errorf("manual step: %+v", m)
	}
}

// TestConnectorManualStep: a step a connector sees but cannot make is a
// manual step of the plan (with its target), a deviation of the run's
// report and an awaiting item of its completeness; once the playbook
// declares an item of the same id and it is attested, that item stands
// for the step.
func TestConnectorManualStep(t *testing.T) {
	_, pb := setup(t, "    manual_step: box.keys\n", []string{"root"}, nil)
	ctx := context.Background()
	s, err := newEngine().Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Plan(s.Inventory(ctx, 1))
	s.Close()
	if len(p.Manual) != 1 || p.Manual[0].Target != "box" || p.Manual[0].Item != "box.keys" || p.Manual[0].Status != string(report.DeclaredAwaiting) {
		t.Fatalf("manual steps: %+v", p.Manual)
	}
	res := runOnce(t, newEngine(), pb)
	want := "box: manual step box.keys (rotate, the box's keys), not made by handover: only a person can"
	if !slices.Contains(res.Report.Deviations.Residual, want) {
		t.Errorf("deviations: %q, want %q", res.Report.Deviations.Residual, want)
	}
	if c := res.Report.Completeness; c.Complete || c.Awaiting != 1 {
		t.Errorf("completeness: %+v", c)
	}

	// Declared and attested: the declared item stands for the step.
	_, pb = setup(t, "    manual_step: box.keys\ndeclared:\n  - {id: box.keys, kind: physical, name: Clés de la box, owner: DSI, provider_knew: true, action: rotate}\n", []string{"root"}, nil)
	s, err = newEngine().Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Attest(ctx, engine.Attestation{Item: "box.keys", By: "Jeanne Martin (DSI)", Note: "clés changées"}); err != nil {
		t.Fatal(err)
	}
	p = s.Plan(s.Inventory(ctx, 1))
	if len(p.Manual) != 1 || p.Manual[0].Target != "" || p.Manual[0].Status != string(report.DeclaredDone) {
		t.Errorf("manual steps once declared and attested: %+v", p.Manual)
	}
}
