package dns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
)

// RoleRegistrar is the role of the registrar RDAP names, among a
// domain's cloud services.
const RoleRegistrar = "domain registrar (RDAP)"

// IANABootstrap is IANA's RDAP bootstrap file for DNS (RFC 9224): which
// registry's RDAP service answers for each top-level domain.
const IANABootstrap = "https://data.iana.org/rdap/dns.json"

// rdapSettings is the target's rdap: setting. Off unless asked: RDAP is
// a public service on the internet, which a handover's machine may not
// reach, and which learns the domains asked about.
type rdapSettings struct {
	Enabled   bool
	Bootstrap string // IANABootstrap unless set
	Timeout   time.Duration
	CACert    string // a PEM file trusted besides the system's roots
}

// Registration is what a domain's registry says of it over RDAP.
type Registration struct {
	Server      string // the RDAP URL asked for the domain
	Registrar   string
	IANAID      string
	AbuseEmail  string
	AbusePhone  string
	Expires     string // RFC 3339 date, as published
	Status      []string
	Nameservers []string
}

// rdapClient asks the bootstrap file and the registry over HTTPS (or
// what the bootstrap names), with the certificate verified. The bootstrap
// file is fetched once per inventory.
type rdapClient struct {
	s    rdapSettings
	http *http.Client
	// services is the bootstrap file's list: TLD labels, base URLs.
	services [][2][]string
}

func newRDAPClient(s rdapSettings) (*rdapClient, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.CACert != "" {
		pem, err := os.ReadFile(s.CACert)
		if err != nil {
			return nil, fmt.Errorf("rdap ca_cert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("rdap ca_cert %s: no certificate in it", s.CACert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &rdapClient{s: s, http: &http.Client{Transport: tr, Timeout: s.Timeout}}, nil
}

// getJSON fetches url into v: a 404 is errNotFound, any other status or
// body that is not JSON an error naming it.
func (c *rdapClient) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/rdap+json, application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w", u, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: not RDAP JSON: %w", u, err)
	}
	return nil
}

var errNotFound = errors.New("not found (HTTP 404)")

// bootstrap reads the bootstrap file once.
func (c *rdapClient) bootstrap(ctx context.Context) error {
	if c.services != nil {
		return nil
	}
	var f struct {
		Services [][][]string `json:"services"`
	}
	if err := c.getJSON(ctx, c.s.Bootstrap, &f); err != nil {
		return fmt.Errorf("RDAP bootstrap: %w", err)
	}
	c.services = [][2][]string{}
	for _, s := range f.Services {
		if len(s) == 2 {
			c.services = append(c.services, [2][]string{s[0], s[1]})
		}
	}
	if len(c.services) == 0 {
		return fmt.Errorf("RDAP bootstrap %s lists no service", c.s.Bootstrap)
	}
	return nil
}

// server is the registry's RDAP base URL for domain: the bootstrap entry
// with the longest matching label suffix, its HTTPS URL preferred.
func (c *rdapClient) server(domain string) (string, error) {
	best, bestLen := "", 0
	for _, s := range c.services {
		for _, tld := range s[0] {
			tld = strings.ToLower(strings.Trim(tld, "."))
			if (domain == tld || strings.HasSuffix(domain, "."+tld)) && len(tld) > bestLen {
				urls := slices.Clone(s[1])
				slices.SortStableFunc(urls, func(a, b string) int {
					return boolInt(!strings.HasPrefix(a, "https:")) - boolInt(!strings.HasPrefix(b, "https:"))
				})
				if len(urls) > 0 {
					best, bestLen = urls[0], len(tld)
				}
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("no RDAP service for %s in the bootstrap file %s", domain, c.s.Bootstrap)
	}
	return best, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rdapDomain is the part of an RDAP domain object (RFC 9083) read here.
type rdapDomain struct {
	ObjectClassName string       `json:"objectClassName"`
	LDHName         string       `json:"ldhName"`
	Status          []string     `json:"status"`
	Entities        []rdapEntity `json:"entities"`
	Events          []struct {
		Action string `json:"eventAction"`
		Date   string `json:"eventDate"`
	} `json:"events"`
	Nameservers []struct {
		LDHName string `json:"ldhName"`
	} `json:"nameservers"`
}

type rdapEntity struct {
	Roles     []string        `json:"roles"`
	VCard     json.RawMessage `json:"vcardArray"`
	PublicIDs []struct {
		Type       string `json:"type"`
		Identifier string `json:"identifier"`
	} `json:"publicIds"`
	Entities []rdapEntity `json:"entities"`
}

// lookup asks the registry about domain.
func (c *rdapClient) lookup(ctx context.Context, domain string) (*Registration, error) {
	if err := c.bootstrap(ctx); err != nil {
		return nil, err
	}
	base, err := c.server(domain)
	if err != nil {
		return nil, err
	}
	u, err := url.JoinPath(base, "domain", domain)
	if err != nil {
		return nil, fmt.Errorf("RDAP service %q: %w", base, err)
	}
	var d rdapDomain
	if err := c.getJSON(ctx, u, &d); err != nil {
		return nil, fmt.Errorf("RDAP: %w", err)
	}
	if d.ObjectClassName != "" && d.ObjectClassName != "domain" {
		return nil, fmt.Errorf("RDAP: %s answered a %q object, not a domain", u, d.ObjectClassName)
	}
	reg := &Registration{Server: u, Status: d.Status}
	for _, e := range d.Events {
		if e.Action == "expiration" {
			reg.Expires = e.Date
		}
	}
	for _, ns := range d.Nameservers {
		reg.Nameservers = append(reg.Nameservers, strings.ToLower(ns.LDHName))
	}
	for _, e := range d.Entities {
		if !slices.Contains(e.Roles, "registrar") {
			continue
		}
		reg.Registrar = vcardField(e.VCard, "fn")
		for _, id := range e.PublicIDs {
			if id.Type == "IANA Registrar ID" {
				reg.IANAID = id.Identifier
			}
		}
		for _, a := range e.Entities {
			if slices.Contains(a.Roles, "abuse") {
				reg.AbuseEmail = vcardField(a.VCard, "email")
				reg.AbusePhone = strings.TrimPrefix(vcardField(a.VCard, "tel"), "tel:")
			}
		}
	}
	if reg.Registrar == "" {
		return reg, fmt.Errorf("RDAP: %s names no registrar", u)
	}
	return reg, nil
}

// vcardField is the first value of a jCard property (RFC 7095):
// ["vcard", [["fn", {}, "text", "Gandi SAS"], ...]].
func vcardField(raw json.RawMessage, name string) string {
	var card []json.RawMessage
	if json.Unmarshal(raw, &card) != nil || len(card) != 2 {
		return ""
	}
	var props [][]json.RawMessage
	if json.Unmarshal(card[1], &props) != nil {
		return ""
	}
	for _, p := range props {
		var n string
		if len(p) < 4 || json.Unmarshal(p[0], &n) != nil || n != name {
			continue
		}
		var v string
		if json.Unmarshal(p[3], &v) == nil {
			return v
		}
	}
	return ""
}

// registration adds what the registry says of the domain: the registrar,
// its abuse contact and the expiry as facts, and the registrar as a cloud
// service (RoleRegistrar), the provider's when its name or its abuse
// address names the outgoing provider. An RDAP service that cannot be
// reached or answers no registrar is a fact saying so: a gap of the
// dossier, never a failed inventory.
func (t *Target) registration(ctx context.Context, sys *connector.System, c *rdapClient, cerr error) {
	if cerr != nil {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "registrar (RDAP)", Value: "not read: " + cerr.Error()})
		return
	}
	t.rdap = c
	rctx, cancel := context.WithTimeout(ctx, 2*c.s.Timeout+time.Second)
	defer cancel()
	reg, err := c.lookup(rctx, sys.Name)
	if err != nil {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "registrar (RDAP)", Value: "not read: " + err.Error()})
		return
	}
	name := reg.Registrar
	if reg.IANAID != "" {
		name += " (IANA " + reg.IANAID + ")"
	}
	abuse := strings.Join(slices.DeleteFunc([]string{reg.AbuseEmail, reg.AbusePhone}, func(s string) bool { return s == "" }), ", ")
	sys.Facts = append(sys.Facts, connector.Fact{Name: "registrar (RDAP)", Value: name})
	if abuse != "" {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "registrar abuse contact", Value: abuse})
	}
	if reg.Expires != "" {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "registration expires", Value: reg.Expires})
	}
	reasons := t.env.Outgoing.Text(reg.Registrar)
	if _, dom, ok := strings.Cut(reg.AbuseEmail, "@"); ok {
		if d := t.env.Outgoing.Domain(dom); d != "" {
			reasons = append(reasons, "abuse contact on the provider's domain "+d)
		}
	}
	evidence := []string{"RDAP " + reg.Server + ": registrar " + name}
	if abuse != "" {
		evidence = append(evidence, "RDAP registrar abuse contact: "+abuse)
	}
	if reg.Expires != "" {
		evidence = append(evidence, "RDAP expiration: "+reg.Expires)
	}
	detail := map[string]string{
		"service":  reg.Registrar,
		"roles":    RoleRegistrar,
		"evidence": strings.Join(evidence, "\n"),
		"vendor":   reg.Registrar,
		"source":   reg.Server,
		"abuse":    abuse,
	}
	if len(reasons) > 0 {
		detail["operated_by"] = "outgoing provider"
		delete(detail, "vendor")
	}
	sys.Findings = append(sys.Findings, connector.Finding{
		ID:      connector.KindCloudService + ":" + sys.Name + ":registrar",
		Kind:    connector.KindCloudService,
		Object:  reg.Registrar,
		Summary: fmt.Sprintf("%s: registrar of %s (RDAP)", reg.Registrar, sys.Name),
		Reasons: reasons,
		Detail:  detail,
	})
}
