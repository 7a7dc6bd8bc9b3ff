package connectortest

import (
	"context"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
)

func TestSuitePassesACorrectConnector(t *testing.T) {
	Run(t, fakeHarness(t, flawNone))
}

// TestCrashHelper is the process the crash-recovery property kills.
func TestCrashHelper(t *testing.T) {
	CrashHelper(t, connector.NewRegistry(fakeConnector{}))
}

// TestSuiteCatchesFlaws runs the property each flaw breaks against a fake
// with that flaw: the property must report it.
func TestSuiteCatchesFlaws(t *testing.T) {
	afterRun := func(check func(s *suite, t *testing.T, r *ran) []error) func(*suite, *testing.T) []error {
		return func(s *suite, t *testing.T) []error {
			r, err := s.run(t)
			if err != nil {
				return []error{err}
			}
			return check(s, t, r)
		}
	}
	tests := []struct {
		flaw     string
		noCut    bool
		property func(*suite, *testing.T) []error
		want     string
	}{
		{flaw: flawInventoryWrites, property: (*suite).readOnly, want: "inventory changed the target"},
		{flaw: flawPlanIO, property: (*suite).planNoIO, want: "with the target cut off differs"},
		{flaw: flawPlanIO, noCut: true, property: (*suite).planNoIO, want: "after Close differs"},
		{flaw: flawNoKind, property: afterRun(func(_ *suite, _ *testing.T, r *ran) []error { return proofs(r) }), want: "has no known kind"},
		{flaw: flawKeepsOld, property: afterRun(func(_ *suite, _ *testing.T, r *ran) []error { return proofs(r) }), want: "the previous credential still logs in"},
		{flaw: flawGhost, property: afterRun((*suite).idempotent), want: "second plan: remove-key box/box SHA256:ghost"},
		{flaw: flawLeak, property: afterRun(func(s *suite, t *testing.T, r *ran) []error { return noSecrets(s.ctx(t), r) }), want: "report.json holds the current value box/box/"},
		{flaw: flawTryAccepts, property: func(s *suite, t *testing.T) []error { return s.crash(t, "intent") }, want: "recovered, want rolled-back"},
	}
	for _, tt := range tests {
		name := tt.flaw
		if tt.noCut {
			name += "/without Cut"
		}
		t.Run(name, func(t *testing.T) {
			h := fakeHarness(t, tt.flaw)
			if tt.noCut {
				h.Cut = nil
			}
			errs := tt.property(&suite{h: h}, t)
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			all := strings.Join(msgs, "\n")
			t.Logf("caught:\n%s", all)
			if !strings.Contains(all, tt.want) {
				t.Errorf("the suite did not catch the flaw: want an error containing %q, got:\n%s", tt.want, all)
			}
		})
	}
}

// TestPropertiesHoldForACorrectConnector: the properties the flaws are
// caught by report nothing on the correct fake, so that what they report
// above is the flaw.
func TestPropertiesHoldForACorrectConnector(t *testing.T) {
	s := &suite{h: fakeHarness(t, flawNone)}
	h := s.h
	h.Cut = nil
	for name, errs := range map[string][]error{
		"read-only":                     s.readOnly(t),
		"plan without I/O":              s.planNoIO(t),
		"plan without I/O, without Cut": (&suite{h: h}).planNoIO(t),
	} {
		for _, err := range errs {
			t.Errorf("%s: %v", name, err)
		}
	}
	r, err := s.run(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range proofs(r) {
		t.Errorf("proofs: %v", err)
	}
	for _, err := range noSecrets(context.Background(), r) {
		t.Errorf("no secrets: %v", err)
	}
	for _, err := range s.idempotent(t, r) {
		t.Errorf("idempotent: %v", err)
	}
}
