package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/connectors/internal/shacrypt"
	"github.com/handoverhq/handover/handover/connector"
)

// estate is what the connector read of a mail server, whatever the
// backend: the neutral model inventory, plan and verify work from.
type estate struct {
	Hostname       string
	DovecotVersion string
	PostfixVersion string
	Conf           *confNode
	// ConfPath is the configuration file doveconf read (its first line).
	ConfPath string
	DBs      []authDB
	Postconf map[string]string
	// Passwd are the passwd-files' entries, by path; Raw their content.
	Passwd map[string][]passwdEntry
	Raw    map[string]string
	// Unreadable are files the configuration names that could not be
	// read (absent, a symbolic link), with why.
	Unreadable map[string]string
	Scripts    []script
	// Sizes are mailbox homes' sizes in KiB, by home; LastLogin each
	// user's last login line's time, from Dovecot's log.
	Sizes     map[string]string
	LastLogin map[string]string
	LoginLog  string
	Maps      []mapRead
	Forwards  []forwardFile
	// ACLs are the dovecot-acl files read under the mailboxes' mail
	// directories; ACLRoots the mail directory of each mailbox read, by
	// user.
	ACLs     []aclFile
	ACLRoots map[string]string
	// Problems are what the connector could not handle (a passdb driver
	// it does not support, a script it cannot parse).
	Problems []string
}

// script is one Sieve script of a user, or a global one (User "").
type script struct {
	User, Name string
	Active     bool
	Global     bool // sieve_before/sieve_after
	Path       string
	Content    string
	Actions    []sieveAction
	ParseErr   string
	// RawSum is the digest of doveadm's JSON output of the script: what
	// the rewrite checks the script still is.
	RawSum string
}

func (s script) sum() string { return sha256hex(s.Content) }

// mapRead is a Postfix table, with the entries Postfix uses (postmap -s)
// and those of its source file.
type mapRead struct {
	postfixMap
	Entries []mapEntry // postmap -s / postalias -s
	Source  string     // the source file's content ("" when unread)
	Err     string
}

type forwardFile struct {
	Path    string
	Targets []string
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// read reads the mail server over SSH: the configuration and scripts,
// then the files they name.
func (t *target) read(ctx context.Context) (*estate, error) {
	r, err := t.runner(ctx)
	if err != nil {
		return nil, err
	}
	out, err := r.Run(ctx, inventoryScript, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("inventory script: %w", err)
	}
	recs, _ := parseRecords(out)
	e := &estate{Passwd: map[string][]passwdEntry{}, Raw: map[string]string{}, Unreadable: map[string]string{}}
	var sieveList string
	scripts := map[[2]string]string{}
	for _, rec := range recs {
		switch rec.Kind {
		case "missing":
			return nil, fmt.Errorf("%s is not installed on the mail host (or not on root's PATH): the connector reads Dovecot with doveconf and doveadm; install dovecot-core, or use mode: mailbox", rec.Name)
		case "hostname":
			e.Hostname = strings.TrimSpace(rec.Content)
		case "dovecot-version":
			e.DovecotVersion = strings.TrimSpace(rec.Content)
		case "postfix-version":
			e.PostfixVersion = strings.TrimSpace(rec.Content)
		case "doveconf":
			if e.Conf, err = parseDoveconf(rec.Content); err != nil {
				return nil, err
			}
			e.ConfPath = doveconfPath(rec.Content)
		case "postconf":
			e.Postconf = parsePostconf(rec.Content)
		case "sieve-list":
			sieveList = rec.Content
		case "sieve":
			user, name, _ := strings.Cut(rec.Name, "\n")
			scripts[[2]string{user, name}] = rec.Content
		}
	}
	if e.Conf == nil {
		return nil, fmt.Errorf("doveconf -n gave no configuration")
	}
	e.DBs = authDBs(e.Conf)
	for _, l := range strings.Split(sieveList, "\n") {
		user, rest, ok := strings.Cut(strings.TrimSpace(l), " ")
		if !ok {
			continue
		}
		name, active := strings.CutSuffix(rest, " ACTIVE")
		content, ok := scripts[[2]string{user, name}]
		if !ok {
			continue
		}
		s := newScript(user, name, "", active, false, "")
		var got []map[string]string
		if err := json.Unmarshal([]byte(content), &got); err != nil || len(got) != 1 {
			s.ParseErr = "doveadm sieve get gave no script"
		} else {
			s = newScript(user, name, "", active, false, got[0]["sieve script"])
		}
		s.RawSum = sha256hex(content)
		e.Scripts = append(e.Scripts, s)
	}
	// Second round: the files the configuration names.
	var args []string
	for _, db := range e.DBs {
		if db.File != "" && !db.Variables {
			args = append(args, "file:"+db.File)
		}
	}
	plugin := pluginSettings(e.Conf)
	var globals []string
	for _, k := range []string{"sieve_before", "sieve_before2", "sieve_before3", "sieve_after", "sieve_after2", "sieve_after3", "sieve_default"} {
		if v := plugin[k]; v != "" {
			p := strings.TrimPrefix(strings.SplitN(v, ";", 2)[0], "file:")
			if strings.HasPrefix(p, "/") {
				globals = append(globals, p)
				args = append(args, "dir:"+p)
			}
		}
	}
	if e.Postconf != nil {
		for _, m := range postfixMaps(e.Postconf) {
			e.Maps = append(e.Maps, mapRead{postfixMap: m})
			if m.editable() {
				tool := "postmap"
				if m.Param == "alias_maps" {
					tool = "postalias"
				}
				args = append(args, tool+":"+m.Type+":"+m.File)
				if m.Type != "texthash" {
					args = append(args, "file:"+m.File)
				}
			}
		}
	}
	for _, db := range e.DBs {
		if db.Driver == "ldap" && path.IsAbs(db.Args) {
			args = append(args, "file:"+db.Args) // dovecot-ldap.conf.ext
		}
	}
	args = append(args, "forwards:-")
	e.LoginLog = e.Conf.get("info_log_path")
	if e.LoginLog == "" {
		e.LoginLog = e.Conf.get("log_path")
	}
	if !strings.HasPrefix(e.LoginLog, "/") {
		e.LoginLog = "/var/log/mail.log" // syslog's, on Debian
	}
	args = append(args, "logins:"+e.LoginLog)
	out, err = r.Run(ctx, readScript, args, nil)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	recs, _ = parseRecords(out)
	dbMaps := map[string]string{}
	e.Sizes, e.LastLogin = map[string]string{}, map[string]string{}
	for _, rec := range recs {
		switch rec.Kind {
		case "du":
			e.Sizes[rec.Name] = strings.TrimSpace(rec.Content)
		case "logins":
			for _, l := range strings.Split(rec.Content, "\n") {
				if user := between(l, "user=<", ">"); user != "" && len(l) >= 15 {
					e.LastLogin[user] = l[:15] // "Dec 02 20:04:18": the log's own time, no year
				}
			}
		case "file":
			e.Raw[rec.Name] = rec.Content
			if strings.HasSuffix(rec.Name, "/.forward") {
				e.Forwards = append(e.Forwards, forwardFile{Path: rec.Name, Targets: forwardTargets(rec.Content)})
			}
			for _, g := range globals {
				if rec.Name == g || strings.HasPrefix(rec.Name, strings.TrimSuffix(g, "/")+"/") {
					e.Scripts = append(e.Scripts, newScript("", path.Base(rec.Name), rec.Name, true, true, rec.Content))
				}
			}
		case "absent":
			e.Unreadable[rec.Name] = "absent"
		case "link":
			e.Unreadable[rec.Name] = "a symbolic link (not followed)"
		case "postmap", "postalias":
			dbMaps[rec.Name] = rec.Content
		}
	}
	for _, db := range e.DBs {
		if db.File != "" {
			if raw, ok := e.Raw[db.File]; ok {
				e.Passwd[db.File] = parsePasswdFile(raw)
			}
		}
	}
	// Third round: the mailboxes' sizes (their homes, from the passdbs)
	// and, with the acl plugin, their ACL files.
	var homes []string
	e.ACLRoots = map[string]string{}
	acl := aclEnabled(e.Conf)
	for _, db := range e.DBs {
		for _, en := range e.Passwd[db.File] {
			if !db.Master && strings.HasPrefix(en.Home, "/") && !slices.Contains(homes, "du:"+en.Home) {
				homes = append(homes, "du:"+en.Home)
				if root := mailRoot(e.Conf.get("mail_location"), en.Home); acl && root != "" {
					e.ACLRoots[en.User] = root
					homes = append(homes, "acls:"+root)
				}
			}
		}
	}
	if len(homes) > 0 {
		out, err = r.Run(ctx, readScript, homes, nil)
		if err != nil {
			return nil, fmt.Errorf("read script: %w", err)
		}
		recs, _ = parseRecords(out)
		for _, rec := range recs {
			switch rec.Kind {
			case "du":
				e.Sizes[rec.Name] = strings.TrimSpace(rec.Content)
			case "file", "link":
				for user, root := range e.ACLRoots {
					if strings.HasPrefix(rec.Name, root+"/") {
						e.ACLs = append(e.ACLs, parseACLFile(user, root, rec.Name, rec.Content, rec.Kind == "link", namespaceSeparator(e.Conf)))
					}
				}
			}
		}
		sort.Slice(e.ACLs, func(i, j int) bool { return e.ACLs[i].Path < e.ACLs[j].Path })
	}
	for i := range e.Maps {
		m := &e.Maps[i]
		dump, ok := dbMaps[m.Type+":"+m.File]
		if !ok {
			m.Err = "not an indexed table the connector reads"
			continue
		}
		m.Source = e.Raw[m.File]
		if m.Type == "texthash" {
			m.Source = dump
		}
		for _, en := range parseMapSource(dump, m.Param == "alias_maps") {
			if en.Key == "@" && m.Param == "alias_maps" {
				continue // postalias's own marker entry
			}
			m.Entries = append(m.Entries, en)
		}
		if strings.Contains(dump, "fatal:") || strings.Contains(dump, "open database") {
			m.Err = strings.TrimSpace(dump)
			m.Entries = nil
		}
	}
	return e, nil
}

func newScript(user, name, path string, active, global bool, content string) script {
	s := script{User: user, Name: name, Path: path, Active: active, Global: global, Content: content}
	cmds, err := parseSieve(content)
	if err != nil {
		s.ParseErr = err.Error()
	} else {
		s.Actions = sieveActions(content, cmds)
	}
	return s
}

// pluginSettings are the plugin { } section's settings.
func pluginSettings(root *confNode) map[string]string {
	out := map[string]string{}
	for _, p := range root.children("plugin") {
		for k, v := range p.Settings {
			out[k] = v
		}
	}
	return out
}

// forwardTargets are a .forward file's destinations (addresses, files,
// pipes), one per comma or line.
func forwardTargets(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		for _, v := range strings.Split(l, ",") {
			if v = strings.Trim(strings.TrimSpace(v), `"`); v != "" {
				out = append(out, strings.TrimPrefix(v, `\`))
			}
		}
	}
	return out
}

// Data of findings, read by the connector's own plan.
type (
	// masterData is a master user's entry.
	masterData struct {
		File  string `json:"file"`
		Login string `json:"login"`
	}
	// sieveData is a script with actions sending to the provider.
	sieveData struct {
		User   string   `json:"user"`
		Script string   `json:"script"`
		Global bool     `json:"global,omitempty"`
		Path   string   `json:"path,omitempty"` // a global script's file
		Active bool     `json:"active"`
		SHA256 string   `json:"sha256"`
		Drop   []string `json:"drop"` // the provider's addresses its actions send to
		Kept   int      `json:"kept"` // the script's other sending actions
	}
	// mapData is a Postfix table entry sending to the provider.
	mapData struct {
		Param string   `json:"param"`
		Type  string   `json:"type"`
		File  string   `json:"file"`
		Key   string   `json:"key"`
		Drop  []string `json:"drop"`
	}
	// forwardData is a .forward file sending to the provider.
	forwardData struct {
		Path string   `json:"path"`
		Drop []string `json:"drop"`
		// Address is the local address whose mail the file forwards
		// (USER@myhostname), for the delivery proof.
		Address string `json:"address,omitempty"`
	}
	// aclData is an IMAP ACL entry (Dovecot's acl plugin) giving the
	// provider access to a mailbox.
	aclData struct {
		Owner      string `json:"owner"`
		Mailbox    string `json:"mailbox"`
		Identifier string `json:"identifier"`
		File       string `json:"file"`
	}
	// masterPassdbData is a master passdb that holds only the provider's
	// master users: its block goes from the configuration.
	masterPassdbData struct {
		File string `json:"file"`
		Conf string `json:"conf"`
	}
	// mailboxData is a mailbox's passdb entry.
	mailboxData struct {
		File  string `json:"file"`
		Login string `json:"login"`
	}
)

// Inventory reads the mail server and describes it for the dossier.
func (t *target) Inventory(ctx context.Context) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	sys := connector.System{Name: t.s.Name, Kind: "mail", Address: t.s.Host}
	if t.s.Mode == modeMailbox {
		if err := t.inventoryMailboxes(ctx, &sys); err != nil {
			sys.Error = err.Error()
		}
	} else {
		e, err := t.read(ctx)
		if err != nil {
			sys.Error = err.Error()
		} else {
			t.describeEstate(ctx, e, &sys)
		}
	}
	inv.Systems = []connector.System{sys}
	inv.Finished = t.now()
	return inv, nil
}

// localDomains are the domains the server delivers for.
func localDomains(e *estate) []string {
	var out []string
	for _, p := range []string{"virtual_mailbox_domains", "mydestination", "virtual_alias_domains"} {
		for _, d := range strings.FieldsFunc(e.Postconf[p], func(r rune) bool { return r == ',' || r == ' ' }) {
			if !strings.HasPrefix(d, "$") && !strings.Contains(d, ":") && !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

func (t *target) handedMailbox(login string) bool {
	return slices.ContainsFunc(t.s.Mailboxes, func(h handed) bool { return strings.EqualFold(h.Login, login) })
}

// held compares the store's current password of login with its stored
// hash, without sending anything anywhere.
func (t *target) held(ctx context.Context, login, hash, defScheme string) connector.Held {
	if t.env.Secrets == nil {
		return connector.HeldUnknown
	}
	cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, t.s.Name, login))
	if err != nil {
		return connector.HeldUnknown
	}
	if !ok {
		return connector.HeldAbsent
	}
	defer cur.Destroy()
	scheme, value := hashScheme(hash, defScheme)
	if scheme != "SHA512-CRYPT" && !(scheme == "CRYPT" && strings.HasPrefix(value, "$6$")) {
		return connector.HeldUnknown
	}
	pw := cur.RevealBytes()
	defer clear(pw)
	if m, ok := shacrypt.Matches(pw, value); ok && m {
		return connector.HeldCurrent
	}
	return connector.HeldDiffers
}

// describeEstate fills the system from what was read.
//
// Long: one pass per kind of thing the dossier lists.
func (t *target) describeEstate(ctx context.Context, e *estate, sys *connector.System) {
	fact := func(name, value string, planned bool) {
		if value != "" {
			sys.Facts = append(sys.Facts, connector.Fact{Name: name, Value: value, Planned: planned})
		}
	}
	domains := localDomains(e)
	fact("hostname", e.Hostname, false)
	fact("dovecot", e.DovecotVersion, false)
	fact("postfix", e.PostfixVersion, false)
	fact("domains", strings.Join(domains, ", "), false)
	fact("protocols", e.Conf.get("protocols"), false)
	fact("listen", e.Conf.get("listen"), false)
	fact("ssl", e.Conf.get("ssl"), false)
	fact("disable_plaintext_auth", e.Conf.get("disable_plaintext_auth"), false)
	if size := e.Conf.get("auth_cache_size"); size != "" && size != "0" {
		ttl := e.Conf.get("auth_cache_ttl")
		if ttl == "" {
			ttl = "1 hour (default)"
		}
		fact("auth_cache", "size "+size+", ttl "+ttl+": flushed before every login proof", false)
	}
	fact("master_user_separator", e.Conf.get("auth_master_user_separator"), true)
	fact("imap", t.s.IMAP, false)
	if t.s.ManageSieve != "" {
		fact("managesieve", t.s.ManageSieve, false)
	}
	if e.Postconf != nil {
		fact("myhostname", e.Postconf["myhostname"], false)
		fact("relayhost", e.Postconf["relayhost"], false)
	}
	plugin := pluginSettings(e.Conf)
	fact("sieve", plugin["sieve"], false)
	for _, k := range []string{"sieve_before", "sieve_after", "sieve_default"} {
		fact(k, plugin[k], false)
	}
	if e.DovecotVersion != "" {
		sys.Software = append(sys.Software, connector.Package{Name: "dovecot", Version: e.DovecotVersion})
	}
	if e.PostfixVersion != "" {
		sys.Software = append(sys.Software, connector.Package{Name: "postfix", Version: e.PostfixVersion})
	}
	sys.Ports = append(sys.Ports, connector.Port{Proto: "imap", Addr: t.s.IMAP, Process: "dovecot"})
	if t.s.ManageSieve != "" {
		sys.Ports = append(sys.Ports, connector.Port{Proto: "managesieve", Addr: t.s.ManageSieve, Process: "dovecot"})
	}
	if t.s.SMTP != "" {
		sys.Ports = append(sys.Ports, connector.Port{Proto: "smtp", Addr: t.s.SMTP, Process: "postfix"})
	}

	// Passdbs and userdbs.
	seen := map[string]bool{}
	for i, db := range e.DBs {
		fact(fmt.Sprintf("%s %d", db.Kind, i+1), db.label(), true)
		switch {
		case db.Driver == "passwd-file" && db.Variables:
			e.Problems = append(e.Problems, fmt.Sprintf("%s: its path has variables; the connector reads no such file and rotates none of its passwords", db.label()))
		case db.Driver == "passwd-file":
			if why, ok := e.Unreadable[db.File]; ok {
				e.Problems = append(e.Problems, fmt.Sprintf("%s: %s", db.label(), why))
			}
		case db.Kind == "userdb" && (db.Driver == "static" || db.Driver == "prefetch"):
		case db.Driver == "ldap":
			t.describeLDAPDB(e, db, sys)
		default:
			e.Problems = append(e.Problems, fmt.Sprintf("%s: the connector does not support the %s driver: it lists it, and rotates none of its passwords (change them where %s keeps them)", db.label(), db.Driver, db.Driver))
		}
	}
	separator := e.Conf.get("auth_master_user_separator")
	for _, db := range e.DBs {
		if db.Kind != "passdb" || db.File == "" {
			continue
		}
		schemes := map[string]int{}
		for _, en := range e.Passwd[db.File] {
			sc, _ := hashScheme(en.Hash, db.Scheme)
			schemes[sc]++
		}
		var sc []string
		for k, n := range schemes {
			sc = append(sc, fmt.Sprintf("%s (%d)", k, n))
		}
		sort.Strings(sc)
		fact("password schemes in "+db.File, strings.Join(sc, ", "), false)
		for _, en := range e.Passwd[db.File] {
			if seen[db.File+"\x00"+en.User] {
				continue
			}
			seen[db.File+"\x00"+en.User] = true
			scheme, _ := hashScheme(en.Hash, db.Scheme)
			a := connector.Account{Name: en.User, Display: en.Gecos, State: "enabled"}
			if extraHas(en.Extra, "nologin") || strings.HasPrefix(en.Hash, "!") || en.Hash == "" {
				a.State = "disabled"
			}
			if db.Master {
				a.Admin = true
				a.AdminVia = []string{fmt.Sprintf("master passdb %s: logs in to any mailbox as MAILBOX%s%s with its own password", db.File, separator, en.User)}
				a.Reasons = t.out.Account(en.User)
				a.Provider = len(a.Reasons) > 0
				f := connector.Finding{
					ID: "master-user:" + en.User, Kind: connector.KindMaster, Object: en.User,
					Summary:  fmt.Sprintf("master user %s (%s): opens every mailbox", en.User, db.File),
					Provider: a.Provider, Reasons: a.Reasons,
					Detail: map[string]string{"passdb": db.File, "scheme": scheme, "login": "MAILBOX" + separator + en.User},
					Data:   masterData{File: db.File, Login: en.User},
				}
				sys.Findings = append(sys.Findings, f)
			} else {
				a.Reasons = t.out.Account(en.User, en.User)
				a.Provider = len(a.Reasons) > 0
				if t.handedMailbox(en.User) {
					a.Admin = true
					a.AdminVia = []string{"function or admin mailbox whose password the outgoing provider handed over (mailboxes:)"}
				}
				if a.Provider {
					sys.Findings = append(sys.Findings, connector.Finding{
						ID: "account:" + en.User, Kind: connector.KindAccount, Object: en.User,
						Summary:  fmt.Sprintf("mailbox %s of the outgoing provider on the client's server (%s)", en.User, a.State),
						Provider: true, Reasons: a.Reasons,
						Data: mailboxData{File: db.File, Login: en.User},
					})
				}
			}
			if !a.Provider && !db.Variables {
				a.Password = &connector.Password{Held: t.held(ctx, en.User, en.Hash, db.Scheme)}
			}
			if !db.Master {
				var about []string
				if kb, ok := e.Sizes[en.Home]; ok {
					about = append(about, humanKiB(kb))
				}
				if at, ok := e.LastLogin[en.User]; ok {
					about = append(about, "last login "+at)
				}
				if q := userQuota(en.Extra, plugin); q != "" {
					about = append(about, "quota "+q)
				}
				fact("mailbox "+en.User, strings.Join(about, ", "), false)
			}
			sys.Accounts = append(sys.Accounts, a)
		}
	}
	// A master passdb holding only the provider's master users goes whole:
	// emptied, it would stay in the configuration for nothing.
	for _, db := range e.DBs {
		if db.Kind != "passdb" || !db.Master || db.File == "" || db.Variables {
			continue
		}
		entries := e.Passwd[db.File]
		var theirs []string
		for _, en := range entries {
			if len(t.out.Account(en.User)) > 0 {
				theirs = append(theirs, en.User)
			}
		}
		if len(theirs) == 0 || len(theirs) != len(entries) {
			continue
		}
		f := connector.Finding{
			ID: "master-passdb:" + db.File, Kind: connector.KindMaster, Object: db.label(),
			Summary:  fmt.Sprintf("%s holds only the outgoing provider's master users (%s)", db.label(), strings.Join(theirs, ", ")),
			Provider: true, Reasons: []string{"every entry is a master user of the outgoing provider: " + strings.Join(theirs, ", ")},
			Detail: map[string]string{"passdb": db.File, "conf": e.ConfPath},
		}
		if e.ConfPath != "" {
			f.Data = masterPassdbData{File: db.File, Conf: e.ConfPath}
		} else {
			e.Problems = append(e.Problems, db.label()+": doveconf -n did not name its configuration file: the master passdb's block is not removed")
		}
		sys.Findings = append(sys.Findings, f)
	}
	// Handed-over mailboxes no passwd-file holds: the directory's, when an
	// LDAP passdb authenticates them.
	for _, h := range t.s.Mailboxes {
		if slices.ContainsFunc(sys.Accounts, func(a connector.Account) bool { return strings.EqualFold(a.Name, h.Login) }) {
			continue
		}
		if !t.describeLDAPMailbox(ctx, e, h, sys) {
			e.Problems = append(e.Problems, fmt.Sprintf("mailbox %s (mailboxes:) is in no passwd-file passdb the connector reads: its password is not rotated here", h.Login))
		}
	}

	sys.Findings = append(sys.Findings, t.sieveFindings(e.Scripts)...)
	t.describeSharing(e, sys, fact)

	// Postfix tables.
	for _, m := range e.Maps {
		fact("postfix "+m.Param, m.Type+":"+m.File, false)
		if m.Err != "" {
			e.Problems = append(e.Problems, fmt.Sprintf("postfix %s %s:%s: %s", m.Param, m.Type, m.File, m.Err))
			continue
		}
		for _, en := range m.Entries {
			var drop, external []string
			for _, v := range en.Values {
				if t.out.Domain(v) != "" {
					drop = append(drop, v)
				}
				if _, d, ok := strings.Cut(v, "@"); ok && !slices.Contains(domains, strings.ToLower(d)) {
					external = append(external, v)
				}
			}
			if len(external) == 0 && m.Param != "recipient_bcc_maps" && m.Param != "sender_bcc_maps" {
				continue
			}
			f := connector.Finding{
				ID: "postfix:" + m.File + ":" + en.Key, Kind: connector.KindForward, Object: m.File + " " + en.Key,
				Summary: fmt.Sprintf("Postfix %s (%s): %s -> %s", m.Param, m.File, en.Key, strings.Join(en.Values, ", ")),
				Detail:  map[string]string{"param": m.Param, "key": en.Key, "values": strings.Join(en.Values, ", ")},
			}
			if len(drop) > 0 {
				f.Provider = true
				for _, a := range drop {
					f.Reasons = append(f.Reasons, fmt.Sprintf("copies mail to %s, in the provider's domain %s", a, t.out.Domain(a)))
				}
				f.Data = mapData{Param: m.Param, Type: m.Type, File: m.File, Key: en.Key, Drop: drop}
				if m.Type != "texthash" && !strings.Contains(m.Source, en.Key) {
					e.Problems = append(e.Problems, fmt.Sprintf("postfix %s: entry %s is in the table but not in its source file %s: rebuild the table (postmap) or edit it by hand", m.Param, en.Key, m.File))
					f.Data = nil
				}
			}
			sys.Findings = append(sys.Findings, f)
		}
	}
	for _, p := range []string{"always_bcc"} {
		if v := e.Postconf[p]; v != "" {
			f := connector.Finding{ID: "postfix:" + p, Kind: connector.KindForward, Object: p,
				Summary: fmt.Sprintf("Postfix %s = %s: a copy of every message", p, v)}
			if d := t.out.Domain(v); d != "" {
				f.Provider, f.Reasons = true, []string{fmt.Sprintf("copies every message to %s, in the provider's domain %s", v, d)}
				e.Problems = append(e.Problems, fmt.Sprintf("postfix always_bcc = %s sends a copy of every message to the provider: remove it from main.cf (postconf -X always_bcc; postfix reload); the connector does not edit main.cf", v))
			}
			sys.Findings = append(sys.Findings, f)
		}
	}
	for _, fw := range e.Forwards {
		var drop []string
		for _, v := range fw.Targets {
			if t.out.Domain(v) != "" {
				drop = append(drop, v)
			}
		}
		f := connector.Finding{ID: "forward:" + fw.Path, Kind: connector.KindForward, Object: fw.Path,
			Summary: fmt.Sprintf(".forward %s -> %s", fw.Path, strings.Join(fw.Targets, ", "))}
		if len(drop) > 0 {
			f.Provider = true
			f.Reasons = []string{"forwards to the provider's domain: " + strings.Join(drop, ", ")}
			fd := forwardData{Path: fw.Path, Drop: drop}
			if user, ok := strings.CutPrefix(path.Dir(fw.Path), "/home/"); ok && !strings.Contains(user, "/") && e.Postconf["myhostname"] != "" {
				fd.Address = user + "@" + e.Postconf["myhostname"]
			}
			f.Data = fd
		}
		sys.Findings = append(sys.Findings, f)
	}
	sort.Strings(e.Problems)
	for _, p := range e.Problems {
		sys.Findings = append(sys.Findings, connector.Finding{
			ID: "unsupported:" + p, Kind: connector.KindPolicy, Object: t.s.Name, Summary: p,
		})
	}
}

// sieveFindings describes every script's sending actions and includes; a
// script sending to the provider carries the data its rewrite needs.
func (t *target) sieveFindings(scripts []script) []connector.Finding {
	var out []connector.Finding
	for _, s := range scripts {
		owner := s.User
		if s.Global {
			owner = "global " + s.Path
		}
		if s.ParseErr != "" {
			out = append(out, connector.Finding{
				ID: "sieve-unparsed:" + owner + ":" + s.Name, Kind: connector.KindForward, Object: owner + " " + s.Name,
				Summary:  fmt.Sprintf("Sieve script %q of %s cannot be parsed (%s): it is not changed; read it by hand", s.Name, owner, s.ParseErr),
				Provider: len(t.out.Text(s.Content)) > 0, Reasons: t.out.Text(s.Content),
			})
			continue
		}
		var drop []string
		var descr []string
		kept := 0
		for _, a := range s.Actions {
			if a.Kind == "include" {
				descr = append(descr, "include "+a.Include)
				continue
			}
			provider := false
			for _, addr := range a.Addresses {
				if t.out.Domain(addr) != "" {
					provider = true
					if !slices.Contains(drop, addr) {
						drop = append(drop, addr)
					}
				}
			}
			d := a.Kind
			if a.Copy {
				d += " :copy"
			}
			if len(a.Addresses) > 0 {
				d += " " + strings.Join(a.Addresses, ", ")
			}
			if a.Conditional {
				d += " (conditional)"
			}
			descr = append(descr, d)
			if !provider || a.Kind != "redirect" && a.Kind != "notify" {
				kept++
			}
		}
		if len(descr) == 0 {
			continue
		}
		state := "inactive"
		if s.Active {
			state = "active"
		}
		f := connector.Finding{
			ID: "sieve:" + owner + ":" + s.Name, Kind: connector.KindForward, Object: owner + " " + s.Name,
			Summary: fmt.Sprintf("Sieve script %q of %s (%s): %s", s.Name, owner, state, strings.Join(descr, "; ")),
			Detail:  map[string]string{"user": s.User, "script": s.Name, "active": fmt.Sprint(s.Active)},
		}
		backup := !s.Active && strings.Contains(s.Name, backupName("", ""))
		if backup {
			f.Summary += " — the old version kept inactive by handover, as evidence"
		}
		if len(drop) > 0 {
			f.Provider = true
			for _, a := range drop {
				f.Reasons = append(f.Reasons, fmt.Sprintf("sends mail to %s, in the provider's domain %s", a, t.out.Domain(a)))
			}
			// What else in the script names the provider (a comment).
			f.Reasons = append(f.Reasons, t.out.Text(strings.Join(sieveComments(s.Content), "\n"))...)
		}
		if len(drop) > 0 && !backup {
			f.Data = sieveData{User: s.User, Script: s.Name, Global: s.Global, Path: s.Path, Active: s.Active, SHA256: s.sum(), Drop: drop, Kept: kept}
		}
		out = append(out, f)
	}

	return out
}

// sieveComments are a script's comments, where a provider often signs
// its rules.
func sieveComments(src string) []string {
	var out []string
	for _, l := range strings.Split(src, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "#") {
			out = append(out, t)
		}
	}
	return out
}

// humanKiB writes a du -k size for people.
func humanKiB(kb string) string {
	n, err := strconv.ParseFloat(kb, 64)
	switch {
	case err != nil:
		return kb + " KiB"
	case n >= 1024*1024:
		return strconv.FormatFloat(n/1024/1024, 'f', 1, 64) + " GiB"
	case n >= 1024:
		return strconv.FormatFloat(n/1024, 'f', 1, 64) + " MiB"
	}
	return kb + " KiB"
}
