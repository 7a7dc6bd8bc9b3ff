package vault

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
)

// TestProduct: OpenBao is told from Vault by sys/seal-status alone, on
// responses recorded from the test estate's Vault 1.21 and OpenBao's API
// documentation, and on two with an operator-chosen cluster name; a plan
// on an OpenBao is refused with the reason, a Vault's is not.
func TestProduct(t *testing.T) {
	for _, tc := range []struct {
		file, want, why string
	}{
		{"seal-status-vault-1.21.json", "Vault", "version 1.21.0"},
		{"seal-status-vault-1.21-named.json", "Vault", "version 1.21.0+ent"},
		{"seal-status-openbao-docs.json", "OpenBao", `cluster name "openbao-cluster-336172e1"`},
		{"seal-status-openbao-2.x-named.json", "OpenBao", "version 2.4.1 (Vault's releases are 1.x, OpenBao's 2.x)"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var st api.SealStatusResponse
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			got, why := product(&st)
			if got != tc.want || why != tc.why {
				t.Errorf("product = %q (%s), want %q (%s)", got, why, tc.want, tc.why)
			}
			sys := connector.System{Name: System, Facts: []connector.Fact{{Name: "product", Value: got + " (" + why + ")"}}}
			tg := &Target{name: "coffre"}
			_, err = tg.Plan(&connector.Inventory{Target: "coffre", Systems: []connector.System{sys}}, connector.Decisions{})
			switch {
			case tc.want == "OpenBao" && (err == nil || !strings.Contains(err.Error(), "this is OpenBao ("+tc.why+")") || !strings.Contains(err.Error(), "no change is planned")):
				t.Errorf("plan on OpenBao: %v", err)
			case tc.want == "Vault" && err != nil:
				t.Errorf("plan on Vault: %v", err)
			}
		})
	}
}
