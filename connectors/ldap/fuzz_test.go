package ldap

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// DNs, SIDs and names come from the directory and the playbook: handling
// them never panics, and a name put in a search filter stays one value of
// one equality, whatever it holds.
func FuzzDNAndFilter(f *testing.F) {
	f.Add("CN=Domain Admins,CN=Users,DC=ad,DC=example,DC=test", []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 2, 0, 0})
	f.Add(`cn=a\,b+uid=x,ou=people,dc=mairie`, []byte{1})
	f.Add("admins*)(uid=*", []byte{})
	f.Fuzz(func(t *testing.T, s string, sid []byte) {
		normDN(s)
		rdn(s)
		realmOf(s)
		sidString(sid)
		ridOf(sid)
		filter := "(&(objectClass=group)(|(cn=" + ldap.EscapeFilter(s) + ")(sAMAccountName=" + ldap.EscapeFilter(s) + ")))"
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("escaped name %q gives an invalid filter %q: %v", s, filter, err)
		}
		or := p.Children[1]
		if len(p.Children) != 2 || len(or.Children) != 2 {
			t.Fatalf("escaped name %q changes the filter's shape: %q", s, filter)
		}
		for _, c := range or.Children {
			if c.Tag != ldap.FilterEqualityMatch || string(c.Children[1].Data.Bytes()) != s {
				t.Fatalf("escaped name %q is not one equality value in %q", s, filter)
			}
		}
	})
}
