package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/dovecot"
)

// plant writes the mail host's identity, its Dovecot and Postfix
// configuration and the planted estate into its freshly mounted root.
func (m *mailMaterial) plant(h host) error {
	root := h.root()
	machineID, err := randomHex(16)
	if err != nil {
		return err
	}
	fqdn := "mail." + testenv.ClientDomain
	key, err := os.ReadFile(h.hostKey())
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(mailCert(m.dir))
	if err != nil {
		return err
	}
	tlsKey, err := os.ReadFile(mailKey(m.dir))
	if err != nil {
		return err
	}
	dovecotGID, err := groupID(root, "dovecot")
	if err != nil {
		return err
	}
	domain := testenv.ClientDomain
	var users strings.Builder
	for _, mb := range dovecot.Mailboxes() {
		fmt.Fprintf(&users, "%s:{SHA512-CRYPT}%s:%d:%d::%s::\n", mb.Login(), m.hashes[mb.Login()], vmailUID, vmailUID, mailHome(mb.Login()))
	}
	pm := providerMailbox + "@" + domain
	fmt.Fprintf(&users, "%s:{SHA512-CRYPT}%s:%d:%d::%s::\n", pm, m.hashes[pm], vmailUID, vmailUID, mailHome(pm))
	files := []struct {
		path string
		mode os.FileMode
		gid  int
		text string
	}{
		{"/etc/hostname", 0o644, 0, mailHostName + "\n"},
		{"/etc/mailname", 0o644, 0, fqdn + "\n"},
		{"/etc/hosts", 0o644, 0, fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s %s\n", testenv.MailHostAddr, fqdn, mailHostName)},
		{"/etc/machine-id", 0o444, 0, machineID + "\n"},
		{"/etc/ssh/ssh_host_ed25519_key.pub", 0o644, 0, m.hostKey.authorizedLine("") + "\n"},
		{"/etc/ssh/ssh_host_ed25519_key", 0o600, 0, string(key)},
		{"/etc/ssh/sshd_config.d/hostkeys.conf", 0o644, 0, "HostKey /etc/ssh/ssh_host_ed25519_key\n"},
		{"/root/.ssh/authorized_keys", 0o600, 0, m.operator.authorizedLine("") + "\n"},
		{"/etc/dovecot/private/mail.pem", 0o644, 0, string(cert)},
		{"/etc/dovecot/private/mail.key", 0o600, 0, string(tlsKey)},
		{"/etc/dovecot/dovecot.conf", 0o644, 0, mailDovecotConf},
		{"/etc/dovecot/users", 0o640, dovecotGID, users.String()},
		{"/etc/dovecot/master-users", 0o640, dovecotGID, fmt.Sprintf("%s:{SHA512-CRYPT}%s\n", dovecot.MasterUser, m.hashes[dovecot.MasterUser])},
		{"/etc/dovecot/probe-users", 0o640, dovecotGID, fmt.Sprintf("%s:{SHA512-CRYPT}%s:%d:%d::/var/vmail/testenv-probe::\n", mailProbe, m.hashes[mailProbe], vmailUID, vmailUID)},
		{"/etc/postfix/main.cf", 0o644, 0, mailPostfixMain},
		{mailGlobalSieve, 0o644, 0, strings.ReplaceAll(strings.ReplaceAll(mailGlobalScript, "DOMAIN", domain), "PROVIDER", testenv.ProviderDomain)},
		{"/etc/postfix/virtual", 0o644, 0, strings.ReplaceAll(strings.ReplaceAll(mailVirtual, "DOMAIN", domain), "PROVIDER", testenv.ProviderDomain)},
		{"/etc/postfix/recipient_bcc", 0o644, 0, strings.ReplaceAll(strings.ReplaceAll(mailBCC, "DOMAIN", domain), "PROVIDER", testenv.ProviderDomain)},
		{"/etc/aliases", 0o644, 0, strings.ReplaceAll(strings.ReplaceAll(mailAliases, "DOMAIN", domain), "PROVIDER", testenv.ProviderDomain)},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(root, f.path), []byte(f.text), f.mode, 0, f.gid); err != nil {
			return err
		}
	}
	if err := addUsers(root, m.rootHash, "sudo", []user{{name: mailAdmin, uid: 1000, gecos: "Administrateur messagerie,,,",
		hash: m.adminHash, sudo: true, keys: []string{m.operator.authorizedLine("")}, keyFile: ".ssh/authorized_keys"},
		{name: mailForwardUser, uid: 1001, gecos: "Comptes rendus des sauvegardes,,,"}}); err != nil {
		return err
	}
	// The backups' reports go to a local account whose .forward sends
	// them to the IT lead and to the provider.
	fwd := "sophie.lefevre@" + domain + ", supervision-sauvegardes@" + testenv.ProviderDomain + "\n"
	if err := writeFile(filepath.Join(root, "/home", mailForwardUser, ".forward"), []byte(fwd), 0o644, 1001, 1001); err != nil {
		return err
	}
	// Postfix takes only its host's interface addresses in inet_interfaces,
	// and 127.0.3.1 is no interface's: smtpd listens on it by its
	// master.cf entry instead.
	mcf := filepath.Join(root, "/etc/postfix/master.cf")
	b, err := os.ReadFile(mcf)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "smtp" && f[1] == "inet" {
			lines[i] = testenv.MailHostAddr + ":" + l
		}
	}
	if err := writeFile(mcf, []byte(strings.Join(lines, "\n")), 0o644, 0, 0); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(root, "/root/.ssh"), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(root, "/etc/dovecot/private"), 0o700); err != nil {
		return err
	}
	// Homes, and the active Sieve script of each mailbox as ManageSieve
	// leaves it: sieve/<name>.sieve and the .dovecot.sieve symlink.
	homes := []string{mailHome(pm), "/var/vmail/testenv-probe"}
	for _, mb := range dovecot.Mailboxes() {
		homes = append(homes, mailHome(mb.Login()))
	}
	for _, home := range homes {
		if err := mkdirVmail(root, home); err != nil {
			return err
		}
	}
	// An IMAP ACL on the town hall's INBOX that lets the provider's own
	// mailbox read it (Dovecot's acl plugin, vfile backend: dovecot-acl in
	// the mailbox's directory; the owner keeps every right).
	inbox := filepath.Join(mailHome("mairie@"+domain), "Maildir")
	for _, d := range []string{inbox, inbox + "/cur", inbox + "/new", inbox + "/tmp"} {
		if err := mkdirVmail(root, d); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(root, inbox, "dovecot-acl"), []byte("owner lrwstipekxa\nuser="+pm+" lrs\n"), 0o600, vmailUID, vmailUID); err != nil {
		return err
	}
	for _, mb := range dovecot.Mailboxes() {
		if mb.Script == "" {
			continue
		}
		home := filepath.Join(root, mailHome(mb.Login()))
		if err := mkdirVmail(root, filepath.Join(mailHome(mb.Login()), "sieve")); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(home, "sieve", mb.ScriptName+".sieve"), []byte(mb.Script), 0o600, vmailUID, vmailUID); err != nil {
			return err
		}
		link := filepath.Join(home, ".dovecot.sieve")
		if err := os.Symlink(filepath.Join("sieve", mb.ScriptName+".sieve"), link); err != nil {
			return err
		}
		if err := os.Lchown(link, vmailUID, vmailUID); err != nil {
			return err
		}
	}
	return nil
}

func mailHome(login string) string {
	local, domain, _ := strings.Cut(login, "@")
	return "/var/vmail/" + domain + "/" + local
}

func mkdirVmail(root, dir string) error {
	// Parents under /var/vmail belong to vmail too.
	rel := strings.TrimPrefix(dir, "/var/vmail")
	p := filepath.Join(root, "/var/vmail")
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		p = filepath.Join(p, part)
		if err := os.Mkdir(p, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Chown(p, vmailUID, vmailUID); err != nil {
			return err
		}
	}
	return nil
}

const mailDovecotConf = `# Messagerie de la Mairie de Saint-Exemple
# Installation et configuration : Prestanet Informatique (2019)
protocols = imap lmtp sieve
listen = 127.0.3.1
log_path = /var/log/dovecot.log

ssl = required
ssl_cert = </etc/dovecot/private/mail.pem
ssl_key = </etc/dovecot/private/mail.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_master_user_separator = *
# The testenv's clients all come from one IP and try wrong passwords on
# purpose: no failure delay, no penalty (anvil's socket closed below).
auth_failure_delay = 0
# An auth cache, as many installations have. Dovecot caches the lookups of
# passdbs that are slow to ask (LDAP, SQL, passwd-files with variables in
# their path), not those of these static passwd-files.
auth_cache_size = 1M
auth_cache_ttl = 1 hour
auth_cache_negative_ttl = 0

first_valid_uid = 5000
mail_uid = vmail
mail_gid = vmail
mail_location = maildir:~/Maildir
mail_plugins = quota acl

namespace inbox {
  inbox = yes
  separator = /
}
# Shared folders: another user's mailboxes its ACLs open, as shared/USER/.
namespace shared {
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:%%h/Maildir:INDEXPVT=~/Maildir/shared/%%u
  subscriptions = no
  list = children
}

# Acces support Prestanet : "boite*prestanet-master"
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT /etc/dovecot/master-users
  master = yes
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT /etc/dovecot/users
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT /etc/dovecot/probe-users
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/probe-users
}

service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service lmtp {
  unix_listener /var/spool/postfix/private/dovecot-lmtp {
    user = postfix
    group = postfix
    mode = 0600
  }
}
protocol imap {
  mail_plugins = $mail_plugins imap_quota imap_acl
}
protocol lmtp {
  mail_plugins = $mail_plugins sieve
  postmaster_address = postmaster@mairie-saint-exemple.test
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_before = /etc/dovecot/sieve-before.d
  quota = maildir:User quota
  quota_rule = *:storage=1G
  acl = vfile
  # A master login keeps its mailbox owner's rights (without this the acl
  # plugin checks the master user's own, and it has none).
  acl_user = %u
}
`

// mailForwardUser is a local account whose ~/.forward copies its mail to
// the provider.
const mailForwardUser = "exploitation"

const mailPostfixMain = `# Messagerie de la Mairie de Saint-Exemple (Prestanet Informatique, 2019)
compatibility_level = 3.6
myhostname = mail.mairie-saint-exemple.test
mydomain = mairie-saint-exemple.test
myorigin = $mydomain
mydestination = localhost, $myhostname
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
virtual_mailbox_domains = mairie-saint-exemple.test
virtual_transport = lmtp:unix:private/dovecot-lmtp
virtual_alias_maps = hash:/etc/postfix/virtual
recipient_bcc_maps = hash:/etc/postfix/recipient_bcc
# The testenv has no Internet: mail for other domains stays in the queue
# (deferred), where it can be seen.
defer_transports = smtp
maillog_file = /var/log/postfix.log
smtpd_tls_security_level = none
`

const mailVirtual = `# Adresses de la mairie
contact@DOMAIN        mairie@DOMAIN
direction@DOMAIN      claire.moreau@DOMAIN
# Supervision Prestanet
postmaster@DOMAIN     sophie.lefevre@DOMAIN, alertes@PROVIDER
`

const mailBCC = `# Copie de la direction generale (demande Prestanet, 2020)
claire.moreau@DOMAIN  dgs-copie@PROVIDER
`

const mailAliases = `# See man 5 aliases for format
postmaster: root
root: sophie.lefevre@DOMAIN, alertes-serveur@PROVIDER
`

// mailGlobalSieve runs before every mailbox's own script (sieve_before).
const mailGlobalSieve = "/etc/dovecot/sieve-before.d/10-journal.sieve"

const mailGlobalScript = `# Journalisation des messages de la direction (Prestanet, 2021)
require ["copy"];
if address :is "to" "direction@DOMAIN" {
  redirect :copy "journal@PROVIDER";
}
`
