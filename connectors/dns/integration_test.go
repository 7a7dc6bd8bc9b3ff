package dns

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/testenv"
)

// The testenv's nsd serves the client's zones (testenv/internal/nsd):
// these tests ask it over the network, as a resolver would be asked.
func requireDNS(t *testing.T) *testenv.DNSEnv {
	t.Helper()
	e := testenv.Require(t)
	if e.DNS == nil {
		t.Fatal("integration test needs the testenv's DNS server: run `bin/testenv up -only nsd`")
	}
	testenv.LockComponent(t, "nsd", false)
	return e.DNS
}

func inventory(t *testing.T, settings string) *connector.Inventory {
	t.Helper()
	tg := configure(t, settings)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	return inv
}

func TestInventoryClientDomain(t *testing.T) {
	e := requireDNS(t)
	inv := inventory(t, "domains: ["+e.ClientDomain+"]\nresolver: "+e.Addr+"\n")
	if len(inv.Systems) != 1 || inv.Systems[0].Error != "" {
		t.Fatalf("systems: %+v", inv.Systems)
	}
	sys := inv.Systems[0]

	// Every planted service is found, with the records that say so.
	want := map[string][]string{
		"cloud-service:" + e.ClientDomain + ":microsoft-365": {
			"MX 0 mairie-saint-exemple-test.mail.protection.outlook.com",
			"TXT MS=ms48213957",
			"autodiscover." + e.ClientDomain + " CNAME autodiscover.outlook.com",
			"selector1._domainkey." + e.ClientDomain + " CNAME selector1-mairie-saint-exemple-test._domainkey.mairiesaintexemple.onmicrosoft.com",
			"enterpriseenrollment." + e.ClientDomain + " CNAME enterpriseenrollment.manage.microsoft.com",
			"_sipfederationtls._tcp." + e.ClientDomain + " SRV 100 1 5061 sipfed.online.lync.com",
		},
		"cloud-service:" + e.ClientDomain + ":google-workspace": {"google-site-verification=", "include:_spf.google.com", "google._domainkey." + e.ClientDomain + " TXT"},
		"cloud-service:" + e.ClientDomain + ":mailjet":          {"include:spf.mailjet.com", "mailjet._domainkey." + e.ClientDomain + " TXT"},
		"cloud-service:" + e.ClientDomain + ":atlassian":        {"atlassian-domain-verification="},
		"cloud-service:" + e.ClientDomain + ":apple-business":   {"apple-domain-verification="},
		"cloud-service:" + e.ClientDomain + ":lets-encrypt":     {`CAA 0 issue "letsencrypt.org"`},
		"cloud-service:" + e.ClientDomain + ":provider:" + e.ProviderDomain: {
			"NS ns1.prestanet.test", "MX 20 mx-secours.prestanet.test", "include:_spf.prestanet.test",
			"rua=mailto:dmarc-rapports@prestanet.test", "relais._domainkey." + e.ClientDomain + " CNAME relais._domainkey.prestanet.test",
			"www." + e.ClientDomain + " CNAME web-clients.prestanet.test", "SOA ns1.prestanet.test hostmaster.prestanet.test",
		},
	}
	got := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		got[f.ID] = f
	}
	for id, evidence := range want {
		f, ok := got[id]
		if !ok {
			t.Errorf("service %s not found; findings: %v", id, ids(sys.Findings))
			continue
		}
		if f.Kind != connector.KindCloudService || f.Provider {
			t.Errorf("%s: kind %s provider %v", id, f.Kind, f.Provider)
		}
		for _, ev := range evidence {
			if !strings.Contains(f.Detail["evidence"], ev) {
				t.Errorf("%s: evidence lacks %q:\n%s", id, ev, f.Detail["evidence"])
			}
		}
	}
	if got["cloud-service:"+e.ClientDomain+":provider:"+e.ProviderDomain].Detail["operated_by"] == "" {
		t.Errorf("the provider's service is not marked as the provider's")
	}

	// Every record pointing at the provider is a provider finding, and
	// only those.
	wantProv := []string{
		"dns-record:" + e.ClientDomain + ":NS:ns1.prestanet.test",
		"dns-record:" + e.ClientDomain + ":NS:ns2.prestanet.test",
		"dns-record:" + e.ClientDomain + ":MX:20 mx-secours.prestanet.test",
		"dns-record:_dmarc." + e.ClientDomain + ":TXT:v=DMARC1; p=quarantine; rua=mailto:dmarc-rapports@prestanet.test; ruf=mailto:dmarc@mairie-saint-exemple.test; fo=1",
		"dns-record:relais._domainkey." + e.ClientDomain + ":CNAME:relais._domainkey.prestanet.test",
		"dns-record:www." + e.ClientDomain + ":CNAME:web-clients.prestanet.test",
		"dns-record:" + e.ClientDomain + ":SOA:ns1.prestanet.test hostmaster.prestanet.test 2026112301",
		`dns-record:` + e.ClientDomain + `:CAA:0 iodef "mailto:securite@prestanet.test"`,
	}
	var prov []string
	for _, f := range sys.Findings {
		if f.Provider {
			prov = append(prov, f.ID)
			if f.Kind != connector.KindDNSRecord || len(f.Reasons) == 0 {
				t.Errorf("%s: kind %s, reasons %v", f.ID, f.Kind, f.Reasons)
			}
		}
	}
	var spf bool
	for _, id := range prov {
		if strings.HasPrefix(id, "dns-record:"+e.ClientDomain+":TXT:v=spf1 ") && strings.Contains(id, "include:_spf.prestanet.test") {
			spf = true
		}
	}
	if !spf {
		t.Errorf("the SPF record including the provider is not a provider finding: %v", prov)
	}
	for _, w := range wantProv {
		if !slices.Contains(prov, w) {
			t.Errorf("provider record %s not found; provider findings: %v", w, prov)
		}
	}
	if len(prov) != len(wantProv)+1 {
		t.Errorf("provider findings: got %d, want %d: %v", len(prov), len(wantProv)+1, prov)
	}

	// The schéma's links: to every service, red where the provider
	// controls it.
	links := map[string]connector.Link{}
	for _, l := range sys.Links {
		links[l.Kind+" -> "+l.To] = l
	}
	for _, k := range []string{LinkMail + " -> Microsoft 365", LinkDNS + " -> " + e.ProviderDomain, LinkMail + " -> " + e.ProviderDomain, LinkAccount + " -> Atlassian Cloud"} {
		l, ok := links[k]
		if !ok {
			t.Errorf("no link %s; links: %v", k, sys.Links)
			continue
		}
		if l.Provider != strings.HasSuffix(k, e.ProviderDomain) || l.Why == "" {
			t.Errorf("link %s: %+v", k, l)
		}
	}

	// Identities are stable: a second inventory finds the same.
	again := inventory(t, "domains: ["+e.ClientDomain+"]\nresolver: "+e.Addr+"\n")
	if a, b := ids(sys.Findings), ids(again.Systems[0].Findings); !slices.Equal(a, b) {
		t.Errorf("findings differ between two inventories:\n%v\n%v", a, b)
	}
	if inv.Fingerprint() != again.Fingerprint() {
		t.Errorf("fingerprints differ between two inventories")
	}
}

// A domain with hundreds of TXT records at its apex: the UDP answer is
// truncated and asked again over TCP, and nothing is lost.
func TestInventoryLargeZoneOverTCP(t *testing.T) {
	e := requireDNS(t)
	inv := inventory(t, "domains: ["+e.LargeDomain+"]\nresolver: "+e.Addr+"\n")
	sys := inv.Systems[0]
	if sys.Error != "" {
		t.Fatal(sys.Error)
	}
	facts := map[string]string{}
	for _, f := range sys.Facts {
		facts[f.Name] = f.Value
	}
	if facts["answers over TCP"] == "" {
		t.Errorf("no answer went over TCP; facts: %v", facts)
	}
	if n := strings.Count(facts["TXT"], "archive-"); n != 300 {
		t.Errorf("TXT records read: %d archive tokens, want 300", n)
	}
	if !slices.Contains(ids(sys.Findings), "cloud-service:"+e.LargeDomain+":microsoft-365") {
		t.Errorf("Microsoft 365 not found among %v", ids(sys.Findings))
	}
	// Tokens of no service's shape name no service.
	var services []string
	for _, f := range sys.Findings {
		if f.Kind == connector.KindCloudService {
			services = append(services, f.ID)
		}
	}
	if want := []string{"cloud-service:" + e.LargeDomain + ":microsoft-365", "cloud-service:" + e.LargeDomain + ":provider:" + e.ProviderDomain}; !slices.Equal(services, want) {
		t.Errorf("services: %v, want %v", services, want)
	}
}

// A domain that does not exist, and a resolver that does not answer, are
// gaps in the inventory (the system's Error), never a failed inventory.
func TestInventoryGaps(t *testing.T) {
	e := requireDNS(t)
	inv := inventory(t, "domains: ["+e.MissingDomain+", "+e.ClientDomain+"]\nresolver: "+e.Addr+"\n")
	if got := inv.Systems[0].Error; !strings.Contains(got, "NXDOMAIN") {
		t.Errorf("missing domain: error %q, want NXDOMAIN", got)
	}
	if inv.Systems[1].Error != "" || len(inv.Systems[1].Findings) == 0 {
		t.Errorf("the existing domain beside it was not read: %+v", inv.Systems[1])
	}

	// Nothing listens on this port: every question fails, quickly.
	start := time.Now()
	inv = inventory(t, "domains: ["+e.ClientDomain+"]\nresolver: 127.0.4.1:9\nquery_timeout: 2s\n")
	if got := inv.Systems[0].Error; got == "" || !strings.Contains(got, "127.0.4.1:9") {
		t.Errorf("unreachable resolver: error %q", got)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("unreachable resolver took %s", time.Since(start))
	}

	// A zone the server does not serve: it refuses.
	inv = inventory(t, "domains: [autre-commune.test]\nresolver: "+e.Addr+"\n")
	if got := inv.Systems[0].Error; !strings.Contains(got, "REFUSED") {
		t.Errorf("zone not served: error %q, want REFUSED", got)
	}
}

func ids(fs []connector.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	slices.Sort(out)
	return out
}
