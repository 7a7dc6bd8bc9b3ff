package report

import (
	"encoding/json"
	"testing"
)

// allowed_signers files and report.json come from whoever hands a report
// over: parsing them must not panic.
func FuzzAllowedSigners(f *testing.F) {
	f.Add([]byte(`dsi@mairie namespaces="handover-report",valid-after="20260101" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxsBHq3g4pCDm2IoyYTYhNGFKTMCtcVXaJVpHNQGMLp` + "\n# c\n"))
	f.Add([]byte(`"a b",c@d cert-authority ssh-rsa AAAA`))
	f.Fuzz(func(t *testing.T, b []byte) { parseAllowedSigners(b, "allowed_signers") })
}

func FuzzReportJSON(f *testing.F) {
	f.Add([]byte(`{"format_version":3,"lang":"fr","run":{"id":"x"},"dossier":[],"actions":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Report
		if json.Unmarshal(b, &r) == nil {
			Marshal(&r)
		}
	})
}
