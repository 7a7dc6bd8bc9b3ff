package ssh

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
)

// Finding detail keys, for the dossier's reader.
const (
	detailFile      = "file"
	detailUser      = "user"
	detailAccessKey = "access_key"
	detailText      = "text"
)

// What the plan and Verify read of each kind of finding (Finding.Data).

// keyData is an authorized key: its line in which file, for whom.
type keyData struct {
	User        string `json:"user"`
	File        string `json:"file"`
	Fingerprint string `json:"fingerprint"`
	// AccessKey marks the new access key (the store's or the configured
	// one).
	AccessKey bool `json:"access_key,omitempty"`
}

// grantData is a sudoers rule: where, its text, and, when it also grants
// others, the rule rewritten without the provider's users.
type grantData struct {
	File    string   `json:"file"`
	Text    string   `json:"text"`
	Members []string `json:"members,omitempty"`
	Keep    []string `json:"keep,omitempty"`
	Drop    []string `json:"drop,omitempty"`
	// Rewritten is the rule without Drop, when Keep is not empty.
	Rewritten string `json:"rewritten,omitempty"`
	// SharedAlias: the provider is in a User_Alias shared with others.
	SharedAlias bool `json:"shared_alias,omitempty"`
}

// cronData is a cron line: its text with any credential hidden
// (redactArgs), and the hash of the line as it is (lineHash), by which an
// edit finds it.
type cronData struct {
	File string `json:"file"`
	Text string `json:"text"`
	Hash string `json:"hash"`
}

// agentData is what removing an agent takes: its packages, units and
// paths as the inventory found them.
type agentData struct {
	Packages []string `json:"packages,omitempty"`
	Units    []string `json:"units,omitempty"`
	Paths    []string `json:"paths,omitempty"`
	// Processes are its running processes, "pid:name".
	Processes []string `json:"processes,omitempty"`
}

// Facts the plan reads.
const (
	factAccessKeyFile = "access_key_file"
	// factEd25519 says whether the host's sshd takes ed25519 keys
	// ("accepted" or "refused"): a new access key is RSA where it does not.
	factEd25519 = "access_key_ed25519"
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
	// Named are the accounts the playbook names for the target
	// (Env.Named): their password facts are reported as an admin's are.
	Named []string
	// LoginUser is the connection user when the connector logs in or
	// sudoes with its password ("" otherwise).
	LoginUser string
	// Held returns, for an account, whether the secret store's current
	// password matches its shadow hash.
	Held func(account, hash string) connector.Held
	Now  time.Time
}

// buildSystem turns a host's parsed inventory into the dossier's System,
// tagging every finding with why it is (or is not) the provider's.
//
// Long: facts, hardware, software, accounts and credential findings in one pass over the host's data.
func buildSystem(h *hostData, hc hostContext) connector.System {
	s := connector.System{Name: hc.Name, Kind: "host", Address: hc.Address}
	fact := func(name, value string) {
		if value != "" {
			s.Facts = append(s.Facts, connector.Fact{Name: name, Value: value})
		}
	}
	fact("hostname", h.Hostname)
	fact("os", cmp.Or(h.OS["PRETTY_NAME"], h.OS["NAME"]))
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
	s.Links = links(h, hc.Outgoing)

	users := map[string]passwdEntry{}
	for _, p := range h.Passwd {
		users[p.Name] = p
	}
	evidence := evidenceAccounts(h, hc)
	grants := parseGrants(h, hc.Outgoing, evidence)
	adminVia := adminReasons(h, grants)
	providerAccounts := map[string]bool{}
	uidCount, uidNames := map[int]int{}, map[int][]string{}
	for _, p := range h.Passwd {
		uidCount[p.UID]++
		uidNames[p.UID] = append(uidNames[p.UID], p.Name)
	}
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
		a.Reasons = append(a.Reasons, evidence[p.Name]...)
		a.Provider = len(a.Reasons) > 0
		shared := uidCount[p.UID] > 1
		if a.Provider {
			providerAccounts[p.Name] = true
			fd := connector.Finding{
				ID: "account:" + p.Name, Kind: connector.KindAccount, Object: p.Name, Provider: true, Reasons: a.Reasons,
				Summary: fmt.Sprintf("account %s (uid %d, %s)", p.Name, p.UID, a.State),
				Detail:  map[string]string{"state": a.State, "uid": strconv.Itoa(p.UID)},
			}
			if shared {
				// Its uid is another account's too (root's, for uid 0):
				// locking it must not end that account's processes.
				fd.Detail["uid_shared"] = "true"
				fd.Summary += fmt.Sprintf(", uid %d shared with %s", p.UID, strings.Join(slices.DeleteFunc(slices.Clone(uidNames[p.UID]), func(n string) bool { return n == p.Name }), ", "))
			}
			s.Findings = append(s.Findings, fd)
		} else if p.UID == 0 && p.Name != "root" {
			s.Findings = append(s.Findings, secondRoot(p, a.State))
		}
		s.Accounts = append(s.Accounts, a)
	}

	// The password facts of the accounts the engine may decide to rotate:
	// admins, the accounts the playbook names, the connection user's own.
	for i := range s.Accounts {
		a := &s.Accounts[i]
		sh, ok := h.Shadow[a.Name]
		if !ok || a.Provider || !(a.Admin || a.Name == hc.LoginUser || slices.Contains(hc.Named, a.Name)) {
			continue
		}
		pw := &connector.Password{Held: connector.HeldUnknown, Connector: a.Name == hc.LoginUser}
		if a.State == "enabled" && hc.Held != nil {
			pw.Held = hc.Held(a.Name, sh.Hash)
		}
		a.Password = pw
	}

	s.Findings = append(s.Findings, keyFindings(h, hc, providerAccounts)...)
	s.Findings = append(s.Findings, keyLinkFindings(h, hc, providerAccounts)...)
	for _, g := range grants {
		s.Findings = append(s.Findings, g.finding(providerAccounts))
	}
	s.Findings = append(s.Findings, correlateAddresses(cronFindings(h, hc, providerAccounts))...)
	agents := agentFindings(h, hc)
	s.Findings = append(s.Findings, agents...)
	s.Links = append(s.Links, agentLinks(agents)...)
	s.Findings = append(s.Findings, processFindings(h, hc, agents)...)
	s.Findings = append(s.Findings, persistFindings(h, hc, agents, providerAccounts, s.Findings)...)

	if u, ok := users[hc.AccessUser]; ok {
		s.Facts = append(s.Facts, connector.Fact{Name: factAccessKeyFile, Value: authorizedKeysPath(h.SSHD["authorizedkeysfile"], u), Planned: true})
		s.Facts = append(s.Facts, connector.Fact{Name: factEd25519, Value: ed25519Accepted(h), Planned: true})
	}
	return s
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

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
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

// ed25519Accepted says whether the host's sshd takes ed25519 keys:
// OpenSSH before 6.5 knows none, FIPS-mode or hardened hosts leave them
// out of PubkeyAcceptedAlgorithms. The plan then makes an RSA access key,
// which every sshd takes.
func ed25519Accepted(h *hostData) string {
	if major, minor, ok := openSSHVersion(h.ServerVersion); ok && (major < 6 || major == 6 && minor < 5) {
		return "refused"
	}
	algos := cmp.Or(h.SSHD["pubkeyacceptedalgorithms"], h.SSHD["pubkeyacceptedkeytypes"])
	if algos != "" && !slices.ContainsFunc(strings.Split(algos, ","), func(a string) bool {
		return strings.HasPrefix(a, "ssh-ed25519")
	}) {
		return "refused"
	}
	return "accepted"
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
