package ssh

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sshconfig "github.com/kevinburke/ssh_config"
	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
)

// sshConfigSettings is what the playbook set itself, so that an OpenSSH
// client configuration fills only what it left out: the playbook wins.
type sshConfigSettings struct {
	path                                                          string // "" when none is read
	userSet, portSet, keySet, knownSet, jumpSet, accessKeyUserSet bool
}

// applySSHConfig fills, from an OpenSSH client configuration (Host
// patterns, as ssh reads them), what the playbook did not set: each host's
// HostName and Port, and the login's User, IdentityFile,
// UserKnownHostsFile and ProxyJump (a chain of several hops). A target has
// one login: hosts whose configuration disagrees on those is an error that
// names them.
func applySSHConfig(d *playbook.Decoder, n *yaml.Node, s *settings, c sshConfigSettings) {
	if c.path == "" {
		return
	}
	data, err := os.ReadFile(c.path)
	if err != nil {
		d.Errorf(n, "ssh_config: %v", err)
		return
	}
	cfg, err := sshconfig.DecodeBytes(data)
	if err != nil {
		d.Errorf(n, "ssh_config %s: %v", c.path, err)
		return
	}
	get := func(alias, key string) string {
		v, err := cfg.Get(alias, key)
		if err != nil {
			d.Errorf(n, "ssh_config %s: %s %s: %v", c.path, alias, key, err)
		}
		return strings.TrimSpace(v)
	}
	// One value for the whole target, from every host's configuration.
	agree := func(key string, each func(h hostSpec) string) (string, bool) {
		vals := map[string][]string{}
		for _, h := range s.Hosts {
			if v := each(h); v != "" {
				vals[v] = append(vals[v], h.Name)
			}
		}
		switch len(vals) {
		case 0:
			return "", false
		case 1:
			for v, hs := range vals {
				if len(hs) != len(s.Hosts) {
					d.Errorf(n, "ssh_config %s: %s is %q for %s and unset for the target's other hosts: set it in the playbook, or put those hosts in a target of their own", c.path, key, v, strings.Join(hs, ", "))
					return "", false
				}
				return v, true
			}
		}
		var parts []string
		for _, v := range slices.Sorted(maps.Keys(vals)) {
			parts = append(parts, fmt.Sprintf("%q for %s", v, strings.Join(vals[v], ", ")))
		}
		d.Errorf(n, "ssh_config %s: the target's hosts disagree on %s (%s): a target has one login; set it in the playbook, or split the hosts into targets", c.path, key, strings.Join(parts, "; "))
		return "", false
	}
	for i := range s.Hosts {
		h := &s.Hosts[i]
		if h.Address == h.Name {
			if hn := get(h.Name, "HostName"); hn != "" {
				h.Address = strings.ReplaceAll(hn, "%h", h.Name)
			}
		}
		if h.Port == 0 && !c.portSet {
			if p := get(h.Name, "Port"); p != "" {
				n2, err := strconv.Atoi(p)
				if err != nil || n2 < 1 || n2 > 65535 {
					d.Errorf(n, "ssh_config %s: Port %q of %s is not a port", c.path, p, h.Name)
					continue
				}
				h.Port = n2
			}
		}
	}
	home, _ := os.UserHomeDir()
	expand := func(h hostSpec, p string) string {
		p = strings.NewReplacer("%d", home, "%h", h.Address, "%n", h.Name, "%%", "%").Replace(p)
		if rest, ok := strings.CutPrefix(p, "~/"); ok {
			p = filepath.Join(home, rest)
		}
		return p
	}
	if !c.userSet {
		if u, ok := agree("User", func(h hostSpec) string { return get(h.Name, "User") }); ok {
			if !loginName.MatchString(u) {
				d.Errorf(n, "ssh_config %s: User %q is not a login name", c.path, u)
			} else {
				s.User = u
			}
		}
	}
	if !c.keySet {
		if k, ok := agree("IdentityFile", func(h hostSpec) string {
			if v := get(h.Name, "IdentityFile"); v != "" {
				return expand(h, v)
			}
			return ""
		}); ok {
			s.Auth.KeyFile = k
		}
	}
	if !c.knownSet {
		if k, ok := agree("UserKnownHostsFile", func(h hostSpec) string {
			if v := strings.Fields(get(h.Name, "UserKnownHostsFile")); len(v) > 0 {
				return expand(h, v[0])
			}
			return ""
		}); ok {
			s.KnownHosts = k
		}
	}
	if !c.jumpSet {
		if j, ok := agree("ProxyJump", func(h hostSpec) string { return get(h.Name, "ProxyJump") }); ok && !strings.EqualFold(j, "none") {
			chain, err := parseProxyJump(j, s.User, func(alias string) (string, int, string) {
				addr := get(alias, "HostName")
				if addr == "" {
					addr = alias
				}
				port, _ := strconv.Atoi(get(alias, "Port"))
				return addr, port, get(alias, "User")
			})
			if err != nil {
				d.Errorf(n, "ssh_config %s: ProxyJump %q: %v", c.path, j, err)
			} else {
				s.Jump = chain
			}
		}
	}
}

// parseProxyJump reads ProxyJump's [user@]host[:port] hops, separated by
// commas, into the last hop with the earlier ones as its Via. A hop that
// is itself a Host alias of the configuration takes its HostName, Port and
// User from there.
func parseProxyJump(v, defaultUser string, alias func(string) (addr string, port int, user string)) (*jumpSettings, error) {
	var hops []jumpSettings
	for _, hop := range strings.Split(v, ",") {
		hop = strings.TrimSpace(hop)
		if hop == "" {
			return nil, fmt.Errorf("an empty hop")
		}
		j := jumpSettings{Port: defaultPort}
		user, hostport, hasUser := strings.Cut(hop, "@")
		if !hasUser {
			hostport, user = hop, ""
		}
		if strings.Contains(hostport, "://") {
			return nil, fmt.Errorf("hop %q: URIs are not supported, write [user@]host[:port]", hop)
		}
		h, p, err := splitHostPort(hostport)
		if err != nil {
			return nil, fmt.Errorf("hop %q: %v", hop, err)
		}
		addr, aport, auser := alias(h)
		j.Address = addr
		switch {
		case p != 0:
			j.Port = p
		case aport != 0:
			j.Port = aport
		}
		j.User = cmp.Or(user, auser, defaultUser)
		hops = append(hops, j)
	}
	last := hops[len(hops)-1]
	for i := range hops[:len(hops)-1] {
		last.Via = append(last.Via, hops[i])
	}
	return &last, nil
}
