package ssh

import (
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

func TestLinks(t *testing.T) {
	h := &hostData{}
	for _, line := range []string{
		"ldap-uri\tldap://dc1.mairie.lan:389/\t/etc/ldap/ldap.conf",
		"ldap-uri\tldaps://dc1.mairie.lan\t/etc/nslcd.conf", // the same directory, read twice
		"directory-server\t_srv_\t/etc/sssd/sssd.conf",      // DNS discovery: no host named
		"directory-server\tdc2.mairie.lan\t/etc/sssd/sssd.conf",
		"relayhost\t[smtp.prestanet.fr]:587\t/etc/postfix/main.cf",
		"nameserver\t127.0.0.53\t/etc/resolv.conf", // the host's own stub resolver
		"nameserver\t192.0.2.53\t/etc/resolv.conf",
		"mount-nfs\tfiler.mairie.lan:/srv/partages\t/etc/fstab",
		"mount-cifs\t//nas.mairie.lan/scans\t/etc/fstab",
		"bad line",
	} {
		parseLine(h, "deps", "", line)
	}
	out := connector.NewOutgoing(playbook.Outgoing{Domains: []string{"prestanet.fr"}})
	var got []string
	for _, l := range links(h, out) {
		got = append(got, l.Kind+" "+l.To+" "+map[bool]string{true: "provider", false: "client"}[l.Provider]+" "+l.Why)
	}
	want := []string{
		LinkAuth + " dc1.mairie.lan client /etc/ldap/ldap.conf: ldap://dc1.mairie.lan:389/",
		LinkAuth + " dc2.mairie.lan client /etc/sssd/sssd.conf: dc2.mairie.lan",
		LinkRelay + " smtp.prestanet.fr provider /etc/postfix/main.cf: [smtp.prestanet.fr]:587",
		LinkResolver + " 192.0.2.53 client /etc/resolv.conf: 192.0.2.53",
		LinkMount + " filer.mairie.lan client /etc/fstab: filer.mairie.lan:/srv/partages",
		LinkMount + " nas.mairie.lan client /etc/fstab: //nas.mairie.lan/scans",
	}
	if !slices.Equal(got, want) {
		t.Errorf("links:\n got %q\nwant %q", got, want)
	}
}

// The inventory script prints values, never the lines they come from: a
// CIFS mount's options (its password) and an LDAP bind password stay on
// the host.
func TestDepsPrintValuesOnly(t *testing.T) {
	script := inventoryBase
	for _, want := range []string{`mounts("/etc/fstab")`, `printf "mount-%s\t%s\t%s\n", f[3], f[1], file`} {
		if !strings.Contains(script, want) {
			t.Errorf("inventory.sh lacks %q", want)
		}
	}
	if strings.Contains(script, "authtok") || strings.Contains(script, "BINDPW") {
		t.Error("inventory.sh reads a bind password setting")
	}
}
