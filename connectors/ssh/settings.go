package ssh

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
)

// Defaults.
const (
	defaultPort        = 22
	defaultHostTimeout = 60 * time.Second
	defaultParallel    = 16
	defaultKeyComment  = "handover-access-key"
)

var (
	agentName   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	fingerprint = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)
	loginName   = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?$`)
	groupName   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$`)
)

// settings is a target's decoded configuration.
type settings struct {
	Hosts         []hostSpec
	Port          int
	User          string
	Sudo          sudoSettings
	Auth          authSettings
	Passwords     []handedPassword
	KnownHosts    string
	HostKeys      map[string]string // host name or address -> SHA256 fingerprint
	TrustFirstUse bool
	Jump          *jumpSettings
	HostTimeout   time.Duration
	Parallel      int
	AccessKey     accessKeySettings
	CatalogFile   string
}

type hostSpec struct {
	Name    string // the system's name in the inventory
	Address string
	Port    int
	HostKey string // pinned SHA256 fingerprint, if any
	Groups  []string
	Pos     playbook.Pos
}

// addr is host:port.
func (h hostSpec) addr() string { return joinHostPort(h.Address, h.Port) }

type sudoSettings struct {
	Use      bool
	Password playbook.Ref // zero: NOPASSWD
}

type authSettings struct {
	KeyFile       string
	KeyPassphrase playbook.Ref
	Agent         bool
	Password      playbook.Ref
}

// handedPassword is a password handed over by the outgoing provider: the
// "old" credential a rotation must prove dead.
type handedPassword struct {
	Account  string
	Password playbook.Ref
	Hosts    []string // empty: every host
}

type accessKeySettings struct {
	Disabled  bool
	PublicKey string // operator-supplied; empty: generate
	User      string
	Comment   string
}

// decodeSettings decodes a target's settings, reporting every problem to
// d. resolve maps a playbook-relative path to a usable one.
//
// Long: one decoder per setting, then the checks across settings.
func decodeSettings(d *playbook.Decoder, n *yaml.Node, resolve func(string) string) settings {
	s := settings{Port: defaultPort, User: "root", HostTimeout: defaultHostTimeout, Parallel: defaultParallel, HostKeys: map[string]string{}}
	var hostsNode, fileNode, ansibleNode, authNode, sudoNode, knownNode, tofuNode *yaml.Node
	var invFile, ansibleFile string
	var sc sshConfigSettings
	d.Map(n, "ssh target", map[string]playbook.Field{
		"hosts": {Decode: func(n *yaml.Node) {
			hostsNode = n
			d.Seq(n, "hosts", func(item *yaml.Node) { s.Hosts = append(s.Hosts, decodeHost(d, item)...) })
		}},
		"inventory_file": {Decode: func(n *yaml.Node) { fileNode = n; invFile = d.NonEmpty(n, "inventory_file") }},
		"ansible_inventory": {Decode: func(n *yaml.Node) {
			ansibleNode, ansibleFile = n, d.NonEmpty(n, "ansible_inventory")
		}},
		"port": {Decode: func(n *yaml.Node) { sc.portSet = true; s.Port = d.Int(n, "port", 1, 65535) }},
		"ssh_config": {Decode: func(n *yaml.Node) {
			// A path, or true for ~/.ssh/config; never read unless asked:
			// what a run did must not depend on the operator's dotfiles.
			if n.Kind == yaml.ScalarNode && (n.Value == "true" || n.Value == "false") {
				if d.Bool(n, "ssh_config") {
					home, _ := os.UserHomeDir()
					sc.path = filepath.Join(home, ".ssh", "config")
				}
				return
			}
			p := d.NonEmpty(n, "ssh_config")
			if rest, ok := strings.CutPrefix(p, "~/"); ok {
				home, _ := os.UserHomeDir()
				sc.path = filepath.Join(home, rest)
			} else if p != "" {
				sc.path = resolve(p)
			}
		}},
		"user": {Decode: func(n *yaml.Node) {
			sc.userSet = true
			s.User = d.NonEmpty(n, "user")
			if s.User != "" && !loginName.MatchString(s.User) {
				d.Errorf(n, "user %q is not a login name", s.User)
			}
		}},
		"sudo": {Decode: func(n *yaml.Node) {
			sudoNode = n
			if n.Kind == yaml.ScalarNode {
				s.Sudo.Use = d.Bool(n, "sudo")
				return
			}
			s.Sudo.Use = true
			d.Map(n, "sudo", map[string]playbook.Field{
				"password": {Required: true, Decode: func(n *yaml.Node) { s.Sudo.Password = d.Ref(n, "sudo.password") }},
			})
		}},
		"auth": {Required: true, Decode: func(n *yaml.Node) {
			authNode = n
			d.Map(n, "auth", map[string]playbook.Field{
				"key_file":       {Decode: func(n *yaml.Node) { sc.keySet = true; s.Auth.KeyFile = resolve(d.NonEmpty(n, "auth.key_file")) }},
				"key_passphrase": {Decode: func(n *yaml.Node) { s.Auth.KeyPassphrase = d.Ref(n, "auth.key_passphrase") }},
				"agent":          {Decode: func(n *yaml.Node) { s.Auth.Agent = d.Bool(n, "auth.agent") }},
				"password":       {Decode: func(n *yaml.Node) { s.Auth.Password = d.Ref(n, "auth.password") }},
			})
		}},
		"passwords": {Decode: func(n *yaml.Node) {
			d.Seq(n, "passwords", func(item *yaml.Node) {
				var p handedPassword
				d.Map(item, "passwords item", map[string]playbook.Field{
					"account": {Required: true, Decode: func(n *yaml.Node) {
						p.Account = d.NonEmpty(n, "passwords.account")
						if p.Account != "" && !loginName.MatchString(p.Account) {
							d.Errorf(n, "passwords.account %q is not a login name", p.Account)
						}
					}},
					"password": {Required: true, Decode: func(n *yaml.Node) { p.Password = d.Ref(n, "passwords.password") }},
					"hosts":    {Decode: func(n *yaml.Node) { p.Hosts = d.Strings(n, "passwords.hosts") }},
				})
				s.Passwords = append(s.Passwords, p)
			})
		}},
		"known_hosts": {Decode: func(n *yaml.Node) {
			sc.knownSet = true
			knownNode = n
			s.KnownHosts = resolve(d.NonEmpty(n, "known_hosts"))
		}},
		"host_keys": {Decode: func(n *yaml.Node) {
			if n.Kind != yaml.MappingNode {
				d.Errorf(n, "host_keys must be a mapping of host to SHA256 fingerprint")
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				fp := d.String(v, "host_keys value")
				if !fingerprint.MatchString(fp) {
					d.Errorf(v, "host_keys: %q is not a SHA256 fingerprint (as `ssh-keygen -lf` prints: SHA256:…)", fp)
				}
				s.HostKeys[k.Value] = fp
			}
		}},
		"trust_on_first_use": {Decode: func(n *yaml.Node) { tofuNode = n; s.TrustFirstUse = d.Bool(n, "trust_on_first_use") }},
		"jump": {Decode: func(n *yaml.Node) {
			sc.jumpSet = true
			j := &jumpSettings{Port: defaultPort}
			d.Map(n, "jump", map[string]playbook.Field{
				"address": {Required: true, Decode: func(n *yaml.Node) {
					a := d.NonEmpty(n, "jump.address")
					h, p, err := splitHostPort(a)
					if err != nil {
						d.Errorf(n, "jump.address: %v", err)
					}
					j.Address = h
					if p != 0 {
						j.Port = p
					}
				}},
				"user": {Decode: func(n *yaml.Node) { j.User = d.NonEmpty(n, "jump.user") }},
				"host_key": {Decode: func(n *yaml.Node) {
					j.HostKey = d.String(n, "jump.host_key")
					if !fingerprint.MatchString(j.HostKey) {
						d.Errorf(n, "jump.host_key: %q is not a SHA256 fingerprint", j.HostKey)
					}
				}},
			})
			s.Jump = j
		}},
		"host_timeout": {Decode: func(n *yaml.Node) {
			s.HostTimeout = d.Duration(n, "host_timeout")
			if s.HostTimeout < time.Second {
				d.Errorf(n, "host_timeout must be at least 1s")
			}
		}},
		"parallel": {Decode: func(n *yaml.Node) { s.Parallel = d.Int(n, "parallel", 1, 256) }},
		"access_key": {Decode: func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode {
				s.AccessKey.Disabled = !d.Bool(n, "access_key")
				return
			}
			d.Map(n, "access_key", map[string]playbook.Field{
				"public_key": {Decode: func(n *yaml.Node) {
					s.AccessKey.PublicKey = strings.TrimSpace(d.NonEmpty(n, "access_key.public_key"))
					if _, err := parsePublicKeyLine(s.AccessKey.PublicKey); err != nil {
						d.Errorf(n, "access_key.public_key: %v", err)
					}
				}},
				"user": {Decode: func(n *yaml.Node) {
					sc.accessKeyUserSet = true
					s.AccessKey.User = d.NonEmpty(n, "access_key.user")
					if s.AccessKey.User != "" && !loginName.MatchString(s.AccessKey.User) {
						d.Errorf(n, "access_key.user %q is not a login name", s.AccessKey.User)
					}
				}},
				"comment": {Decode: func(n *yaml.Node) {
					s.AccessKey.Comment = d.NonEmpty(n, "access_key.comment")
					if strings.ContainsAny(s.AccessKey.Comment, "\n\r") {
						d.Errorf(n, "access_key.comment must be one line")
					}
				}},
			})
		}},
		"catalog": {Decode: func(n *yaml.Node) { s.CatalogFile = resolve(d.NonEmpty(n, "catalog")) }},
	})
	if s.AccessKey.Comment == "" {
		s.AccessKey.Comment = defaultKeyComment
	}
	if s.Jump != nil && s.Jump.User == "" {
		s.Jump.User = s.User
	}

	if invFile != "" {
		path := resolve(invFile)
		data, err := os.ReadFile(path)
		if err != nil {
			d.Errorf(fileNode, "inventory_file: %v", err)
		} else {
			lines, errs := parseInventoryFile(data)
			for _, e := range errs {
				d.ErrorAt(playbook.Pos{File: path, Line: e.Line, Col: e.Col}, "%s", e.Msg)
			}
			for _, l := range lines {
				s.Hosts = append(s.Hosts, hostSpec{Name: l.Name, Address: l.Address, Port: l.Port, Pos: playbook.Pos{File: path, Line: l.Line, Col: l.Col}})
			}
		}
	}
	if ansibleFile != "" {
		s.Hosts = append(s.Hosts, ansibleHostSpecs(d, ansibleNode, resolve(ansibleFile), s.User)...)
	}
	applySSHConfig(d, n, &s, sc)
	if !sc.accessKeyUserSet {
		// The login ssh_config gave is the access key's default too.
		s.AccessKey.User = s.User
	}
	if hostsNode == nil && fileNode == nil && ansibleNode == nil {
		d.Errorf(n, "ssh target: give hosts, inventory_file, ansible_inventory, or several of them")
	}
	seen := map[string]playbook.Pos{}
	for i := range s.Hosts {
		h := &s.Hosts[i]
		if h.Port == 0 {
			h.Port = s.Port
		}
		if prev, dup := seen[h.Name]; dup {
			d.ErrorAt(h.Pos, "host %q is already listed at %s", h.Name, prev)
		}
		seen[h.Name] = h.Pos
		if h.HostKey == "" {
			h.HostKey = s.HostKeys[h.Name]
		}
		if h.HostKey == "" {
			h.HostKey = s.HostKeys[h.Address]
		}
	}
	for name := range s.HostKeys {
		if _, ok := seen[name]; !ok && !hasAddress(s.Hosts, name) {
			d.Errorf(n, "host_keys names %q, which is not one of the target's hosts", name)
		}
	}

	if s.User != "root" && !s.Sudo.Use {
		d.Errorf(n, "user %q is not root: set sudo: true (NOPASSWD) or sudo: {password: ${...}}, the inventory reads root-only files", s.User)
	}
	if s.User == "root" && s.Sudo.Use {
		d.Errorf(sudoNode, "sudo is for a non-root user; the target logs in as root")
	}
	if authNode != nil && s.Auth.KeyFile == "" && !s.Auth.Agent && s.Auth.Password.IsZero() {
		d.Errorf(authNode, "auth: give key_file, agent: true or password")
	}
	if !s.Auth.KeyPassphrase.IsZero() && s.Auth.KeyFile == "" {
		d.Errorf(authNode, "auth.key_passphrase needs auth.key_file")
	}
	if s.KnownHosts == "" && !s.TrustFirstUse {
		for _, h := range s.Hosts {
			if h.HostKey == "" {
				d.ErrorAt(h.Pos, "host %q: no way to check its host key: set known_hosts, pin it in host_keys, or (knowingly) trust_on_first_use: true", h.Name)
			}
		}
	}
	if knownNode != nil && s.KnownHosts != "" && !s.TrustFirstUse {
		if _, err := os.Stat(s.KnownHosts); err != nil {
			d.Errorf(knownNode, "known_hosts: %v", err)
		}
	}
	_ = tofuNode
	return s
}

func hasAddress(hs []hostSpec, a string) bool {
	for _, h := range hs {
		if h.Address == a {
			return true
		}
	}
	return false
}

// decodeHost decodes one item of hosts: a scalar name (ranges allowed,
// optional :port) or a mapping {name, address, port, host_key}.
func decodeHost(d *playbook.Decoder, n *yaml.Node) []hostSpec {
	pos := d.Pos(n)
	if n.Kind == yaml.ScalarNode {
		pattern := d.NonEmpty(n, "hosts item")
		names, err := ExpandHosts(pattern)
		if err != nil {
			d.Errorf(n, "%v", err)
			return nil
		}
		var out []hostSpec
		for _, name := range names {
			h, port, err := splitHostPort(name)
			if err != nil {
				d.Errorf(n, "%v", err)
				return nil
			}
			out = append(out, hostSpec{Name: h, Address: h, Port: port, Pos: pos})
		}
		return out
	}
	h := hostSpec{Pos: pos}
	d.Map(n, "hosts item", map[string]playbook.Field{
		"name":    {Required: true, Decode: func(n *yaml.Node) { h.Name = d.NonEmpty(n, "hosts.name") }},
		"address": {Decode: func(n *yaml.Node) { h.Address = d.NonEmpty(n, "hosts.address") }},
		"port":    {Decode: func(n *yaml.Node) { h.Port = d.Int(n, "hosts.port", 1, 65535) }},
		"host_key": {Decode: func(n *yaml.Node) {
			h.HostKey = d.String(n, "hosts.host_key")
			if !fingerprint.MatchString(h.HostKey) {
				d.Errorf(n, "hosts.host_key: %q is not a SHA256 fingerprint", h.HostKey)
			}
		}},
		"groups": {Decode: func(n *yaml.Node) {
			h.Groups = d.Strings(n, "hosts.groups")
			for _, g := range h.Groups {
				if !groupName.MatchString(g) {
					d.Errorf(n, "hosts.groups: %q: use letters, digits, - and _ (a --limit pattern names it)", g)
				}
			}
		}},
	})
	if h.Address == "" {
		h.Address = h.Name
	}
	if strings.ContainsAny(h.Name, "/# \t") {
		d.Errorf(n, "host name %q: no spaces, / or #", h.Name)
	}
	return []hostSpec{h}
}

// ansibleHostSpecs imports an Ansible inventory's hosts, with their groups.
// What handover cannot honour is an error at the playbook's key rather
// than a silent difference: another login than the target's user (put
// those hosts in a target of their own) or a password in clear.
func ansibleHostSpecs(d *playbook.Decoder, n *yaml.Node, path, user string) []hostSpec {
	data, err := os.ReadFile(path)
	if err != nil {
		d.Errorf(n, "ansible_inventory: %v", err)
		return nil
	}
	hosts, err := parseAnsibleInventory(data)
	if err != nil {
		d.Errorf(n, "ansible_inventory %s: %v", path, err)
		return nil
	}
	if len(hosts) == 0 {
		d.Errorf(n, "ansible_inventory %s: no host in it", path)
	}
	var out []hostSpec
	for _, h := range hosts {
		if h.User != "" && h.User != user {
			d.Errorf(n, "ansible_inventory %s: host %s logs in as %q (ansible_user) but this target logs in as %q: put the hosts of each login in a target of their own", path, h.Name, h.User, user)
			continue
		}
		for _, v := range ansibleSecretVars {
			if h.Vars[v] != "" {
				d.Errorf(n, "ansible_inventory %s: host %s has %s in the inventory: handover takes credentials only from references in the playbook (auth, sudo, passwords)", path, h.Name, v)
			}
		}
		for _, g := range h.Groups {
			if !groupName.MatchString(g) {
				d.Errorf(n, "ansible_inventory %s: group %q of host %s: use letters, digits, - and _", path, g, h.Name)
			}
		}
		out = append(out, hostSpec{Name: h.Name, Address: h.Address, Port: h.Port, Groups: h.Groups, Pos: playbook.Pos{File: path, Line: 1, Col: 1}})
	}
	return out
}
