package ssh

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/relex/aini"
	"go.yaml.in/yaml/v3"
)

// ansibleHost is one host of an Ansible inventory, with what handover takes
// from it: where to connect and the groups it is in (for --limit).
type ansibleHost struct {
	Name    string
	Address string // ansible_host; the name when unset
	Port    int    // ansible_port; 0 when unset
	User    string // ansible_user; "" when unset
	Groups  []string
	Vars    map[string]string // every variable, group variables included
}

// ansibleSecretVars are connection credentials an inventory may hold in
// clear: handover takes credentials only from references in the playbook.
var ansibleSecretVars = []string{"ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_pass", "ansible_become_password", "ansible_sudo_pass"}

// parseAnsibleInventory reads an Ansible inventory, INI (with aini, which
// reads it as Ansible does: ranges, [group:vars], [group:children]) or
// YAML (the `all: {hosts, vars, children}` form). Hosts come sorted by
// name.
func parseAnsibleInventory(data []byte) ([]ansibleHost, error) {
	var hosts map[string]*ansibleHost
	var err error
	if isYAMLInventory(data) {
		hosts, err = parseYAMLInventory(data)
	} else {
		hosts, err = parseINIInventory(data)
	}
	if err != nil {
		return nil, err
	}
	var out []ansibleHost
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		h := hosts[name]
		h.Name = name
		h.Address = cmp.Or(firstVar(h.Vars, "ansible_host", "ansible_ssh_host"), name)
		h.User = firstVar(h.Vars, "ansible_user", "ansible_ssh_user")
		if p := firstVar(h.Vars, "ansible_port", "ansible_ssh_port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("host %s: ansible_port %q is not a port", name, p)
			}
			h.Port = n
		}
		slices.Sort(h.Groups)
		h.Groups = slices.Compact(h.Groups)
		if len(h.Groups) == 0 {
			h.Groups = nil
		}
		out = append(out, *h)
	}
	return out, nil
}

func firstVar(vars map[string]string, names ...string) string {
	for _, n := range names {
		if v := vars[n]; v != "" {
			return v
		}
	}
	return ""
}

// isYAMLInventory tells the YAML form (a mapping of groups to mappings)
// from INI, which YAML may also read as a scalar or fail on.
func isYAMLInventory(data []byte) bool {
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil || len(m) == 0 {
		return false
	}
	for _, v := range m {
		if _, ok := v.(map[string]any); !ok && v != nil {
			return false
		}
	}
	return true
}

func parseINIInventory(data []byte) (out map[string]*ansibleHost, err error) {
	// aini panics on some malformed host ranges ([10:0]): a file the
	// operator names is an error to report, never a crash.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("not a valid Ansible inventory (%v)", r)
		}
	}()
	inv, err := aini.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out = map[string]*ansibleHost{}
	for name, h := range inv.Hosts {
		ah := &ansibleHost{Vars: map[string]string{}}
		maps.Copy(ah.Vars, h.Vars)
		// aini reports port 22 when none is given: only another is news.
		if h.Port != 0 && h.Port != 22 && ah.Vars["ansible_port"] == "" {
			ah.Vars["ansible_port"] = strconv.Itoa(h.Port)
		}
		for g := range h.Groups {
			if g != "all" && g != "ungrouped" {
				ah.Groups = append(ah.Groups, g)
			}
		}
		out[name] = ah
	}
	return out, nil
}

// yamlGroup is a group of the YAML form.
type yamlGroup struct {
	Hosts    map[string]map[string]any `yaml:"hosts"`
	Vars     map[string]any            `yaml:"vars"`
	Children map[string]*yamlGroup     `yaml:"children"`
}

func parseYAMLInventory(data []byte) (map[string]*ansibleHost, error) {
	var top map[string]*yamlGroup
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	out := map[string]*ansibleHost{}
	var walk func(name string, g *yamlGroup, vars map[string]string, path []string, depth int) error
	walk = func(name string, g *yamlGroup, inherited map[string]string, path []string, depth int) error {
		if depth > 32 {
			return fmt.Errorf("group %s: children nest deeper than 32 levels (a cycle?)", name)
		}
		if g == nil {
			g = &yamlGroup{}
		}
		vars := maps.Clone(inherited)
		for k, v := range g.Vars {
			vars[k] = scalarString(v)
		}
		if name != "all" && name != "ungrouped" {
			path = append(slices.Clone(path), name)
		}
		for _, hn := range slices.Sorted(maps.Keys(g.Hosts)) {
			names, err := ExpandHosts(ansibleRange(hn))
			if err != nil {
				return fmt.Errorf("host %s: %v", hn, err)
			}
			for _, n := range names {
				h := out[n]
				if h == nil {
					h = &ansibleHost{Vars: map[string]string{}}
					out[n] = h
				}
				// Group variables never override a host's own.
				for k, v := range vars {
					if _, set := h.Vars[k]; !set {
						h.Vars[k] = v
					}
				}
				for k, v := range g.Hosts[hn] {
					h.Vars[k] = scalarString(v)
				}
				h.Groups = append(h.Groups, path...)
			}
		}
		for _, cn := range slices.Sorted(maps.Keys(g.Children)) {
			if err := walk(cn, g.Children[cn], vars, path, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(top)) {
		if err := walk(name, top[name], map[string]string{}, nil, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ansibleRange turns Ansible's host range web[01:03] into handover's
// web[01-03].
func ansibleRange(name string) string {
	var b strings.Builder
	in := false
	for _, r := range name {
		switch {
		case r == '[':
			in = true
		case r == ']':
			in = false
		case r == ':' && in:
			r = '-'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func scalarString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}
