package ssh

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
)

// Finding detail keys the plan reads.
const (
	detailFile      = "file"
	detailUser      = "user"
	detailAccessKey = "access_key"
	detailText      = "text"
	detailInStore   = "in_store"
	detailScheme    = "scheme"
)

// Facts the plan reads.
const (
	factAccessKeyFile = "access_key_file"
	factAccessKeyType = "access_key_type"
)

// adminGroups are the groups whose members may become root by sudo (or
// su on RHEL).
var adminGroups = []string{"sudo", "wheel", "admin"}

// hostContext is what building a System needs beyond the script output.
type hostContext struct {
	Name, Address string
	Outgoing      connector.Outgoing
	Catalog       *Catalog
	AccessUser    string
	// AccessKeyFP is the fingerprint of this host's access key, if one is
	// configured or already in the store.
	AccessKeyFP string
	// AccessKeyType is the key type policy.access_key_type asks for a new
	// access key ("ed25519", "rsa"; "" for the default, ed25519).
	AccessKeyType string
	// RotateExtra are accounts policy.rotate.accounts names for the target.
	RotateExtra []string
	RotateAdmin bool
	// StoreState returns, for an account, whether the secret store's
	// current password matches its shadow hash: "current", "differs",
	// "absent" or "unknown".
	StoreState func(account, hash string) string
	Now        time.Time
}

// buildSystem turns a host's parsed inventory into the dossier's System,
// tagging every finding with why it is (or is not) the provider's.
func buildSystem(h *hostData, hc hostContext) connector.System {
	s := connector.System{Name: hc.Name, Kind: "host", Address: hc.Address}
	fact := func(name, value string) {
		if value != "" {
			s.Facts = append(s.Facts, connector.Fact{Name: name, Value: value})
		}
	}
	fact("hostname", h.Hostname)
	fact("os", firstNonEmpty(h.OS["PRETTY_NAME"], h.OS["NAME"]))
	fact("os_id", h.OS["ID"])
	fact("os_version", h.OS["VERSION_ID"])
	fact("kernel", h.Kernel)
	fact("package_manager", strings.Join(h.PkgMgrs, " "))
	if h.Systemd {
		fact("systemd", "running")
	} else {
		fact("systemd", "not running (services read from unit files and processes)")
	}
	for _, k := range []string{"passwordauthentication", "kbdinteractiveauthentication", "permitrootlogin", "authorizedkeysfile", "authorizedkeyscommand"} {
		fact("sshd_"+k, h.SSHD[k])
	}
	// A command sshd asks for keys is an access of its own: whoever feeds
	// it logs in. It is reported, not changed (handover edits no sshd
	// setting), so that the dossier shows it and the report counts it.
	if cmd := h.SSHD["authorizedkeyscommand"]; cmd != "" && cmd != "none" {
		why := hc.Outgoing.Text(cmd)
		s.Findings = append(s.Findings, connector.Finding{
			ID: "auth-method:sshd-authorized-keys-command", Kind: connector.KindAuth, Object: "AuthorizedKeysCommand",
			Summary:  fmt.Sprintf("sshd accepts every key that %q prints (AuthorizedKeysCommand); remove it from sshd's configuration by hand if it is not the client's", cmd),
			Provider: len(why) > 0, Reasons: why,
			Detail: map[string]string{"command": cmd},
		})
	}

	hw := &connector.Hardware{Vendor: h.DMI["sys_vendor"], Model: h.DMI["product_name"], Serial: h.DMI["product_serial"], CPUModel: h.CPUModel, CPUs: h.CPUs, MemoryMB: h.MemKB / 1024, IPs: h.IPs}
	for _, d := range h.Disks {
		hw.Disks = append(hw.Disks, connector.Disk{Name: d.Name, SizeMB: d.Sectors * 512 / (1 << 20), Model: d.Model})
	}
	s.Hardware = hw

	for _, p := range h.Packages {
		s.Software = append(s.Software, connector.Package{Name: p.Name, Version: p.Version, State: p.State})
	}
	s.Services = services(h)
	s.Ports = ports(h)

	users := map[string]passwdEntry{}
	for _, p := range h.Passwd {
		users[p.Name] = p
	}
	grants := parseGrants(h, hc.Outgoing)
	adminVia := adminReasons(h, grants)
	providerAccounts := map[string]bool{}
	today := int(hc.Now.Unix() / 86400)
	for _, p := range h.Passwd {
		a := connector.Account{Name: p.Name, Display: strings.Split(p.Gecos, ",")[0]}
		a.AdminVia = adminVia[p.Name]
		a.Admin = len(a.AdminVia) > 0
		a.Service = p.UID != 0 && (p.UID < 1000 || p.UID == 65534) && isNoLogin(p.Shell)
		sh, hasShadow := h.Shadow[p.Name]
		a.State = accountState(sh, hasShadow, today)
		if hasShadow && sh.LastChange > 0 {
			t := time.Unix(int64(sh.LastChange)*86400, 0).UTC()
			a.PasswordChanged = &t
		}
		var mails []string
		for _, f := range strings.Split(p.Gecos, ",") {
			if strings.Contains(f, "@") {
				mails = append(mails, strings.TrimSpace(f))
			}
		}
		a.Reasons = hc.Outgoing.Account(p.Name, mails...)
		a.Provider = len(a.Reasons) > 0
		if a.Provider {
			providerAccounts[p.Name] = true
			s.Findings = append(s.Findings, connector.Finding{
				ID: "account:" + p.Name, Kind: connector.KindAccount, Object: p.Name, Provider: true, Reasons: a.Reasons,
				Summary: fmt.Sprintf("account %s (uid %d, %s)", p.Name, p.UID, a.State),
				Detail:  map[string]string{"state": a.State, "uid": strconv.Itoa(p.UID)},
			})
		}
		s.Accounts = append(s.Accounts, a)
	}

	// Credentials the plan may rotate: admins (policy.rotate.admins) and
	// the accounts policy.rotate.accounts names, when they have a password.
	for _, a := range s.Accounts {
		wanted := (hc.RotateAdmin && a.Admin) || slices.Contains(hc.RotateExtra, a.Name)
		sh, ok := h.Shadow[a.Name]
		if !wanted || !ok || a.Provider {
			continue
		}
		f := connector.Finding{
			ID: "credential-age:" + a.Name, Kind: connector.KindCredAge, Object: a.Name,
			Detail: map[string]string{"state": a.State, detailScheme: hashScheme(sh.Hash)},
		}
		if a.PasswordChanged != nil {
			f.Detail["last_change"] = a.PasswordChanged.Format(time.DateOnly)
			f.Summary = fmt.Sprintf("password of %s last changed %s (%d days ago)", a.Name, a.PasswordChanged.Format(time.DateOnly), today-sh.LastChange)
		} else {
			f.Summary = fmt.Sprintf("password of %s: last change unknown", a.Name)
		}
		if a.State == "enabled" && hc.StoreState != nil {
			f.Detail[detailInStore] = hc.StoreState(a.Name, sh.Hash)
		}
		if a.Admin {
			f.Reasons = append(f.Reasons, "admin: "+strings.Join(a.AdminVia, "; "))
		}
		if slices.Contains(hc.RotateExtra, a.Name) {
			f.Reasons = append(f.Reasons, "listed in policy.rotate.accounts")
		}
		s.Findings = append(s.Findings, f)
	}

	s.Findings = append(s.Findings, keyFindings(h, hc, providerAccounts)...)
	for _, g := range grants {
		s.Findings = append(s.Findings, g.finding(providerAccounts))
	}
	s.Findings = append(s.Findings, correlateAddresses(cronFindings(h, hc, providerAccounts))...)
	agents := agentFindings(h, hc)
	s.Findings = append(s.Findings, agents...)
	s.Findings = append(s.Findings, serviceFindings(h, hc, agents)...)
	s.Findings = append(s.Findings, processFindings(h, hc, agents)...)

	if u, ok := users[hc.AccessUser]; ok {
		s.Facts = append(s.Facts, connector.Fact{Name: factAccessKeyFile, Value: authorizedKeysPath(h.SSHD["authorizedkeysfile"], u), Planned: true})
		s.Facts = append(s.Facts, connector.Fact{Name: factAccessKeyType, Value: accessKeyType(h, hc.AccessKeyType), Planned: true})
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func isNoLogin(shell string) bool {
	b := path.Base(shell)
	return b == "nologin" || b == "false" || b == "sync" || shell == ""
}

func accountState(sh shadowEntry, ok bool, today int) string {
	switch {
	case !ok:
		return "enabled"
	case sh.Expire >= 0 && sh.Expire <= today:
		return "expired"
	case strings.HasPrefix(sh.Hash, "!"):
		return "locked"
	case sh.Hash == "*" || sh.Hash == "":
		return "disabled"
	}
	return "enabled"
}

func hashScheme(h string) string {
	switch {
	case strings.HasPrefix(h, "$6$"):
		return "sha512crypt"
	case strings.HasPrefix(h, "$y$"):
		return "yescrypt"
	case strings.HasPrefix(h, "$5$"):
		return "sha256crypt"
	case strings.HasPrefix(h, "$2"):
		return "bcrypt"
	case strings.HasPrefix(h, "$1$"):
		return "md5crypt"
	case strings.HasPrefix(h, "!") || h == "*" || h == "":
		return "none"
	}
	return "other"
}

// authorizedKeysPath expands the first AuthorizedKeysFile pattern for u:
// where a new key goes.
func authorizedKeysPath(setting string, u passwdEntry) string {
	pats := strings.Fields(setting)
	pat := ".ssh/authorized_keys"
	for _, p := range pats {
		if p != "none" {
			pat = p
			break
		}
	}
	r := strings.NewReplacer("%h", u.Home, "%u", u.Name, "%U", strconv.Itoa(u.UID), "%%", "%")
	p := r.Replace(pat)
	if !strings.HasPrefix(p, "/") {
		p = path.Join(u.Home, p)
	}
	return p
}

func services(h *hostData) []connector.Service {
	running := func(u unitFile) bool {
		if h.Systemd {
			return h.RunningUnits[u.Name]
		}
		if u.Exec == "" {
			return false
		}
		for _, p := range h.Procs {
			if exeOf(p) == u.Exec || (path.Base(u.Exec) == p.Comm) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	var out []connector.Service
	for _, u := range h.UnitFiles {
		if !strings.HasSuffix(u.Name, ".service") || seen[u.Name] || u.Link == "/dev/null" {
			continue
		}
		seen[u.Name] = true
		svc := connector.Service{Name: u.Name, Enabled: h.Enabled[u.Name], Running: running(u)}
		if svc.Enabled || svc.Running {
			out = append(out, svc)
		}
	}
	return out
}

func exeOf(p procInfo) string {
	return strings.TrimSuffix(p.Exe, " (deleted)")
}

// ports lists the listening sockets some process of the host owns. The
// network namespace may be shared (containers, the test fleet), so
// sockets no visible process holds are left out.
func ports(h *hostData) []connector.Port {
	comm := map[int]string{}
	for _, p := range h.Procs {
		comm[p.PID] = p.Comm
	}
	seen := map[string]bool{}
	var out []connector.Port
	for _, l := range h.Listen {
		pid, ok := h.SocketPIDs[l.Inode]
		if !ok {
			continue
		}
		k := l.Proto + " " + l.Addr
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, connector.Port{Proto: l.Proto, Addr: l.Addr, Process: fmt.Sprintf("%s (pid %d)", comm[pid], pid)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proto+out[i].Addr < out[j].Proto+out[j].Addr })
	return out
}

// caOwner is the account name under which the inventory lists the keys
// sshd trusts as user certificate authorities.
const caOwner = "@ca"

func keyFindings(h *hostData, hc hostContext, providerAccounts map[string]bool) []connector.Finding {
	var out []connector.Finding
	for _, f := range h.Files {
		if f.Kind != "authorized_keys" {
			continue
		}
		for _, k := range parseAuthorizedKeys(f.Data) {
			fd := connector.Finding{
				ID:     "ssh-key:" + f.Owner + ":" + k.Fingerprint + ":" + f.Path,
				Kind:   connector.KindSSHKey,
				Object: f.Owner + ":" + k.Fingerprint,
				Detail: map[string]string{detailFile: f.Path, detailUser: f.Owner, "fingerprint": k.Fingerprint, "type": k.Type, "comment": k.Comment, "line": strconv.Itoa(k.Line), "mode": f.Mode},
			}
			if len(k.Options) > 0 {
				fd.Detail["options"] = strings.Join(k.Options, ",")
			}
			fd.Summary = fmt.Sprintf("%s key %s %q authorises %s (%s)", k.Type, k.Fingerprint, k.Comment, f.Owner, f.Path)
			if f.Owner == caOwner {
				fd.Summary = fmt.Sprintf("%s key %s %q is a user certificate authority sshd trusts (TrustedUserCAKeys %s): a certificate it signs logs in", k.Type, k.Fingerprint, k.Comment, f.Path)
			}
			if k.Fingerprint == hc.AccessKeyFP && hc.AccessKeyFP != "" {
				fd.Detail[detailAccessKey] = "true"
				fd.Summary += ", the new access key"
			} else {
				fd.Reasons = hc.Outgoing.Key(k.Fingerprint, k.Comment)
				if providerAccounts[f.Owner] {
					fd.Reasons = append(fd.Reasons, fmt.Sprintf("authorises the provider's account %s", f.Owner))
				}
				fd.Provider = len(fd.Reasons) > 0
			}
			out = append(out, fd)
		}
	}
	return out
}

// grant is one sudoers rule that names users.
type grant struct {
	File, Text string
	Users      []string // users, %groups, aliases, as written
	// Members are Users with their aliases (User_Alias) expanded.
	Members []string
	// Rest is the rule after its user list: hosts, run-as, commands.
	Rest string
	// Drop are the Users that are the provider's (an account, a group, or
	// an alias of the provider's alone); Keep the others.
	Drop, Keep []string
	// SharedAlias: the rule is the provider's only through a User_Alias
	// that also names others.
	SharedAlias bool
	All         bool // grants every command
	Reasons     []string
}

// splitUserList splits a sudoers rule into its user list ("a, b,%g") and
// the rest ("ALL=(ALL) ALL"). Items are separated by commas, with or
// without blanks around them; the list ends at the first blank not
// followed by a comma.
func splitUserList(text string) (users []string, rest string) {
	s := strings.TrimLeft(text, " \t")
	for {
		i := strings.IndexAny(s, ", \t")
		if i < 0 {
			return append(users, s), ""
		}
		if item := s[:i]; item != "" {
			users = append(users, item)
		}
		s = s[i:]
		t := strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(t, ",") {
			return users, strings.TrimSpace(t)
		}
		s = strings.TrimLeft(t[1:], " \t")
	}
}

// rewritten is the rule with the provider's users left out, "" when it
// has no other user (then the whole rule goes).
func (g grant) rewritten() string {
	if len(g.Keep) == 0 || len(g.Drop) == 0 {
		return ""
	}
	return strings.Join(g.Keep, ", ") + " " + g.Rest
}

func (g grant) finding(providerAccounts map[string]bool) connector.Finding {
	reasons := slices.Clone(g.Reasons)
	for _, u := range g.Members {
		if providerAccounts[u] {
			reasons = append(reasons, fmt.Sprintf("grants the provider's account %s", u))
		}
	}
	slices.Sort(reasons)
	reasons = slices.Compact(reasons)
	summary := fmt.Sprintf("sudoers %s: %s", g.File, g.Text)
	if g.SharedAlias {
		summary += " (the provider's account is in a User_Alias that also names others: edit the alias by hand)"
	}
	return connector.Finding{
		ID:       "grant:" + g.File + ":" + shortHash(g.Text),
		Kind:     connector.KindGrant,
		Object:   strings.Join(g.Users, ","),
		Summary:  summary,
		Provider: len(reasons) > 0,
		Reasons:  reasons,
		Detail:   map[string]string{detailFile: g.File, detailText: g.Text, "members": strings.Join(g.Members, ","), "keep": strings.Join(g.Keep, ","), "drop": strings.Join(g.Drop, ","), "rewritten": g.rewritten(), "shared_alias": strconv.FormatBool(g.SharedAlias)},
	}
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

var sudoersKeywords = []string{"Defaults", "Host_Alias", "Runas_Alias", "Cmnd_Alias", "Cmd_Alias", "User_Alias"}

// sudoersLine is one logical line of a sudoers file: physical lines
// joined where one ends with a backslash.
type sudoersLine struct {
	Text string // trimmed; continued lines joined by a space
	Raw  []byte // the physical lines, as in the file
}

func sudoersLines(data []byte) []sudoersLine {
	var out []sudoersLine
	var cur sudoersLine
	var parts []string
	for _, line := range splitLines(data) {
		cur.Raw = append(cur.Raw, line...)
		s := strings.TrimSpace(string(line))
		if cont, ok := strings.CutSuffix(s, "\\"); ok && !strings.HasPrefix(s, "#") {
			parts = append(parts, strings.TrimSpace(cont))
			continue
		}
		parts = append(parts, s)
		cur.Text = strings.TrimSpace(strings.Join(parts, " "))
		out = append(out, cur)
		cur, parts = sudoersLine{}, nil
	}
	if len(parts) > 0 { // a file ending in a backslash
		cur.Text = strings.TrimSpace(strings.Join(parts, " "))
		out = append(out, cur)
	}
	return out
}

// removeSudoersRule drops every logical line whose text is text, with all
// its physical lines, or puts replace (one line) in its place.
func removeSudoersRule(data []byte, text, replace string) ([]byte, int) {
	var out bytes.Buffer
	n := 0
	want := strings.TrimSpace(text)
	for _, l := range sudoersLines(data) {
		if l.Text == want {
			n++
			if replace != "" {
				out.WriteString(replace + "\n")
			}
			continue
		}
		out.Write(l.Raw)
	}
	return out.Bytes(), n
}

// sudoersIgnored tells the files of /etc/sudoers.d that sudo skips: names
// with a dot or ending in ~ (editors' and package managers' leftovers).
func sudoersIgnored(p string) bool {
	dir, base := path.Split(p)
	return dir == "/etc/sudoers.d/" && (strings.Contains(base, ".") || strings.HasSuffix(base, "~"))
}

// userAliases reads every User_Alias definition of the sudoers files:
// "User_Alias A = u1, %g : B = u2".
func userAliases(h *hostData) map[string][]string {
	aliases := map[string][]string{}
	for _, f := range h.Files {
		if f.Kind != "sudoers" || sudoersIgnored(f.Path) {
			continue
		}
		for _, l := range sudoersLines(f.Data) {
			def, ok := strings.CutPrefix(l.Text, "User_Alias")
			if !ok || def == "" || (def[0] != ' ' && def[0] != '\t') {
				continue
			}
			for _, d := range strings.Split(def, ":") {
				name, members, ok := strings.Cut(d, "=")
				if !ok {
					continue
				}
				for _, m := range strings.Split(members, ",") {
					if m = strings.TrimSpace(m); m != "" {
						aliases[strings.TrimSpace(name)] = append(aliases[strings.TrimSpace(name)], m)
					}
				}
			}
		}
	}
	return aliases
}

// expandAliases replaces aliases by their members, recursively (an alias
// may name another).
func expandAliases(users []string, aliases map[string][]string) []string {
	var out []string
	var walk func(u string, depth int)
	walk = func(u string, depth int) {
		if m, ok := aliases[u]; ok && depth < 8 {
			for _, x := range m {
				walk(x, depth+1)
			}
			return
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, u := range users {
		walk(u, 0)
	}
	return out
}

// parseGrants reads every sudoers file's user specifications.
func parseGrants(h *hostData, out connector.Outgoing) []grant {
	aliases := userAliases(h)
	var gs []grant
	for _, f := range h.Files {
		if f.Kind != "sudoers" || sudoersIgnored(f.Path) {
			continue
		}
		fileWhy := out.Text(path.Base(f.Path))
		headerWhy := commentReasons(f.Data, out)
		if f.Path == "/etc/sudoers" {
			headerWhy = nil // the distribution's file: its comments say nothing of who added a rule
		}
		for _, l := range sudoersLines(f.Data) {
			text := l.Text
			if text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "@include") {
				continue
			}
			first := strings.Fields(text)[0]
			if slices.ContainsFunc(sudoersKeywords, func(k string) bool { return strings.HasPrefix(first, k) }) {
				continue
			}
			g := grant{File: f.Path, Text: text}
			g.Users, g.Rest = splitUserList(text)
			_, cmds, _ := strings.Cut(text, "=")
			if i := strings.LastIndex(cmds, ")"); i >= 0 {
				cmds = cmds[i+1:]
			}
			cmds = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(cmds), "NOPASSWD:"))
			g.All = cmds == "ALL" || strings.HasSuffix(cmds, " ALL") || strings.HasSuffix(cmds, ":ALL")
			g.Members = expandAliases(g.Users, aliases)
			for _, u := range g.Users {
				provider := true
				for _, m := range expandAliases([]string{u}, aliases) {
					if len(out.Account(strings.TrimPrefix(m, "%"))) == 0 {
						provider = false
					}
				}
				if provider {
					g.Drop = append(g.Drop, u)
				} else {
					g.Keep = append(g.Keep, u)
				}
			}
			for _, u := range g.Members {
				name := strings.TrimPrefix(u, "%")
				for _, why := range out.Account(name) {
					g.Reasons = append(g.Reasons, "user "+u+": "+why)
				}
			}
			userWhy := len(g.Reasons)
			g.Reasons = append(g.Reasons, out.Text(text)...)
			for _, why := range fileWhy {
				g.Reasons = append(g.Reasons, "file name "+why)
			}
			g.Reasons = append(g.Reasons, headerWhy...)
			// The provider's through its members alone, none of them
			// named in the rule: through an alias shared with others.
			g.SharedAlias = userWhy > 0 && len(g.Reasons) == userWhy && len(g.Drop) == 0
			gs = append(gs, g)
		}
	}
	return gs
}

// adminReasons says, per account, why it can act as root.
func adminReasons(h *hostData, grants []grant) map[string][]string {
	why := map[string][]string{}
	add := func(u, r string) {
		if !slices.Contains(why[u], r) {
			why[u] = append(why[u], r)
		}
	}
	gidName := map[int]string{}
	members := map[string][]string{}
	for _, g := range h.Groups {
		gidName[g.GID] = g.Name
		members[g.Name] = g.Members
	}
	for _, p := range h.Passwd {
		if p.UID == 0 {
			add(p.Name, "uid 0")
		}
		if slices.Contains(adminGroups, gidName[p.GID]) {
			add(p.Name, "primary group "+gidName[p.GID])
		}
	}
	for _, g := range adminGroups {
		for _, m := range members[g] {
			add(m, g+" group")
		}
	}
	for _, g := range grants {
		if !g.All {
			continue
		}
		for _, u := range g.Members {
			if grp, ok := strings.CutPrefix(u, "%"); ok {
				for _, m := range members[grp] {
					add(m, fmt.Sprintf("sudoers %s: %%%s", g.File, grp))
				}
				continue
			}
			if u != "ALL" && u != "root" {
				add(u, "sudoers "+g.File)
			}
		}
	}
	return why
}

func cronFindings(h *hostData, hc hostContext, providerAccounts map[string]bool) []connector.Finding {
	var out []connector.Finding
	for _, f := range h.Files {
		if f.Kind != "cron" {
			continue
		}
		owner := ""
		if strings.HasPrefix(f.Path, "/var/spool/cron/") {
			owner = path.Base(f.Path)
		}
		headerWhy := commentReasons(f.Data, hc.Outgoing)
		for _, line := range splitLines(f.Data) {
			text := strings.TrimSpace(string(line))
			if text == "" || strings.HasPrefix(text, "#") || isCronAssignment(text) {
				continue
			}
			fd := connector.Finding{
				ID:      "cron:" + f.Path + ":" + shortHash(text),
				Kind:    connector.KindCron,
				Object:  f.Path,
				Summary: fmt.Sprintf("%s: %s", f.Path, text),
				Detail:  map[string]string{detailFile: f.Path, detailText: text},
				Reasons: hc.Outgoing.Text(text),
			}
			if owner != "" {
				fd.Detail[detailUser] = owner
				if providerAccounts[owner] {
					fd.Reasons = append(fd.Reasons, fmt.Sprintf("crontab of the provider's account %s", owner))
				}
			} else if fields := strings.Fields(text); len(fields) > 6 && providerAccounts[fields[5]] && !strings.HasPrefix(fields[0], "@") {
				fd.Reasons = append(fd.Reasons, fmt.Sprintf("runs as the provider's account %s", fields[5]))
			}
			for _, why := range hc.Outgoing.Text(path.Base(f.Path)) {
				fd.Reasons = append(fd.Reasons, "file name "+why)
			}
			fd.Reasons = append(fd.Reasons, headerWhy...)
			fd.Provider = len(fd.Reasons) > 0
			out = append(out, fd)
		}
	}
	return out
}

// agentMatch is what the inventory found of one catalogue agent.
type agentMatch struct {
	Packages  []pkgInfo
	Units     []string
	Processes []procInfo
	Paths     []string
}

func (m agentMatch) empty() bool {
	return len(m.Packages)+len(m.Units)+len(m.Processes)+len(m.Paths) == 0
}

func globMatch(pats []string, s string) bool {
	for _, p := range pats {
		// Most patterns are plain names or start with one: compare that
		// first, path.Match only what can still match (a host has hundreds
		// of packages and units, the catalogue hundreds of patterns).
		i := strings.IndexAny(p, "*?[\\")
		if i < 0 {
			if p == s {
				return true
			}
			continue
		}
		if !strings.HasPrefix(s, p[:i]) {
			continue
		}
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// unitName is what systemd accepts in a unit's name: a file named
// otherwise in a unit directory is no unit, and never reaches a command.
var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+$`)

// findAgent matches one catalogue entry against a host.
func findAgent(h *hostData, a Agent) agentMatch {
	var m agentMatch
	for _, p := range h.Packages {
		if globMatch(a.Packages, p.Name) && p.State != "un" && p.State != "pn" {
			m.Packages = append(m.Packages, p)
		}
	}
	units := append(slices.Clone(a.Units), a.Timers...)
	for _, u := range h.UnitFiles {
		if unitName.MatchString(u.Name) && globMatch(units, u.Name) && !slices.Contains(m.Units, u.Name) {
			m.Units = append(m.Units, u.Name)
		}
	}
	// A unit systemd still runs, restarts or holds as failed counts even
	// without its file.
	for _, u := range slices.Sorted(maps.Keys(h.LiveUnits)) {
		if unitName.MatchString(u) && globMatch(units, u) && !slices.Contains(m.Units, u) {
			m.Units = append(m.Units, u)
		}
	}
	for _, p := range h.Procs {
		if globMatch(a.Processes, p.Comm) || globMatch(a.Processes, path.Base(exeOf(p))) {
			m.Processes = append(m.Processes, p)
		}
	}
	pathPats := slices.Concat(a.Paths, a.Configs, a.Cron)
	for _, p := range h.CatalogPaths {
		if globMatch(pathPats, p) && !slices.Contains(m.Paths, p) {
			m.Paths = append(m.Paths, p)
		}
	}
	return m
}

func agentFindings(h *hostData, hc hostContext) []connector.Finding {
	if hc.Catalog == nil {
		return nil
	}
	var out []connector.Finding
	for _, a := range hc.Catalog.Agents {
		m := findAgent(h, a)
		if m.empty() {
			continue
		}
		var what, reasons []string
		var pkgs, units, procs []string
		for _, p := range m.Packages {
			pkgs = append(pkgs, p.Name)
			if p.State == "rc" {
				what = append(what, fmt.Sprintf("package %s removed, configuration files remain (dpkg rc)", p.Name))
			} else {
				what = append(what, fmt.Sprintf("package %s %s (%s)", p.Name, p.Version, p.State))
			}
		}
		for _, u := range m.Units {
			units = append(units, u)
			state := "unit file present"
			if h.Enabled[u] {
				state = "enabled"
			}
			if st, ok := h.LiveUnits[u]; ok {
				if !slices.ContainsFunc(h.UnitFiles, func(f unitFile) bool { return f.Name == u }) {
					state = "without a unit file"
				}
				state += fmt.Sprintf(", %s (%s) in systemd", st.Active, st.Sub)
			}
			what = append(what, fmt.Sprintf("unit %s %s", u, state))
		}
		for _, p := range m.Processes {
			procs = append(procs, fmt.Sprintf("%d:%s", p.PID, p.Comm))
			what = append(what, fmt.Sprintf("process %s running (pid %d)", p.Comm, p.PID))
		}
		for _, p := range m.Paths {
			what = append(what, "path "+p)
		}
		reasons = append(reasons, fmt.Sprintf("catalogue entry %s (%s, %s)", a.Name, a.Vendor, a.Source))
		selected := hc.Outgoing.Agent(a.Name)
		if selected {
			reasons = append(reasons, "selected for removal by outgoing.agents")
		}
		out = append(out, connector.Finding{
			ID:       "agent:" + a.Name,
			Kind:     connector.KindAgent,
			Object:   a.Name,
			Summary:  fmt.Sprintf("%s (%s): %s", a.Title, a.Vendor, strings.Join(what, "; ")),
			Provider: selected,
			Reasons:  reasons,
			Detail: map[string]string{
				"packages":  strings.Join(pkgs, " "),
				"units":     strings.Join(units, " "),
				"processes": strings.Join(procs, " "),
				"paths":     strings.Join(m.Paths, "\n"),
				"source":    a.Source,
			},
		})
	}
	return out
}

// localUnitDirs are where an administrator (or a provider) puts units of
// their own; packages install theirs in /lib and /usr/lib.
var localUnitDirs = []string{"/etc/systemd/system/", "/usr/local/lib/systemd/system/"}

// serviceFindings are the local services and timers that the provider's
// identity matches (by name or program) and that no catalogue entry found
// knows: a supervision job calling home, a tunnel. They are reported, not
// removed: a catalogue extension entry describing them (catalog: FILE)
// makes them an agent that handover removes and proves gone.
func serviceFindings(h *hostData, hc hostContext, agents []connector.Finding) []connector.Finding {
	known := map[string]bool{}
	for _, a := range agents {
		for _, u := range strings.Fields(a.Detail["units"]) {
			known[u] = true
		}
	}
	var out []connector.Finding
	seen := map[string]bool{}
	for _, u := range h.UnitFiles {
		if seen[u.Name] || known[u.Name] || u.Link == "/dev/null" || !unitName.MatchString(u.Name) ||
			!(strings.HasSuffix(u.Name, ".service") || strings.HasSuffix(u.Name, ".timer")) ||
			!slices.ContainsFunc(localUnitDirs, func(d string) bool { return strings.HasPrefix(u.Path, d) && !strings.Contains(u.Path[len(d):], "/") }) {
			continue
		}
		why := hc.Outgoing.Text(u.Name + " " + u.Exec)
		if len(why) == 0 {
			continue
		}
		seen[u.Name] = true
		state := "unit file present"
		if h.Enabled[u.Name] {
			state = "enabled"
		}
		if st, ok := h.LiveUnits[u.Name]; ok {
			state += fmt.Sprintf(", %s (%s)", st.Active, st.Sub)
		}
		what := u.Path
		if u.Exec != "" {
			what += ", runs " + u.Exec
		}
		out = append(out, connector.Finding{
			ID: "service:" + u.Name, Kind: connector.KindService, Object: u.Name, Provider: true, Reasons: why,
			Summary: fmt.Sprintf("unit %s (%s; %s), in no catalogue entry: describe it in a catalogue extension (catalog: FILE) to have it removed", u.Name, what, state),
			Detail:  map[string]string{detailFile: u.Path, "exec": u.Exec},
		})
	}
	return out
}

// processFindings are the running processes whose command line names the
// provider and that no agent finding accounts for: a reverse tunnel to
// the provider's bastion (ssh -R, autossh), a session of its account, a
// script of its own. Reported, not ended here: locking the provider's
// account ends its processes; others come from a unit, a cron job or an
// agent that the rest of the handover removes. The finding's id follows
// the command line, not the PID, so that a check run later sees the same
// process as the same finding.
func processFindings(h *hostData, hc hostContext, agents []connector.Finding) []connector.Finding {
	agentPIDs := map[string]bool{}
	for _, a := range agents {
		for _, p := range strings.Fields(a.Detail["processes"]) {
			pid, _, _ := strings.Cut(p, ":")
			agentPIDs[pid] = true
		}
	}
	var out []connector.Finding
	seen := map[string]bool{}
	for _, p := range h.Procs {
		args := strings.TrimSpace(p.Args)
		if args == "" || agentPIDs[strconv.Itoa(p.PID)] {
			continue
		}
		why := hc.Outgoing.Text(args)
		if len(why) == 0 {
			continue
		}
		id := "process:" + shortHash(args)
		if seen[id] {
			continue
		}
		seen[id] = true
		shown := redactArgs(args)
		if len(shown) > 200 {
			shown = shown[:200] + "…"
		}
		out = append(out, connector.Finding{
			ID: id, Kind: connector.KindProcess, Object: p.Comm, Provider: true, Reasons: why,
			Summary: fmt.Sprintf("process %s (pid %d) runs %q", p.Comm, p.PID, shown),
			Detail:  map[string]string{"pid": strconv.Itoa(p.PID), "exe": exeOf(p)},
		})
	}
	return out
}

var (
	secretAssign = regexp.MustCompile(`(?i)^([^=]*(pass|pwd|secret|token|apikey|api_key|auth)[^=]*=).+$`)
	secretFlag   = regexp.MustCompile(`(?i)^--?(password|passwd|pass|pwd|secret|token|api-?key)$`)
)

// redactArgs hides what looks like a credential in a command line before
// it goes into the dossier: the value of NAME=VALUE where the name speaks
// of a password, token or secret, and the word after such a flag.
func redactArgs(args string) string {
	w := strings.Fields(args)
	for i := range w {
		switch {
		case secretAssign.MatchString(w[i]):
			w[i] = secretAssign.ReplaceAllString(w[i], "${1}[redacted]")
		case secretFlag.MatchString(w[i]) && i+1 < len(w):
			w[i+1] = "[redacted]"
		}
	}
	return strings.Join(w, " ")
}

// commentReasons attributes a whole file by its comments ("# Supervision
// Prestanet - do not remove").
func commentReasons(data []byte, out connector.Outgoing) []string {
	var why []string
	for _, line := range splitLines(data) {
		s := strings.TrimSpace(string(line))
		if !strings.HasPrefix(s, "#") {
			continue
		}
		for _, w := range out.Text(s) {
			r := "the file's comment " + w
			if !slices.Contains(why, r) {
				why = append(why, r)
			}
		}
	}
	return why
}

var ipv4 = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)

// correlateAddresses attributes a cron entry that calls an IP address a
// provider entry also calls: the same call-home job, planted twice.
func correlateAddresses(fs []connector.Finding) []connector.Finding {
	home := map[string]string{}
	for _, f := range fs {
		if !f.Provider {
			continue
		}
		for _, ip := range ipv4.FindAllString(f.Detail[detailText], -1) {
			if _, ok := home[ip]; !ok {
				home[ip] = f.Detail[detailFile]
			}
		}
	}
	for i, f := range fs {
		if f.Provider {
			continue
		}
		for _, ip := range ipv4.FindAllString(f.Detail[detailText], -1) {
			if src, ok := home[ip]; ok && !strings.HasPrefix(ip, "127.0.0.") {
				fs[i].Reasons = append(fs[i].Reasons, fmt.Sprintf("calls %s, as the provider's entry in %s does", ip, src))
				fs[i].Provider = true
				break
			}
		}
	}
	return fs
}

// accessKeyType is the type of a new access key for the host: the one
// asked for, unless the host's sshd cannot take it (OpenSSH before 6.5
// knows no ed25519; FIPS-mode or hardened hosts leave it out of
// PubkeyAcceptedAlgorithms), then RSA, which every sshd takes.
func accessKeyType(h *hostData, want string) string {
	if want == "" {
		want = "ed25519"
	}
	if want != "ed25519" {
		return want
	}
	if major, minor, ok := openSSHVersion(h.ServerVersion); ok && (major < 6 || major == 6 && minor < 5) {
		return "rsa"
	}
	algos := cmp.Or(h.SSHD["pubkeyacceptedalgorithms"], h.SSHD["pubkeyacceptedkeytypes"])
	if algos != "" && !slices.ContainsFunc(strings.Split(algos, ","), func(a string) bool {
		return strings.HasPrefix(a, "ssh-ed25519")
	}) {
		return "rsa"
	}
	return want
}

// openSSHVersion reads OpenSSH's major and minor version from an SSH
// server identification ("SSH-2.0-OpenSSH_9.2p1 Debian-2" is 9, 2).
func openSSHVersion(id string) (major, minor int, ok bool) {
	_, v, found := strings.Cut(id, "OpenSSH_")
	if !found {
		return 0, 0, false
	}
	if end := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); end >= 0 {
		v = v[:end]
	}
	ma, mi, _ := strings.Cut(v, ".")
	major, err1 := strconv.Atoi(ma)
	minor, err2 := strconv.Atoi(mi)
	return major, minor, err1 == nil && err2 == nil
}
