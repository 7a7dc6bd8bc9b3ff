package dns

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

func configure(t *testing.T, settings string) *Target {
	t.Helper()
	tg, ds := configureDiags(t, settings)
	if len(ds) > 0 {
		t.Fatalf("configure: %v", ds)
	}
	return tg
}

func configureDiags(t *testing.T, settings string) (*Target, playbook.Diagnostics) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("pb.yaml")
	env := connector.Env{Outgoing: connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}, Domains: []string{"prestanet.test"}})}
	tg := Connector{}.Configure(d, playbook.Target{Name: "dns", Type: Type, Settings: doc.Content[0]}, env)
	if tg == nil {
		return nil, d.Diagnostics()
	}
	return tg.(*Target), d.Diagnostics()
}

func TestBuiltinCatalog(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Services) < 10 {
		t.Errorf("catalogue has %d services", len(c.Services))
	}
}

func TestConfigureErrors(t *testing.T) {
	_, ds := configureDiags(t, "domains: [\"not a domain\", exemple.test, exemple.test]\nresolver: \"::1::\"\ncolour: blue\ndkim_selectors: [x._domainkey]\n")
	want := []string{
		`pb.yaml:1:11: domains: "not a domain" is not a domain name`,
		`pb.yaml:1:41: domains: exemple.test is listed twice`,
		`pb.yaml:2:11: resolver: "::1::": give host:port or an address`,
		`pb.yaml:3:1: unknown key "colour"`,
		`pb.yaml:4:17: dkim_selectors: "x._domainkey" is not a selector`,
	}
	if len(ds) != len(want) {
		t.Errorf("got %d diagnostics, want %d:\n%v", len(ds), len(want), ds)
	}
	for _, w := range want {
		found := false
		for _, d := range ds {
			if strings.HasPrefix(d.String(), w) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing diagnostic %q in:\n%v", w, ds)
		}
	}
}

func TestResolverAddr(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.1": "192.0.2.1:53", "192.0.2.1:5353": "192.0.2.1:5353", "2001:db8::1": "[2001:db8::1]:53", "[2001:db8::1]:53": "[2001:db8::1]:53", "resolver.lan": "resolver.lan:53"} {
		got, err := resolverAddr(in)
		if err != nil || got != want {
			t.Errorf("resolverAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParsers(t *testing.T) {
	if got := spfDomains("v=spf1 ip4:192.0.2.1 include:_spf.google.com -include:x.test redirect=_spf.example.net ~all"); !slices.Equal(got, []string{"_spf.google.com", "x.test", "_spf.example.net"}) {
		t.Errorf("spfDomains: %v", got)
	}
	if got := dmarcAddresses("v=DMARC1; p=none; rua=mailto:a@x.test!10m,mailto:b@y.test; ruf=mailto:c@z.test"); !slices.Equal(got, []string{"a@x.test", "b@y.test", "c@z.test"}) {
		t.Errorf("dmarcAddresses: %v", got)
	}
	if got := mboxAddress("hostmaster.prestanet.test"); got != "hostmaster@prestanet.test" {
		t.Errorf("mboxAddress: %v", got)
	}
}

// fakeQuerier answers from a table; unknown questions are NXDOMAIN.
type fakeQuerier map[string]answer

func (f fakeQuerier) query(ctx context.Context, name string, qtype uint16) (answer, error) {
	a, ok := f[name]
	if !ok {
		return answer{nxdomain: true}, nil
	}
	return a, nil
}

func TestClassifyUnit(t *testing.T) {
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	out := connector.NewOutgoing(playbook.Outgoing{Domains: []string{"prestanet.test"}})
	recs := []Record{
		{"ex.test", "MX", "10 aspmx.l.google.com"},
		{"ex.test", "MX", "20 relais.prestanet.test"},
		{"ex.test", "TXT", "v=spf1 include:_spf.google.com include:spf.brevo.com -all"},
		{"ex.test", "TXT", "facebook-domain-verification=abc"},
		{"ex.test", "TXT", "projet-urbain=dossier-12"}, // no service's token
		{"ex.test", "NS", "ns1.gandi.net"},
		{"_dmarc.ex.test", "TXT", "v=DMARC1; p=none; rua=mailto:dmarc@prestanet.test"},
		{"www.ex.test", "CNAME", "ex.test"},
	}
	c := classify("ex.test", recs, cat, out)
	var got []string
	for _, s := range c.Services {
		got = append(got, s.ID+" "+string(s.Roles[0]))
	}
	want := []string{
		"google-workspace " + string(RoleMail),
		"provider:prestanet.test " + string(RoleMail),
		"brevo " + string(RoleSending),
		"unclassified:facebook-domain-verification " + string(RoleVerification),
		"gandi " + string(RoleDNS),
	}
	if !slices.Equal(got, want) {
		t.Errorf("services:\n got %q\nwant %q", got, want)
	}
	if len(c.Provider) != 2 || c.Provider[0].Record.Type != "MX" || c.Provider[1].Record.Name != "_dmarc.ex.test" {
		t.Errorf("provider records: %+v", c.Provider)
	}
}

func TestInventoryUnit(t *testing.T) {
	tg := configure(t, "domains: [ex.test]\nresolver: 192.0.2.1\n")
	tg.q = fakeQuerier{}
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inv.Systems[0].Error, "NXDOMAIN") {
		t.Errorf("error: %q", inv.Systems[0].Error)
	}
	tg2 := configure(t, "domains: [ex.test]\n")
	tg2.resolvConf = "/nonexistent/resolv.conf"
	inv, err = tg2.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inv.Systems[0].Error, "no resolver given") {
		t.Errorf("error without a resolver: %q", inv.Systems[0].Error)
	}
	ch, err := tg.Plan(inv, connector.Decisions{})
	if err != nil || len(ch) != 0 {
		t.Errorf("plan: %v %v", ch, err)
	}
}
