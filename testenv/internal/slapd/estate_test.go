package slapd

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlanEstate(t *testing.T) {
	for _, staff := range []int{1, 50, 10000} {
		e := planEstate(staff)
		if got, want := len(e.People), staff+4; got != want {
			t.Errorf("staff %d: %d people, want %d", staff, got, want)
		}
		uids := map[string]bool{}
		dns := map[string]bool{}
		for _, a := range e.accounts() {
			if uids[a.UID] || dns[a.DN] {
				t.Errorf("staff %d: duplicate account %s", staff, a.DN)
			}
			uids[a.UID], dns[a.DN] = true, true
		}
		for _, dn := range append(append([]string{}, e.AdminDNs...), e.ProviderDNs...) {
			if !dns[dn] {
				t.Errorf("staff %d: %s is not a planted account", staff, dn)
			}
		}
		for _, g := range e.Groups {
			if len(g.Members) == 0 {
				t.Errorf("staff %d: group %s has no member", staff, g.DN)
			}
		}
	}
}

func TestWriteDataEncodesNonASCII(t *testing.T) {
	e := planEstate(5)
	hashes := map[string]string{}
	for _, a := range e.accounts() {
		hashes[a.UID] = "{SSHA}x"
	}
	var b bytes.Buffer
	if err := writeData(&b, e, hashes); err != nil {
		t.Fatal(err)
	}
	ldif := b.String()
	for _, want := range []string{
		"dn: " + NestedGroupDN + "\n",
		"member: " + NestedGroupDN + "\n",
		"mail: j.martin@prestanet.test\n",
		"pwdMinLength: 12\n",
		"sn:: TGVmw6h2cmU=\n", // "Lefèvre", base64 as LDIF requires
	} {
		if !strings.Contains(ldif, want) {
			t.Errorf("data LDIF lacks %q", want)
		}
	}
}

func TestSafeLDIF(t *testing.T) {
	for _, tc := range []struct {
		v    string
		safe bool
	}{
		{"Martin", true},
		{"", true},
		{"Lefèvre", false},
		{" leading space", false},
		{":colon", false},
		{"<angle", false},
		{"trailing ", false},
		{"two\nlines", false},
	} {
		if got := safeLDIF(tc.v); got != tc.safe {
			t.Errorf("safeLDIF(%q) = %v, want %v", tc.v, got, tc.safe)
		}
	}
}
