// Package testenv describes the loopback IT estate that the test environment
// starts (directory, fleet of hosts, mail, Vault) and lets tests and the demo
// find it. The servers themselves are started by testenv/cmd/testenv.
package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// Fixed addresses. Ports stay below the ephemeral range so nothing else
// grabs them between runs.
const (
	DefaultDir      = "/var/tmp/handover-testenv"
	DefaultCacheDir = "/var/cache/handover-testenv"

	LDAPAddr  = "127.0.0.1:10389"
	LDAPSAddr = "127.0.0.1:10636"

	ADHost = "127.0.2.2"

	IMAPAddr        = "127.0.0.1:10143"
	IMAPSAddr       = "127.0.0.1:10993"
	ManageSieveAddr = "127.0.0.1:14190"

	VaultAddr = "127.0.0.1:18200"

	// MailHostAddr is the mail host's own loopback address: sshd on 22,
	// SMTP on 25, IMAP on 143, IMAPS on 993, ManageSieve on 4190.
	MailHostAddr = "127.0.3.1"
	// DNSHost and DNSPort are where the client's authoritative DNS server
	// (nsd) answers, over UDP and TCP.
	DNSHost = "127.0.4.1"
	DNSPort = 10053
	DNSAddr = "127.0.4.1:10053"

	// CallHomeAddr is where the provider's planted cron job "calls home";
	// nothing listens there.
	CallHomeAddr = "127.0.9.9:4444"

	// ProviderBackupPassword is the password the provider's planted
	// backup job carries on its command line (/etc/cron.d/
	// prestanet-supervision): no output of a run may show it.
	ProviderBackupPassword = "Pr3stanet-Sauvegarde-2022"

	// ShareMountPassword is the password a planted CIFS mount carries in
	// its fstab options: no output of a run may show it.
	ShareMountPassword = "Scan-Partage-2023"

	// ResticRepoPassword is the repository password a planted restic
	// environment file carries beside its repository: no output of a run
	// may show it.
	ResticRepoPassword = "Restic-Depot-2024"

	ClientName     = "Mairie de Saint-Exemple"
	ClientDomain   = "mairie-saint-exemple.test"
	ProviderName   = "Prestanet Informatique"
	ProviderDomain = "prestanet.test"
	IncomingName   = "Nouvelle Infogérance"
	IncomingDomain = "nouvelle-infogerance.test"
)

// HostAddr is the loopback address of fleet host i (1-based).
func HostAddr(i int) string { return fmt.Sprintf("127.0.1.%d", i) }

// LightHostsMax is the largest light fleet: 127.0.16.1 to 127.0.23.250.
const LightHostsMax = 2000

// LightHostAddr is the loopback address of light host i (1-based), in
// 127.0.16.0/20, 250 a /24: 127.0.16.1 … 127.0.16.250, 127.0.17.1 …
func LightHostAddr(i int) string {
	return fmt.Sprintf("127.0.%d.%d", 16+(i-1)/250, (i-1)%250+1)
}

// LightFleetEnv is the light fleet (testenv component lightfleet): sshd-only
// hosts for scale measurements, reached as root with OperatorKey.
type LightFleetEnv struct {
	Hosts       []LightHost `json:"hosts"`
	OperatorKey string      `json:"operator_key"`
	KnownHosts  string      `json:"known_hosts"`
}

// LightHost is one light host.
type LightHost struct {
	Name             string `json:"name"`
	Addr             string `json:"addr"` // host:port
	RootPasswordFile string `json:"root_password_file"`
}

// Env is what `testenv up` wrote: where every service listens and where the
// credentials handed over by the outgoing provider are. Secrets are never
// inline: each *File field names a 0600 file holding one value.
type Env struct {
	Dir      string `json:"dir"`
	CACert   string `json:"ca_cert"`   // PEM of the testenv CA
	ClientCA string `json:"client_ca"` // same as CACert, for readability in playbooks

	LDAP *LDAPEnv `json:"ldap,omitempty"`
	AD   *ADEnv   `json:"ad,omitempty"`
	Mail *MailEnv `json:"mail,omitempty"`
	// MailHost is the mail server reached only over the network (SSH,
	// SMTP, IMAP, ManageSieve): testenv component "mailhost".
	MailHost *MailHostEnv `json:"mail_host,omitempty"`
	Vault    *VaultEnv    `json:"vault,omitempty"`
	Fleet    *FleetEnv    `json:"fleet,omitempty"`
	// LightFleet is started only on demand (-only lightfleet).
	LightFleet *LightFleetEnv `json:"light_fleet,omitempty"`
	DNS        *DNSEnv        `json:"dns,omitempty"`

	// Operator is the client admin's workstation side: the key that signs
	// handover reports and the passphrase of the embedded secret store.
	Operator *OperatorEnv `json:"operator,omitempty"`
}

type OperatorEnv struct {
	SigningKey     string `json:"signing_key"` // OpenSSH ed25519 private key
	SigningPub     string `json:"signing_pub"`
	Identity       string `json:"identity"` // principal for allowed_signers
	PassphraseFile string `json:"passphrase_file"`
}

type LDAPEnv struct {
	URL               string   `json:"url"`  // ldap:// (StartTLS)
	URLS              string   `json:"urls"` // ldaps://
	BaseDN            string   `json:"base_dn"`
	AdminDN           string   `json:"admin_dn"`
	AdminPasswordFile string   `json:"admin_password_file"`
	AdminGroupDN      string   `json:"admin_group_dn"`
	Users             int      `json:"users"`
	ProviderDNs       []string `json:"provider_dns"`
	// Admins lists every member of the admin group, nested ones included,
	// with the file holding each password handed over.
	Admins []Account `json:"admins"`
	PID    int       `json:"pid"`

	// What the directory plants, named for tests and the demo.
	PolicyDN      string   `json:"policy_dn,omitempty"`       // default ppolicy entry
	NestedGroupDN string   `json:"nested_group_dn,omitempty"` // group that is a member of AdminGroupDN
	NestedAdminDN string   `json:"nested_admin_dn,omitempty"` // admin only through NestedGroupDN
	DirectAdminDN string   `json:"direct_admin_dn,omitempty"` // staff admin by direct membership
	LookalikeDN   string   `json:"lookalike_dn,omitempty"`    // provider account filed as staff
	ServiceDNs    []string `json:"service_dns,omitempty"`     // service accounts, bind account first
	// PasswordDir holds one 0600 file per account, named by its uid.
	PasswordDir string `json:"password_dir,omitempty"`
	// ObserverDN and ObserverPasswordFile are the testenv's own rootdn,
	// outside the tree, for tests to read the directory without the
	// connector (it is never inventoried nor handed over).
	ObserverDN           string `json:"observer_dn,omitempty"`
	ObserverPasswordFile string `json:"observer_password_file,omitempty"`

	// EvidenceDNs are the provider's accounts by what their entries say
	// (a description, a manager), not by name or mail; SoleGroupDN a
	// groupOfNames in the admin group whose only member is one of them.
	EvidenceDNs []string `json:"evidence_dns,omitempty"`
	SoleGroupDN string   `json:"sole_group_dn,omitempty"`
}

type ADEnv struct {
	URL               string    `json:"url"`  // ldap:// (StartTLS)
	URLS              string    `json:"urls"` // ldaps://
	Realm             string    `json:"realm"`
	BaseDN            string    `json:"base_dn"`
	AdminDN           string    `json:"admin_dn"`
	AdminPasswordFile string    `json:"admin_password_file"`
	ProviderDNs       []string  `json:"provider_dns"`
	Admins            []Account `json:"admins"`
	PID               int       `json:"pid"`
	// Domain is the NetBIOS domain name; KDC the Kerberos KDC (host:port).
	Domain string `json:"domain,omitempty"`
	KDC    string `json:"kdc,omitempty"`
	// AdminGroupDN is Domain Admins; NestedAdminDN an admin only through
	// a sub-group of it.
	AdminGroupDN  string   `json:"admin_group_dn,omitempty"`
	NestedAdminDN string   `json:"nested_admin_dn,omitempty"`
	ServiceDNs    []string `json:"service_dns,omitempty"`
	Users         int      `json:"users,omitempty"`
	// SamLDB is the DC's database, for tests to read the domain with
	// ldbsearch without the connector (every AD admin is handed over and
	// rotated, so none can observe over LDAP).
	SamLDB string `json:"sam_ldb,omitempty"`
	// EvidenceDNs are the provider's accounts by what their entries say
	// (a description, an info naming the provider), not by name or mail,
	// both admins; SoleGroupDN the group, managed by the provider's
	// account, whose only member is the second, in the admin chain.
	EvidenceDNs []string `json:"evidence_dns,omitempty"`
	SoleGroupDN string   `json:"sole_group_dn,omitempty"`
}

type MailEnv struct {
	IMAPAddr        string    `json:"imap_addr"`
	IMAPSAddr       string    `json:"imaps_addr"`
	ManageSieveAddr string    `json:"managesieve_addr"`
	Domain          string    `json:"domain"`
	Accounts        []Account `json:"accounts"`
	MasterUser      Account   `json:"master_user"`
	// MasterSeparator joins mailbox and master user in a master login:
	// "mairie@mairie-saint-exemple.test*prestanet-master".
	MasterSeparator string `json:"master_separator,omitempty"`
	// Forwarding lists the mailboxes whose Sieve script redirects to the
	// provider's domain.
	Forwarding  []string `json:"forwarding"`
	PasswdFile  string   `json:"passwd_file"`
	MasterFile  string   `json:"master_file"`
	DoveadmConf string   `json:"doveadm_conf"`
	PID         int      `json:"pid"`
}

// MailHostEnv describes the mail host: a Debian host of its own running
// Dovecot (with Pigeonhole) and Postfix, managed over SSH as root with the
// operator's key, and the planted estate of docs/testenv/mail.md.
type MailHostEnv struct {
	Name            string `json:"name"`     // host name
	Address         string `json:"address"`  // 127.0.3.1
	SSHAddr         string `json:"ssh_addr"` // 127.0.3.1:22
	KnownHosts      string `json:"known_hosts"`
	HostKeySHA256   string `json:"host_key_sha256"`
	OperatorKey     string `json:"operator_key"` // root's authorized key (the fleet's operator key)
	IMAPAddr        string `json:"imap_addr"`    // STARTTLS
	IMAPSAddr       string `json:"imaps_addr"`
	ManageSieveAddr string `json:"managesieve_addr"`
	SMTPAddr        string `json:"smtp_addr"`
	// TLSName is the name the certificate is valid for (besides the IP).
	TLSName  string    `json:"tls_name"`
	Domain   string    `json:"domain"`
	Accounts []Account `json:"accounts"`
	// ProviderAccounts are mailboxes of the provider's own on the client's
	// server (also in Accounts).
	ProviderAccounts []string `json:"provider_accounts"`
	MasterUser       Account  `json:"master_user"`
	MasterSeparator  string   `json:"master_separator"`
	// Forwarding lists the mailboxes whose Sieve script redirects to the
	// provider's domain.
	Forwarding []string `json:"forwarding"`
	// GlobalSieve is a sieve_before script, run for every mailbox, that
	// copies the direction's mail to the provider.
	GlobalSieve string `json:"global_sieve,omitempty"`
	// PostfixCopies are the Postfix map entries that copy mail to the
	// provider's domain, as "map:key".
	PostfixCopies []string `json:"postfix_copies"`
	// Forwards are the .forward files that send mail to the provider's
	// domain; ForwardAddress is the local address whose mail the first
	// one forwards.
	Forwards       []string `json:"forwards,omitempty"`
	ForwardAddress string   `json:"forward_address,omitempty"`
	// ProviderACLs are the IMAP ACL entries that give the provider's
	// mailbox access to a client mailbox, as "owner:mailbox:identifier".
	ProviderACLs []string `json:"provider_acls,omitempty"`
	// SudoUser logs in with OperatorKey and becomes root with sudo and
	// the password in SudoPasswordFile.
	SudoUser         string `json:"sudo_user,omitempty"`
	SudoPasswordFile string `json:"sudo_password_file,omitempty"`
	// ProbeUser is the testenv's readiness login (never handed over).
	ProbeUser         string `json:"probe_user"`
	ProbePasswordFile string `json:"probe_password_file"`
	PID               int    `json:"pid"`
}

type VaultEnv struct {
	Addr          string `json:"addr"` // https://127.0.0.1:18200
	RootTokenFile string `json:"root_token_file"`
	// The outgoing provider's foothold in Vault.
	ProviderPolicy        string `json:"provider_policy"`
	ProviderUser          string `json:"provider_user"`
	ProviderPasswordFile  string `json:"provider_password_file"`
	ProviderTokenFile     string `json:"provider_token_file"`
	ProviderTokenAccessor string `json:"provider_token_accessor"`
	PID                   int    `json:"pid"`

	// UnsealKeyFile holds the single unseal key (base64), to unseal by hand.
	UnsealKeyFile string `json:"unseal_key_file,omitempty"`
	// KVMount is the KV version 2 mount ("secret"); ClientSecrets the
	// client's own secrets planted in it, mount included ("secret/infra/wifi").
	KVMount       string   `json:"kv_mount,omitempty"`
	ClientSecrets []string `json:"client_secrets,omitempty"`
	// The provider's AppRole: its name and the files holding its role_id
	// and a secret_id.
	ProviderAppRole      string `json:"provider_approle,omitempty"`
	ProviderRoleIDFile   string `json:"provider_role_id_file,omitempty"`
	ProviderSecretIDFile string `json:"provider_secret_id_file,omitempty"`

	// More of what a provider leaves (docs/testenv/vault.md): a token
	// issued by its AppRole; its userpass login's token and a child of
	// it; a periodic orphan token; a root token; a second userpass mount
	// with its user; an entity with aliases, a group; an audit device
	// sending to it. Token files hold ids, accessors are plain.
	ProviderAppRoleTokenFile     string `json:"provider_approle_token_file,omitempty"`
	ProviderAppRoleTokenAccessor string `json:"provider_approle_token_accessor,omitempty"`
	ProviderLoginTokenFile       string `json:"provider_login_token_file,omitempty"`
	ProviderLoginTokenAccessor   string `json:"provider_login_token_accessor,omitempty"`
	ProviderChildTokenFile       string `json:"provider_child_token_file,omitempty"`
	ProviderChildTokenAccessor   string `json:"provider_child_token_accessor,omitempty"`
	ProviderPeriodicTokenFile    string `json:"provider_periodic_token_file,omitempty"`
	ProviderPeriodicAccessor     string `json:"provider_periodic_token_accessor,omitempty"`
	ProviderRootTokenFile        string `json:"provider_root_token_file,omitempty"`
	ProviderRootTokenAccessor    string `json:"provider_root_token_accessor,omitempty"`
	ProviderOpsMount             string `json:"provider_ops_mount,omitempty"` // "userpass-ops"
	ProviderOpsUser              string `json:"provider_ops_user,omitempty"`
	ProviderOpsPasswordFile      string `json:"provider_ops_password_file,omitempty"`
	ProviderEntity               string `json:"provider_entity,omitempty"`
	ProviderGroup                string `json:"provider_group,omitempty"`
	ProviderAuditPath            string `json:"provider_audit_path,omitempty"` // "prestanet-siem/"
	ProviderAuditFile            string `json:"provider_audit_file,omitempty"`
	// AuditDir is a directory the server may write audit logs to (a
	// replacement device's file_path).
	AuditDir string `json:"audit_dir,omitempty"`

	// What the client keeps: a group that also carries the provider's
	// policy, an admin userpass login and an application's AppRole whose
	// credentials the provider knew (to rotate).
	ClientPolicy       string `json:"client_policy,omitempty"`
	ClientGroup        string `json:"client_group,omitempty"`
	ClientUser         string `json:"client_user,omitempty"` // on the userpass/ mount
	ClientPasswordFile string `json:"client_password_file,omitempty"`
	ClientAppRole      string `json:"client_approle,omitempty"`
	ClientRoleIDFile   string `json:"client_role_id_file,omitempty"`
	ClientSecretIDFile string `json:"client_secret_id_file,omitempty"`
	ClientAppPolicy    string `json:"client_app_policy,omitempty"`

	// An LDAP auth method backed by the client's directory (the test
	// slapd), bound as the provider's directory account; its bind
	// password file is only to prove it never leaks.
	LDAPAuthMount        string `json:"ldap_auth_mount,omitempty"`
	LDAPAuthURL          string `json:"ldap_auth_url,omitempty"`
	LDAPAuthBindDN       string `json:"ldap_auth_bind_dn,omitempty"`
	LDAPAuthBindPassFile string `json:"ldap_auth_bindpass_file,omitempty"`
}

// DNSEnv is the client's authoritative DNS server (nsd).
type DNSEnv struct {
	Addr string `json:"addr"` // host:port, UDP and TCP
	// Domains are the zones it serves; ClientDomain is the client's main
	// one, LargeDomain one with hundreds of TXT records at its apex, and
	// MissingDomain a name under the client's zone that does not exist.
	Domains        []string `json:"domains"`
	ClientDomain   string   `json:"client_domain"`
	LargeDomain    string   `json:"large_domain"`
	MissingDomain  string   `json:"missing_domain"`
	ProviderDomain string   `json:"provider_domain"`
	PID            int      `json:"pid"`
}

type FleetEnv struct {
	KnownHosts string `json:"known_hosts"` // known_hosts for every host
	// OperatorKey is the client's own SSH key, already authorised for root
	// on every host (the client's one access that is not the provider's).
	OperatorKey string `json:"operator_key"`
	// ProviderKeys are the outgoing provider's private keys, so tests can
	// prove they stop working.
	ProviderKeys         []string `json:"provider_keys"`
	ProviderFingerprints []string `json:"provider_fingerprints"`
	Hosts                []Host   `json:"hosts"`
	// RPMHost is a RHEL-family host (rpm and dnf, no dpkg, the admin in
	// wheel, Rocky Linux's os-release) planted like the others, at
	// 127.0.1.250. It is not in Hosts: fleet-wide tools (the benchmark,
	// its Ansible playbook) address Hosts only.
	RPMHost *Host `json:"rpm_host,omitempty"`
	// SystemdHost is a Debian host booted by systemd, as a real machine
	// is: systemd is its PID 1 and starts sshd and the agents' units
	// (Restart=always), so systemctl talks to a running manager there. At
	// 127.0.1.251, not in Hosts either.
	SystemdHost *Host `json:"systemd_host,omitempty"`
	// SystemdHostError says why there is no systemd host, when it could
	// not start (the machine gives no cgroup hierarchy, say).
	SystemdHostError string `json:"systemd_host_error,omitempty"`
	// ProviderKeyComments parallels ProviderKeys ("support@prestanet.test").
	ProviderKeyComments []string `json:"provider_key_comments,omitempty"`
	// ProviderCAKey is the provider's SSH user certificate authority
	// (private key): sshd trusts it on some hosts (TrustedUserCAKeys), so
	// a certificate it signs for root logs in there.
	ProviderCAKey string `json:"provider_ca_key,omitempty"`
	// ProviderUser is the provider's own login on every host.
	ProviderUser string `json:"provider_user,omitempty"`
	// ClientKey is a client admin's own private key (legitimate: authorised
	// for root and for its owner on every host, never to be flagged);
	// ClientFingerprints lists the client's legitimate keys, operator's
	// included.
	ClientKey          string   `json:"client_key,omitempty"`
	ClientFingerprints []string `json:"client_fingerprints,omitempty"`
}

type Host struct {
	Name             string   `json:"name"`
	Addr             string   `json:"addr"` // host:port
	HostKeyFP        string   `json:"host_key_fingerprint"`
	RootPasswordFile string   `json:"root_password_file"`
	Admin            string   `json:"admin"`
	AdminPassFile    string   `json:"admin_password_file"`
	Agents           []string `json:"agents"`
	PID              int      `json:"pid"` // sshd's PID as seen from the machine

	// What is planted on this host, for tests to assert. Agents above
	// names the agents whose daemon runs; AgentDetails also lists the
	// packages removed but not purged.
	ProviderUser        string          `json:"provider_user,omitempty"`
	AuthorizedKeysFiles []string        `json:"authorized_keys_files,omitempty"` // sshd's AuthorizedKeysFile
	AgentDetails        []HostAgent     `json:"agent_details,omitempty"`
	Keys                []AuthorizedKey `json:"keys,omitempty"`
	Cron                []CronJob       `json:"cron,omitempty"`
	Sudoers             []string        `json:"sudoers,omitempty"`
	// Persistence is what the provider left that starts again on its own
	// (units, at jobs, init scripts, login hooks, sshd instances, PAM,
	// preloads, tunnels, forwards), on some hosts only.
	Persistence []Persistence `json:"persistence,omitempty"`
	// EvidenceAccounts are accounts the provider's by evidence only (its
	// keys alone log in, its GECOS names it; uid 0 included), granted
	// sudo rights in EvidenceSudoers.
	EvidenceAccounts []string `json:"evidence_accounts,omitempty"`
	EvidenceSudoers  []string `json:"evidence_sudoers,omitempty"`
	// Links are the dependencies planted in the host's configuration
	// (ldap.conf, sssd.conf, fstab, Postfix's relayhost).
	Links []HostLink `json:"links,omitempty"`
}

// Persistence is one planted persistence item: the finding kind the ssh
// connector reports it as, its file, and whether a run removes it (or
// leaves it, with the step to take by hand).
type Persistence struct {
	Kind    string `json:"kind"`
	File    string `json:"file"`
	Removed bool   `json:"removed"`
}

// HostLink is one planted dependency of a fleet host.
type HostLink struct {
	Kind     string `json:"kind"` // as the ssh connector names it
	To       string `json:"to"`
	File     string `json:"file"`
	Provider bool   `json:"provider,omitempty"`
}

// HostAgent is a remote-maintenance agent planted on a fleet host.
type HostAgent struct {
	Name    string `json:"name"`              // teamviewer, anydesk, ninjarmm...
	Package string `json:"package,omitempty"` // "" when installed without a package
	// State is dpkg's ("ii", "rc"), or "files" for an agent installed
	// without a package.
	State     string   `json:"state"`
	Unit      string   `json:"unit"`
	UnitFile  string   `json:"unit_file"`
	Binary    string   `json:"binary"`
	Daemon    string   `json:"daemon"` // process name (comm)
	Enabled   bool     `json:"enabled"`
	Running   bool     `json:"running"`
	Conffiles []string `json:"conffiles,omitempty"` // left behind, for State "rc"
}

// AuthorizedKey is one planted authorized_keys entry.
type AuthorizedKey struct {
	User        string `json:"user"`
	File        string `json:"file"`
	Fingerprint string `json:"fingerprint"`
	Comment     string `json:"comment"`
	Options     string `json:"options,omitempty"`
	Provider    bool   `json:"provider"`
}

// CronJob is one planted cron file; Provider ones call home.
type CronJob struct {
	File     string `json:"file"`
	Provider bool   `json:"provider"`
}

type Account struct {
	Name         string `json:"name"` // login or DN
	PasswordFile string `json:"password_file"`
}

// Dir is the state directory: $HANDOVER_TESTENV_DIR or DefaultDir.
func Dir() string {
	if d := os.Getenv("HANDOVER_TESTENV_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// EnvFile is where `testenv up` writes the Env.
func EnvFile(dir string) string { return filepath.Join(dir, "env.json") }

// Load reads the Env written by `testenv up`.
func Load() (*Env, error) {
	dir := Dir()
	b, err := os.ReadFile(EnvFile(dir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("testenv is not up (no %s): run `make testenv-up`", EnvFile(dir))
		}
		return nil, err
	}
	var e Env
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvFile(dir), err)
	}
	return &e, nil
}

// Save writes the Env atomically. Keys of the file on disk that this
// binary's Env does not know (written by a newer testenv binary) are kept,
// so that testenv binaries of different ages can share one state directory.
func (e *Env) Save() error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(EnvFile(e.Dir)); err == nil {
		b = keepUnknown(old, b, reflect.TypeOf(Env{}))
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "  "); err != nil {
		return err
	}
	b = pretty.Bytes()
	tmp := EnvFile(e.Dir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, EnvFile(e.Dir))
}

// Require returns the running testenv or fails the test loudly: an
// integration test never skips because its servers are missing.
func Require(t testing.TB) *Env {
	t.Helper()
	e, err := Load()
	if err != nil {
		t.Fatalf("integration test needs the testenv: %v", err)
	}
	KeepArtefacts(t)
	return e
}

// ReadSecret reads a one-value file written by the testenv.
func ReadSecret(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv secret: %v", err)
	}
	return strings.TrimRight(string(b), "\n")
}

// LockComponent serialises, across test processes, the tests that depend
// on a component's planted state: exclusive for a test that changes it
// (and resets it afterwards), shared for one that only reads it. `go test
// ./...` runs packages in parallel, and they share one testenv. The lock
// is released when the test ends.
func LockComponent(t testing.TB, component string, exclusive bool) {
	t.Helper()
	release, err := Lock(component, exclusive)
	if err != nil {
		t.Fatalf("testenv: lock %s for tests: %v", component, err)
	}
	t.Cleanup(release)
}

// Lock takes a component's test lock, as LockComponent does, for a caller
// that is not a test (a testscript command): release it when done.
func Lock(component string, exclusive bool) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(Dir(), component+".tests.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// RequireVault returns the running testenv with its Vault, or fails the
// test loudly. With shared, it also holds the Vault in use (a shared test
// lock) until the test ends, so that no other test package restarts it
// meanwhile.
func RequireVault(t testing.TB, shared bool) *Env {
	t.Helper()
	e := Require(t)
	if e.Vault == nil {
		t.Fatalf("integration test needs Vault: run `bin/testenv up -only vault`")
	}
	if shared {
		LockComponent(t, "vault", false)
	}
	return e
}

// keepUnknown returns cur with the object keys of old that type t (a
// struct, followed through pointers, slices and maps) has no field for.
// Keys t knows are cur's alone: a field this binary left empty stays empty.
// On any decoding problem it returns cur unchanged.
func keepUnknown(old, cur []byte, t reflect.Type) []byte {
	var o, c any
	if json.Unmarshal(old, &o) != nil || json.Unmarshal(cur, &c) != nil {
		return cur
	}
	out, err := json.Marshal(mergeUnknown(o, c, t))
	if err != nil {
		return cur
	}
	return out
}

func mergeUnknown(old, cur any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	om, ok1 := old.(map[string]any)
	if t.Kind() != reflect.Struct || !ok1 {
		return cur
	}
	cm, ok := cur.(map[string]any)
	if !ok {
		if cur != nil {
			return cur
		}
		cm = map[string]any{}
	}
	known := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		known[name] = f.Type
	}
	for k, v := range om {
		ft, isKnown := known[k]
		switch {
		case !isKnown:
			if _, set := cm[k]; !set {
				cm[k] = v
			}
		case cm[k] != nil:
			cm[k] = mergeUnknown(v, cm[k], ft)
		}
	}
	return cm
}
