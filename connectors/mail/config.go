package mail

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// confNode is one section of `doveconf -n` output: its settings and
// sub-sections, in order.
type confNode struct {
	Kind, Name string // "passdb", ""; "service", "imap-login"; "" for the root
	Settings   map[string]string
	Children   []*confNode
}

func (n *confNode) get(k string) string { return n.Settings[k] }

// parseDoveconf reads `doveconf -n`: "key = value" lines and
// "kind [name] {" ... "}" sections.
func parseDoveconf(text string) (*confNode, error) {
	root := &confNode{Settings: map[string]string{}}
	stack := []*confNode{root}
	for i, raw := range strings.Split(text, "\n") {
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cur := stack[len(stack)-1]
		switch {
		case l == "}":
			if len(stack) == 1 {
				return nil, fmt.Errorf("doveconf line %d: '}' without a section", i+1)
			}
			stack = stack[:len(stack)-1]
		case strings.HasSuffix(l, "{"):
			f := strings.Fields(strings.TrimSuffix(l, "{"))
			n := &confNode{Settings: map[string]string{}}
			if len(f) > 0 {
				n.Kind = f[0]
			}
			if len(f) > 1 {
				n.Name = strings.Join(f[1:], " ")
			}
			cur.Children = append(cur.Children, n)
			stack = append(stack, n)
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return nil, fmt.Errorf("doveconf line %d: %q is neither a setting nor a section", i+1, l)
			}
			cur.Settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("doveconf: %d unclosed sections", len(stack)-1)
	}
	return root, nil
}

func (n *confNode) children(kind string) []*confNode {
	var out []*confNode
	for _, c := range n.Children {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// authDB is one passdb or userdb of the configuration.
type authDB struct {
	Kind   string // passdb, userdb
	Driver string
	Args   string
	Master bool
	// File is a passwd-file's path, when the args name one without
	// variables; Scheme its default password scheme.
	File   string
	Scheme string
	// Variables: the path has %variables (one file per domain...): read,
	// but not edited.
	Variables bool
}

func (a authDB) label() string {
	s := a.Kind + " " + a.Driver
	if a.Master {
		s = "master " + s
	}
	if a.File != "" {
		s += " " + a.File
	} else if a.Args != "" {
		s += " (" + a.Args + ")"
	}
	return s
}

// authDBs lists the passdbs and userdbs, master passdbs included, in the
// order Dovecot consults them.
func authDBs(root *confNode) []authDB {
	var out []authDB
	for _, kind := range []string{"passdb", "userdb"} {
		for _, n := range root.children(kind) {
			a := authDB{Kind: kind, Driver: n.get("driver"), Args: n.get("args"), Master: n.get("master") == "yes"}
			if a.Driver == "passwd-file" {
				for _, f := range strings.Fields(a.Args) {
					if k, v, ok := strings.Cut(f, "="); ok && !strings.HasPrefix(f, "/") {
						if k == "scheme" {
							a.Scheme = strings.ToUpper(v)
						}
						continue
					}
					a.File = f
				}
				if strings.Contains(a.File, "%") {
					a.Variables = true
				}
				if a.Scheme == "" {
					a.Scheme = "CRYPT"
				}
			}
			out = append(out, a)
		}
	}
	return out
}

// passwdEntry is one line of a passwd-file:
// user:password:uid:gid:gecos:home:shell:extra_fields.
type passwdEntry struct {
	User   string
	Hash   string // as written, with its {SCHEME} prefix if any
	Gecos  string
	Home   string
	Extra  string
	Line   int
	fields []string
}

// parsePasswdFile reads a passwd-file's entries (comments and blank lines
// skipped).
func parsePasswdFile(text string) []passwdEntry {
	var out []passwdEntry
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		f := strings.Split(l, ":")
		e := passwdEntry{User: f[0], Line: i + 1, fields: f}
		if len(f) > 1 {
			e.Hash = f[1]
		}
		if len(f) > 5 {
			e.Home = f[5]
		}
		if len(f) > 7 {
			e.Extra = strings.Join(f[7:], ":")
		}
		out = append(out, e)
	}
	return out
}

// hashScheme is the scheme of a stored password: its {SCHEME} prefix,
// else the passdb's default.
func hashScheme(hash, def string) (scheme, value string) {
	if strings.HasPrefix(hash, "{") {
		if i := strings.IndexByte(hash, '}'); i > 0 {
			return strings.ToUpper(hash[1:i]), hash[i+1:]
		}
	}
	return def, hash
}

// extraHas reports whether a passwd-file entry's extra fields hold key
// (as "key" or "key=value").
func extraHas(extra, key string) bool {
	for _, f := range strings.Fields(extra) {
		if k, _, _ := strings.Cut(f, "="); k == key {
			return true
		}
	}
	return false
}

// editPasswdFile returns text with each user's line changed by edit (which
// gets and returns the line's fields), every other byte kept; missing
// lists the users not found.
func editPasswdFile(text string, users []string, edit func(user string, fields []string) []string) (string, []string) {
	lines := strings.Split(text, "\n")
	found := map[string]bool{}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Split(l, ":")
		if !slices.Contains(users, f[0]) {
			continue
		}
		found[f[0]] = true
		if nf := edit(f[0], f); nf == nil {
			lines[i] = "\x00" // removed
		} else {
			lines[i] = strings.Join(nf, ":")
		}
	}
	out := slices.DeleteFunc(lines, func(l string) bool { return l == "\x00" })
	var missing []string
	for _, u := range users {
		if !found[u] {
			missing = append(missing, u)
		}
	}
	return strings.Join(out, "\n"), missing
}

// postfixMap is one lookup table named in main.cf ("hash:/etc/postfix/virtual").
type postfixMap struct {
	Param string // virtual_alias_maps, alias_maps, recipient_bcc_maps...
	Type  string // hash, lmdb, btree, regexp, pcre, texthash, ...
	File  string
}

// editable: an indexed map built from a source file with postmap (or
// postalias for alias_maps), whose entries the connector can change.
func (m postfixMap) editable() bool {
	switch m.Type {
	case "hash", "btree", "lmdb", "cdb", "dbm", "texthash":
		return true
	}
	return false
}

// mapParams are the main.cf parameters whose tables send mail elsewhere.
var mapParams = []string{"virtual_alias_maps", "alias_maps", "recipient_bcc_maps", "sender_bcc_maps"}

// postfixMaps lists the tables of postconf -n's map parameters.
func postfixMaps(postconf map[string]string) []postfixMap {
	var out []postfixMap
	for _, p := range mapParams {
		for _, t := range strings.FieldsFunc(postconf[p], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			typ, file, ok := strings.Cut(t, ":")
			if !ok || !path.IsAbs(file) {
				continue
			}
			out = append(out, postfixMap{Param: p, Type: typ, File: file})
		}
	}
	return out
}

// parsePostconf reads `postconf -n`: "name = value" lines.
func parsePostconf(text string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// mapEntry is one key of a map source file and its values.
type mapEntry struct {
	Key    string
	Values []string
	Line   int
}

// parseMapSource reads a postmap source file ("key value, value") or, for
// an aliases file, "name: value, value". Continuation lines start with
// white space.
func parseMapSource(text string, aliases bool) []mapEntry {
	var out []mapEntry
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") || l[0] == ' ' || l[0] == '\t' {
			continue
		}
		start := i
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') && !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "#") {
			i++
			l += " " + strings.TrimSpace(lines[i])
		}
		var key, rest string
		if aliases {
			k, r, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			key, rest = strings.TrimSpace(k), r
		} else {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			key, rest = f[0], strings.TrimSpace(l[len(f[0]):])
		}
		out = append(out, mapEntry{Key: key, Values: splitValues(rest), Line: start + 1})
	}
	return out
}

func splitValues(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// dropMapValues returns the source text with the values drop removes taken
// out of key's entry; an entry left with no value is removed with its
// continuation lines. Other lines are kept byte for byte.
func dropMapValues(text string, aliases bool, key string, drop func(string) bool) (string, bool) {
	lines := strings.Split(text, "\n")
	changed := false
	var out []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") || l[0] == ' ' || l[0] == '\t' {
			out = append(out, l)
			continue
		}
		end := i
		for end+1 < len(lines) && len(lines[end+1]) > 0 && (lines[end+1][0] == ' ' || lines[end+1][0] == '\t') && !strings.HasPrefix(strings.TrimSpace(lines[end+1]), "#") {
			end++
		}
		entry := parseMapSource(strings.Join(lines[i:end+1], "\n"), aliases)
		if len(entry) != 1 || entry[0].Key != key {
			out = append(out, lines[i:end+1]...)
			i = end
			continue
		}
		keep := slices.DeleteFunc(slices.Clone(entry[0].Values), drop)
		if len(keep) == len(entry[0].Values) {
			out = append(out, lines[i:end+1]...)
			i = end
			continue
		}
		changed = true
		if len(keep) > 0 {
			sep := " "
			if aliases {
				sep = ": "
			} else if f := strings.Fields(l); len(f) > 0 {
				// Keep the key's column alignment.
				rest := l[len(f[0]):]
				sep = rest[:len(rest)-len(strings.TrimLeft(rest, " \t"))]
			}
			out = append(out, key+sep+strings.Join(keep, ", "))
		}
		i = end
	}
	return strings.Join(out, "\n"), changed
}

// doveconfPath is the configuration file `doveconf -n` names on its first
// line ("# 2.3.19.1 (9b53102964): /etc/dovecot/dovecot.conf").
func doveconfPath(text string) string {
	first, _, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "#") {
		return ""
	}
	_, p, ok := strings.Cut(first, ": ")
	if p = strings.TrimSpace(p); !ok || !path.IsAbs(p) {
		return ""
	}
	return p
}

// confBlock is a section of a Dovecot configuration source file: the
// lines from its opening "kind [name] {" to its closing "}".
type confBlock struct {
	Kind       string
	Start, End int // line indexes, End the closing brace's
	Settings   map[string]string
}

// sourceBlocks lists a configuration source file's top-level sections,
// with their own settings (not their sub-sections'). Dovecot's source
// syntax is doveconf's: "key = value", "kind [name] {", "}", comments,
// and "!include" lines.
func sourceBlocks(text string) []confBlock {
	var out []confBlock
	depth := 0
	var cur *confBlock
	for i, raw := range strings.Split(text, "\n") {
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "!") {
			continue
		}
		switch {
		case strings.HasSuffix(l, "{"):
			if depth == 0 {
				f := strings.Fields(strings.TrimSuffix(l, "{"))
				cur = &confBlock{Start: i, Settings: map[string]string{}}
				if len(f) > 0 {
					cur.Kind = f[0]
				}
			}
			depth++
		case l == "}":
			depth--
			if depth == 0 && cur != nil {
				cur.End = i
				out = append(out, *cur)
				cur = nil
			}
			if depth < 0 {
				return out
			}
		case depth == 1 && cur != nil:
			if k, v, ok := strings.Cut(l, "="); ok {
				cur.Settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// masterPassdbBlock finds, in a configuration source file, the master
// passdb whose passwd-file is file.
func masterPassdbBlock(text, file string) (confBlock, bool) {
	for _, b := range sourceBlocks(text) {
		if b.Kind != "passdb" || b.Settings["master"] != "yes" {
			continue
		}
		if slices.Contains(strings.Fields(b.Settings["args"]), file) {
			return b, true
		}
	}
	return confBlock{}, false
}

// removeBlock returns text without the block's lines, a comment saying
// why in their place; every other byte is kept.
func removeBlock(text string, b confBlock, comment string) string {
	lines := strings.Split(text, "\n")
	indent := lines[b.Start][:len(lines[b.Start])-len(strings.TrimLeft(lines[b.Start], " \t"))]
	out := append(slices.Clone(lines[:b.Start]), indent+"# "+comment)
	return strings.Join(append(out, lines[b.End+1:]...), "\n")
}

// includes are the patterns of a configuration source file's !include
// and !include_try lines, made absolute against dir.
func includes(text, dir string) []string {
	var out []string
	for _, raw := range strings.Split(text, "\n") {
		f := strings.Fields(raw)
		if len(f) == 2 && (f[0] == "!include" || f[0] == "!include_try") {
			p := f[1]
			if !path.IsAbs(p) {
				p = path.Join(dir, p)
			}
			out = append(out, p)
		}
	}
	return out
}
