package fleet

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/handoverhq/handover/testenv"
)

// Accounts planted on every host besides root. UIDs follow Debian's
// adduser: the first human account gets 1000.
const (
	providerUser = "prestanet"
	clientUser   = "jdupont"
)

// passwordsSet is when the outgoing provider last set the planted
// passwords: a realistic "last change" in /etc/shadow.
var passwordsSet = time.Date(2022, time.March, 14, 0, 0, 0, 0, time.UTC)

// Forced command of the provider's backup key, and the client's own
// backup job (legitimate).
const (
	backupCommand = "/usr/local/sbin/prestanet-backup"
	backupOptions = `from="127.0.0.0/8,192.0.2.10",command="` + backupCommand + `",no-pty,no-port-forwarding`
	altKeysDir    = "/etc/ssh/authorized_keys"
)

type user struct {
	name    string
	uid     int
	gecos   string
	hash    string // "" locks the password ("*")
	sudo    bool
	keys    []string
	keyFile string
}

// plant writes what makes the host this host, and what the outgoing
// provider left on it, into the host's freshly mounted root. It records
// nothing: describe returns the same facts for env.json.
func plant(h host, m *material) error {
	root := h.root()
	s := m.secrets[h.index]
	machineID, err := randomHex(16)
	if err != nil {
		return err
	}
	fqdn := h.name + "." + testenv.ClientDomain
	callHost, callPort, err := net.SplitHostPort(testenv.CallHomeAddr)
	if err != nil {
		return err
	}
	files := []struct {
		path string
		mode os.FileMode
		text string
	}{
		{"/etc/hostname", 0o644, h.name + "\n"},
		{"/etc/hosts", 0o644, fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s %s\n\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n", h.addr, fqdn, h.name)},
		{"/etc/machine-id", 0o444, machineID + "\n"},
		{"/etc/ssh/ssh_host_ed25519_key.pub", 0o644, s.hostKey.authorizedLine("") + "\n"},
		{"/etc/ssh/sshd_config.d/hostkeys.conf", 0o644, "HostKey /etc/ssh/ssh_host_ed25519_key\n"},
		{"/etc/ssh/sshd_config.d/prestanet.conf", 0o644, sshdConfig(h)},
		{"/etc/sudoers.d/prestanet", 0o440, "# Prestanet Informatique - support N2\n" + providerUser + " ALL=(ALL:ALL) NOPASSWD: ALL\n"},
		{"/etc/cron.d/prestanet-supervision", 0o644, fmt.Sprintf(
			"# Supervision Prestanet Informatique - ne pas supprimer\nSHELL=/bin/bash\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"+
				"*/5 * * * * root timeout 10 bash -c 'echo \"$(hostname) $(cat /proc/loadavg)\" > /dev/tcp/%s/%s' >/dev/null 2>&1\n"+
				// A backup job with the provider's password on its command
				// line, as such jobs often are.
				"0 4 * * * root tar -czf - /etc 2>/dev/null | curl -fsS -u prestanet:%s -T - https://backup.%s/%s.tgz >/dev/null 2>&1\n",
			callHost, callPort, testenv.ProviderBackupPassword, testenv.ProviderDomain, h.name)},
		{backupCommand, 0o755, "#!/bin/sh\n# Prestanet Informatique - sauvegarde distante\necho \"prestanet-backup: $(hostname): ok\"\n"},
		{"/etc/cron.d/mairie-sauvegarde", 0o644, "# Sauvegarde nocturne de la mairie (service informatique)\n30 1 * * * root /usr/local/sbin/sauvegarde-mairie >/var/log/sauvegarde-mairie.log 2>&1\n"},
		{"/usr/local/sbin/sauvegarde-mairie", 0o755, "#!/bin/sh\n# Sauvegarde de /etc et /srv vers /var/backups\nset -e\ntar -C / -czf /var/backups/mairie-$(date +%u).tar.gz etc srv\n"},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(root, f.path), []byte(f.text), f.mode, 0, 0); err != nil {
			return err
		}
	}
	for _, f := range dependencyFiles(h) {
		if err := writeFile(filepath.Join(root, f.path), []byte(f.text), f.mode, 0, 0); err != nil {
			return err
		}
	}
	key, err := os.ReadFile(h.hostKey())
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(root, "/etc/ssh/ssh_host_ed25519_key"), key, 0o600, 0, 0); err != nil {
		return err
	}

	users := []user{
		{name: h.admin, uid: 1000, gecos: "Administrateur local,,,", hash: s.adminHash, sudo: true,
			keys: []string{m.support.authorizedLine("")}, keyFile: ".ssh/authorized_keys"},
		{name: providerUser, uid: 1001, gecos: "Prestanet Informatique,,,", keys: []string{m.prestanet.authorizedLine("")}, keyFile: ".ssh/authorized_keys"},
		{name: clientUser, uid: 1002, gecos: "Jean Dupont,Service informatique,,", keys: []string{m.client.authorizedLine("")}, keyFile: ".ssh/authorized_keys"},
	}
	if err := addUsers(root, s.rootHash, h.adminGroup(), users); err != nil {
		return err
	}
	rootKeys := []string{
		m.operator.authorizedLine(""),
		m.client.authorizedLine(""),
		m.support.authorizedLine(""),
	}
	if h.altKeysFile {
		// On these hosts the provider's backup key sits where nobody looks:
		// only sshd's AuthorizedKeysFile setting says it counts.
		if err := writeFile(filepath.Join(root, altKeysDir, "root"), []byte(m.backup.authorizedLine("")+"\n"), 0o644, 0, 0); err != nil {
			return err
		}
	} else {
		rootKeys = append(rootKeys, m.backup.authorizedLine(backupOptions))
	}
	if err := writeKeys(root, "/root", rootKeys, 0, 0); err != nil {
		return err
	}
	if h.userCA {
		if err := writeFile(filepath.Join(root, userCAFile), []byte(m.providerCA.authorizedLine("")+"\n"), 0o644, 0, 0); err != nil {
			return err
		}
	}
	if h.systemd {
		if err := plantSystemd(h); err != nil {
			return err
		}
	}
	if err := plantPersistence(h, m); err != nil {
		return err
	}
	if h.rpm {
		// RHEL's /bin/sh is bash (Debian's is dash): scripts sent to
		// "sh" meet bash's POSIX mode there.
		sh := filepath.Join(root, "/usr/bin/sh")
		if err := os.Remove(sh); err != nil {
			return err
		}
		if err := os.Symlink("bash", sh); err != nil {
			return err
		}
	}
	if h.rootCrontab {
		gid := 0 // RHEL: root:root 0600 in /var/spool/cron
		if !h.rpm {
			if gid, err = groupID(root, "crontab"); err != nil {
				return err
			}
		}
		tab := fmt.Sprintf("# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.Jx4kQ2 installed on Mon Mar 14 10:12:31 2022)\n"+
			"# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n"+
			"17 */2 * * * /usr/bin/python3 -c 'import socket; socket.create_connection((\"%s\", %s), 5).sendall(b\"alive\")' >/dev/null 2>&1\n",
			callHost, callPort)
		if err := writeFile(filepath.Join(root, h.rootCrontabFile()), []byte(tab), 0o600, 0, gid); err != nil {
			return err
		}
	}
	return nil
}

// adminGroup is the group whose members are administrators.
func (p hostPlan) adminGroup() string {
	if p.rpm {
		return "wheel"
	}
	return "sudo"
}

// rootCrontabFile is root's crontab: cron's spool differs between Debian
// and RHEL-family hosts.
func (p hostPlan) rootCrontabFile() string {
	if p.rpm {
		return "/var/spool/cron/root"
	}
	return "/var/spool/cron/crontabs/root"
}

// userCAFile is where the provider's user CA is trusted.
const userCAFile = "/etc/ssh/prestanet_ca.pub"

func sshdConfig(h host) string {
	c := "# Prestanet Informatique - acces support, ne pas modifier\nPermitRootLogin yes\nPasswordAuthentication yes\n"
	if h.userCA {
		c += "TrustedUserCAKeys " + userCAFile + "\n"
	}
	if h.altKeysFile {
		c += "AuthorizedKeysFile .ssh/authorized_keys " + altKeysDir + "/%u\n"
	}
	if h.persistence == persistA {
		// No CA is trusted on these hosts: the setting changes no login.
		c += "AuthorizedPrincipalsFile /etc/ssh/prestanet-principals/%u\n"
	}
	if h.persistence == persistB {
		// A command that would name principals, and a forced command for
		// the provider's group; `Match all` ends the block so that the
		// main configuration's lines after the Include stay global.
		c += "AuthorizedPrincipalsCommand " + principalsCommand + " %u\nAuthorizedPrincipalsCommandUser nobody\n"
		c += "Match Group prestanet-support\n    ForceCommand /usr/local/sbin/prestanet-shell\nMatch all\n"
	}
	return c
}

// principalsCommand is the provider's AuthorizedPrincipalsCommand.
const principalsCommand = "/usr/local/sbin/prestanet-principals"

// addUsers does what adduser would: passwd, shadow, group, gshadow
// entries, a home from /etc/skel, and the sudo group membership. It also
// sets root's password.
// addUsers adds users to the host's account files; those with sudo join
// adminGroup ("sudo" on Debian, "wheel" on RHEL-family hosts).
func addUsers(root, rootHash, adminGroup string, users []user) error {
	day := strconv.Itoa(int(passwordsSet.Unix() / 86400))
	var passwd, shadow, group, gshadow []string
	var sudoers []string
	for _, u := range users {
		id := strconv.Itoa(u.uid)
		passwd = append(passwd, strings.Join([]string{u.name, "x", id, id, u.gecos, "/home/" + u.name, "/bin/bash"}, ":"))
		hash := u.hash
		if hash == "" {
			hash = "*"
		}
		shadow = append(shadow, strings.Join([]string{u.name, hash, day, "0", "99999", "7", "", "", ""}, ":"))
		group = append(group, u.name+":x:"+id+":")
		gshadow = append(gshadow, u.name+":!::")
		if u.sudo {
			sudoers = append(sudoers, u.name)
		}
	}
	edits := []struct {
		path string
		mode os.FileMode
		gid  string // group owning the file ("shadow" for the secret ones)
		add  []string
		edit func(fields []string) []string
	}{
		{"/etc/passwd", 0o644, "", passwd, nil},
		{"/etc/shadow", 0o640, "shadow", shadow, func(f []string) []string {
			if f[0] == "root" && len(f) > 2 {
				f[1], f[2] = rootHash, day
			}
			return f
		}},
		{"/etc/group", 0o644, "", group, func(f []string) []string {
			if f[0] == adminGroup && len(f) == 4 {
				f[3] = joinMembers(f[3], sudoers)
			}
			return f
		}},
		{"/etc/gshadow", 0o640, "shadow", gshadow, func(f []string) []string {
			if f[0] == adminGroup && len(f) == 4 {
				f[3] = joinMembers(f[3], sudoers)
			}
			return f
		}},
	}
	for _, e := range edits {
		p := filepath.Join(root, e.path)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		for i, l := range lines {
			if e.edit != nil {
				lines[i] = strings.Join(e.edit(strings.Split(l, ":")), ":")
			}
		}
		lines = append(lines, e.add...)
		gid := 0
		if e.gid != "" {
			if gid, err = groupID(root, e.gid); err != nil {
				return err
			}
		}
		if err := writeFile(p, []byte(strings.Join(lines, "\n")+"\n"), e.mode, 0, gid); err != nil {
			return err
		}
	}
	skel, err := os.ReadDir(filepath.Join(root, "/etc/skel"))
	if err != nil {
		return err
	}
	for _, u := range users {
		home := filepath.Join(root, "/home", u.name)
		if err := os.MkdirAll(home, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(home, 0o700); err != nil {
			return err
		}
		if err := os.Lchown(home, u.uid, u.uid); err != nil {
			return err
		}
		for _, f := range skel {
			b, err := os.ReadFile(filepath.Join(root, "/etc/skel", f.Name()))
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(home, f.Name()), b, 0o644, u.uid, u.uid); err != nil {
				return err
			}
		}
		if err := writeKeys(root, "/home/"+u.name, u.keys, u.uid, u.uid); err != nil {
			return err
		}
	}
	return nil
}

func joinMembers(existing string, add []string) string {
	var m []string
	if existing != "" {
		m = strings.Split(existing, ",")
	}
	return strings.Join(append(m, add...), ",")
}

// writeKeys writes ~/.ssh/authorized_keys the way OpenSSH requires: owned
// by the user, not writable by others.
func writeKeys(root, home string, keys []string, uid, gid int) error {
	dir := filepath.Join(root, home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "authorized_keys"), []byte(strings.Join(keys, "\n")+"\n"), 0o600, uid, gid)
}

func groupID(root, name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(root, "/etc/group"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[0] == name {
			return strconv.Atoi(f[2])
		}
	}
	return 0, fmt.Errorf("no group %s in %s/etc/group", name, root)
}

// describe is env.json's account of host h: what plant and the variant's
// layer put there, for tests to assert.
func describe(h host, m *material) testenv.Host {
	s := m.secrets[h.index]
	out := testenv.Host{
		Name:                h.name,
		Addr:                h.addr + ":22",
		HostKeyFP:           s.hostKey.fingerprint(),
		RootPasswordFile:    h.rootPassword(),
		Admin:               h.admin,
		AdminPassFile:       h.adminPassword(),
		ProviderUser:        providerUser,
		AuthorizedKeysFiles: []string{".ssh/authorized_keys", ".ssh/authorized_keys2"},
		Cron: []testenv.CronJob{
			{File: "/etc/cron.d/prestanet-supervision", Provider: true},
			{File: "/etc/cron.d/mairie-sauvegarde", Provider: false},
		},
		Sudoers: []string{"/etc/sudoers.d/prestanet"},
		Links:   hostLinks(h),
	}
	if pid, ok := h.running(); ok {
		out.PID = pid
	}
	for _, a := range h.installed {
		out.Agents = append(out.Agents, a.name)
		out.AgentDetails = append(out.AgentDetails, agentEnv(a, true))
	}
	for _, a := range h.removed {
		out.AgentDetails = append(out.AgentDetails, agentEnv(a, false))
	}
	key := func(u, file string, k keyPair, options string, provider bool) testenv.AuthorizedKey {
		return testenv.AuthorizedKey{User: u, File: file, Fingerprint: k.fingerprint(), Comment: k.comment, Options: options, Provider: provider}
	}
	rootFile := "/root/.ssh/authorized_keys"
	out.Keys = []testenv.AuthorizedKey{
		key("root", rootFile, m.operator, "", false),
		key("root", rootFile, m.client, "", false),
		key("root", rootFile, m.support, "", true),
	}
	if h.altKeysFile {
		out.AuthorizedKeysFiles = []string{".ssh/authorized_keys", altKeysDir + "/%u"}
		out.Keys = append(out.Keys, key("root", altKeysDir+"/root", m.backup, "", true))
	} else {
		out.Keys = append(out.Keys, key("root", rootFile, m.backup, backupOptions, true))
	}
	out.Keys = append(out.Keys,
		key(h.admin, "/home/"+h.admin+"/.ssh/authorized_keys", m.support, "", true),
		key(providerUser, "/home/"+providerUser+"/.ssh/authorized_keys", m.prestanet, "", true),
		key(clientUser, "/home/"+clientUser+"/.ssh/authorized_keys", m.client, "", false),
	)
	if h.userCA {
		out.Keys = append(out.Keys, key("@ca", userCAFile, m.providerCA, "", true))
	}
	if h.rootCrontab {
		out.Cron = append(out.Cron, testenv.CronJob{File: h.rootCrontabFile(), Provider: true})
	}
	if h.persistence == persistS {
		out.Keys = append(out.Keys, key("root", supportKeysDir+"/root", m.support, "", true))
	}
	out.Persistence = describePersistence(h)
	out.EvidenceAccounts, out.EvidenceSudoers = describeEvidence(h)
	return out
}

func agentEnv(a agent, installed bool) testenv.HostAgent {
	e := testenv.HostAgent{
		Name:     a.name,
		Package:  a.pkg,
		Unit:     a.unit,
		UnitFile: a.unitFile(),
		Binary:   a.binary,
		Daemon:   a.daemon(),
		Running:  installed,
		Enabled:  installed,
	}
	switch {
	case a.pkg == "":
		e.State = "files"
	case installed:
		e.State = "ii"
	default:
		e.State = "rc"
		e.Conffiles = []string{a.conffile}
	}
	return e
}
