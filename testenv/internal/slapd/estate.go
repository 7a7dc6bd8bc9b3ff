package slapd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/testenv"
)

// BaseDN is the client's directory suffix.
const BaseDN = "dc=mairie-saint-exemple,dc=test"

// The DNs the estate is built around. The bind account is what the outgoing
// provider hands over; the testenv's own root (RootDN) never is.
const (
	PeopleDN   = "ou=people," + BaseDN
	GroupsDN   = "ou=groups," + BaseDN
	ServicesDN = "ou=services," + BaseDN
	PartnersDN = "ou=partners," + BaseDN
	PoliciesDN = "ou=policies," + BaseDN

	PolicyDN      = "cn=default," + PoliciesDN
	AdminGroupDN  = "cn=admins," + GroupsDN
	NestedGroupDN = "cn=it-support," + GroupsDN
	BindDN        = "uid=admin-annuaire," + ServicesDN

	// RootDN is the rootdn of both cn=config and the data: the testenv's
	// own identity for readiness and restores.
	RootDN = "cn=testenv,cn=config"
)

// entry kinds, deciding the object classes written.
const (
	kindPerson  = "person"
	kindService = "service"
	kindPartner = "partner"
)

// account is one entry that can bind.
type account struct {
	Kind      string
	UID       string
	DN        string
	GivenName string
	Surname   string
	Mail      string
	Title     string
	Org       string // o, for partners
	Desc      string
	Manager   string // manager, a DN
	// PwdChanged, when set, plants an old pwdChangedTime (generalized time).
	PwdChanged string
}

func (a account) commonName() string {
	if a.GivenName == "" {
		return a.UID
	}
	return a.GivenName + " " + a.Surname
}

type group struct {
	CN      string
	DN      string
	Desc    string
	Members []string // DNs, users or groups
}

// estate is the planted directory content. It is a pure function of the
// number of ordinary staff users, so the env can be filled again without
// reading the directory back.
type estate struct {
	Staff    int // ordinary staff users asked for
	People   []account
	Services []account
	Partners []account
	Groups   []group

	DirectAdmin string // admin by direct membership
	NestedAdmin string // admin only through cn=it-support
	Lookalike   string // provider account that looks like staff
	ProviderDNs []string
	AdminDNs    []string // every member of cn=admins, nested included
	// EvidenceDNs are the provider's accounts by what their entries say,
	// not by name or mail: a service account whose description names the
	// provider, a technician whose manager is the provider's account
	// (the only member of SoleGroupDN, a groupOfNames in cn=admins).
	EvidenceDNs []string
	SoleGroupDN string
}

// SoleGroupDN is a groupOfNames whose only member is an account of the
// provider's (by evidence), itself a member of cn=admins.
const SoleGroupDN = "cn=astreinte-n2," + GroupsDN

func personDN(uid, service string) string {
	return "uid=" + uid + ",ou=" + service + "," + PeopleDN
}

func planEstate(staff int) *estate {
	e := &estate{Staff: staff}
	taken := map[string]int{}
	unique := func(base string) string {
		taken[base]++
		if n := taken[base]; n > 1 {
			return base + strconv.Itoa(n)
		}
		return base
	}

	// Named people first, so generated staff never takes their uids.
	direct := account{Kind: kindPerson, UID: unique("slefevre"), GivenName: "Sophie", Surname: "Lefèvre",
		Title: "Responsable informatique et moyens généraux", Mail: "sophie.lefevre@" + testenv.ClientDomain}
	direct.DN = personDN(direct.UID, "direction")
	nested := account{Kind: kindPerson, UID: unique("kbenali"), GivenName: "Karim", Surname: "Benali",
		Title: "Technicien informatique", Mail: "karim.benali@" + testenv.ClientDomain}
	nested.DN = personDN(nested.UID, "services-techniques")
	// The provider's technician, filed among the town's technical staff
	// years ago; only his mail gives him away.
	lookalike := account{Kind: kindPerson, UID: unique("jmartin"), GivenName: "Julien", Surname: "Martin",
		Title: "Technicien réseau", Mail: "j.martin@" + testenv.ProviderDomain, PwdChanged: "20190402091500Z"}
	lookalike.DN = personDN(lookalike.UID, "services-techniques")
	e.People = append(e.People, direct, nested, lookalike)
	e.DirectAdmin, e.NestedAdmin, e.Lookalike = direct.DN, nested.DN, lookalike.DN

	mails := map[string]int{}
	byService := map[string][]string{}
	for _, p := range e.People {
		byService[serviceOf(p.DN)] = append(byService[serviceOf(p.DN)], p.DN)
	}
	var vpn []string
	for i := 0; i < staff; i++ {
		given := givenNames[i%len(givenNames)]
		sur := surnames[(i/len(givenNames)+i)%len(surnames)]
		uid := unique(asciiLower(given[:1]) + asciiLower(sur))
		local := asciiLower(given) + "." + asciiLower(sur)
		mails[local]++
		if n := mails[local]; n > 1 {
			local += strconv.Itoa(n)
		}
		svc := services[i%len(services)]
		t := titles[svc]
		p := account{Kind: kindPerson, UID: uid, GivenName: given, Surname: sur,
			Mail: local + "@" + testenv.ClientDomain, Title: t[(i/len(services))%len(t)],
			DN: personDN(uid, svc)}
		if i%5 == 2 {
			// Passwords nobody changed since the provider set them up.
			p.PwdChanged = fmt.Sprintf("20%02d%02d%02d080000Z", 17+i%4, 1+i%12, 1+i%28)
		}
		e.People = append(e.People, p)
		byService[svc] = append(byService[svc], p.DN)
		if i%10 == 0 {
			vpn = append(vpn, p.DN)
		}
	}

	bind := account{Kind: kindService, UID: "admin-annuaire", DN: BindDN,
		Desc: "Compte d'administration de l'annuaire (prestataire)"}
	e.Services = []account{
		bind,
		{Kind: kindService, UID: "svc-sauvegarde", DN: "uid=svc-sauvegarde," + ServicesDN, Desc: "Sauvegarde nocturne des serveurs"},
		{Kind: kindService, UID: "svc-scanner", DN: "uid=svc-scanner," + ServicesDN, Desc: "Copieur-scanner du rez-de-chaussée (scan vers courriel)"},
		{Kind: kindService, UID: "svc-messagerie", DN: "uid=svc-messagerie," + ServicesDN, Desc: "Recherche des destinataires par le serveur de messagerie"},
		{Kind: kindService, UID: "svc-intranet", DN: "uid=svc-intranet," + ServicesDN, Desc: "Authentification de l'intranet"},
	}
	provider := account{Kind: kindPartner, UID: "prestanet-admin", DN: "uid=prestanet-admin," + PartnersDN,
		GivenName: "Admin", Surname: "Prestanet", Mail: "support@" + testenv.ProviderDomain,
		Org: testenv.ProviderName, Title: "Compte d'intervention du prestataire", PwdChanged: "20180911143000Z"}
	e.Partners = []account{provider}
	e.ProviderDNs = []string{provider.DN, lookalike.DN}
	supervision := account{Kind: kindService, UID: "svc-supervision", DN: "uid=svc-supervision," + ServicesDN,
		Desc: "Sonde de supervision " + testenv.ProviderName}
	e.Services = append(e.Services, supervision)
	oncall := account{Kind: kindPerson, UID: unique("tech-astreinte"), GivenName: "Technicien", Surname: "Astreinte",
		Title: "Technicien d'astreinte", Mail: "astreinte@" + testenv.ClientDomain, Manager: provider.DN}
	oncall.DN = personDN(oncall.UID, "services-techniques")
	e.People = append(e.People, oncall)
	e.EvidenceDNs = []string{supervision.DN, oncall.DN}
	e.SoleGroupDN = SoleGroupDN

	e.Groups = []group{
		{CN: "admins", DN: AdminGroupDN, Desc: "Administrateurs de l'annuaire",
			Members: []string{direct.DN, bind.DN, provider.DN, NestedGroupDN, SoleGroupDN}},
		{CN: "astreinte-n2", DN: SoleGroupDN, Desc: "Astreinte de niveau 2", Members: []string{oncall.DN}},
		{CN: "it-support", DN: NestedGroupDN, Desc: "Support informatique (membre de cn=admins)",
			Members: []string{nested.DN, lookalike.DN}},
		{CN: "vpn", DN: "cn=vpn," + GroupsDN, Desc: "Accès VPN nomade",
			Members: append([]string{direct.DN, nested.DN, lookalike.DN}, vpn...)},
	}
	for _, svc := range services {
		if len(byService[svc]) == 0 {
			continue // groupOfNames needs a member
		}
		e.Groups = append(e.Groups, group{CN: "service-" + svc, DN: "cn=service-" + svc + "," + GroupsDN,
			Desc: "Agents du service " + svc, Members: byService[svc]})
	}
	e.AdminDNs = []string{direct.DN, bind.DN, provider.DN, nested.DN, lookalike.DN, oncall.DN}
	return e
}

// accounts lists every entry that can bind, in LDIF order.
func (e *estate) accounts() []account {
	out := make([]account, 0, len(e.People)+len(e.Services)+len(e.Partners))
	out = append(out, e.Services...)
	out = append(out, e.Partners...)
	return append(out, e.People...)
}

// uidOf returns the uid of an account DN of the estate.
func (e *estate) uidOf(dn string) string {
	for _, a := range e.accounts() {
		if a.DN == dn {
			return a.UID
		}
	}
	return ""
}

func serviceOf(dn string) string {
	for _, svc := range services {
		if strings.Contains(dn, ",ou="+svc+",") {
			return svc
		}
	}
	return ""
}
