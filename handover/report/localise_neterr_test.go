package report_test

import (
	"testing"

	"github.com/handoverhq/handover/handover/report"
)

// TestFrenchKeepsGoNetworkErrors: Go's network errors start with a verb
// some of the tool's wordings start with too ("read %s: %w"); they stay
// as Go wrote them, inside the tool's words around them.
func TestFrenchKeepsGoNetworkErrors(t *testing.T) {
	for en, fr := range map[string]string{
		"read tcp 127.0.0.1:5->127.0.0.1:389: read: connection reset by peer":                               "read tcp 127.0.0.1:5->127.0.0.1:389: read: connection reset by peer",
		"ldap ldap://x:389: read tcp 127.0.0.1:5->127.0.0.1:389: read: connection reset by peer":            "ldap ldap://x:389 : read tcp 127.0.0.1:5->127.0.0.1:389: read: connection reset by peer",
		"read CN=x,DC=mairie,DC=local: read tcp 127.0.0.1:5->127.0.0.1:389: read: connection reset by peer": "lecture de CN=x,DC=mairie,DC=local : read tcp 127.0.0.1:5->127.0.0.1:389: read: connection reset by peer",
	} {
		if out, _ := report.ToolList("fr", en); out != fr {
			t.Errorf("%q\n\tin French: %q\n\twant %q", en, out, fr)
		}
	}
}
