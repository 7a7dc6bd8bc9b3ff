package nsd

import (
	"fmt"
	"strings"

	"github.com/handoverhq/handover/testenv"
)

// The planted zones.
const (
	// LargeDomain has several hundred TXT records at its apex: an answer
	// too large for UDP, which a resolver must retry over TCP.
	LargeDomain = "grands-projets-saint-exemple.test"
	// LargeTXT is how many filler TXT records LargeDomain's apex holds,
	// besides its SPF and Microsoft verification records.
	LargeTXT = 300
	// MissingDomain is a name under the client's zone that does not
	// exist: the server answers NXDOMAIN for it.
	MissingDomain = "ancien-site." + testenv.ClientDomain
)

type zone struct{ name, text string }

func zoneNames() []string { return []string{testenv.ClientDomain, LargeDomain} }

func plantedZones() []zone {
	return []zone{{testenv.ClientDomain, clientZone}, {LargeDomain, largeZone()}}
}

// clientZone is the client's domain: mail in Microsoft 365 (MX, SPF,
// DKIM selectors, autodiscover and the other M365 CNAMEs, MS=), Google
// Workspace verified too (a former tenant), a newsletter sender, an
// Atlassian site and Apple Business Manager. The outgoing provider hosts
// the zone (NS, SOA contact), relays mail as a backup MX, is included in
// the SPF record, receives the DMARC aggregate reports, signs mail with a
// DKIM key it publishes itself, and hosts the website.
const clientZone = `$ORIGIN mairie-saint-exemple.test.
$TTL 3600
@   IN SOA ns1.prestanet.test. hostmaster.prestanet.test. ( 2026112301 7200 3600 1209600 3600 )
    IN NS  ns1.prestanet.test.
    IN NS  ns2.prestanet.test.
    IN MX  0  mairie-saint-exemple-test.mail.protection.outlook.com.
    IN MX  20 mx-secours.prestanet.test.
    IN TXT "v=spf1 include:spf.protection.outlook.com include:_spf.google.com include:spf.mailjet.com include:_spf.prestanet.test ip4:203.0.113.25 ~all"
    IN TXT "MS=ms48213957"
    IN TXT "google-site-verification=Qm3vX9sL0aT7rB2nK5wE8yU1pO4iZ6cH3dF0gJ2kL9M"
    IN TXT "atlassian-domain-verification=Wq7P2mZk9Lr4Tx8Vn3Bc6Hy1Jd5Fs0Ga"
    IN TXT "apple-domain-verification=Xk3Lp9Qr2Zt7"
    IN CAA 0 issue "letsencrypt.org"
    IN CAA 0 iodef "mailto:securite@prestanet.test"
    IN A   203.0.113.10
_dmarc                  IN TXT   "v=DMARC1; p=quarantine; rua=mailto:dmarc-rapports@prestanet.test; ruf=mailto:dmarc@mairie-saint-exemple.test; fo=1"
selector1._domainkey    IN CNAME selector1-mairie-saint-exemple-test._domainkey.mairiesaintexemple.onmicrosoft.com.
selector2._domainkey    IN CNAME selector2-mairie-saint-exemple-test._domainkey.mairiesaintexemple.onmicrosoft.com.
google._domainkey       IN TXT   "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC7vbqajDw4o6gJy8UtmIbkcpnkO3Kwc4qsEnSZp/TR+fQi62F79RHWmwKOtFmwteURgLbj7D/WGuNLGOfa/2vse3G2ZHZtO8+BtSrKFhoT6bdVpc7Dvl1kQgsGNxTzqtrHSBjfYQ7xjl2fWk7XzDtfV4K0HqsklD4lNc5V5sZkvQIDAQAB"
mailjet._domainkey      IN TXT   "k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDc8gRMsMl1K8nU8fNZGxRmJnC2q8g1sWlhVtD8i8lP4F2kq3l0wFQ9H0Q6NAbR1b4w7yZk9z3aXH5Qm8Xj2gP8l6rQfH3uO0uRx7tYbP4mN2qL1oKfZ0x7kW3cE9zV5yT1nS8aQ2bD4eG6hJ0iL3mO5pR7sU9vW1xY3z5AQIDAQAB"
relais._domainkey       IN CNAME relais._domainkey.prestanet.test.
autodiscover            IN CNAME autodiscover.outlook.com.
lyncdiscover            IN CNAME webdir.online.lync.com.
sip                     IN CNAME sipdir.online.lync.com.
enterpriseregistration  IN CNAME enterpriseregistration.windows.net.
enterpriseenrollment    IN CNAME enterpriseenrollment.manage.microsoft.com.
_sipfederationtls._tcp  IN SRV   100 1 5061 sipfed.online.lync.com.
www                     IN CNAME web-clients.prestanet.test.
intranet                IN A     10.20.0.15
`

// largeZone is a domain with hundreds of TXT records at its apex (a
// registrar that publishes every historical verification token).
func largeZone() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL 3600\n", LargeDomain)
	b.WriteString("@ IN SOA ns1.prestanet.test. hostmaster.prestanet.test. ( 2026112301 7200 3600 1209600 3600 )\n")
	b.WriteString("  IN NS ns1.prestanet.test.\n  IN NS ns2.prestanet.test.\n")
	b.WriteString("  IN MX 0 grands-projets-saint-exemple-test.mail.protection.outlook.com.\n")
	b.WriteString("  IN TXT \"v=spf1 include:spf.protection.outlook.com -all\"\n")
	b.WriteString("  IN TXT \"MS=ms90417733\"\n")
	for i := 1; i <= LargeTXT; i++ {
		fmt.Fprintf(&b, "  IN TXT \"archive-%03d=projet-urbain-dossier-%03d\"\n", i, i)
	}
	return b.String()
}
