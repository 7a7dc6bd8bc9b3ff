package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
)

// TestEncodeInventories: the dossier streamed system by system is byte for
// byte what json.MarshalIndent makes of it.
func TestEncodeInventories(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	sys := func(n string) connector.System {
		return connector.System{Name: n, Kind: "host", Address: "127.0.16.1:22", Facts: []connector.Fact{{Name: "os", Value: "Debian <12> & co"}},
			Accounts: []connector.Account{{Name: "root", Admin: true}}}
	}
	for name, invs := range map[string][]*connector.Inventory{
		"nil":   nil,
		"empty": {},
		"several": {
			{Target: "parc", Type: "ssh", Started: now, Finished: now, Systems: []connector.System{sys("a"), sys("b"), {Name: "c", Error: "unreachable"}}},
			{Target: "vide", Type: "ssh", Started: now, Finished: now, Systems: []connector.System{}},
			{Target: "nul", Type: "ldap", Started: now, Finished: now},
			{Target: "un", Type: "ldap", Started: now, Finished: now, Systems: []connector.System{sys("d")}},
		},
	} {
		want, err := json.MarshalIndent(invs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		var got bytes.Buffer
		if err := encodeInventories(&got, invs); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: streamed\n%s\nwant\n%s", name, got.Bytes(), want)
		}
	}
}
