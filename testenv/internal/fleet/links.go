package fleet

import (
	"os"

	"github.com/handoverhq/handover/testenv"
)

// The share server every other host mounts from: srv-fichiers-01.
const shareServerIndex = 1

type depFile struct {
	path string
	mode os.FileMode
	text string
}

// dependencyFiles are the configuration files that make a host depend on
// other systems of the estate, as the schéma de principe draws them: the
// directory its LDAP client asks (every host), the AD domain controller
// sssd asks (every other host), the file server's NFS and CIFS shares
// (every host but the file server; the CIFS line carries a password in its
// options, which no output may show), the provider's mail relay
// (srv-app-01), and backup targets (srv-app-01 to the provider's storage,
// poste-accueil-01's restic repository, srv-sauvegarde-01's rsnapshot). Hosts of the RHEL and systemd variants get the directory
// only.
func dependencyFiles(h host) []depFile {
	fs := []depFile{{"/etc/ldap/ldap.conf", 0o644, "# Annuaire de la mairie\nBASE\tdc=mairie-saint-exemple,dc=test\nURI\tldap://127.0.0.1:10389\nTLS_REQCERT\tdemand\n"}}
	if h.index == rpmIndex || h.index == systemdIndex {
		return fs
	}
	if h.index%2 == 0 {
		fs = append(fs, depFile{"/etc/sssd/sssd.conf", 0o600, "[sssd]\ndomains = ad.mairie-saint-exemple.test\n\n[domain/ad.mairie-saint-exemple.test]\nid_provider = ad\nad_domain = ad.mairie-saint-exemple.test\nad_server = " + testenv.ADHost + "\n"})
	}
	if h.index != shareServerIndex {
		fs = append(fs, depFile{"/etc/fstab", 0o644, "# /etc/fstab: static file system information.\n" +
			"127.0.1.1:/srv/partages /mnt/partages nfs defaults,_netdev 0 0\n" +
			"//127.0.1.1/scans /mnt/scans cifs username=scan,password=" + testenv.ShareMountPassword + ",_netdev 0 0\n"})
	}
	if h.index == 2 {
		fs = append(fs, depFile{"/etc/postfix/main.cf", 0o644, "# Relais de messagerie Prestanet\nmyhostname = srv-app-01.mairie-saint-exemple.test\nrelayhost = [mx-secours." + testenv.ProviderDomain + "]:25\n"},
			// Backups: an off-site copy to the provider's storage (a
			// script cron runs), a restic repository on the backup
			// server, and the backup server pulling this host's files.
			depFile{"/etc/cron.daily/copie-hors-site", 0o755, "#!/bin/sh\n# Copie hors site des données applicatives\nset -e\n[ -d /srv ] || exit 0\nrsync -a --delete -e 'ssh -p 2222' /srv/ mairie@stockage." + testenv.ProviderDomain + ":/clients/mairie/srv-app-01/ >/dev/null 2>&1\n"})
	}
	if h.index == 3 {
		fs = append(fs, depFile{"/etc/restic/sauvegarde.env", 0o600, "# restic backup --files-from /etc/restic/fichiers\nRESTIC_REPOSITORY=sftp:restic@" + testenv.HostAddr(backupServerIndex) + ":/srv/restic/poste-accueil-01\nRESTIC_PASSWORD=" + testenv.ResticRepoPassword + "\n"})
	}
	if h.index == backupServerIndex {
		fs = append(fs, depFile{"/etc/rsnapshot.conf", 0o644, "config_version\t1.2\nsnapshot_root\t/srv/snapshots/\nretain\tdaily\t7\nbackup\t/etc/\tlocalhost/\nbackup\troot@" + testenv.HostAddr(2) + ":/srv/\tsrv-app-01/\n"})
	}
	return fs
}

// The backup server (srv-sauvegarde-01): the restic repository is on it,
// and it pulls srv-app-01's files with rsnapshot.
const backupServerIndex = 4

// hostLinks are the dependencies dependencyFiles plants, as env.json
// describes them: kind, what is depended on, and the file.
func hostLinks(h host) []testenv.HostLink {
	var out []testenv.HostLink
	for _, f := range dependencyFiles(h) {
		switch f.path {
		case "/etc/ldap/ldap.conf":
			out = append(out, testenv.HostLink{Kind: "authenticates against", To: "127.0.0.1", File: f.path})
		case "/etc/sssd/sssd.conf":
			out = append(out, testenv.HostLink{Kind: "authenticates against", To: testenv.ADHost, File: f.path})
		case "/etc/fstab":
			out = append(out, testenv.HostLink{Kind: "mounts a share from", To: "127.0.1.1", File: f.path})
		case "/etc/postfix/main.cf":
			out = append(out, testenv.HostLink{Kind: "relays mail through", To: "mx-secours." + testenv.ProviderDomain, File: f.path, Provider: true})
		case "/etc/cron.daily/copie-hors-site":
			out = append(out, testenv.HostLink{Kind: "backs up to", To: "stockage." + testenv.ProviderDomain, File: f.path, Provider: true})
		case "/etc/restic/sauvegarde.env":
			out = append(out, testenv.HostLink{Kind: "backs up to", To: testenv.HostAddr(backupServerIndex), File: f.path})
		case "/etc/rsnapshot.conf":
			out = append(out, testenv.HostLink{Kind: "pulls backups from", To: testenv.HostAddr(2), File: f.path})
		}
	}
	// The provider's nightly upload of /etc (plant.go's
	// /etc/cron.d/prestanet-supervision, on every host).
	out = append(out, testenv.HostLink{Kind: "backs up to", To: "backup." + testenv.ProviderDomain, File: "/etc/cron.d/prestanet-supervision", Provider: true})
	return out
}
