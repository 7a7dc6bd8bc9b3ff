package slapd

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"unicode/utf8"
)

// ldifWriter writes LDIF records, base64-encoding the values LDIF cannot
// carry as they are (non-ASCII names such as "Lefèvre").
type ldifWriter struct {
	w   *bufio.Writer
	err error
}

func newLDIFWriter(w io.Writer) *ldifWriter { return &ldifWriter{w: bufio.NewWriter(w)} }

func (l *ldifWriter) attr(name, value string) {
	if l.err != nil {
		return
	}
	if safeLDIF(value) {
		_, l.err = fmt.Fprintf(l.w, "%s: %s\n", name, value)
		return
	}
	_, l.err = fmt.Fprintf(l.w, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(value)))
}

// entry starts a record; attrs are name/value pairs.
func (l *ldifWriter) entry(dn string, attrs ...string) {
	if l.err != nil {
		return
	}
	l.attr("dn", dn)
	for i := 0; i+1 < len(attrs); i += 2 {
		l.attr(attrs[i], attrs[i+1])
	}
}

func (l *ldifWriter) end() {
	if l.err == nil {
		_, l.err = l.w.WriteString("\n")
	}
}

func (l *ldifWriter) flush() error {
	if l.err != nil {
		return l.err
	}
	return l.w.Flush()
}

// safeLDIF reports whether v is a SAFE-STRING of RFC 2849.
func safeLDIF(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= utf8.RuneSelf || c == 0 || c == '\n' || c == '\r' {
			return false
		}
	}
	return true
}

// ssha hashes a password the way slapd's default password-hash does:
// {SSHA} base64(SHA1(password || salt) || salt).
func ssha(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...)), nil
}

// configPaths are the files cn=config points at.
type configPaths struct {
	DataDir string
	CACert  string
	Cert    string
	Key     string
}

// writeConfig writes the cn=config LDIF loaded offline with slapadd -n0.
// rootHash is the {SSHA} of the testenv root's password.
func writeConfig(w io.Writer, p configPaths, rootHash string) error {
	l := newLDIFWriter(w)
	l.entry("cn=config",
		"objectClass", "olcGlobal",
		"cn", "config",
		"olcTLSCACertificateFile", p.CACert,
		"olcTLSCertificateFile", p.Cert,
		"olcTLSCertificateKeyFile", p.Key,
		"olcTLSProtocolMin", "3.3", // TLS 1.2
		// Simple binds only over TLS: no password crosses loopback in clear.
		"olcSecurity", "simple_bind=128",
	)
	l.end()
	l.entry("cn=module{0},cn=config",
		"objectClass", "olcModuleList",
		"cn", "module{0}",
		"olcModulePath", "/usr/lib/ldap",
		"olcModuleLoad", "{0}back_mdb",
		"olcModuleLoad", "{1}ppolicy",
		// dynlist also defines memberOf: the memberof module must stay out.
		"olcModuleLoad", "{2}dynlist",
	)
	l.end()
	l.entry("cn=schema,cn=config", "objectClass", "olcSchemaConfig", "cn", "schema")
	l.end()
	if err := l.flush(); err != nil {
		return err
	}
	for _, s := range []string{"core", "cosine", "nis", "inetorgperson", "dyngroup"} {
		if _, err := fmt.Fprintf(w, "include: file:///etc/ldap/schema/%s.ldif\n\n", s); err != nil {
			return err
		}
	}
	l.entry("olcDatabase={-1}frontend,cn=config",
		"objectClass", "olcDatabaseConfig",
		"objectClass", "olcFrontendConfig",
		"olcDatabase", "{-1}frontend",
		"olcPasswordHash", "{SSHA}",
		"olcAccess", `{0}to dn.base="" by * read`,
		"olcAccess", `{1}to dn.base="cn=Subschema" by * read`,
	)
	l.end()
	l.entry("olcDatabase={0}config,cn=config",
		"objectClass", "olcDatabaseConfig",
		"olcDatabase", "{0}config",
		"olcRootDN", RootDN,
		"olcRootPW", rootHash,
		"olcAccess", "{0}to * by * none",
	)
	l.end()
	// Administrators: the bind account by name, and every member of
	// cn=admins, nested groups included (the set's member* recurses). They
	// manage the whole tree (lock accounts, edit groups) except userPassword.
	admins := `set="[` + AdminGroupDN + `]/member* & user"`
	l.entry("olcDatabase={1}mdb,cn=config",
		"objectClass", "olcDatabaseConfig",
		"objectClass", "olcMdbConfig",
		"olcDatabase", "{1}mdb",
		"olcSuffix", BaseDN,
		"olcDbDirectory", p.DataDir,
		// ppolicy requires a rootdn; it is the testenv's, outside the tree.
		"olcRootDN", RootDN,
		"olcDbMaxSize", "1073741824",
		"olcDbIndex", "objectClass eq",
		"olcDbIndex", "uid,mail,cn eq,sub",
		"olcDbIndex", "member eq",
		"olcLimits", `{0}dn.exact="`+BindDN+`" size=unlimited time=unlimited`,
		"olcLimits", `{1}group/groupOfNames/member="`+AdminGroupDN+`" size=unlimited time=unlimited`,
		// write, not manage, on userPassword: ppolicy treats whoever has
		// manage on it as a password administrator and skips every check
		// (quality, length, history). With write, an admin's Password
		// Modify is held to the policy like anyone's.
		"olcAccess", `{0}to attrs=userPassword by dn.exact="`+BindDN+`" write by `+admins+` write by self write by anonymous auth by * none`,
		"olcAccess", `{1}to attrs=pwdHistory by dn.exact="`+BindDN+`" manage by `+admins+` manage by * none`,
		"olcAccess", `{2}to * by dn.exact="`+BindDN+`" manage by `+admins+` manage by self read by users read by * none`,
	)
	l.end()
	l.entry("olcOverlay={0}dynlist,olcDatabase={1}mdb,cn=config",
		"objectClass", "olcOverlayConfig",
		"objectClass", "olcDynListConfig",
		"olcOverlay", "{0}dynlist",
		// Nested memberOf over static groupOfNames (the trailing *).
		"olcDynListAttrSet", "{0}groupOfURLs memberURL member+memberOf@groupOfNames*",
	)
	l.end()
	l.entry("olcOverlay={1}ppolicy,olcDatabase={1}mdb,cn=config",
		"objectClass", "olcOverlayConfig",
		"objectClass", "olcPPolicyConfig",
		"olcOverlay", "{1}ppolicy",
		"olcPPolicyDefault", PolicyDN,
		"olcPPolicyHashCleartext", "TRUE",
	)
	l.end()
	return l.flush()
}

// writeData writes the planted directory. hashes maps uid to the
// {SSHA} of that account's password.
func writeData(w io.Writer, e *estate, hashes map[string]string) error {
	l := newLDIFWriter(w)
	l.entry(BaseDN,
		"objectClass", "top", "objectClass", "dcObject", "objectClass", "organization",
		"dc", "mairie-saint-exemple", "o", "Mairie de Saint-Exemple",
		"description", "Annuaire des agents de la commune")
	l.end()
	ou := func(dn, name, desc string) {
		l.entry(dn, "objectClass", "top", "objectClass", "organizationalUnit", "ou", name, "description", desc)
		l.end()
	}
	ou(PeopleDN, "people", "Agents de la commune")
	for _, svc := range services {
		ou("ou="+svc+","+PeopleDN, svc, "Service "+svc)
	}
	ou(GroupsDN, "groups", "Groupes")
	ou(ServicesDN, "services", "Comptes de service")
	ou(PartnersDN, "partners", "Prestataires et partenaires")
	ou(PoliciesDN, "policies", "Politiques de mot de passe")

	// The default policy. pwdCheckQuality 2 refuses what cannot be checked
	// (a pre-hashed value); pwdMinLength and pwdInHistory are what a
	// rotation meets. No pwdMaxAge: planted old pwdChangedTime values must
	// not expire accounts.
	l.entry(PolicyDN,
		"objectClass", "top", "objectClass", "device", "objectClass", "pwdPolicy",
		"cn", "default",
		"pwdAttribute", "userPassword",
		"pwdMinLength", "12",
		"pwdCheckQuality", "2",
		"pwdInHistory", "5",
		"pwdLockout", "TRUE",
		"pwdMaxFailure", "5",
		"pwdLockoutDuration", "600",
		"pwdFailureCountInterval", "300",
		"pwdAllowUserChange", "TRUE",
		"pwdMustChange", "FALSE",
		"pwdSafeModify", "FALSE",
	)
	l.end()

	for _, a := range e.accounts() {
		switch a.Kind {
		case kindService:
			l.entry(a.DN,
				"objectClass", "top", "objectClass", "account", "objectClass", "simpleSecurityObject",
				"uid", a.UID, "description", a.Desc)
		case kindPerson, kindPartner:
			l.entry(a.DN,
				"objectClass", "top", "objectClass", "person", "objectClass", "organizationalPerson",
				"objectClass", "inetOrgPerson",
				"uid", a.UID, "cn", a.commonName(), "sn", a.Surname, "givenName", a.GivenName,
				"displayName", a.commonName(), "mail", a.Mail, "title", a.Title)
			if a.Org != "" {
				l.attr("o", a.Org)
			}
			if a.Manager != "" {
				l.attr("manager", a.Manager)
			}
		default:
			return fmt.Errorf("account %s: unknown kind %q", a.DN, a.Kind)
		}
		hash, ok := hashes[a.UID]
		if !ok {
			return fmt.Errorf("account %s: no password", a.DN)
		}
		l.attr("userPassword", hash)
		if a.PwdChanged != "" {
			l.attr("pwdChangedTime", a.PwdChanged)
		}
		l.end()
	}
	for _, g := range e.Groups {
		l.entry(g.DN, "objectClass", "top", "objectClass", "groupOfNames", "cn", g.CN, "description", g.Desc)
		for _, m := range g.Members {
			l.attr("member", m)
		}
		l.end()
	}
	return l.flush()
}
