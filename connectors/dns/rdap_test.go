package dns

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// rdapServer is a local stand-in for IANA's bootstrap file and a registry's
// RDAP service (RDAP is a public service on the internet, which tests do
// not reach): it serves testdata/rdap's answers, a 404 for any other
// domain, and counts the bootstrap file's fetches.
func rdapServer(t *testing.T, unknown ...string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var boots atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/bootstrap.json":
			boots.Add(1)
			b, err := os.ReadFile(filepath.Join("testdata", "rdap", "bootstrap.json"))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(strings.ReplaceAll(string(b), "{{BASE}}", srv.URL)))
		case strings.HasPrefix(r.URL.Path, "/registry/domain/"):
			name := strings.TrimPrefix(r.URL.Path, "/registry/domain/")
			b, err := os.ReadFile(filepath.Join("testdata", "rdap", filepath.Base(name)+".json"))
			if err != nil || slices.Contains(unknown, name) {
				w.Header().Set("Content-Type", "application/rdap+json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errorCode":404,"title":"Not Found"}`))
				return
			}
			w.Header().Set("Content-Type", "application/rdap+json")
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &boots
}

func fact(s connector.System, name string) string {
	for _, f := range s.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// TestInventoryRDAP: with rdap on, each domain read from the testenv's DNS
// server gets its registrar, abuse contact and expiry from the registry
// the bootstrap file names (one fetch of it for all domains); the
// registrar is a cloud service of role RoleRegistrar, the provider's when it
// names the provider; a domain the registry does not know, or an RDAP
// service that cannot be reached, is a fact saying so, never an error of
// the domain.
func TestInventoryRDAP(t *testing.T) {
	e := requireDNS(t)
	srv, boots := rdapServer(t)
	inv := inventory(t, "domains: ["+e.ClientDomain+", "+e.LargeDomain+"]\nresolver: "+e.Addr+"\nrdap: {bootstrap: "+srv.URL+"/bootstrap.json, timeout: 5s}\n")
	if len(inv.Systems) != 2 {
		t.Fatalf("systems: %+v", inv.Systems)
	}
	client, large := inv.Systems[0], inv.Systems[1]
	for _, s := range inv.Systems {
		if s.Error != "" {
			t.Fatalf("%s: %s", s.Name, s.Error)
		}
	}
	if n := boots.Load(); n != 1 {
		t.Errorf("the bootstrap file was fetched %d times, want once", n)
	}
	for name, want := range map[string]string{
		"registrar (RDAP)":        "Gandi SAS (IANA 81)",
		"registrar abuse contact": "abuse@support.gandi.net, +33.170377661",
		"registration expires":    "2027-03-12T10:21:44Z",
	} {
		if got := fact(client, name); got != want {
			t.Errorf("%s: fact %q = %q, want %q", client.Name, name, got, want)
		}
	}
	var reg, provReg *connector.Finding
	for i, f := range client.Findings {
		if f.ID == connector.KindCloudService+":"+e.ClientDomain+":registrar" {
			reg = &client.Findings[i]
		}
	}
	for i, f := range large.Findings {
		if f.ID == connector.KindCloudService+":"+e.LargeDomain+":registrar" {
			provReg = &large.Findings[i]
		}
	}
	if reg == nil || reg.Object != "Gandi SAS" || reg.Detail["roles"] != RoleRegistrar || reg.Detail["operated_by"] != "" ||
		!strings.Contains(reg.Detail["evidence"], "RDAP "+srv.URL+"/registry/domain/"+e.ClientDomain+": registrar Gandi SAS (IANA 81)") ||
		!strings.Contains(reg.Detail["evidence"], "abuse@support.gandi.net") {
		t.Errorf("the client domain's registrar: %+v", reg)
	}
	if provReg == nil || provReg.Detail["operated_by"] != "outgoing provider" || len(provReg.Reasons) == 0 {
		t.Errorf("a registrar naming the provider is not marked as the provider's: %+v", provReg)
	}

	// A domain the registry does not know: a gap.
	srv404, _ := rdapServer(t, e.ClientDomain)
	inv = inventory(t, "domains: ["+e.ClientDomain+"]\nresolver: "+e.Addr+"\nrdap: {bootstrap: "+srv404.URL+"/bootstrap.json}\n")
	if s := inv.Systems[0]; s.Error != "" || !strings.Contains(fact(s, "registrar (RDAP)"), "not read: RDAP: ") || !strings.Contains(fact(s, "registrar (RDAP)"), "not found (HTTP 404)") {
		t.Errorf("a domain the registry does not know: error %q, fact %q", s.Error, fact(s, "registrar (RDAP)"))
	}

	// Unreachable RDAP: a fact, the domain still inventoried.
	inv = inventory(t, "domains: ["+e.ClientDomain+"]\nresolver: "+e.Addr+"\nrdap: {bootstrap: http://127.0.0.1:1/dns.json, timeout: 2s}\n")
	s := inv.Systems[0]
	if s.Error != "" || !strings.HasPrefix(fact(s, "registrar (RDAP)"), "not read: RDAP bootstrap: ") || len(s.Findings) < 3 {
		t.Errorf("unreachable RDAP: error %q, fact %q, %d findings", s.Error, fact(s, "registrar (RDAP)"), len(s.Findings))
	}
}

// The rdap setting: off by default; on with IANA's bootstrap file; its
// mistakes reported at their place.
func TestRDAPSettings(t *testing.T) {
	if tg := configure(t, "domains: [ex.test]\n"); tg.s.RDAP.Enabled {
		t.Error("RDAP is on without being asked for")
	}
	if tg := configure(t, "domains: [ex.test]\nrdap: true\n"); !tg.s.RDAP.Enabled || tg.s.RDAP.Bootstrap != IANABootstrap {
		t.Errorf("rdap: true: %+v", tg.s.RDAP)
	}
	if tg := configure(t, "domains: [ex.test]\nrdap: {enabled: false, bootstrap: https://rdap.example/dns.json}\n"); tg.s.RDAP.Enabled || tg.s.RDAP.Bootstrap != "https://rdap.example/dns.json" {
		t.Errorf("rdap: {enabled: false}: %+v", tg.s.RDAP)
	}
	_, ds := configureDiags(t, "domains: [ex.test]\nrdap: {bootstrap: \"ftp://x/y\", colour: red, timeout: soon}\n")
	want := []string{
		`pb.yaml:2:19: rdap bootstrap: "ftp://x/y" is not an http(s) URL`,
		`pb.yaml:2:32: unknown key "colour"`,
		`pb.yaml:2:54: rdap timeout: invalid duration`,
	}
	for _, w := range want {
		if !slices.ContainsFunc(ds, func(d playbook.Diagnostic) bool { return strings.HasPrefix(d.String(), w) }) {
			t.Errorf("missing diagnostic %q in:\n%v", w, ds)
		}
	}
}

func TestRDAPBootstrapServer(t *testing.T) {
	c := &rdapClient{s: rdapSettings{Bootstrap: "b"}, services: [][2][]string{
		{{"test"}, {"http://plain.example/", "https://secure.example/"}},
		{{"gouv.test"}, {"https://gouv.example/"}},
	}}
	for dom, want := range map[string]string{"a.test": "https://secure.example/", "x.gouv.test": "https://gouv.example/", "a.fr": ""} {
		got, err := c.server(dom)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("server(%s) = %q, %v; want %q", dom, got, err, want)
		}
	}
}
