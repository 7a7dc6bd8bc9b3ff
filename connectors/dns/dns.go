// Package dns is the connector for a client's DNS domains. It reads, never
// changes, what the domains publish (MX, SPF includes, DKIM selectors,
// DMARC report addresses, verification TXT records, well-known CNAMEs and
// SRVs, NS, SOA, CAA) from a resolver over the network, and says which
// cloud services the client uses, with the records as evidence (an
// embedded, sourced catalogue), and which records point at the outgoing
// provider. Its plan is always empty: a DNS record is changed by whoever
// holds the registrar's or DNS host's account, a declared item of the
// playbook.
package dns

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
)

// Type is the playbook's target type.
const Type = "dns"

// KindDomain is the kind of the systems a dns target inventories: one per
// domain.
const KindDomain = "dns-domain"

// ResolvConf is where the resolver is read when the playbook names none.
const ResolvConf = "/etc/resolv.conf"

// Connector is the "dns" target type.
type Connector struct {
	// ResolvConf overrides ResolvConf (tests).
	ResolvConf string
}

// New returns the DNS connector.
func New() connector.Connector { return Connector{} }

var (
	_ connector.Connector = Connector{}
	_ connector.Target    = (*Target)(nil)
	_ connector.Describer = Connector{}
)

func (Connector) Type() string { return Type }

type settings struct {
	Domains   []string
	Resolver  string // host:port, "" for resolv.conf's first
	Selectors []string
	Parallel  int
	Timeout   time.Duration // per question
	RDAP      rdapSettings
}

// Configure decodes the target's settings; see docs/connectors/dns.md.
func (c Connector) Configure(d *playbook.Decoder, t playbook.Target, env connector.Env) connector.Target {
	s := settings{Parallel: 8, Timeout: 5 * time.Second, Selectors: slices.Clone(DefaultSelectors)}
	before := len(d.Diagnostics())
	d.Map(t.Settings, "dns target "+t.Name, map[string]playbook.Field{
		"domains": {Required: true, Decode: func(n *yaml.Node) {
			d.Seq(n, "domains", func(item *yaml.Node) {
				dom := strings.TrimSuffix(strings.ToLower(d.NonEmpty(item, "domains item")), ".")
				if dom == "" {
					return
				}
				if _, ok := mdns.IsDomainName(dom); !ok || !strings.Contains(dom, ".") {
					d.Errorf(item, "domains: %q is not a domain name", dom)
					return
				}
				if slices.Contains(s.Domains, dom) {
					d.Errorf(item, "domains: %s is listed twice", dom)
					return
				}
				s.Domains = append(s.Domains, dom)
			})
			if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
				d.Errorf(n, "domains: name at least one domain")
			}
		}},
		"resolver": {Decode: func(n *yaml.Node) {
			r, err := resolverAddr(d.NonEmpty(n, "resolver"))
			if err != nil {
				d.Errorf(n, "resolver: %v", err)
			}
			s.Resolver = r
		}},
		"dkim_selectors": {Decode: func(n *yaml.Node) {
			for _, sel := range d.Strings(n, "dkim_selectors") {
				sel = strings.ToLower(strings.TrimSpace(sel))
				if _, ok := mdns.IsDomainName(sel); !ok || sel == "" || strings.Contains(sel, "._domainkey") {
					d.Errorf(n, "dkim_selectors: %q is not a selector (write the label before ._domainkey)", sel)
					continue
				}
				if !slices.Contains(s.Selectors, sel) {
					s.Selectors = append(s.Selectors, sel)
				}
			}
		}},
		"rdap": {Decode: func(n *yaml.Node) {
			s.RDAP = rdapSettings{Bootstrap: IANABootstrap, Timeout: 10 * time.Second}
			if n.Kind == yaml.ScalarNode {
				s.RDAP.Enabled = d.Bool(n, "rdap")
				return
			}
			s.RDAP.Enabled = true
			d.Map(n, "rdap", map[string]playbook.Field{
				"bootstrap": {Decode: func(n *yaml.Node) {
					b := d.NonEmpty(n, "rdap bootstrap")
					if u, err := url.Parse(b); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
						d.Errorf(n, "rdap bootstrap: %q is not an http(s) URL", b)
						return
					}
					s.RDAP.Bootstrap = b
				}},
				"timeout": {Decode: func(n *yaml.Node) { s.RDAP.Timeout = d.Duration(n, "rdap timeout") }},
				"ca_cert": {Decode: func(n *yaml.Node) {
					p := d.NonEmpty(n, "rdap ca_cert")
					if p != "" && env.Resolver != nil {
						p = env.Resolver.Path(p)
					}
					s.RDAP.CACert = p
				}},
				"enabled": {Decode: func(n *yaml.Node) { s.RDAP.Enabled = d.Bool(n, "rdap enabled") }},
			})
		}},
		"parallel":      {Decode: func(n *yaml.Node) { s.Parallel = d.Int(n, "parallel", 1, 64) }},
		"query_timeout": {Decode: func(n *yaml.Node) { s.Timeout = d.Duration(n, "query_timeout") }},
	})
	if len(d.Diagnostics()) > before {
		return nil
	}
	cat, err := BuiltinCatalog()
	if err != nil {
		d.Errorf(t.Settings, "%v", err)
		return nil
	}
	rc := c.ResolvConf
	if rc == "" {
		rc = ResolvConf
	}
	return &Target{name: t.Name, s: s, env: env, cat: cat, resolvConf: rc}
}

// Target is one configured set of domains.
type Target struct {
	name       string
	s          settings
	env        connector.Env
	cat        *Catalog
	resolvConf string
	// q replaces the network client (unit tests).
	q querier
	// rdap is the RDAP client, kept across inventories (the bootstrap
	// file is read once).
	rdap *rdapClient
}

func (t *Target) now() time.Time {
	if t.env.Now != nil {
		return t.env.Now().UTC()
	}
	return time.Now().UTC()
}

// Inventory asks the resolver about every domain. A domain that cannot
// be read (no resolver, NXDOMAIN, a refusal) is a system with its Error
// set: a gap the report shows, never a failed run.
func (t *Target) Inventory(ctx context.Context) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	q, server, qerr := t.querier()
	var rd *rdapClient
	var rdErr error
	if t.s.RDAP.Enabled {
		if t.rdap != nil {
			rd = t.rdap
		} else {
			rd, rdErr = newRDAPClient(t.s.RDAP)
		}
	}
	for _, dom := range t.s.Domains {
		sys := connector.System{Name: dom, Kind: KindDomain}
		if qerr != nil {
			sys.Error = qerr.Error()
			inv.Systems = append(inv.Systems, sys)
			continue
		}
		obs, err := discover(ctx, q, dom, t.s.Selectors, t.s.Parallel)
		if err != nil {
			sys.Error = err.Error()
			inv.Systems = append(inv.Systems, sys)
			continue
		}
		t.describeDomain(&sys, obs, server)
		if t.s.RDAP.Enabled {
			t.registration(ctx, &sys, rd, rdErr)
		}
		inv.Systems = append(inv.Systems, sys)
	}
	inv.Finished = t.now()
	return inv, nil
}

func (t *Target) querier() (querier, string, error) {
	if t.q != nil {
		return t.q, "test", nil
	}
	server := t.s.Resolver
	if server == "" {
		var err error
		if server, err = systemResolver(t.resolvConf); err != nil {
			return nil, "", err
		}
	}
	return client{server: server, timeout: t.s.Timeout}, server, nil
}

// describeDomain fills a domain's system from what its questions
// returned: the records as facts, the services and the provider's records
// as findings, and a link to every service for the schéma.
func (t *Target) describeDomain(sys *connector.System, obs *observation, server string) {
	recs := slices.Clone(obs.records)
	slices.SortFunc(recs, func(a, b Record) int {
		return strings.Compare(a.Name+" "+a.Type+" "+a.Value, b.Name+" "+b.Type+" "+b.Value)
	})
	sys.Facts = append(sys.Facts, connector.Fact{Name: "resolver", Value: server})
	byType := map[string][]string{}
	var types []string
	for _, r := range recs {
		key := r.Type
		if r.Name != obs.domain {
			key = r.Type + " " + r.Name
		}
		if _, ok := byType[key]; !ok {
			types = append(types, key)
		}
		byType[key] = append(byType[key], r.Value)
	}
	for _, k := range types {
		sys.Facts = append(sys.Facts, connector.Fact{Name: k, Value: strings.Join(byType[k], " | ")})
	}
	if len(obs.selectors) > 0 {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "DKIM selectors", Value: strings.Join(obs.selectors, ", ")})
	}
	if obs.tcp > 0 {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "answers over TCP", Value: fmt.Sprint(obs.tcp)})
	}
	if len(obs.unanswered) > 0 {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "unanswered questions", Value: strings.Join(obs.unanswered, " | ")})
	}

	cl := classify(obs.domain, recs, t.cat, t.env.Outgoing)
	for _, f := range cl.Services {
		roles := make([]string, len(f.Roles))
		for i, r := range f.Roles {
			roles[i] = string(r)
		}
		ev := make([]string, len(f.Evidence))
		for i, r := range f.Evidence {
			ev[i] = r.String()
		}
		detail := map[string]string{
			"service":  f.Title,
			"roles":    strings.Join(roles, ", "),
			"evidence": strings.Join(ev, "\n"),
		}
		switch {
		case f.Provider:
			detail["operated_by"] = "outgoing provider"
		case strings.HasPrefix(f.ID, "unclassified:"):
			detail["catalogue"] = "not in the catalogue"
		default:
			detail["vendor"] = f.Vendor
			detail["source"] = f.Source
		}
		sys.Findings = append(sys.Findings, connector.Finding{
			ID:      connector.KindCloudService + ":" + obs.domain + ":" + f.ID,
			Kind:    connector.KindCloudService,
			Object:  f.Title,
			Summary: fmt.Sprintf("%s: %s (%d record(s))", f.Title, strings.Join(roles, ", "), len(f.Evidence)),
			Detail:  detail,
		})
		seen := map[string]bool{}
		for _, r := range f.Roles {
			if k := r.link(); !seen[k] {
				seen[k] = true
				sys.Links = append(sys.Links, connector.Link{To: f.Title, Kind: k, Provider: f.Provider, Why: clipWhy(f.First[r].String())})
			}
		}
	}
	for _, p := range cl.Provider {
		sys.Findings = append(sys.Findings, connector.Finding{
			ID:       connector.KindDNSRecord + ":" + p.Record.Name + ":" + p.Record.Type + ":" + p.Record.Value,
			Kind:     connector.KindDNSRecord,
			Object:   p.Record.Name + " " + p.Record.Type,
			Summary:  fmt.Sprintf("%s (%s) points at the outgoing provider", p.Record, p.Role),
			Provider: true,
			Reasons:  p.Reasons,
			Detail:   map[string]string{"record": p.Record.String(), "role": string(p.Role), "action": "change it at the DNS host once the provider's service is replaced"},
		})
	}
}

// clipWhy shortens a record for the schéma's table (a DKIM key is long);
// the finding's evidence keeps it whole.
func clipWhy(s string) string {
	const most = 96
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}

// Plan changes nothing: DNS records are changed at the DNS host, by hand.
func (t *Target) Plan(inv *connector.Inventory, d connector.Decisions) ([]plan.Change, error) {
	return nil, nil
}

// Close has nothing to release: every question is its own exchange.
func (t *Target) Close() error { return nil }
