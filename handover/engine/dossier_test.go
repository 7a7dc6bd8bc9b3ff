package engine

import (
	"bytes"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
)

// TestDossierCopyIsCanonical: a finding's Data, a connector's own typed
// value, reads back from report.json and encodes again to the same bytes.
func TestDossierCopyIsCanonical(t *testing.T) {
	type membership struct {
		Group string `json:"group"`
		Attr  string `json:"attr"`
	}
	inv := &connector.Inventory{Target: "t", Systems: []connector.System{{Name: "s", Findings: []connector.Finding{
		{ID: "m", Kind: connector.KindMember, Data: membership{Group: "cn=admins", Attr: "member"}},
	}}}}
	r := &report.Report{FormatVersion: report.FormatVersion, Dossier: []connector.Inventory{dossierCopy(inv)}}
	b, err := report.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := report.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := report.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Errorf("not canonical:\n%s\n---\n%s", b, again)
	}
	if _, ok := inv.Systems[0].Findings[0].Data.(membership); !ok {
		t.Error("the inventory itself was changed")
	}
}
