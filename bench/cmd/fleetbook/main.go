// Command fleetbook writes what the benchmark runs against the first N
// hosts of the running testenv fleet: a handover playbook doing the whole
// job on them, a handover playbook with only the testenv's LDAP directory,
// and an Ansible inventory whose host variables name what the Ansible
// playbook (bench/ansible/handover.yml) removes on each host.
//
//	fleetbook -hosts 100 -parallel 16 -out DIR
//
// It reads env.json (testenv.Load) and writes DIR/fleet.yaml,
// DIR/ldap.yaml (when the testenv's directory is up), DIR/inventory.yml and
// DIR/hosts.txt (one address a line, for the bare-login floor). Credentials stay in the testenv's
// files: the playbooks hold ${file:...} references, never a value.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/testenv"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbook:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleetbook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 100, "how many fleet hosts, from the first (0: only the LDAP playbook)")
	parallel := fs.Int("parallel", 16, "hosts handled at once (handover's parallel, Ansible's forks)")
	out := fs.String("out", "", "directory to write fleet.yaml, ldap.yaml, inventory.yml and hosts.txt into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	env, err := testenv.Load()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	files := map[string]func() (any, error){}
	// -hosts 0: the LDAP playbook only, with or without a fleet. With
	// hosts, the LDAP playbook too when the directory is up: the fleet's
	// benchmark must not need it.
	if *hosts == 0 || env.LDAP != nil {
		files["ldap.yaml"] = func() (any, error) { return ldapPlaybook(env, *parallel) }
	}
	if *hosts > 0 {
		files["fleet.yaml"] = func() (any, error) { return fleetPlaybook(env, *hosts, *parallel) }
		files["inventory.yml"] = func() (any, error) { return ansibleInventory(env, *hosts) }
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		doc, err := files[name]()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := writeYAML(filepath.Join(*out, name), doc); err != nil {
			return err
		}
	}
	if *hosts == 0 {
		return nil
	}
	list, err := fleetHosts(env, *hosts)
	if err != nil {
		return err
	}
	var sb strings.Builder
	for _, h := range list {
		sb.WriteString(address(h) + "\n")
	}
	return os.WriteFile(filepath.Join(*out, "hosts.txt"), []byte(sb.String()), 0o600)
}

// The handover playbook, as the product reads it (docs/playbook.md). Field
// order is the order written.
type playbook struct {
	Version  int           `yaml:"version"`
	Handover handoverParty `yaml:"handover"`
	Report   report        `yaml:"report"`
	Secrets  secrets       `yaml:"secrets"`
	Signing  signing       `yaml:"signing"`
	Outgoing outgoing      `yaml:"outgoing"`
	Policy   policy        `yaml:"policy"`
	Targets  []any         `yaml:"targets"`
}

type party struct {
	Name   string `yaml:"name"`
	Domain string `yaml:"domain,omitempty"`
}

type handoverParty struct {
	Client   party `yaml:"client"`
	Outgoing party `yaml:"outgoing"`
	Incoming party `yaml:"incoming"`
}

type report struct {
	Lang string `yaml:"lang"`
}

type secrets struct {
	Store string    `yaml:"store"`
	File  fileStore `yaml:"file"`
}

type fileStore struct {
	Path       string `yaml:"path"`
	Passphrase string `yaml:"passphrase"`
}

type signing struct {
	Key      string `yaml:"key"`
	Identity string `yaml:"identity"`
}

type outgoing struct {
	Names       []string `yaml:"names"`
	Domains     []string `yaml:"domains"`
	KeyComments []string `yaml:"key_comments"`
	Accounts    []string `yaml:"accounts"`
	Agents      []string `yaml:"agents"`
}

type policy struct {
	Rotate   rotate   `yaml:"rotate"`
	Password password `yaml:"password"`
	Retries  int      `yaml:"retries"`
	Parallel int      `yaml:"parallel"`
}

type rotate struct {
	Admins bool `yaml:"admins"`
}

type password struct {
	Length int `yaml:"length"`
}

type sshTarget struct {
	Name       string           `yaml:"name"`
	Type       string           `yaml:"type"`
	Hosts      []sshHost        `yaml:"hosts"`
	User       string           `yaml:"user"`
	Auth       sshAuth          `yaml:"auth"`
	KnownHosts string           `yaml:"known_hosts"`
	Passwords  []handedPassword `yaml:"passwords"`
	Parallel   int              `yaml:"parallel"`
}

type sshHost struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

type sshAuth struct {
	KeyFile string `yaml:"key_file"`
}

type handedPassword struct {
	Account  string   `yaml:"account"`
	Password string   `yaml:"password"`
	Hosts    []string `yaml:"hosts"`
}

type ldapTarget struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	URL         string   `yaml:"url"`
	CACert      string   `yaml:"ca_cert"`
	Dialect     string   `yaml:"dialect"`
	BindDN      string   `yaml:"bind_dn"`
	Password    string   `yaml:"password"`
	BaseDN      string   `yaml:"base_dn"`
	AdminGroups []string `yaml:"admin_groups"`
}

func fileRef(path string) string { return "${file:" + path + "}" }

// base is what every bench playbook shares: the parties, a store of its
// own next to the playbook, the operator's signing key, and how to
// recognise the outgoing provider (as in playbooks/demo.yaml).
func base(env *testenv.Env, parallel int) (playbook, error) {
	if env.Operator == nil {
		return playbook{}, errors.New("env.json has no operator (run `bin/testenv up`)")
	}
	return playbook{
		Version: 1,
		Handover: handoverParty{
			Client:   party{Name: testenv.ClientName, Domain: testenv.ClientDomain},
			Outgoing: party{Name: testenv.ProviderName, Domain: testenv.ProviderDomain},
			Incoming: party{Name: testenv.IncomingName, Domain: testenv.IncomingDomain},
		},
		Report:  report{Lang: "en"},
		Secrets: secrets{Store: "file", File: fileStore{Path: "secrets.age", Passphrase: fileRef(env.Operator.PassphraseFile)}},
		Signing: signing{Key: env.Operator.SigningKey, Identity: env.Operator.Identity},
		Outgoing: outgoing{
			Names:       []string{testenv.ProviderName, "Prestanet"},
			Domains:     []string{testenv.ProviderDomain},
			KeyComments: []string{"*@" + testenv.ProviderDomain, "*prestanet*"},
			Accounts:    []string{"prestanet*"},
			Agents:      []string{"all"},
		},
		Policy: policy{Rotate: rotate{Admins: true}, Password: password{Length: 24}, Retries: 2, Parallel: parallel},
	}, nil
}

// fleetHosts returns the first n hosts of the fleet.
func fleetHosts(env *testenv.Env, n int) ([]testenv.Host, error) {
	if env.Fleet == nil {
		return nil, errors.New("env.json has no fleet (run `bin/testenv up -only fleet -hosts N`)")
	}
	if n < 1 || n > len(env.Fleet.Hosts) {
		return nil, fmt.Errorf("-hosts %d: the fleet has %d hosts", n, len(env.Fleet.Hosts))
	}
	return env.Fleet.Hosts[:n], nil
}

// address strips the port: the fleet's hosts all listen on 22.
func address(h testenv.Host) string {
	a, _, _ := strings.Cut(h.Addr, ":")
	return a
}

func fleetPlaybook(env *testenv.Env, n, parallel int) (playbook, error) {
	pb, err := base(env, parallel)
	if err != nil {
		return pb, err
	}
	hosts, err := fleetHosts(env, n)
	if err != nil {
		return pb, err
	}
	t := sshTarget{
		Name:       "fleet",
		Type:       "ssh",
		User:       "root",
		Auth:       sshAuth{KeyFile: env.Fleet.OperatorKey},
		KnownHosts: env.Fleet.KnownHosts,
		Parallel:   parallel,
	}
	for _, h := range hosts {
		t.Hosts = append(t.Hosts, sshHost{Name: h.Name, Address: address(h)})
		t.Passwords = append(t.Passwords,
			handedPassword{Account: "root", Password: fileRef(h.RootPasswordFile), Hosts: []string{h.Name}},
			handedPassword{Account: h.Admin, Password: fileRef(h.AdminPassFile), Hosts: []string{h.Name}},
		)
	}
	pb.Targets = []any{t}
	return pb, nil
}

func ldapPlaybook(env *testenv.Env, parallel int) (playbook, error) {
	pb, err := base(env, parallel)
	if err != nil {
		return pb, err
	}
	if env.LDAP == nil {
		return pb, errors.New("env.json has no ldap (run `bin/testenv up -only slapd`)")
	}
	pb.Targets = []any{ldapTarget{
		Name:        "annuaire",
		Type:        "ldap",
		URL:         env.LDAP.URL,
		CACert:      env.CACert,
		Dialect:     "openldap",
		BindDN:      env.LDAP.AdminDN,
		Password:    fileRef(env.LDAP.AdminPasswordFile),
		BaseDN:      env.LDAP.BaseDN,
		AdminGroups: []string{env.LDAP.AdminGroupDN},
	}}
	return pb, nil
}

// The Ansible inventory: group "fleet", connection settings as group
// variables, and per host what the playbook acts on. Giving Ansible the
// exact files and agents of each host (read from env.json) spares it any
// discovery task: its figures are a lower bound of what a real Ansible
// run would cost.
type inventory struct {
	Fleet group `yaml:"fleet"`
}

type group struct {
	Vars  map[string]any     `yaml:"vars"`
	Hosts map[string]hostVar `yaml:"hosts"`
}

type hostVar struct {
	AnsibleHost string `yaml:"ansible_host"`
	Admin       string `yaml:"admin"`
	// ProviderKeyFiles are the authorized_keys files holding a provider key.
	ProviderKeyFiles []string `yaml:"provider_key_files"`
	// AgentPackages are the agents' dpkg packages, in any state.
	AgentPackages []string `yaml:"agent_packages"`
	// LooseAgents are the agents installed without a package.
	LooseAgents []looseAgent `yaml:"loose_agents"`
}

type looseAgent struct {
	Unit   string   `yaml:"unit"`
	Daemon string   `yaml:"daemon"`
	Paths  []string `yaml:"paths"`
}

func ansibleInventory(env *testenv.Env, n int) (inventory, error) {
	hosts, err := fleetHosts(env, n)
	if err != nil {
		return inventory{}, err
	}
	inv := inventory{Fleet: group{
		Vars: map[string]any{
			"ansible_user":                 "root",
			"ansible_ssh_private_key_file": env.Fleet.OperatorKey,
			"ansible_python_interpreter":   "/usr/bin/python3",
			// The same key exchange as handover's client: the default
			// hybrid one costs the client several times the CPU.
			"ansible_ssh_common_args": "-o UserKnownHostsFile=" + env.Fleet.KnownHosts + " -o BatchMode=yes -o KexAlgorithms=curve25519-sha256",
		},
		Hosts: map[string]hostVar{},
	}}
	for _, h := range hosts {
		v := hostVar{AnsibleHost: address(h), Admin: h.Admin, ProviderKeyFiles: []string{}, AgentPackages: []string{}, LooseAgents: []looseAgent{}}
		seen := map[string]bool{}
		for _, k := range h.Keys {
			if k.Provider && !seen[k.File] {
				seen[k.File] = true
				v.ProviderKeyFiles = append(v.ProviderKeyFiles, k.File)
			}
		}
		for _, a := range h.AgentDetails {
			if a.Package != "" {
				v.AgentPackages = append(v.AgentPackages, a.Package)
				continue
			}
			v.LooseAgents = append(v.LooseAgents, looseAgent{Unit: a.Unit, Daemon: a.Daemon, Paths: []string{installDir(a.Binary), a.UnitFile}})
		}
		inv.Fleet.Hosts[h.Name] = v
	}
	return inv, nil
}

// installDir is what a tarball installer created for binary: its
// directory under /opt, or the binary itself elsewhere
// (/usr/local/bin/rmmagent).
func installDir(binary string) string {
	if rest, ok := strings.CutPrefix(binary, "/opt/"); ok {
		top, _, _ := strings.Cut(rest, "/")
		return "/opt/" + top
	}
	return binary
}

func writeYAML(path string, doc any) error {
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	header := "# Written by bench/cmd/fleetbook from the testenv's env.json; do not edit.\n"
	return os.WriteFile(path, append([]byte(header), b...), 0o600)
}
