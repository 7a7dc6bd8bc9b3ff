package ssh

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// What starts again on its own besides cron and the catalogue's agents:
// the persistence an outgoing provider can leave on a host. The inventory
// reads it (scripts/persist.sh); persistFindings attributes each item by
// what its text says (the provider's names, domains, the addresses its
// other entries call, its accounts) and by what its command calls; the
// plan removes what can be removed without risk, and reports the rest
// with the exact step left to an administrator (persistData.Manual).

// Ways a persistence item is removed (persistData.Op).
const (
	persistLine = "line" // the line (by its hash) removed from its file
	persistFile = "file" // the file removed
	persistUnit = "unit" // the unit stopped, its links removed, its file removed
	persistInit = "init" // the init script's rc links removed, the script removed
	// persistInstance: an sshd instance's listener ended, its
	// configuration file removed.
	persistInstance = "instance"
	// persistDropIn: a drop-in removed, systemd's units reloaded, and
	// the unit it changed restarted if it runs and the drop-in replaced
	// what it runs (ExecStart=).
	persistDropIn = "dropin"
)

// unitSuffix says whether a file is a unit that starts something: a
// service, or a timer, path or socket unit that starts one.
func unitSuffix(p string) bool {
	for _, x := range []string{".service", ".timer", ".path", ".socket"} {
		if strings.HasSuffix(p, x) {
			return true
		}
	}
	return false
}

// dropInOf is the unit a drop-in file changes (/etc/systemd/system/ssh.service.d/x.conf
// changes ssh.service), "" when p is not one.
func dropInOf(p string) string {
	d := path.Base(path.Dir(p))
	if !strings.HasSuffix(p, ".conf") || !strings.HasSuffix(d, ".d") || !unitSuffix(strings.TrimSuffix(d, ".d")) {
		return ""
	}
	return strings.TrimSuffix(d, ".d")
}

// persistData is what the plan reads of a persistence finding: the file,
// the line's hash when the change removes a line, how it is removed, or
// the step left to an administrator when it is not (Manual).
type persistData struct {
	Kind   string `json:"kind"`
	File   string `json:"file"`
	Op     string `json:"op,omitempty"`
	Hash   string `json:"hash,omitempty"`
	Text   string `json:"text,omitempty"` // redacted
	Unit   string `json:"unit,omitempty"`
	User   string `json:"user,omitempty"`
	Manual string `json:"manual,omitempty"`
}

// persistFiles are the persistence archive's files: the files that start
// something (Kind "persist"), then the programs they call ("called").
func persistFiles(groups [][]archived) []remoteFile {
	var out []remoteFile
	for i, g := range groups {
		kind := "persist"
		if i > 0 {
			kind = "called"
		}
		for _, m := range g {
			out = append(out, remoteFile{Kind: kind, Mode: strconv.FormatInt(m.hdr.Mode&0o7777, 8), UID: m.hdr.Uid, GID: m.hdr.Gid, Path: m.hdr.Name, Data: m.data})
		}
	}
	return out
}

// attribution says why a text is the provider's: its names and domains,
// the addresses the provider's other entries call, and the programs the
// text calls whose own text names the provider.
type attribution struct {
	out    connector.Outgoing
	addrs  map[string]string // address -> where the provider's entry calling it is
	called map[string][]byte // absolute path -> content
}

func (a attribution) why(text string) []string {
	why := a.out.Text(text)
	for _, ip := range ipv4.FindAllString(text, -1) {
		if src, ok := a.addrs[ip]; ok {
			why = appendNew(why, fmt.Sprintf("calls %s, as the provider's entry in %s does", ip, src))
		}
	}
	for _, w := range absWords.FindAllString(text, -1) {
		data, ok := a.called[w]
		if !ok {
			continue
		}
		for _, r := range a.out.Text(string(data)) {
			why = appendNew(why, fmt.Sprintf("calls %s, which %s", w, r))
		}
	}
	return why
}

var absWords = regexp.MustCompile(`/[^\s;|&<>()"'` + "`" + `=]+`)

func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// providerAddresses are the IPv4 addresses the provider's cron entries
// and processes call, with where: another item calling one is the same
// call-home, planted again.
func providerAddresses(fs []connector.Finding) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		if !f.Provider {
			continue
		}
		var text, src string
		switch d := f.Data.(type) {
		case cronData:
			text, src = d.Text, d.File
		default:
			if f.Kind == connector.KindProcess {
				text, src = f.Summary, "process "+f.Object
			}
		}
		for _, ip := range ipv4.FindAllString(text, -1) {
			if _, ok := out[ip]; !ok && !strings.HasPrefix(ip, "127.0.0.") {
				out[ip] = src
			}
		}
	}
	return out
}

// standardPAMDir: where distributions install PAM modules.
var standardPAMDir = regexp.MustCompile(`^/(usr/)?lib(64|32)?/([^/]+/)?security/[^/]+$`)

// persistFindings lists the host's persistence items, each attributed.
// agents are the agent findings (their units are theirs, not listed
// again); earlier are the findings so far (the provider's addresses).
//
// Long: one case per kind of file, each what it holds and how it goes.
func persistFindings(h *hostData, hc hostContext, agents []connector.Finding, providerAccounts map[string]bool, earlier []connector.Finding) []connector.Finding {
	known := map[string]bool{}
	for _, a := range agents {
		if d, ok := a.Data.(agentData); ok {
			for _, u := range d.Units {
				known[u] = true
			}
		}
	}
	at := attribution{out: hc.Outgoing, addrs: providerAddresses(earlier), called: map[string][]byte{}}
	homeOf := map[string]string{}
	byUID := map[int]string{}
	for _, p := range h.Passwd {
		if _, ok := homeOf[p.Home]; !ok && p.Home != "/" {
			homeOf[p.Home] = p.Name
		}
		if _, ok := byUID[p.UID]; !ok {
			byUID[p.UID] = p.Name
		}
	}
	for _, f := range h.Persist {
		if f.Kind == "called" {
			at.called[f.Path] = f.Data
		}
	}
	linger := map[string]bool{}
	for _, u := range h.Linger {
		linger[u] = true
	}
	// homeUser is the account a file under a home belongs to, and the
	// path below that home.
	homeUser := func(p string) (string, string) {
		for home, u := range homeOf {
			if rest, ok := strings.CutPrefix(p, home+"/"); ok {
				return u, rest
			}
		}
		return "", ""
	}
	var out []connector.Finding
	add := func(f connector.Finding, d persistData, why []string) {
		f.Reasons = why
		f.Provider = len(why) > 0
		if d.Manual != "" && f.Provider {
			f.Summary += "; by hand: " + d.Manual
			if f.Detail == nil {
				f.Detail = map[string]string{}
			}
			f.Detail["manual"] = d.Manual
		}
		f.Data = d
		out = append(out, f)
	}
	ownerWhy := func(uid int) []string {
		if u := byUID[uid]; providerAccounts[u] {
			return []string{"belongs to the provider's account " + u}
		}
		return nil
	}
	for _, f := range h.Persist {
		if f.Kind != "persist" {
			continue
		}
		p := f.Path
		base := path.Base(p)
		text := string(f.Data)
		user, rel := homeUser(p)
		switch {
		case dropInOf(p) != "":
			unit := dropInOf(p)
			scope, id := "system", "dropin:"+unit+":"+base
			switch {
			case user != "" && strings.Contains(rel, "/systemd/user/"):
				scope, id = "user "+user, "dropin:"+user+":"+unit+":"+base
			case strings.HasPrefix(p, "/etc/systemd/user/"):
				scope, id = "every user", "dropin:user:"+unit+":"+base
			}
			if !unitName.MatchString(unit) {
				continue
			}
			why := at.why(text)
			why = append(why, ownerWhy(f.UID)...)
			if user != "" && providerAccounts[user] {
				why = appendNew(why, "a drop-in of the provider's account "+user)
			}
			if len(why) == 0 {
				continue // the host's own drop-ins
			}
			exec, replaces := dropInExec(text)
			d := persistData{Kind: "dropin", File: p, Op: persistDropIn, Unit: unit, User: user}
			if scope != "system" {
				d.Op, d.Manual = "", fmt.Sprintf("rm %s; then systemctl --user daemon-reload and systemctl --user restart %s as each user it concerns", p, unit)
			}
			runs := ""
			if exec != "" {
				runs = " (" + exec + ")"
			}
			add(connector.Finding{ID: id, Kind: connector.KindService, Object: unit,
				Summary: fmt.Sprintf("drop-in %s changes the %s unit %s%s", p, scope, unit, runs),
				Detail:  map[string]string{detailFile: p, "exec": exec, "scope": scope, "unit": unit, "replaces_exec": strconv.FormatBool(replaces)}}, d, why)
		case unitSuffix(p):
			scope, id := "system", "service:"+base
			switch {
			case user != "" && strings.HasPrefix(rel, ".config/systemd/user/"):
				scope, id = "user "+user, "service:"+user+":"+base
			case strings.HasPrefix(p, "/etc/systemd/user/"):
				scope, id = "every user", "service:user:"+base
			}
			if known[base] || !unitName.MatchString(base) {
				continue
			}
			why := at.why(text)
			for _, r := range at.out.Text(base) {
				why = appendNew(why, "its name "+r)
			}
			why = append(why, ownerWhy(f.UID)...)
			if user != "" && providerAccounts[user] {
				why = appendNew(why, "a unit of the provider's account "+user)
			}
			if len(why) == 0 {
				continue // the host's own units are its services
			}
			state := "unit file present"
			if scope == "system" && h.Enabled[base] {
				state = "enabled"
			}
			if st, ok := h.LiveUnits[base]; ok && scope == "system" {
				state += fmt.Sprintf(", %s (%s)", st.Active, st.Sub)
			}
			if user != "" && linger[user] {
				state += ", " + user + " lingers: its user manager starts at boot, without a login"
			}
			d := persistData{Kind: "unit", File: p, Op: persistUnit, Unit: base, User: user}
			if scope == "every user" {
				d.Op, d.Manual = "", fmt.Sprintf("systemctl --global disable %s; rm %s; then, for each logged-in user, systemctl --user stop %s", base, p, base)
			}
			add(connector.Finding{ID: id, Kind: connector.KindService, Object: base,
				Summary: fmt.Sprintf("%s unit %s (%s; %s)", scope, base, p, state),
				Detail:  map[string]string{detailFile: p, "exec": unitExec(text), "scope": scope}}, d, why)
		case strings.HasPrefix(p, "/var/spool/cron/atjobs/") || strings.HasPrefix(p, "/var/spool/at/"):
			why := at.why(text)
			why = append(why, ownerWhy(f.UID)...)
			cmd := redactArgs(atCommand(text))
			add(connector.Finding{ID: "at:" + p, Kind: connector.KindCron, Object: p,
				Summary: fmt.Sprintf("at job %s (queued by %s): %s", base, cmpName(byUID[f.UID], f.UID), cmd),
				Detail:  map[string]string{detailFile: p, detailText: cmd}},
				persistData{Kind: "at", File: p, Op: persistFile, Text: cmd}, why)
		case strings.HasPrefix(p, "/etc/init.d/"):
			why := at.why(base + "\n" + text)
			if len(why) == 0 {
				continue // the distribution's scripts: not listed
			}
			add(connector.Finding{ID: "init:" + base, Kind: connector.KindPersistence, Object: p,
				Summary: fmt.Sprintf("init script %s (started at boot through /etc/rc?.d)", p),
				Detail:  map[string]string{detailFile: p}},
				persistData{Kind: "init", File: p, Op: persistInit, Unit: base}, why)
		case p == "/etc/rc.local" || p == "/etc/rc.d/rc.local" || p == "/etc/ssh/sshrc" || (user != "" && rel == ".ssh/rc"):
			what := map[bool]string{true: "runs at boot", false: "runs at every SSH login"}[strings.Contains(p, "rc.local")]
			if user != "" {
				what = "runs at every SSH login of " + user
			}
			for _, l := range shellLines(f.Data) {
				why := at.why(l.text)
				if user != "" && providerAccounts[user] {
					why = appendNew(why, "in the home of the provider's account "+user)
				}
				shown := redactArgs(l.text)
				add(connector.Finding{ID: "persistence:" + p + ":" + shortHash(l.text), Kind: connector.KindPersistence, Object: p,
					Summary: fmt.Sprintf("%s line %d (%s): %s", p, l.n, what, shown),
					Detail:  map[string]string{detailFile: p, detailText: shown, "line": strconv.Itoa(l.n)}},
					persistData{Kind: "hook", File: p, Op: persistLine, Hash: lineHash(l.text), Text: shown, User: user}, why)
			}
		case loginHook(p, rel, user != ""):
			// Only the lines that name the provider: these files are the
			// accounts' own, mostly the distribution's skeleton (a
			// provider account's too: it runs them only when it logs in,
			// which its lock ends).
			for _, l := range shellLines(f.Data) {
				why := at.why(l.text)
				if len(why) == 0 {
					continue
				}
				shown := redactArgs(l.text)
				what := "runs at every login shell"
				if p == "/etc/environment" {
					what = "sets every session's environment"
				}
				if user != "" {
					what += " of " + user
				}
				add(connector.Finding{ID: "persistence:" + p + ":" + shortHash(l.text), Kind: connector.KindPersistence, Object: p,
					Summary: fmt.Sprintf("%s line %d (%s): %s", p, l.n, what, shown),
					Detail:  map[string]string{detailFile: p, detailText: shown, "line": strconv.Itoa(l.n)}},
					persistData{Kind: "hook", File: p, Op: persistLine, Hash: lineHash(l.text), Text: shown, User: user}, why)
			}
		case hookScript(p) != "":
			why := at.why(base + "\n" + text)
			if len(why) == 0 {
				continue // the distribution's own
			}
			d := persistData{Kind: "hook", File: p, Op: persistFile}
			if strings.HasPrefix(p, "/etc/apt/") {
				// apt's configuration is not line-based: a person edits it.
				d.Op, d.Manual = "", "remove the provider's hook (DPkg::Pre-Invoke, DPkg::Post-Invoke, APT::Update::Post-Invoke…) from "+p+", then run apt-config dump to check the configuration still reads"
			}
			add(connector.Finding{ID: "hook:" + p, Kind: connector.KindPersistence, Object: p,
				Summary: fmt.Sprintf("%s (%s)", p, hookScript(p)),
				Detail:  map[string]string{detailFile: p}}, d, why)
		case user != "" && rel == ".forward":
			for _, l := range shellLines(f.Data) {
				var why []string
				for _, w := range strings.FieldsFunc(l.text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '"' }) {
					if dom := hc.Outgoing.Domain(strings.TrimPrefix(w, "\\")); dom != "" {
						why = appendNew(why, fmt.Sprintf("forwards to %s, in the provider's domain %s", w, dom))
					}
				}
				for _, r := range at.why(l.text) {
					why = appendNew(why, r)
				}
				shown := redactArgs(l.text)
				add(connector.Finding{ID: "forward:" + p + ":" + shortHash(l.text), Kind: connector.KindForward, Object: p,
					Summary: fmt.Sprintf("mail of %s forwarded by %s: %s", user, p, shown),
					Detail:  map[string]string{detailFile: p, detailUser: user, detailText: shown}},
					persistData{Kind: "forward", File: p, Op: persistLine, Hash: lineHash(l.text), Text: shown, User: user}, why)
			}
		case strings.HasPrefix(p, "/etc/pam.d/"):
			for _, l := range shellLines(f.Data) {
				fs := strings.Fields(l.text)
				if len(fs) < 3 || strings.HasPrefix(fs[0], "@") {
					continue
				}
				ctl, mod, rest := fs[1], fs[2], fs[3:]
				if strings.HasPrefix(ctl, "[") { // [success=ok ...] spans words
					i := slices.IndexFunc(fs, func(s string) bool { return strings.HasSuffix(s, "]") })
					if i < 0 || i+1 >= len(fs) {
						continue
					}
					ctl, mod, rest = strings.Join(fs[1:i+1], " "), fs[i+1], fs[i+2:]
				}
				exec := path.Base(mod) == "pam_exec.so"
				odd := strings.HasPrefix(mod, "/") && !standardPAMDir.MatchString(mod)
				if !exec && !odd {
					continue
				}
				why := at.why(l.text)
				what := "loads " + mod + ", outside the system's module directories"
				if exec {
					what = "runs " + strings.Join(slices.DeleteFunc(slices.Clone(rest), func(s string) bool { return strings.Contains(s, "=") || strings.HasPrefix(s, "-") }), " ") + " (pam_exec)"
				}
				d := persistData{Kind: "pam", File: p, Op: persistLine, Hash: lineHash(l.text), Text: l.text}
				if ctl != "optional" && ctl != "sufficient" {
					// Removing a required or requisite line can let in
					// logins it refused: a person decides.
					d.Op, d.Manual = "", fmt.Sprintf("delete line %d (%q) of %s, keeping a root session open, and try a login in another before closing it (a %s line: removing it can let in logins it refused)", l.n, l.text, p, ctl)
				}
				add(connector.Finding{ID: "pam:" + p + ":" + shortHash(l.text), Kind: connector.KindAuth, Object: p,
					Summary: fmt.Sprintf("PAM %s line %d %s: %s", p, l.n, what, redactArgs(l.text)),
					Detail:  map[string]string{detailFile: p, detailText: redactArgs(l.text), "line": strconv.Itoa(l.n), "control": ctl}}, d, why)
			}
		case p == "/etc/ld.so.preload":
			for _, l := range shellLines(f.Data) {
				why := at.why(l.text)
				for _, w := range strings.Fields(l.text) {
					for _, r := range hc.Outgoing.Text(w) {
						why = appendNew(why, "library path "+r)
					}
				}
				add(connector.Finding{ID: "preload:" + shortHash(l.text), Kind: connector.KindPersistence, Object: p,
					Summary: fmt.Sprintf("%s preloads %s into every program started", p, l.text),
					Detail:  map[string]string{detailFile: p, detailText: l.text}},
					persistData{Kind: "preload", File: p, Op: persistLine, Hash: lineHash(l.text), Text: l.text}, why)
			}
		case strings.HasPrefix(p, "/etc/ssh/") || slices.ContainsFunc(h.SSHDInstances, func(i sshdInstance) bool { return i.Config == p }):
			out = append(out, sshdConfigFindings(f, at)...)
		case strings.HasPrefix(p, "/etc/wireguard/"), strings.HasPrefix(p, "/etc/openvpn/"), strings.Contains(p, "tailscale"), strings.HasPrefix(p, "/var/lib/zerotier-one/"):
			if fd, ok := tunnelFinding(f, hc.Outgoing, at); ok {
				out = append(out, fd)
			}
		}
	}
	out = append(out, sshdInstanceFindings(h, at)...)
	return out
}

func cmpName(name string, uid int) string {
	if name != "" {
		return name
	}
	return "uid " + strconv.Itoa(uid)
}

// loginHook says whether p is a login shell's startup file (the
// system's, or rel in an account's home) or /etc/environment.
func loginHook(p, rel string, home bool) bool {
	if home {
		switch rel {
		case ".profile", ".bash_profile", ".bash_login", ".bashrc", ".bash_logout", ".zshrc", ".zprofile":
			return true
		}
		return false
	}
	switch p {
	case "/etc/profile", "/etc/bash.bashrc", "/etc/zsh/zshrc", "/etc/zsh/zprofile", "/etc/environment":
		return true
	}
	return strings.HasPrefix(p, "/etc/profile.d/")
}

// hookScript says when a file of a hook directory runs ("" when p is none).
func hookScript(p string) string {
	for _, h := range [][2]string{
		{"/etc/update-motd.d/", "runs as root at every login, for the message of the day"},
		{"/etc/network/if-up.d/", "runs as root whenever a network interface comes up"},
		{"/etc/network/if-pre-up.d/", "runs as root before a network interface comes up"},
		{"/etc/NetworkManager/dispatcher.d/", "runs as root on every network change"},
		{"/etc/apt/apt.conf.d/", "apt configuration: its hooks run as root at every package installation"},
	} {
		if strings.HasPrefix(p, h[0]) {
			return h[1]
		}
	}
	return ""
}

// dropInExec is what a drop-in runs (its Exec*= lines, redacted), and
// whether it replaces what the unit runs (a non-empty ExecStart=).
func dropInExec(text string) (string, bool) {
	var out []string
	replaces := false
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || !strings.HasPrefix(k, "Exec") || strings.TrimSpace(v) == "" {
			continue
		}
		replaces = replaces || k == "ExecStart"
		out = append(out, k+"="+redactArgs(strings.TrimLeft(strings.TrimSpace(v), "-@+!:")))
	}
	return strings.Join(out, "; "), replaces
}

// unitExec is a unit's first ExecStart command.
func unitExec(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "ExecStart="); ok {
			return redactArgs(strings.TrimLeft(c, "-@+!:"))
		}
	}
	return ""
}

// atCommand is what an at job runs: its last lines that are not at's own
// preamble (the environment it saves, the cd to the directory).
func atCommand(text string) string {
	lines := strings.Split(text, "\n")
	start := 0
	for i, l := range lines {
		// at's preamble ends with the cd back to the directory it was
		// queued from: "cd /home/x || {" ... "}".
		if strings.HasPrefix(l, "cd ") && strings.Contains(l, "|| {") {
			for j := i + 1; j < len(lines); j++ {
				if strings.TrimSpace(lines[j]) == "}" {
					start = j + 1
					break
				}
			}
		}
	}
	var cmd []string
	for _, l := range lines[start:] {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") && !strings.HasPrefix(s, "marcinDELIMITER") {
			cmd = append(cmd, s)
		}
	}
	return strings.Join(cmd, "; ")
}

// shellLine is a line of a file that does something: not blank, not a
// comment.
type shellLine struct {
	n    int
	text string
}

func shellLines(data []byte) []shellLine {
	var out []shellLine
	for i, l := range splitLines(data) {
		s := strings.TrimSpace(string(l))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		out = append(out, shellLine{i + 1, s})
	}
	return out
}

// sshdSettings are the sshd settings that run a command or let in by
// other means than the key files: found in every configuration file, in
// Match blocks too.
var sshdSettings = []string{"forcecommand", "authorizedprincipalsfile", "authorizedprincipalscommand", "authorizedkeyscommand"}

// sshdConfigFindings are the lines of an sshd configuration that force a
// command or take principals or keys from elsewhere. handover edits no
// sshd setting: each is reported with the step to take by hand.
func sshdConfigFindings(f remoteFile, at attribution) []connector.Finding {
	var out []connector.Finding
	match := ""
	for _, l := range shellLines(f.Data) {
		fs := strings.Fields(strings.ReplaceAll(l.text, "=", " "))
		if len(fs) < 2 {
			continue
		}
		k := strings.ToLower(fs[0])
		if k == "match" {
			match = l.text
			continue
		}
		if !slices.Contains(sshdSettings, k) || strings.EqualFold(fs[1], "none") {
			continue
		}
		if k == "authorizedkeyscommand" && match == "" && strings.HasPrefix(f.Path, "/etc/ssh/sshd_config") {
			continue // the main sshd's global one: a finding of its own (auth-method)
		}
		why := at.why(l.text)
		if match != "" {
			for _, r := range at.out.Text(match) {
				why = appendNew(why, "its Match block "+r)
			}
			for _, r := range at.out.Account(strings.TrimPrefix(strings.ToLower(match), "match user ")) {
				why = appendNew(why, "its Match block: "+r)
			}
		}
		scope := "every login"
		if match != "" {
			scope = match
		}
		manual := fmt.Sprintf("delete line %d (%q) of %s, check with sshd -t, then reload sshd (systemctl reload ssh, or kill -HUP the sshd that reads it)", l.n, l.text, f.Path)
		fd := connector.Finding{ID: "sshd:" + f.Path + ":" + shortHash(l.text), Kind: connector.KindAuth, Object: fs[0],
			Summary: fmt.Sprintf("sshd %s line %d, for %s: %s", f.Path, l.n, scope, redactArgs(l.text)),
			Detail:  map[string]string{detailFile: f.Path, detailText: redactArgs(l.text), "line": strconv.Itoa(l.n)},
			Reasons: why, Provider: len(why) > 0,
			Data: persistData{Kind: "sshd", File: f.Path, Text: redactArgs(l.text), Manual: manual},
		}
		if fd.Provider {
			fd.Summary += "; by hand: " + manual
			fd.Detail["manual"] = manual
		}
		out = append(out, fd)
	}
	return out
}

// sshdInstanceFindings are the sshd instances beside the main one: each
// a way in with its own configuration. An instance is the provider's when
// its configuration names it (by path or content), or names key files,
// CAs or commands that do.
func sshdInstanceFindings(h *hostData, at attribution) []connector.Finding {
	conf := map[string][]byte{}
	for _, f := range h.Persist {
		conf[f.Path] = f.Data
	}
	var out []connector.Finding
	for _, i := range h.SSHDInstances {
		if i.Config == "/etc/ssh/sshd_config" {
			continue
		}
		why := at.why(i.Config)
		for _, r := range at.why(string(conf[i.Config])) {
			why = appendNew(why, "its configuration "+r)
		}
		var set []string
		for _, k := range slices.Sorted(mapKeys(i.Settings)) {
			v := strings.Join(i.Settings[k], ", ")
			set = append(set, k+" "+v)
			for _, r := range at.out.Text(v) {
				why = appendNew(why, k+" "+r)
			}
		}
		fd := connector.Finding{ID: "sshd-instance:" + i.Config, Kind: connector.KindAuth, Object: i.Config,
			Summary: fmt.Sprintf("another sshd (pid %s) runs with its own configuration %s: %s", i.PID, i.Config, strings.Join(set, "; ")),
			Detail:  map[string]string{detailFile: i.Config, "pid": i.PID},
			Reasons: why, Provider: len(why) > 0,
			// Its listener ended and its configuration removed: sessions
			// it opened run on until the provider's accounts and keys go.
			// What started it (a unit, rc.local) is a finding of its own.
			Data: persistData{Kind: "sshd-instance", File: i.Config, Op: persistInstance, Unit: i.PID},
		}
		if len(set) == 0 {
			fd.Summary = fmt.Sprintf("another sshd (pid %s) runs with its own configuration %s, which sshd -T could not read", i.PID, i.Config)
		}
		out = append(out, fd)
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// tunnelFinding reads a VPN or tunnel client's configuration: where it
// connects (WireGuard Endpoint, OpenVPN remote, Tailscale's control
// server, ZeroTier's networks and moons). Nothing of its keys is kept.
// Taking a tunnel down can cut the network a host is reached by: each is
// left to an administrator, with the step.
func tunnelFinding(f remoteFile, out connector.Outgoing, at attribution) (connector.Finding, bool) {
	p := f.Path
	var peers []string
	var why []string
	var manual, client string
	text := string(f.Data)
	switch {
	case strings.HasPrefix(p, "/etc/wireguard/"):
		client = "WireGuard"
		iface := strings.TrimSuffix(path.Base(p), ".conf")
		for _, l := range shellLines(f.Data) {
			if k, v, ok := strings.Cut(l.text, "="); ok && strings.EqualFold(strings.TrimSpace(k), "endpoint") {
				peers = append(peers, strings.TrimSpace(v))
			}
		}
		manual = fmt.Sprintf("wg-quick down %s; systemctl disable --now wg-quick@%s; then remove %s", iface, iface, p)
	case strings.HasPrefix(p, "/etc/openvpn/"):
		client = "OpenVPN"
		for _, l := range shellLines(f.Data) {
			if fs := strings.Fields(l.text); len(fs) >= 2 && fs[0] == "remote" {
				peers = append(peers, strings.Join(fs[1:], " "))
			}
		}
		name := strings.TrimSuffix(strings.TrimSuffix(path.Base(p), ".conf"), ".ovpn")
		unit := "openvpn@" + name
		if strings.HasPrefix(p, "/etc/openvpn/client/") {
			unit = "openvpn-client@" + name
		}
		manual = fmt.Sprintf("systemctl disable --now %s; then remove %s", unit, p)
	case strings.Contains(p, "tailscale"):
		client = "Tailscale"
		text = tailscaleText(f.Data)
		for _, m := range regexp.MustCompile(`(?:ControlURL|login-server)["=: ]+"?([^"\s,]+)`).FindAllStringSubmatch(text, -1) {
			peers = appendNew(peers, m[1])
		}
		manual = "tailscale logout; systemctl disable --now tailscaled (or remove the tailscale package)"
	default:
		client = "ZeroTier"
		if strings.Contains(p, "/networks.d/") {
			nw := strings.TrimSuffix(path.Base(p), ".conf")
			peers = append(peers, "network "+nw)
			manual = "zerotier-cli leave " + nw
		} else {
			manual = "review " + p + "; zerotier-cli leave each network the provider controls, or remove the zerotier-one package"
		}
	}
	for _, peer := range peers {
		host := peer
		if hh, _, ok := strings.Cut(peer, ":"); ok && !strings.Contains(peer, "//") {
			host = hh
		}
		host = strings.Fields(host + " ")[0]
		if d := out.Domain(strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")); d != "" {
			why = appendNew(why, fmt.Sprintf("connects to %s, in the provider's domain %s", peer, d))
		}
	}
	// The configuration's own words (a comment, a peer's name), never its
	// keys: only the reasons are kept.
	for _, r := range at.why(text) {
		why = appendNew(why, "its configuration "+r)
	}
	if len(peers) == 0 && len(why) == 0 {
		return connector.Finding{}, false
	}
	fd := connector.Finding{ID: "tunnel:" + p, Kind: connector.KindTunnel, Object: p,
		Summary: fmt.Sprintf("%s client configured in %s, to %s", client, p, strings.Join(peers, ", ")),
		Detail:  map[string]string{detailFile: p, "client": client, "peers": strings.Join(peers, ", ")},
		Reasons: why, Provider: len(why) > 0,
		Data: persistData{Kind: "tunnel", File: p, Manual: manual},
	}
	if fd.Provider {
		fd.Summary += "; by hand: " + manual
		fd.Detail["manual"] = manual
	}
	return fd, true
}

// tailscaleText is what of tailscaled's state names a server or an
// account: its profiles (base64-encoded JSON inside the state's JSON),
// decoded, with every key and secret left out.
func tailscaleText(data []byte) string {
	var state map[string]string
	if json.Unmarshal(data, &state) != nil {
		return string(data) // /etc/default/tailscaled: FLAGS="--login-server=..."
	}
	var b strings.Builder
	for k, v := range state {
		if !strings.HasPrefix(k, "profile-") && k != "_profiles" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			continue
		}
		var prof map[string]any
		if json.Unmarshal(raw, &prof) != nil {
			continue
		}
		walkStrings(prof, func(k, s string) {
			if strings.Contains(strings.ToLower(k), "key") || strings.Contains(strings.ToLower(k), "secret") {
				return
			}
			fmt.Fprintf(&b, "%s=%s\n", k, s)
		})
	}
	return b.String()
}

func walkStrings(v any, f func(k, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok {
				f(k, s)
			} else {
				walkStrings(e, f)
			}
		}
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

// persistChange is the change a provider's persistence finding calls
// for, false when it is left to an administrator (the finding says how).
func persistChange(f connector.Finding, d persistData) (plan.Change, bool) {
	if d.Op == "" || d.Manual != "" {
		return plan.Change{}, false
	}
	ch := plan.Change{Object: d.File, Finding: f.ID, Before: f.Summary, Reason: strings.Join(f.Reasons, "; "),
		Params: map[string]string{"file": d.File, "op": d.Op, "kind": d.Kind}}
	switch d.Op {
	case persistLine:
		ch.Object += " #" + d.Hash[:12]
		ch.After = "line removed, the file's other lines kept"
		ch.Params["hash"] = d.Hash
	case persistFile:
		ch.After = "file removed"
	case persistUnit:
		ch.Object = d.File
		ch.After = "unit stopped, its links (enablement) removed, its file removed"
		ch.Params["unit"] = d.Unit
		if d.User != "" {
			ch.Params["user"] = d.User
		}
	case persistDropIn:
		ch.After = "drop-in removed, systemd's units reloaded"
		if f.Detail["replaces_exec"] == "true" {
			ch.After += ", " + d.Unit + " restarted if it runs (the drop-in replaced what it runs)"
			ch.Params["restart"] = "yes"
		}
		ch.Params["unit"] = d.Unit
	case persistInit:
		ch.After = "rc links removed, script removed (not run: its stop action would be the provider's code)"
		ch.Params["unit"] = d.Unit
	case persistInstance:
		if _, err := strconv.Atoi(d.Unit); err != nil {
			return plan.Change{}, false
		}
		ch.After = "the sshd listening with this configuration (pid " + d.Unit + ") ended, unless handover's own session runs under it; the configuration file removed"
		ch.Params["pid"] = d.Unit
	}
	switch d.Kind {
	case "at":
		ch.Action = plan.RemoveCron
	case "forward":
		ch.Action = plan.RemoveForward
	default:
		ch.Action = plan.RemovePersistence
	}
	return ch, true
}

// persistGone checks on a re-inventory that a removed persistence item is
// gone: its finding not found again, its file (when the change removed
// the file) not read, its line in no file read, a system unit neither
// enabled nor held by a running systemd. It names what it read; a
// re-inventory that did not read the persistence files proves nothing.
func persistGone(h *hostData, findings []connector.Finding, ch plan.Change) []proofCheck {
	file, op := ch.Params["file"], ch.Params["op"]
	what := fmt.Sprintf("%s no longer in %s (re-inventory: the persistence files read anew, without following links)", ch.Object, file)
	if op != persistLine {
		what = fmt.Sprintf("%s gone (re-inventory: the persistence files read anew, without following links)", file)
	}
	if !h.PersistRead {
		return []proofCheck{{what, "the re-inventory did not read the persistence files", false}}
	}
	var read *remoteFile
	for i := range h.Persist {
		if h.Persist[i].Path == file && h.Persist[i].Kind == "persist" {
			read = &h.Persist[i]
		}
	}
	c := proofCheck{what: what, ok: true}
	switch {
	case slices.ContainsFunc(findings, func(f connector.Finding) bool { return f.ID == ch.Finding }):
		c.ok, c.detail = false, "still there: "+ch.Finding
	case op == persistLine && read != nil:
		left := 0
		for _, l := range splitLines(read.Data) {
			if lineHash(string(l)) == ch.Params["hash"] {
				left++
			}
		}
		c.ok, c.detail = left == 0, fmt.Sprintf("%s read: %d line(s) with the removed line's hash", file, left)
	case op == persistLine:
		c.detail = file + " gone"
	case read != nil:
		c.ok, c.detail = false, file+" still there ("+strconv.Itoa(len(read.Data))+" bytes read)"
	default:
		c.detail = fmt.Sprintf("%s not found among the %d persistence files read", file, len(h.Persist))
	}
	out := []proofCheck{c}
	if op == persistInstance {
		var left []string
		for _, i := range h.SSHDInstances {
			if i.Config == file {
				left = append(left, "pid "+i.PID)
			}
		}
		in := proofCheck{what: "no sshd listening with " + file + " (re-inventory: every sshd process's command line read anew)", ok: len(left) == 0}
		in.detail = fmt.Sprintf("%d sshd instance(s) read", len(h.SSHDInstances))
		if len(left) > 0 {
			in.detail = "still listening: " + strings.Join(left, ", ")
		}
		if len(h.SSHDInstances) == 0 {
			in.ok, in.detail = false, "no sshd instance read (the main one at least): not read"
		}
		out = append(out, in)
	}
	if u := ch.Params["unit"]; op == persistUnit && ch.Params["user"] == "" {
		en := proofCheck{what: "unit " + u + ": no enablement link left (re-inventory: /etc/systemd/system/*.wants and *.requires read anew)", ok: !h.Enabled[u]}
		if en.ok {
			en.detail = fmt.Sprintf("%d links read, none to %s", len(h.Enabled), u)
		} else {
			en.detail = u + " still enabled"
		}
		out = append(out, en)
		if h.Systemd {
			st, held := h.LiveUnits[u]
			live := proofCheck{what: "unit " + u + ": not active in systemd (re-inventory: systemctl list-units read anew)", ok: !held || st.Active == "inactive"}
			switch {
			case len(h.LiveUnits) == 0:
				live.ok, live.detail = false, "systemd runs, but no unit was read: not read"
			case held:
				live.detail = fmt.Sprintf("%s %s (%s)", u, st.Active, st.Sub)
			default:
				live.detail = fmt.Sprintf("%d units held, %s not among them", len(h.LiveUnits), u)
			}
			out = append(out, live)
		}
	}
	return out
}

// atSpool reports whether p is a job in at's spool (removed by at_rm:
// the spool is group-writable for at's daemon, which wf refuses).
func atSpool(p string) bool {
	d := path.Dir(p)
	return d == "/var/spool/cron/atjobs" || d == "/var/spool/at" || d == "/var/spool/at/spool"
}

// atRemove adds removing an at job if it still has the content read.
func (b *batch) atRemove(p string, was remoteFileState) string {
	s := b.step()
	b.call("at_rm", s, p, was.Sum)
	return s
}
