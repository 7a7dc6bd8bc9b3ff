package mail

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// Quotas, shared folders and IMAP ACLs: who else can open a mailbox.
// ACLs are read from the acl plugin's vfile backend (a dovecot-acl file
// in each mailbox's directory), without doveadm: opening a mailbox with
// doveadm can create its directory and indexes, and an inventory writes
// nothing.

// aclFile is one dovecot-acl file: a mailbox's ACL.
type aclFile struct {
	Path    string
	User    string // the mailbox's owner
	Mailbox string
	Link    bool // a symbolic link: not read
	Entries []aclEntry
}

// aclEntry is one "identifier rights" line.
type aclEntry struct {
	Identifier string
	Rights     string
}

// aclEnabled: the acl plugin is in the mail_plugins of the configuration
// or of one of its protocols.
func aclEnabled(root *confNode) bool {
	has := func(n *confNode) bool { return slices.Contains(strings.Fields(n.get("mail_plugins")), "acl") }
	if has(root) {
		return true
	}
	return slices.ContainsFunc(root.children("protocol"), has)
}

// mailRoot is a mailbox's Maildir root from mail_location
// ("maildir:~/Maildir[:...]"), or "" for another format or a location
// with variables the connector does not expand.
func mailRoot(location, home string) string {
	rest, ok := strings.CutPrefix(location, "maildir:")
	if !ok {
		return ""
	}
	root, _, _ := strings.Cut(rest, ":")
	root = strings.ReplaceAll(root, "%h", home)
	if r, ok := strings.CutPrefix(root, "~"); ok {
		root = home + r
	}
	if strings.Contains(root, "%") || !path.IsAbs(root) {
		return ""
	}
	return path.Clean(root)
}

// namespaceSeparator is the inbox namespace's hierarchy separator
// (Maildir++'s "." by default).
func namespaceSeparator(root *confNode) string {
	for _, n := range root.children("namespace") {
		if n.get("inbox") == "yes" && n.get("separator") != "" {
			return n.get("separator")
		}
	}
	return "."
}

// parseACLFile reads a dovecot-acl file of the Maildir++ folder it sits
// in: the root's is INBOX's, ".A.B/dovecot-acl" is A<sep>B's.
func parseACLFile(user, root, file, content string, link bool, sep string) aclFile {
	a := aclFile{Path: file, User: user, Link: link}
	rel := strings.TrimPrefix(strings.TrimPrefix(path.Dir(file), root), "/")
	switch {
	case rel == "":
		a.Mailbox = "INBOX"
	case strings.HasPrefix(rel, ".") && !strings.Contains(rel, "/"):
		a.Mailbox = strings.ReplaceAll(rel[1:], ".", sep)
	default:
		a.Mailbox = rel
	}
	if link {
		return a
	}
	for _, l := range strings.Split(content, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		a.Entries = append(a.Entries, aclEntry{Identifier: f[0], Rights: strings.Join(f[1:], " ")})
	}
	return a
}

// rightWords names an ACL's rights letters (RFC 4314, as Dovecot's
// vfile backend writes them).
func rightWords(rights string) string {
	names := map[rune]string{'l': "lookup", 'r': "read", 'w': "write", 's': "write-seen", 't': "write-deleted",
		'i': "insert", 'p': "post", 'e': "expunge", 'k': "create", 'x': "delete", 'a': "admin"}
	var out []string
	for _, r := range rights {
		if n, ok := names[r]; ok {
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}

// userQuota is a mailbox's quota rule: its own (a passwd-file's
// userdb_quota_rule or quota_rule extra field), else the plugin's
// default, when the quota plugin is configured.
func userQuota(extra string, plugin map[string]string) string {
	if plugin["quota"] == "" {
		return ""
	}
	for _, f := range strings.Fields(extra) {
		k, v, _ := strings.Cut(f, "=")
		if k == "userdb_quota_rule" || k == "quota_rule" {
			return v
		}
	}
	return plugin["quota_rule"]
}

// describeSharing adds the quota settings, the shared and public
// namespaces and every ACL entry that opens a mailbox to someone other
// than its owner; one opening it to the provider is its finding, with
// what removing it needs.
func (t *target) describeSharing(e *estate, sys *connector.System, fact func(name, value string, planned bool)) {
	plugin := pluginSettings(e.Conf)
	if q := plugin["quota"]; q != "" {
		fact("quota", strings.TrimSpace(q+"; default rule "+plugin["quota_rule"]), false)
	}
	for _, n := range e.Conf.children("namespace") {
		if typ := n.get("type"); typ == "shared" || typ == "public" {
			fact(fmt.Sprintf("namespace %s (%s)", n.Name, typ), fmt.Sprintf("prefix %s, location %s", n.get("prefix"), n.get("location")), false)
		}
	}
	if !aclEnabled(e.Conf) {
		return
	}
	fact("acl", strings.TrimSpace(plugin["acl"]+" (IMAP ACLs read from the dovecot-acl files of each mailbox)"), false)
	if strings.HasPrefix(plugin["acl"], "vfile:") {
		e.Problems = append(e.Problems, "acl = "+plugin["acl"]+": the global ACLs are not read (only each mailbox's dovecot-acl)")
	}
	if loc := e.Conf.get("mail_location"); !strings.HasPrefix(loc, "maildir:") {
		e.Problems = append(e.Problems, fmt.Sprintf("mail_location %q: the connector reads ACL files of Maildir mailboxes only", loc))
	}
	for _, a := range e.ACLs {
		if a.Link {
			e.Problems = append(e.Problems, a.Path+" is a symbolic link: this ACL is not read")
			continue
		}
		for _, en := range a.Entries {
			if en.Identifier == "owner" {
				continue
			}
			who, kind, _ := strings.Cut(en.Identifier, "=")
			if kind == "" {
				kind = who // anyone, authenticated
			}
			f := connector.Finding{
				ID: "acl:" + a.User + ":" + a.Mailbox + ":" + en.Identifier, Kind: connector.KindGrant, Object: a.User + " " + a.Mailbox,
				Summary: fmt.Sprintf("IMAP ACL on %s of %s: %s may %s (%s)", a.Mailbox, a.User, en.Identifier, rightWords(en.Rights), a.Path),
				Detail:  map[string]string{"owner": a.User, "mailbox": a.Mailbox, "identifier": en.Identifier, "rights": en.Rights, "file": a.Path},
			}
			if (who == "user" || who == "group") && !strings.HasPrefix(en.Rights, "-") {
				if reasons := t.out.Account(kind, kind); len(reasons) > 0 {
					f.Provider, f.Reasons = true, reasons
					f.Data = aclData{Owner: a.User, Mailbox: a.Mailbox, Identifier: en.Identifier, File: a.Path}
				}
			}
			sys.Findings = append(sys.Findings, f)
		}
	}
}
