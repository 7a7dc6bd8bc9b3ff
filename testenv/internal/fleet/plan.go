package fleet

import (
	"fmt"
	"path"
)

// agent describes a remote-maintenance tool the way it lands on a Debian
// host: its package (if any), its daemon and its systemd unit.
type agent struct {
	name        string // short name recorded in env: "teamviewer"
	pkg         string // Debian package, "" for tools installed from a tarball
	version     string
	maintainer  string
	description string
	binary      string // the daemon, as the real tool lays it out
	args        string // ExecStart arguments
	unit        string // systemd unit name
	conffile    string // a dpkg conffile left behind by `dpkg -r`
	conf        string // its content
}

// unitDir is where the unit lives: packaged tools ship theirs in
// /lib/systemd/system, tarball-installed RMM agents drop theirs in
// /etc/systemd/system.
func (a agent) unitDir() string {
	if a.pkg == "" {
		return "/etc/systemd/system"
	}
	return "/lib/systemd/system"
}

func (a agent) unitFile() string { return path.Join(a.unitDir(), a.unit) }

// daemon is the process name (comm) the kernel shows: the binary's base
// name cut to 15 bytes, exactly as for the real tool.
func (a agent) daemon() string {
	b := path.Base(a.binary)
	if len(b) > 15 {
		b = b[:15]
	}
	return b
}

func (a agent) unitText() string {
	return fmt.Sprintf(`[Unit]
Description=%s
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=%s %s
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`, a.description, a.binary, a.args)
}

var (
	teamviewer = agent{
		name: "teamviewer", pkg: "teamviewer", version: "15.58.4",
		maintainer:  "TeamViewer Germany GmbH <support@teamviewer.com>",
		description: "TeamViewer remote control daemon",
		binary:      "/opt/teamviewer/tv_bin/teamviewerd", args: "-d",
		unit:     "teamviewerd.service",
		conffile: "/etc/teamviewer/global.conf",
		conf:     "[int32] EulaAccepted = 1\n[strng] Owner = \"support@prestanet.test\"\n",
	}
	anydesk = agent{
		name: "anydesk", pkg: "anydesk", version: "6.3.2",
		maintainer:  "philandro Software GmbH <info@anydesk.com>",
		description: "AnyDesk",
		binary:      "/usr/bin/anydesk", args: "--service",
		unit:     "anydesk.service",
		conffile: "/etc/anydesk/system.conf",
		conf:     "ad.anynet.alias=prestanet-support\nad.security.interactive_access=2\n",
	}
	rustdesk = agent{
		name: "rustdesk", pkg: "rustdesk", version: "1.3.7",
		maintainer:  "rustdesk <info@rustdesk.com>",
		description: "RustDesk",
		binary:      "/usr/bin/rustdesk", args: "--service",
		unit:     "rustdesk.service",
		conffile: "/etc/rustdesk/RustDesk2.toml",
		conf:     "rendezvous_server = 'rd.prestanet.test:21116'\n",
	}
	ninjarmm = agent{
		name: "ninjarmm", description: "NinjaRMMAgent",
		binary: "/opt/NinjaRMMAgent/programfiles/ninjarmm-linagent", args: "-d",
		unit: "ninjarmm-agent.service",
	}
	tacticalrmm = agent{
		name: "tacticalrmm", description: "Tactical RMM Linux Agent",
		binary: "/usr/local/bin/rmmagent", args: "-m svc",
		unit: "tacticalagent.service",
	}
	packaged = []agent{teamviewer, anydesk, rustdesk}
)

// variant is what dpkg (and a tarball installer) did on a kind of host.
// Each variant is built once into a cached overlay layer, so 200 hosts cost
// no dpkg run at start-up; a host's later dpkg changes land in its own
// upper directory.
type variant struct {
	installed []agent // packages installed and running, or tarball agents
	removed   []agent // packages installed then `dpkg -r`: state rc, conffile left
	// rpm makes a RHEL-family host: rpm and dnf, no dpkg, an os-release of
	// Rocky Linux, the admin in wheel; installed agents are rpm packages.
	rpm bool
}

// key names the variant's cached layer.
func (v variant) key() string {
	k := "v"
	if v.rpm {
		k = "rpm"
	}
	for _, a := range v.installed {
		k += "-" + a.name
	}
	for _, a := range v.removed {
		k += "-rc" + a.name
	}
	return k
}

// hostPlan is everything planted on host i (1-based). Plans repeat every
// five hosts so that the default fleet of five shows every case.
type hostPlan struct {
	index int
	name  string
	admin string
	variant
	altKeysFile bool // sshd also reads /etc/ssh/authorized_keys/%u
	rootCrontab bool // the provider's entry in root's crontab
	userCA      bool // sshd trusts the provider's user CA (TrustedUserCAKeys)
	// systemd boots the host with systemd as its PID 1, which starts sshd
	// and the agents' units, instead of sshd as PID 1.
	systemd bool
	// persistence is the set of persistence items planted (persistA,
	// persistB, persistS; 0: none), see persist.go.
	persistence byte
}

var roles = []string{
	"srv-fichiers", "srv-app", "poste-accueil", "srv-sauvegarde", "poste-urbanisme",
	"poste-etat-civil", "srv-impression", "poste-compta", "poste-dgs", "poste-elus",
}

var variants = []variant{
	{installed: []agent{teamviewer, anydesk}},
	{installed: []agent{rustdesk, ninjarmm}},
	{installed: []agent{teamviewer}, removed: []agent{anydesk}},
	{installed: []agent{tacticalrmm}},
	{installed: []agent{anydesk, rustdesk}},
}

// rpmIndex numbers the fleet's RHEL-family host: outside 1..200, so it
// never counts in the fleet's size (the hosts tools like the benchmark
// address), at 127.0.1.250.
const rpmIndex = 250

// rpmVariant is the RHEL-family host's: TeamViewer installed from its rpm.
var rpmVariant = variant{rpm: true, installed: []agent{teamviewer}}

// systemdIndex numbers the fleet's systemd host, at 127.0.1.251: like the
// RHEL-family host, outside 1..200.
const systemdIndex = 251

// systemdVariant is the systemd host's: a packaged agent running, an
// unpackaged one with its unit in /etc, and a package in state rc.
var systemdVariant = variant{installed: []agent{teamviewer, ninjarmm}, removed: []agent{anydesk}}

func planHost(i int) hostPlan {
	switch i {
	case rpmIndex:
		return hostPlan{index: i, name: "srv-rhel-01", admin: "admin", variant: rpmVariant, rootCrontab: true}
	case systemdIndex:
		return hostPlan{index: i, name: "srv-systemd-01", admin: "adminlocal", variant: systemdVariant,
			altKeysFile: true, rootCrontab: true, userCA: true, systemd: true, persistence: persistS}
	}
	n := i - 1
	p := hostPlan{
		index:       i,
		name:        fmt.Sprintf("%s-%02d", roles[n%len(roles)], n/len(roles)+1),
		admin:       "adminlocal",
		variant:     variants[n%len(variants)],
		altKeysFile: n%5 == 0 || n%5 == 2,
		rootCrontab: n%5 == 0 || n%5 == 3,
		userCA:      n%5 == 1 || n%5 == 4,
	}
	if n%2 == 1 {
		p.admin = "admin"
	}
	switch n % 5 {
	case 2:
		p.persistence = persistA
	case 4:
		p.persistence = persistB
	}
	return p
}
