package engine

import (
	"testing"

	"github.com/handoverhq/handover/handover/connector"
)

func TestLimitMatch(t *testing.T) {
	web1 := connector.SystemRef{Name: "srv-web-01", Address: "10.0.0.1", Groups: []string{"web", "paris"}}
	web2 := connector.SystemRef{Name: "srv-web-02", Address: "10.0.0.2", Groups: []string{"web", "lyon"}}
	db := connector.SystemRef{Name: "srv-db-01", Address: "10.0.0.3", Groups: []string{"db", "paris"}}
	dir := connector.SystemRef{Name: "annuaire"}
	type sys struct {
		target, typ string
		ref         connector.SystemRef
	}
	all := []sys{{"serveurs", "ssh", web1}, {"serveurs", "ssh", web2}, {"serveurs", "ssh", db}, {"annuaire", "ldap", dir}}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"all", []string{"srv-web-01", "srv-web-02", "srv-db-01", "annuaire"}},
		{"srv-web-01", []string{"srv-web-01"}},
		{"10.0.0.3", []string{"srv-db-01"}},
		{"web", []string{"srv-web-01", "srv-web-02"}},
		{"web:db", []string{"srv-web-01", "srv-web-02", "srv-db-01"}},
		{"web,annuaire", []string{"srv-web-01", "srv-web-02", "annuaire"}},
		{"srv-*", []string{"srv-web-01", "srv-web-02", "srv-db-01"}},
		{"web:&paris", []string{"srv-web-01"}},
		{"serveurs:!db", []string{"srv-web-01", "srv-web-02"}},
		{"all:!ssh", []string{"annuaire"}},
		{"ldap", []string{"annuaire"}},
		{"~srv-(web|db)-0[12]", []string{"srv-web-01", "srv-web-02", "srv-db-01"}},
		{"!web", []string{"srv-db-01", "annuaire"}},
		{"nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			l, err := ParseLimit(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range all {
				if l.Match(s.target, s.typ, s.ref) {
					got = append(got, s.ref.Name)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestParseLimitErrors(t *testing.T) {
	for _, p := range []string{"", ",", "~(", "srv-[", "web,!"} {
		if _, err := ParseLimit(p); err == nil {
			t.Errorf("ParseLimit(%q): no error", p)
		}
	}
}
