package ssh

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
)

//go:embed catalog.yaml
var builtinCatalog []byte

// Agent is one catalogue entry: how to recognise a remote-access, RMM or
// monitoring agent on a host, and how to remove it. Patterns may hold the
// shell globs * and ?.
type Agent struct {
	Name      string   `json:"name"`
	Title     string   `json:"title"`
	Vendor    string   `json:"vendor"`
	Source    string   `json:"source"`
	Packages  []string `json:"packages"`
	Units     []string `json:"units"`
	Processes []string `json:"processes"`
	Paths     []string `json:"paths"`
	Configs   []string `json:"configs"`
	Cron      []string `json:"cron"`
	Timers    []string `json:"timers"`
	Removal   Removal  `json:"removal"`
	// Origin is where the entry was read ("built-in" or file:line:col).
	Origin string `json:"origin"`
}

// Removal says how an agent goes away, in this order: the vendor's
// uninstaller when present, a purge of its packages, then its files.
type Removal struct {
	Purge       bool     `json:"purge"`
	Uninstaller []string `json:"uninstaller,omitempty"` // argv
	Files       []string `json:"files"`
}

// Catalog is an ordered set of agents, names unique.
type Catalog struct {
	Agents []Agent
}

// BuiltinCatalog returns the embedded catalogue. It is validated by the
// package's tests, so an error here is a build defect.
func BuiltinCatalog() (*Catalog, error) {
	c, ds := ParseCatalog("built-in", builtinCatalog)
	if len(ds) > 0 {
		return nil, fmt.Errorf("built-in agent catalogue: %w", ds)
	}
	for i := range c.Agents {
		c.Agents[i].Origin = "built-in"
	}
	return c, nil
}

// LoadCatalog returns the built-in catalogue extended by the file at path
// ("" for none): an entry with a built-in name replaces it, others are
// added.
func LoadCatalog(path string, data []byte) (*Catalog, error) {
	c, err := BuiltinCatalog()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return c, nil
	}
	ext, ds := ParseCatalog(path, data)
	if len(ds) > 0 {
		return nil, ds
	}
	c.Merge(ext)
	return c, nil
}

// Merge adds ext's agents, replacing those of the same name.
func (c *Catalog) Merge(ext *Catalog) {
	for _, a := range ext.Agents {
		if i := slices.IndexFunc(c.Agents, func(b Agent) bool { return b.Name == a.Name }); i >= 0 {
			c.Agents[i] = a
			continue
		}
		c.Agents = append(c.Agents, a)
	}
}

// Lookup returns the agent called name.
func (c *Catalog) Lookup(name string) (Agent, bool) {
	for _, a := range c.Agents {
		if a.Name == name {
			return a, true
		}
	}
	return Agent{}, false
}

// ParseCatalog decodes a catalogue file, reporting every problem with its
// position: unknown or missing keys, entries that could never be detected
// or removed, a missing documentation source, bad patterns.
func ParseCatalog(file string, data []byte) (*Catalog, playbook.Diagnostics) {
	d := playbook.NewDecoder(file)
	c := &Catalog{}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.Errorf(&yaml.Node{Line: 1, Column: 1}, "agent catalogue is empty")
		} else {
			d.ErrorAt(playbook.Pos{File: file, Line: yamlErrLine(err), Col: 1}, "YAML syntax: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return c, d.Diagnostics()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	seen := map[string]playbook.Pos{}
	d.Map(root, "agent catalogue", map[string]playbook.Field{
		"agents": {Required: true, Decode: func(n *yaml.Node) {
			d.Seq(n, "agents", func(item *yaml.Node) {
				a, ok := decodeAgent(d, item)
				if !ok {
					return
				}
				if prev, dup := seen[a.Name]; dup {
					d.Errorf(item, "agent %q is already defined at %s", a.Name, prev)
					return
				}
				seen[a.Name] = d.Pos(item)
				a.Origin = d.Pos(item).String()
				c.Agents = append(c.Agents, a)
			})
		}},
	})
	return c, d.Diagnostics()
}

func yamlErrLine(err error) int {
	var line int
	if _, e := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); e == nil {
		return line
	}
	return 1
}

// Long: one decoder per catalogue key, each with its own checks, then the checks across keys.
func decodeAgent(d *playbook.Decoder, n *yaml.Node) (Agent, bool) {
	var a Agent
	what := "agent"
	patterns := func(field string, dst *[]string) playbook.Field {
		return playbook.Field{Required: true, Decode: func(n *yaml.Node) {
			*dst = []string{}
			if n.Kind == yaml.SequenceNode {
				for _, item := range n.Content {
					s := d.NonEmpty(item, what+"."+field+" item")
					if err := checkPattern(s); err != nil {
						d.Errorf(item, "%s.%s: %v", what, field, err)
					}
					*dst = append(*dst, s)
				}
				return
			}
			d.Errorf(n, "%s.%s must be a list (write [] for none)", what, field)
		}}
	}
	absPaths := func(field string, dst *[]string) playbook.Field {
		f := patterns(field, dst)
		inner := f.Decode
		f.Decode = func(n *yaml.Node) {
			inner(n)
			if n.Kind != yaml.SequenceNode {
				return
			}
			for i, p := range *dst {
				if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
					d.Errorf(n.Content[i], "%s.%s: %q must be a clean absolute path other than /", what, field, p)
				}
			}
		}
		return f
	}
	var sourceNode, removalNode *yaml.Node
	ok := d.Map(n, "agent", map[string]playbook.Field{
		"name": {Required: true, Decode: func(n *yaml.Node) {
			a.Name = d.NonEmpty(n, "agent.name")
			what = "agent " + a.Name
			if a.Name != "" && !agentName.MatchString(a.Name) {
				d.Errorf(n, "agent name %q: use lower-case letters, digits and - (playbooks name agents in outgoing.agents)", a.Name)
			}
		}},
		"title":  {Required: true, Decode: func(n *yaml.Node) { a.Title = d.NonEmpty(n, "agent.title") }},
		"vendor": {Required: true, Decode: func(n *yaml.Node) { a.Vendor = d.NonEmpty(n, "agent.vendor") }},
		"source": {Required: true, Decode: func(n *yaml.Node) {
			sourceNode = n
			a.Source = d.NonEmpty(n, "agent.source")
		}},
		"packages":  patterns("packages", &a.Packages),
		"units":     patterns("units", &a.Units),
		"processes": patterns("processes", &a.Processes),
		"paths":     absPaths("paths", &a.Paths),
		"configs":   absPaths("configs", &a.Configs),
		"cron":      absPaths("cron", &a.Cron),
		"timers":    patterns("timers", &a.Timers),
		"removal": {Required: true, Decode: func(n *yaml.Node) {
			removalNode = n
			d.Map(n, what+".removal", map[string]playbook.Field{
				"purge": {Required: true, Decode: func(n *yaml.Node) { a.Removal.Purge = d.Bool(n, what+".removal.purge") }},
				"uninstaller": {Required: true, Decode: func(n *yaml.Node) {
					s := d.String(n, what+".removal.uninstaller")
					a.Removal.Uninstaller = strings.Fields(s)
					if len(a.Removal.Uninstaller) > 0 && !strings.HasPrefix(a.Removal.Uninstaller[0], "/") {
						d.Errorf(n, "%s.removal.uninstaller: %q must start with an absolute path", what, s)
					}
				}},
				"files": ownPaths(absPaths("removal.files", &a.Removal.Files), d, &a.Removal.Files, &what),
			})
		}},
	})
	if !ok {
		return a, false
	}
	if sourceNode != nil && a.Source != "" {
		if u, err := url.Parse(a.Source); err != nil || u.Scheme != "https" || u.Host == "" {
			d.Errorf(sourceNode, "%s.source: %q must be the https URL of the vendor documentation the entry comes from", what, a.Source)
		}
	}
	if len(a.Packages)+len(a.Units)+len(a.Processes)+len(a.Paths) == 0 {
		d.Errorf(n, "%s: give at least one of packages, units, processes or paths, or it can never be found", what)
	}
	if removalNode != nil && !a.Removal.Purge && len(a.Removal.Uninstaller) == 0 && len(a.Removal.Files) == 0 {
		d.Errorf(removalNode, "%s.removal: give purge: true, an uninstaller or files, or it can never be removed", what)
	}
	if removalNode != nil && a.Removal.Purge && len(a.Packages) == 0 {
		d.Errorf(removalNode, "%s.removal: purge: true needs packages", what)
	}
	return a, true
}

// ownPaths adds to f, the decoding of removal.files, the check that
// each path is the agent's own: what is removed on every host must never
// be a shared directory, nor a glob that could reach one.
func ownPaths(f playbook.Field, d *playbook.Decoder, dst *[]string, what *string) playbook.Field {
	inner := f.Decode
	f.Decode = func(n *yaml.Node) {
		inner(n)
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, p := range *dst {
			if err := checkRemovalPath(p); err != nil {
				d.Errorf(n.Content[i], "%s.removal.files: %q %v", *what, p, err)
			}
		}
	}
	return f
}

// sharedDirs are directories that hold other software's files too: never
// a removal target, nor a glob's parent.
var sharedDirs = []string{
	"/etc/systemd", "/etc/systemd/system", "/etc/init.d", "/etc/cron.d", "/etc/default", "/etc/opt",
	"/etc/ssh", "/etc/pam.d", "/etc/sudoers.d", "/etc/apt", "/etc/ssl", "/etc/security",
	"/lib/systemd", "/lib/systemd/system", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64",
	"/usr/libexec", "/usr/share", "/usr/include", "/usr/local", "/usr/local/bin", "/usr/local/sbin",
	"/usr/local/lib", "/usr/local/share", "/usr/local/etc", "/usr/lib/systemd", "/usr/lib/systemd/system",
	"/var/lib", "/var/opt", "/var/log", "/var/cache", "/var/spool", "/var/spool/cron", "/var/tmp",
	"/var/run", "/var/www", "/var/backups", "/var/mail",
	"/root/.config", "/root/.local", "/root/.local/share", "/root/.ssh", "/root/.cache",
	"/home/*", "/home/*/.config", "/home/*/.local", "/home/*/.local/share", "/home/*/.ssh", "/home/*/.cache",
}

// checkRemovalPath accepts an exact path at least two levels deep that is
// no shared directory, or a glob confined to its last element that starts
// with at least three literal characters (the agent's own name, as in
// /opt/screenconnect-*) and matches no shared directory.
func checkRemovalPath(p string) error {
	if strings.Count(p, "/") < 2 {
		return errors.New("is a top-level directory: remove the agent's own directory or files under it")
	}
	dir, last := path.Split(p)
	if strings.ContainsAny(dir, "*?") {
		return errors.New("has a wildcard in a directory: only the last element may hold one")
	}
	if i := strings.IndexAny(last, "*?"); i >= 0 && i < 3 {
		return errors.New("is a glob that could match other software's files: start the last element with the agent's own name (at least 3 characters before * or ?), or list exact paths")
	}
	for _, s := range sharedDirs {
		if ok, _ := path.Match(s, p); ok {
			return errors.New("is a directory shared with other software: list the agent's own directory or files under it")
		}
		if ok, _ := path.Match(p, s); ok {
			return fmt.Errorf("could match %s, a directory shared with other software: list exact paths", s)
		}
	}
	return nil
}

// checkPattern accepts the globs * and ?, which the remote scripts expand
// safely; bracket expressions and shell metacharacters are refused.
func checkPattern(p string) error {
	if strings.ContainsAny(p, "[]{}$`\\\"'\n\x00") {
		return fmt.Errorf("%q: only * and ? are allowed as wildcards, and no quotes, $, `, \\ or brackets", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%q: %w", p, err)
	}
	return nil
}
