package mail

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/handoverhq/handover/connectors/ldap"
	"github.com/handoverhq/handover/handover/connector"
)

// Mailboxes whose passwords are the directory's: Dovecot's LDAP passdb.
// The connector does not rotate them (the ldap target does, with its LDAP
// binds as proofs); it links the mail server to the directory in the
// dossier, and plans for each handed-over mailbox a prove-login change:
// after the ldap target's rotation (the engine sets every credential
// before any other change), the directory's new password must log in over
// IMAP and the handed-over one must be refused.

// ldapMailboxData is a handed-over mailbox authenticated by an LDAP
// passdb, whose rotation by the ldap target is proven here.
type ldapMailboxData struct {
	Login      string `json:"login"`
	DN         string `json:"dn"`
	Directory  string `json:"directory"`
	SecretPath string `json:"secret_path"`
}

// parseLDAPConf reads dovecot-ldap.conf.ext: "key = value" lines.
func parseLDAPConf(text string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// ldapServer is the directory server an LDAP passdb asks: the host of its
// first uris entry, else of its first hosts entry.
func ldapServer(conf map[string]string) string {
	if f := strings.Fields(conf["uris"]); len(f) > 0 {
		if u, err := url.Parse(f[0]); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	if f := strings.Fields(conf["hosts"]); len(f) > 0 {
		if h, _, err := net.SplitHostPort(f[0]); err == nil {
			return h
		}
		return f[0]
	}
	return ""
}

// bindDN expands an auth_bind_userdn template for a login: %u (the
// login), %n (its local part), %d (its domain), and their %{user},
// %{username}, %{domain} forms; "" when the template has other variables.
func bindDN(template, login string) string {
	if template == "" {
		return ""
	}
	known := []string{"%%", "%{user}", "%{username}", "%{domain}", "%u", "%n", "%d"}
	rest := template
	for _, k := range known {
		rest = strings.ReplaceAll(rest, k, "")
	}
	if strings.Contains(rest, "%") {
		return ""
	}
	local, domain, _ := strings.Cut(login, "@")
	return strings.NewReplacer("%%", "%", "%{user}", login, "%{username}", local, "%{domain}", domain, "%u", login, "%n", local, "%d", domain).Replace(template)
}

// describeLDAPDB links the mail server to the directory its LDAP passdb
// or userdb asks, and says the passwords are the directory's.
func (t *target) describeLDAPDB(e *estate, db authDB, sys *connector.System) {
	conf, read := e.Raw[db.Args]
	server := ldapServer(parseLDAPConf(conf))
	f := connector.Finding{
		ID: "auth-method:" + db.Kind + ":ldap", Kind: connector.KindAuth, Object: db.label(),
		Summary: db.label() + ": mailbox passwords live in the directory; the ldap target rotates them, this connector proves them over IMAP (directory:)",
		Detail:  map[string]string{"args": db.Args, "server": server},
	}
	sys.Findings = append(sys.Findings, f)
	switch {
	case !read:
		e.Problems = append(e.Problems, fmt.Sprintf("%s: its settings file %s was not read (%s): the directory it asks is not known", db.label(), db.Args, e.Unreadable[db.Args]))
	case server == "":
		e.Problems = append(e.Problems, fmt.Sprintf("%s: %s names no uris or hosts: the directory it asks is not known", db.label(), db.Args))
	case !slices.ContainsFunc(sys.Links, func(l connector.Link) bool { return l.To == server && l.Kind == linkAuth }):
		sys.Links = append(sys.Links, connector.Link{To: server, Kind: linkAuth, Provider: t.out.Domain(server) != "",
			Why: fmt.Sprintf("Dovecot %s: %s", db.label(), db.Args)})
	}
}

// linkAuth is the schéma's link kind of a server that checks passwords in
// a directory (the ssh connector's word for the same dependency).
const linkAuth = "authenticates against"

// describeLDAPMailbox lists a handed-over mailbox no passwd-file holds as
// the directory's when an LDAP passdb exists, and says whether its
// rotation by the directory target is to be proven; false when no LDAP
// passdb could authenticate it.
func (t *target) describeLDAPMailbox(ctx context.Context, e *estate, h handed, sys *connector.System) bool {
	i := slices.IndexFunc(e.DBs, func(db authDB) bool { return db.Kind == "passdb" && !db.Master && db.Driver == "ldap" })
	if i < 0 {
		return false
	}
	db := e.DBs[i]
	conf := parseLDAPConf(e.Raw[db.Args])
	dn := h.DN
	if dn == "" {
		dn = bindDN(conf["auth_bind_userdn"], h.Login)
	}
	a := connector.Account{Name: h.Login, State: "enabled", Admin: true,
		AdminVia: []string{"function or admin mailbox whose password the outgoing provider handed over (mailboxes:); its password is the directory's (" + db.label() + ")"}}
	sys.Accounts = append(sys.Accounts, a)
	f := connector.Finding{
		ID: "ldap-mailbox:" + h.Login, Kind: connector.KindAuth, Object: h.Login,
		Summary: fmt.Sprintf("mailbox %s authenticates in the directory (%s, %s)", h.Login, ldapServer(conf), dn),
		Detail:  map[string]string{"dn": dn, "directory": t.s.Directory},
	}
	switch {
	case t.s.Directory == "":
		e.Problems = append(e.Problems, fmt.Sprintf("mailbox %s is authenticated by %s: name the ldap target that rotates it (directory:), so that the rotation is proven over IMAP", h.Login, db.label()))
	case dn == "":
		e.Problems = append(e.Problems, fmt.Sprintf("mailbox %s is authenticated by %s, whose auth_bind_userdn gives no DN: set its dn: in mailboxes:", h.Login, db.label()))
	default:
		path := connector.SecretPath(t.s.Directory, ldap.System, dn)
		f.Summary += fmt.Sprintf(": its password is rotated by target %s, and proven here over IMAP", t.s.Directory)
		if !t.storeHolds(ctx, path) {
			f.Data = ldapMailboxData{Login: h.Login, DN: dn, Directory: t.s.Directory, SecretPath: path}
		} else {
			f.Summary += "; handover holds its current password"
		}
	}
	sys.Findings = append(sys.Findings, f)
	return true
}

// storeHolds: the secret store has a current value at path.
func (t *target) storeHolds(ctx context.Context, path string) bool {
	if t.env.Secrets == nil {
		return false
	}
	v, ok, err := t.env.Secrets.Current(ctx, path)
	if err != nil || !ok {
		return false
	}
	v.Destroy()
	return true
}
