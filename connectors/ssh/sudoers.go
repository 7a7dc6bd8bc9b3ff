package ssh

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

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
		Data:     grantData{File: g.File, Text: g.Text, Members: g.Members, Keep: g.Keep, Drop: g.Drop, Rewritten: g.rewritten(), SharedAlias: g.SharedAlias},
	}
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

// parseGrants reads every sudoers file's user specifications. evidence
// are the accounts the provider's by evidence rather than by name (see
// evidenceAccounts), with why: their rules are the provider's as well.
func parseGrants(h *hostData, out connector.Outgoing, evidence ...map[string][]string) []grant {
	byEvidence := func(name string) []string {
		var why []string
		for _, e := range evidence {
			why = append(why, e[name]...)
		}
		return why
	}
	// account is why a member of a rule is the provider's: a %group by
	// its name only, an account by its name or by evidence.
	account := func(member string) []string {
		name, group := strings.CutPrefix(member, "%")
		if group {
			return out.Account(name)
		}
		return append(out.Account(name), byEvidence(name)...)
	}
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
					if len(account(m)) == 0 {
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
				for _, why := range account(u) {
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
