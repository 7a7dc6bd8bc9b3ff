package mail

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
)

// Defaults.
const (
	defaultSSHPort   = 22
	defaultIMAPSPort = 993
	defaultSieveport = 4190
	defaultSMTPPort  = 25
	defaultTimeout   = 30 * time.Second
)

var fingerprint = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)

// Modes.
const (
	// modeServer manages Dovecot and Postfix over SSH, proves over IMAP.
	modeServer = "server"
	// modeMailbox works per mailbox over IMAP and ManageSieve only: hosted
	// mail where only mailbox passwords were handed over.
	modeMailbox = "mailbox"
)

// settings is a mail target's decoded configuration.
type settings struct {
	Mode string
	// Name is the system's name in the inventory (setting system;
	// default: host).
	Name string
	Host string
	SSH  sshSettings
	// IMAP is host:port; IMAPStartTLS says whether it is plain IMAP
	// upgraded with STARTTLS (port 143) rather than IMAPS (993).
	IMAP         string
	IMAPStartTLS bool
	ManageSieve  string // host:port, STARTTLS
	SMTP         string // host:port, for the delivery proof; "" for none
	CACert       string
	TLSName      string
	Timeout      time.Duration
	Mailboxes    []handed
	MasterUsers  []handed
	// Directory is the ldap target that rotates the passwords of the
	// mailboxes an LDAP passdb authenticates.
	Directory string
}

type sshSettings struct {
	Port          int
	User          string
	KeyFile       string
	Password      playbook.Ref
	KnownHosts    string
	HostKey       string
	TrustFirstUse bool
	Sudo          bool
	SudoPassword  playbook.Ref
}

// handed is a credential handed over by the outgoing provider: a mailbox
// (or master user) login and its password.
type handed struct {
	Login    string
	Password playbook.Ref
	// DN is the mailbox's entry in the directory, when an LDAP passdb
	// authenticates it (else derived from auth_bind_userdn).
	DN string
}

func decodeSettings(d *playbook.Decoder, n *yaml.Node, resolve func(string) string) settings {
	s := settings{Mode: modeServer, Timeout: defaultTimeout, SSH: sshSettings{Port: defaultSSHPort, User: "root"}}
	var sshNode, imapNode *yaml.Node
	imapTLS := "implicit"
	hostPort := func(n *yaml.Node, what string, def int) string {
		a := d.NonEmpty(n, what)
		if a == "" {
			return ""
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return net.JoinHostPort(a, strconv.Itoa(def))
		}
		return a
	}
	decodeHanded := func(n *yaml.Node, what string) []handed {
		var out []handed
		d.Seq(n, what, func(item *yaml.Node) {
			var h handed
			d.Map(item, what+" item", map[string]playbook.Field{
				"login":    {Required: true, Decode: func(n *yaml.Node) { h.Login = d.NonEmpty(n, what+".login") }},
				"password": {Required: true, Decode: func(n *yaml.Node) { h.Password = d.Ref(n, what+".password") }},
				"dn":       {Decode: func(n *yaml.Node) { h.DN = d.NonEmpty(n, what+".dn") }},
			})
			out = append(out, h)
		})
		return out
	}
	d.Map(n, "mail target", map[string]playbook.Field{
		"mode":            {Decode: func(n *yaml.Node) { s.Mode = d.OneOf(n, "mode", modeServer, modeMailbox) }},
		"host":            {Required: true, Decode: func(n *yaml.Node) { s.Host = d.NonEmpty(n, "host") }},
		"system":          {Decode: func(n *yaml.Node) { s.Name = d.NonEmpty(n, "system") }},
		"ssh":             {Decode: func(n *yaml.Node) { sshNode = n; decodeSSH(d, n, &s.SSH, resolve) }},
		"imap":            {Decode: func(n *yaml.Node) { imapNode = n; s.IMAP = hostPort(n, "imap", defaultIMAPSPort) }},
		"imap_tls":        {Decode: func(n *yaml.Node) { imapTLS = d.OneOf(n, "imap_tls", "implicit", "starttls") }},
		"managesieve":     {Decode: func(n *yaml.Node) { s.ManageSieve = hostPort(n, "managesieve", defaultSieveport) }},
		"smtp":            {Decode: func(n *yaml.Node) { s.SMTP = hostPort(n, "smtp", defaultSMTPPort) }},
		"ca_cert":         {Decode: func(n *yaml.Node) { s.CACert = resolve(d.NonEmpty(n, "ca_cert")) }},
		"tls_server_name": {Decode: func(n *yaml.Node) { s.TLSName = d.NonEmpty(n, "tls_server_name") }},
		"timeout": {Decode: func(n *yaml.Node) {
			s.Timeout = d.Duration(n, "timeout")
			if s.Timeout < time.Second {
				d.Errorf(n, "timeout must be at least 1s")
			}
		}},
		"mailboxes":    {Decode: func(n *yaml.Node) { s.Mailboxes = decodeHanded(n, "mailboxes") }},
		"master_users": {Decode: func(n *yaml.Node) { s.MasterUsers = decodeHanded(n, "master_users") }},
		"directory":    {Decode: func(n *yaml.Node) { s.Directory = d.NonEmpty(n, "directory") }},
	})
	s.IMAPStartTLS = imapTLS == "starttls"
	if s.IMAP == "" && s.Host != "" {
		port := defaultIMAPSPort
		if s.IMAPStartTLS {
			port = 143
		}
		s.IMAP = net.JoinHostPort(s.Host, strconv.Itoa(port))
	}
	if s.ManageSieve == "" && s.Host != "" {
		s.ManageSieve = net.JoinHostPort(s.Host, strconv.Itoa(defaultSieveport))
	}
	if s.Name == "" {
		s.Name = s.Host
	}
	if strings.ContainsAny(s.Name, "/# \t") {
		d.Errorf(n, "system %q: no spaces, / or #", s.Name)
	}
	switch s.Mode {
	case modeServer:
		if sshNode == nil {
			d.Errorf(n, "a mail target in mode server needs ssh: (the connector manages Dovecot and Postfix over SSH); for hosted mail with mailbox passwords only, set mode: mailbox")
		}
	case modeMailbox:
		if sshNode != nil {
			d.Errorf(sshNode, "ssh: is for mode server; mode mailbox works over IMAP and ManageSieve only")
		}
		if len(s.Mailboxes) == 0 {
			d.Errorf(n, "mode mailbox needs mailboxes: with their handed-over passwords")
		}
		if len(s.MasterUsers) > 0 {
			d.Errorf(n, "master_users: master users live in the server's configuration; mode mailbox cannot see or remove them")
		}
	}
	_ = imapNode
	return s
}

func decodeSSH(d *playbook.Decoder, n *yaml.Node, s *sshSettings, resolve func(string) string) {
	d.Map(n, "ssh", map[string]playbook.Field{
		"port":               {Decode: func(n *yaml.Node) { s.Port = d.Int(n, "ssh.port", 1, 65535) }},
		"user":               {Decode: func(n *yaml.Node) { s.User = d.NonEmpty(n, "ssh.user") }},
		"key_file":           {Decode: func(n *yaml.Node) { s.KeyFile = resolve(d.NonEmpty(n, "ssh.key_file")) }},
		"password":           {Decode: func(n *yaml.Node) { s.Password = d.Ref(n, "ssh.password") }},
		"known_hosts":        {Decode: func(n *yaml.Node) { s.KnownHosts = resolve(d.NonEmpty(n, "ssh.known_hosts")) }},
		"trust_on_first_use": {Decode: func(n *yaml.Node) { s.TrustFirstUse = d.Bool(n, "ssh.trust_on_first_use") }},
		"host_key": {Decode: func(n *yaml.Node) {
			s.HostKey = d.String(n, "ssh.host_key")
			if !fingerprint.MatchString(s.HostKey) {
				d.Errorf(n, "ssh.host_key: %q is not a SHA256 fingerprint (as `ssh-keygen -lf` prints: SHA256:…)", s.HostKey)
			}
		}},
		"sudo": {Decode: func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode {
				s.Sudo = d.Bool(n, "ssh.sudo")
				return
			}
			s.Sudo = true
			d.Map(n, "ssh.sudo", map[string]playbook.Field{
				"password": {Required: true, Decode: func(n *yaml.Node) { s.SudoPassword = d.Ref(n, "ssh.sudo.password") }},
			})
		}},
	})
	if s.KeyFile == "" && s.Password.IsZero() {
		d.Errorf(n, "ssh needs key_file or password")
	}
	if s.KnownHosts == "" && s.HostKey == "" && !s.TrustFirstUse {
		d.Errorf(n, "ssh needs known_hosts or host_key (or trust_on_first_use: true): host keys are always checked")
	}
	if s.User != "root" && !s.Sudo {
		s.Sudo = true
	}
}
