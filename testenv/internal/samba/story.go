package samba

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// story is what was planted, without any password: the password of each
// account is in its own 0600 file next to story.json.
type story struct {
	dir           string
	Users         int      `json:"users"`
	BindDN        string   `json:"bind_dn"`
	NestedAdminDN string   `json:"nested_admin_dn"`
	AdminDNs      []string `json:"admin_dns"`
	ProviderDNs   []string `json:"provider_dns"`
	ServiceDNs    []string `json:"service_dns"`
	// EvidenceDNs are the provider's accounts by what their entries say,
	// not by name or mail; SoleGroupDN the group whose only member is one
	// of them (evidence.go).
	EvidenceDNs []string          `json:"evidence_dns,omitempty"`
	SoleGroupDN string            `json:"sole_group_dn,omitempty"`
	Files       map[string]string `json:"files"` // DN -> password file name
}

const storyFile = "story.json"

func (s *story) passwordFile(dn string) string { return s.Files[dn] }

func readStory(dir string) (*story, error) {
	b, err := os.ReadFile(filepath.Join(dir, storyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoStory, err)
	}
	var s story
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, storyFile), err)
	}
	s.dir = dir
	return &s, nil
}

// The planted organisation.
var (
	ouMairie   = "OU=Mairie," + BaseDN
	ouStaff    = "OU=Agents," + ouMairie
	ouGroups   = "OU=Groupes," + ouMairie
	ouServices = "OU=Services," + ouMairie
	usersCN    = "CN=Users," + BaseDN
	builtinCN  = "CN=Builtin," + BaseDN

	domainAdmins  = "CN=Domain Admins," + usersCN
	backupOps     = "CN=Backup Operators," + builtinCN
	adminsReseau  = "CN=GG-Admins-Reseau," + ouGroups
	supportN2     = "CN=GG-Support-N2," + ouGroups
	allStaffGroup = "CN=GG-Tous-Agents," + ouGroups
)

var firstNames = []string{"Camille", "Louis", "Chloe", "Hugo", "Lea", "Lucas", "Manon", "Nathan", "Ines", "Jules", "Sarah", "Gabriel", "Emma", "Arthur", "Zoe", "Paul", "Alice", "Victor", "Louise", "Adam"}
var lastNames = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier"}

type user struct {
	sam, cn, mail, ou string
	uac               int
	spn               string
	description       string
	info              string // the info attribute (free text)
	handedOver        bool   // the provider handed over its password
}

func (u user) dn() string { return "CN=" + u.cn + "," + u.ou }

// plant adds the story to the provisioned domain with ldbadd on the local
// sam.ldb (Samba is not running yet), from LDIF files that hold the
// passwords and are removed right after.
func plant(ctx context.Context, build string, staff int) error {
	sam := filepath.Join(build, "dc", "private", "sam.ldb")
	secrets := filepath.Join(build, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		return err
	}
	st := &story{Users: staff, Files: map[string]string{}}

	accounts := []user{
		// The client's own admin account, handed over by the provider:
		// the connector binds with it. A Domain Admin, since only those
		// can reset other Domain Admins (AdminSDHolder protects them
		// from OU delegation).
		{sam: "adm-mairie", cn: "adm-mairie", mail: "dsi@" + testenv.ClientDomain, ou: usersCN, uac: 512, description: "Compte d'administration de la mairie", handedOver: true},
		// A staff member who is an admin only through a sub-group.
		{sam: "julie.bernard", cn: "Julie Bernard", mail: "julie.bernard@" + testenv.ClientDomain, ou: ouStaff, uac: 512, description: "Technicienne reseau", handedOver: true},
		// The provider's obvious account, and its look-alike: a plain
		// name but the provider's mail domain.
		{sam: "prestanet-admin", cn: "prestanet-admin", mail: "support@" + testenv.ProviderDomain, ou: usersCN, uac: 512, description: "Compte prestataire", handedOver: true},
		{sam: "thomas.moreau", cn: "Thomas Moreau", mail: "thomas.moreau@" + testenv.ProviderDomain, ou: ouStaff, uac: 512, description: "Technicien", handedOver: true},
		// Service accounts: one privileged (backups), one with an SPN.
		{sam: "svc-backup", cn: "svc-backup", ou: ouServices, uac: 512 | 0x10000, description: "Sauvegarde nocturne", handedOver: true},
		{sam: "svc-sql", cn: "svc-sql", ou: ouServices, uac: 512 | 0x10000, spn: "MSSQLSvc/sql1." + DNSName + ":1433", description: "Instance SQL de la paie"},
	}
	accounts = append(accounts, evidenceAccounts...)
	for i := range staff {
		fn, ln := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
		sam := strings.ToLower(fmt.Sprintf("%s.%s%d", fn, ln, i+1))
		u := user{sam: sam, cn: fmt.Sprintf("%s %s %d", fn, ln, i+1), mail: sam + "@" + testenv.ClientDomain, ou: ouStaff, uac: 512, description: "Agent"}
		if i%25 == 24 {
			u.uac = 514 // a few departed staff, disabled
		}
		accounts = append(accounts, u)
	}

	var ldif strings.Builder
	for _, ou := range []string{ouMairie, ouStaff, ouGroups, ouServices} {
		fmt.Fprintf(&ldif, "dn: %s\nobjectClass: organizationalUnit\n\n", ou)
	}
	for _, u := range accounts {
		pw, err := secret.Generate(nil, secret.DefaultPolicy())
		if err != nil {
			return err
		}
		fmt.Fprintf(&ldif, "dn: %s\nobjectClass: user\nsAMAccountName: %s\nuserPrincipalName: %s@%s\ndescription: %s\nuserAccountControl: %d\nunicodePwd:: %s\n",
			u.dn(), u.sam, u.sam, DNSName, u.description, u.uac, unicodePwd(pw))
		if u.mail != "" {
			fmt.Fprintf(&ldif, "mail: %s\n", u.mail)
		}
		if u.spn != "" {
			fmt.Fprintf(&ldif, "servicePrincipalName: %s\n", u.spn)
		}
		if u.info != "" {
			fmt.Fprintf(&ldif, "info: %s\n", u.info)
		}
		ldif.WriteString("\n")
		if u.handedOver {
			name := u.sam + ".password"
			if err := os.WriteFile(filepath.Join(secrets, name), []byte(pw.Reveal()+"\n"), 0o600); err != nil {
				return err
			}
			st.Files[u.dn()] = name
		}
		pw.Destroy()
	}
	groups := []struct{ dn, sam string }{{adminsReseau, "GG-Admins-Reseau"}, {supportN2, "GG-Support-N2"}, {allStaffGroup, "GG-Tous-Agents"}}
	for _, g := range groups {
		fmt.Fprintf(&ldif, "dn: %s\nobjectClass: group\nsAMAccountName: %s\n\n", g.dn, g.sam)
	}
	byName := map[string]string{}
	for _, u := range accounts {
		byName[u.sam] = u.dn()
	}
	// Memberships, including the nesting that hides julie.bernard and
	// thomas.moreau from a look at Domain Admins' direct members.
	members := []struct{ group, member string }{
		{domainAdmins, byName["adm-mairie"]},
		{domainAdmins, byName["prestanet-admin"]},
		{domainAdmins, adminsReseau},
		{adminsReseau, byName["julie.bernard"]},
		{adminsReseau, supportN2},
		{supportN2, byName["thomas.moreau"]},
		{backupOps, byName["svc-backup"]},
	}
	for i := range min(staff, 200) {
		members = append(members, struct{ group, member string }{allStaffGroup, accounts[6+len(evidenceAccounts)+i].dn()})
	}
	// The accounts and the group of the provider's by evidence.
	ldif.WriteString(evidenceGroupLDIF(byName))
	members = append(members, evidenceMembers(byName)...)
	for _, m := range members {
		fmt.Fprintf(&ldif, "dn: %s\nchangetype: modify\nadd: member\nmember: %s\n\n", m.group, m.member)
	}
	// The built-in Administrator: its password is handed over too.
	admin := "CN=Administrator," + usersCN
	pw, err := secret.Generate(nil, secret.DefaultPolicy())
	if err != nil {
		return err
	}
	fmt.Fprintf(&ldif, "dn: %s\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: %s\n\n", admin, unicodePwd(pw))
	if err := os.WriteFile(filepath.Join(secrets, "Administrator.password"), []byte(pw.Reveal()+"\n"), 0o600); err != nil {
		return err
	}
	pw.Destroy()
	st.Files[admin] = "Administrator.password"

	file := filepath.Join(build, "plant.ldif")
	if err := os.WriteFile(file, []byte(ldif.String()), 0o600); err != nil {
		return err
	}
	defer os.Remove(file)
	// ldbmodify takes both the added entries and the changetype: modify
	// records of one file.
	// --nosync: the build directory becomes the cache only once complete
	// and synced, so fsyncing each of thousands of records buys nothing.
	if err := run(ctx, "ldbmodify", "--nosync", "-H", sam, file); err != nil {
		return fmt.Errorf("plant: %w", err)
	}

	st.BindDN = byName["adm-mairie"]
	st.NestedAdminDN = byName["julie.bernard"]
	st.AdminDNs = []string{admin, byName["adm-mairie"], byName["julie.bernard"], byName["prestanet-admin"], byName["thomas.moreau"], byName["svc-backup"]}
	st.ProviderDNs = []string{byName["prestanet-admin"], byName["thomas.moreau"]}
	st.ServiceDNs = []string{byName["svc-backup"], byName["svc-sql"]}
	st.EvidenceDNs = []string{byName[supervisionSAM], byName[oncallSAM]}
	st.SoleGroupDN = soleGroupDN
	st.AdminDNs = append(st.AdminDNs, st.EvidenceDNs...)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(secrets, storyFile), append(b, '\n'), 0o600)
}

// unicodePwd encodes a password as AD stores it: the quoted password in
// UTF-16LE, base64 for LDIF.
func unicodePwd(pw secret.Secret) string {
	u := utf16.Encode([]rune(`"` + pw.Reveal() + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	defer clear(b)
	return base64.StdEncoding.EncodeToString(b)
}
