package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Inventory is a target's part of the dossier technique.
type Inventory struct {
	Target   string    `json:"target"`
	Type     string    `json:"type"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Systems  []System  `json:"systems"`
}

// System is one host or service of a target.
type System struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // host, directory, mail, vault
	Address string `json:"address,omitempty"`
	// Error is set when the system could not be inventoried (unreachable,
	// wrong host key); the rest is then empty.
	Error    string    `json:"error,omitempty"`
	Facts    []Fact    `json:"facts,omitempty"`
	Hardware *Hardware `json:"hardware,omitempty"`
	Software []Package `json:"software,omitempty"`
	Services []Service `json:"services,omitempty"`
	Ports    []Port    `json:"ports,omitempty"`
	Accounts []Account `json:"accounts,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	// Links name other systems this one depends on, for the schéma de
	// principe (e.g. a host authenticating against the directory).
	Links []Link `json:"links,omitempty"`
}

// Fact is a labelled value (OS release, kernel, naming context...).
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Planned marks a fact the connector's plan reads (where the access
	// key goes): it counts in the inventory's Fingerprint, so a saved plan
	// made before it changed is refused as stale.
	Planned bool `json:"-"`
}

// Hardware of a host, as far as it is readable.
type Hardware struct {
	Vendor   string   `json:"vendor,omitempty"`
	Model    string   `json:"model,omitempty"`
	Serial   string   `json:"serial,omitempty"`
	CPUModel string   `json:"cpu_model,omitempty"`
	CPUs     int      `json:"cpus,omitempty"`
	MemoryMB int64    `json:"memory_mb,omitempty"`
	Disks    []Disk   `json:"disks,omitempty"`
	IPs      []string `json:"ips,omitempty"`
}

type Disk struct {
	Name   string `json:"name"`
	SizeMB int64  `json:"size_mb"`
	Model  string `json:"model,omitempty"`
}

// Package is installed software. State is the package manager's (dpkg
// "ii", "rc"...).
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state,omitempty"`
}

type Service struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	Running bool   `json:"running"`
}

type Port struct {
	Proto   string `json:"proto"`
	Addr    string `json:"addr"`
	Process string `json:"process,omitempty"`
}

// Account is a login on a system or in a directory.
type Account struct {
	Name string `json:"name"` // login, or DN for directories
	// Display is a friendlier name (cn, gecos), if any.
	Display string `json:"display,omitempty"`
	Admin   bool   `json:"admin"`
	// AdminVia says why the account is an admin ("uid 0", "sudo group",
	// "cn=admins <- cn=admins-reseau").
	AdminVia        []string   `json:"admin_via,omitempty"`
	Service         bool       `json:"service,omitempty"`
	State           string     `json:"state,omitempty"` // enabled, locked, disabled, expired
	PasswordChanged *time.Time `json:"password_changed,omitempty"`
	Provider        bool       `json:"provider,omitempty"`
	Reasons         []string   `json:"reasons,omitempty"` // why it is attributed to the provider
	// Password is set when the connector can rotate the account's
	// password; the engine decides whether to.
	Password *Password `json:"password,omitempty"`
}

// Password is what a connector knows of an account's password, for the
// engine's rotation policy. The value itself never appears.
type Password struct {
	// Login is the name the account logs in with, when it differs from
	// Account.Name (a DN's uid or sAMAccountName): policy.rotate.accounts
	// may name either.
	Login string `json:"login,omitempty"`
	// Held says whether the secret store's current value is the password
	// the system has now.
	Held Held `json:"held"`
	// Connector marks the password the connector itself logs in (or
	// elevates) with.
	Connector bool `json:"connector,omitempty"`
}

// Held says whether handover holds an account's current password.
type Held string

const (
	// HeldCurrent: the store's current value is the account's password.
	HeldCurrent Held = "current"
	// HeldDiffers: the store holds a value, but the system's password is
	// another (changed by someone else since).
	HeldDiffers Held = "differs"
	// HeldAbsent: the store holds nothing for the account.
	HeldAbsent Held = "absent"
	// HeldUnknown: the connector could not compare.
	HeldUnknown Held = "unknown"
)

// Finding is anything of note the plan may act on: an authorized key, a
// grant, a cron job, an agent, a forward, a token.
type Finding struct {
	// ID is stable across inventories: kind:object, e.g.
	// "ssh-key:root:SHA256:abc", "agent:teamviewer".
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Object   string   `json:"object"`
	Summary  string   `json:"summary"`
	Provider bool     `json:"provider"`
	Reasons  []string `json:"reasons,omitempty"`
	// Detail is for display only: what a reader of the dossier wants to
	// see. Nothing reads it to decide.
	Detail map[string]string `json:"detail,omitempty"`
	// Data is what the connector's own plan reads of the finding: a value
	// of a type of the connector's (the file and line of a key, the group
	// and attribute of a membership). It is written in the dossier as
	// read, and counts in the inventory's Fingerprint.
	Data any `json:"data,omitempty"`
	// Volatile names the Detail keys whose value changes without the
	// finding changing (a process id, a line number shifted by another
	// line): a freshness check ignores them when it compares the finding
	// with the dossier's. Everything else of Detail, with Provider and
	// Object, is what the finding is compared on; ID is its identity.
	Volatile []string `json:"volatile,omitempty"`
}

// Finding kinds.
const (
	KindSSHKey  = "ssh-key"
	KindAccount = "account"
	KindGrant   = "grant"
	KindCron    = "cron"
	KindAgent   = "agent"
	KindForward = "forward"
	KindToken   = "token"
	KindAuth    = "auth-method"
	KindMember  = "membership"
	KindPolicy  = "policy"
	KindMaster  = "master-user"
	KindCredAge = "credential-age"
	// KindService is a service or timer of the host's own (not a
	// catalogued agent) that the outgoing provider's identity matches.
	KindService = "service"
	// KindProcess is a running process that the provider's identity
	// matches (a tunnel, a session).
	KindProcess = "process"
	// KindPersistence is what starts again on its own besides cron,
	// services and agents: an rc.local line, an init script, ~/.ssh/rc, a
	// preloaded library.
	KindPersistence = "persistence"
	// KindTunnel is a VPN or tunnel client's configuration (WireGuard,
	// OpenVPN, Tailscale, ZeroTier).
	KindTunnel = "tunnel"
	// KindCloudService is a cloud service a domain's DNS records say the
	// client uses (Microsoft 365, a newsletter sender); Detail holds its
	// roles and evidence records.
	KindCloudService = "cloud-service"
	// KindDNSRecord is a DNS record that points at the outgoing provider
	// (an SPF include, a name server, a DMARC report address).
	KindDNSRecord = "dns-record"
)

type Link struct {
	To   string `json:"to"`   // address or target name
	Kind string `json:"kind"` // "authenticates against", "relays mail to"
	// Provider marks a dependency the outgoing provider controls (its
	// server, its domain): the schéma draws it in red.
	Provider bool `json:"provider,omitempty"`
	// Why says what the link was read from ("/etc/sssd/sssd.conf
	// ldap_uri", "MX 20 mx.example.net"), for the report's table.
	Why string `json:"why,omitempty"`
}

// Fingerprint digests what a plan depends on (accounts, findings and
// planned facts of every system), so a stale plan can be refused.
func (inv *Inventory) Fingerprint() string {
	type acct struct {
		Name, State     string
		Admin, Provider bool
		Password        *Password `json:",omitempty"`
	}
	type sys struct {
		Name     string
		Error    string
		Accounts []acct
		Findings []Finding
		Facts    []Fact `json:",omitempty"`
	}
	var ss []sys
	for _, s := range inv.Systems {
		x := sys{Name: s.Name, Error: s.Error, Findings: s.Findings}
		for _, f := range s.Facts {
			if f.Planned {
				x.Facts = append(x.Facts, f)
			}
		}
		for _, a := range s.Accounts {
			x.Accounts = append(x.Accounts, acct{a.Name, a.State, a.Admin, a.Provider, a.Password})
		}
		ss = append(ss, x)
	}
	b, _ := json.Marshal(ss)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
