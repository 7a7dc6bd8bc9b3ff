package testenv

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A testenv binary older than the file's writer keeps the fields it does not
// know, and a field it knows and left empty is gone.
func TestSaveKeepsUnknownKeys(t *testing.T) {
	old := `{"dir":"/d","mail":{"imap_addr":"a","newer_field":"keep"},"newer_section":{"x":1},"fleet":{"systemd_host_error":"stale"}}`
	e := Env{Dir: "/d", Mail: &MailEnv{IMAPAddr: "b"}, Fleet: &FleetEnv{}}
	cur, _ := json.Marshal(e)
	var got map[string]any
	if err := json.Unmarshal(keepUnknown([]byte(old), cur, reflect.TypeOf(Env{})), &got); err != nil {
		t.Fatal(err)
	}
	mail := got["mail"].(map[string]any)
	if mail["imap_addr"] != "b" || mail["newer_field"] != "keep" {
		t.Errorf("mail = %v", mail)
	}
	if got["newer_section"] == nil {
		t.Errorf("newer_section dropped: %v", got)
	}
	if _, stale := got["fleet"].(map[string]any)["systemd_host_error"]; stale {
		t.Errorf("a known field left empty was kept: %v", got["fleet"])
	}
}
