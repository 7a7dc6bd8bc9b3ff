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
// options, which no output may show), and the provider's mail relay
// (srv-app-01). Hosts of the RHEL and systemd variants get the directory
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
		fs = append(fs, depFile{"/etc/postfix/main.cf", 0o644, "# Relais de messagerie Prestanet\nmyhostname = srv-app-01.mairie-saint-exemple.test\nrelayhost = [mx-secours." + testenv.ProviderDomain + "]:25\n"})
	}
	return fs
}

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
		}
	}
	return out
}
