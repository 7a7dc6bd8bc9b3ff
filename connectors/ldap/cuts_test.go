package ldap

import (
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// TestCutsSoleMemberGroup: where the provider's account is the only
// member of a groupOfNames, the cut is that group's membership in the
// admin chain above it (up while each group above has that one member
// too), the client's admins through the same admin group by another way
// named to keep their rights; a group whose object class allows it
// empty, or with other members, is cut as it is; an admin group left with
// the provider alone cannot be cut.
func TestCutsSoleMemberGroup(t *testing.T) {
	const (
		admins  = "cn=admins,ou=groups,dc=x"
		sole    = "cn=astreinte,ou=groups,dc=x"
		sibling = "cn=it-support,ou=groups,dc=x"
		lone    = "cn=lone-admins,ou=groups,dc=x"
		posix   = "cn=posix,ou=groups,dc=x"
		prov    = "uid=tech,ou=people,dc=x"
		staff   = "uid=kb,ou=people,dc=x"
		direct  = "uid=sl,ou=people,dc=x"
	)
	w := &walker{
		nodes: map[string]*node{
			normDN(admins):  {exists: true, isGroup: true, needsMember: true, members: []memberRef{{"member", direct, direct}, {"member", sole, sole}, {"member", sibling, sibling}}},
			normDN(sole):    {exists: true, isGroup: true, needsMember: true, members: []memberRef{{"member", prov, prov}}},
			normDN(sibling): {exists: true, isGroup: true, needsMember: true, members: []memberRef{{"member", staff, staff}}},
			normDN(lone):    {exists: true, isGroup: true, needsMember: true, members: []memberRef{{"member", prov, prov}}},
			normDN(posix):   {exists: true, isGroup: true, members: []memberRef{{"memberUid", "tech", prov}}},
		},
		parents: map[string][]membership{
			normDN(sole):    {{Group: admins, Attr: "member", Value: sole}},
			normDN(sibling): {{Group: admins, Attr: "member", Value: sibling}},
			normDN(posix):   {{Group: admins, Attr: "member", Value: posix}},
		},
		admins: map[string]*adminRecord{
			normDN(prov):   {DN: prov, Via: []string{"cn=admins <- cn=astreinte"}},
			normDN(staff):  {DN: staff, Via: []string{"cn=admins <- cn=it-support"}},
			normDN(direct): {DN: direct, Via: []string{"cn=admins"}},
		},
		provider: map[string]bool{normDN(prov): true},
	}
	cuts, stuck := w.cuts(membership{Group: sole, Attr: "member", Value: prov}, 0)
	if len(stuck) > 0 || len(cuts) != 1 || cuts[0].Group != admins || cuts[0].Value != sole || cuts[0].Via != sole {
		t.Fatalf("sole member of %s: cuts %+v, stuck %v; want %s out of %s", sole, cuts, stuck, sole, admins)
	}
	if keep := cuts[0].Keep; keep != staff+"\n"+direct && keep != direct+"\n"+staff {
		t.Errorf("keep = %q, want %s and %s", keep, direct, staff)
	}
	if cuts, _ := w.cuts(membership{Group: posix, Attr: "memberUid", Value: "tech"}, 0); len(cuts) != 1 || cuts[0].Group != posix {
		t.Errorf("a posixGroup may be left empty: cuts %+v", cuts)
	}
	if cuts, _ := w.cuts(membership{Group: admins, Attr: "member", Value: prov}, 0); len(cuts) != 1 || cuts[0].Group != admins {
		t.Errorf("a group with other members: cuts %+v", cuts)
	}
	if cuts, stuck := w.cuts(membership{Group: lone, Attr: "member", Value: prov}, 0); len(cuts) != 0 || !slices.Equal(stuck, []string{lone}) {
		t.Errorf("an admin group with the provider alone: cuts %+v, stuck %v", cuts, stuck)
	}
}

// TestEvidenceAttributes: an entry is the provider's by a free-text
// attribute naming it, or by one naming an entry of the provider's;
// the client's own words are no evidence.
func TestEvidenceAttributes(t *testing.T) {
	tg := &Target{out: connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet Informatique"}, Domains: []string{"prestanet.test"}, Accounts: []string{"prestanet-*"}})}
	entry := func(attrs map[string][]string) *goldap.Entry { return goldap.NewEntry("uid=x,ou=people,dc=x", attrs) }
	tests := []struct {
		attrs map[string][]string
		why   string // "" for none
	}{
		{map[string][]string{"description": {"Sonde de supervision Prestanet Informatique"}}, "description"},
		{map[string][]string{"o": {"Prestanet Informatique"}}, "o "},
		{map[string][]string{"title": {"Technicien (support@prestanet.test)"}}, "title"},
		{map[string][]string{"info": {"compte créé par Prestanet Informatique"}}, "info"},
		{map[string][]string{"manager": {"uid=prestanet-admin,ou=partners,dc=x"}}, "manager uid=prestanet-admin"},
		{map[string][]string{"seeAlso": {"uid=prestanet-ops,ou=partners,dc=x"}}, "seeAlso"},
		{map[string][]string{"managedBy": {"CN=prestanet-admin,CN=Users,DC=x"}}, "managedBy"},
		{map[string][]string{"description": {"Compte d'administration de l'annuaire (prestataire)"}, "manager": {"uid=slefevre,ou=people,dc=x"}}, ""},
	}
	for _, tt := range tests {
		a := tg.toAccount(entry(tt.attrs), OpenLDAP, time.Now())
		got := slices.ContainsFunc(a.Reasons, func(r string) bool { return strings.HasPrefix(r, tt.why) })
		if tt.why == "" && a.Provider || tt.why != "" && (!a.Provider || !got) {
			t.Errorf("%v: provider=%v reasons %q, want a reason %q", tt.attrs, a.Provider, a.Reasons, tt.why)
		}
	}
}
