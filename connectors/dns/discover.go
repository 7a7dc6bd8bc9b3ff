package dns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	mdns "github.com/miekg/dns"
)

// DefaultSelectors are the DKIM selectors asked for on every domain: those
// of the catalogue's services and the usual defaults of mail software.
var DefaultSelectors = []string{
	"selector1", "selector2", // Microsoft 365
	"google", // Google Workspace
	"default", "dkim", "mail", "smtp", "s1", "s2", "k1", "k2",
	"mailjet", "mandrill", "brevo1", "brevo2", "zmail", "gm1", "gm2", "gm3",
	"ovhmo1", "relais",
}

// wellKnownCNAMEs are names that services ask their customers to point at
// them (autodiscovery, device enrolment, webmail).
var wellKnownCNAMEs = []string{
	"autodiscover", "lyncdiscover", "sip", "enterpriseregistration", "enterpriseenrollment",
	"msoid", "www", "mail", "webmail", "smtp", "imap", "owa", "extranet", "portail",
}

// wellKnownSRVs are service records of the same kind.
var wellKnownSRVs = []string{"_sipfederationtls._tcp", "_sip._tls", "_autodiscover._tcp"}

// Record is one DNS record as read, in presentation form.
type Record struct {
	Name  string `json:"name"` // owner, without the final dot
	Type  string `json:"type"`
	Value string `json:"value"` // rdata as a zone file writes it
}

func (r Record) String() string { return r.Name + " " + r.Type + " " + r.Value }

// observation is what the questions about one domain returned.
type observation struct {
	domain  string
	records []Record
	// selectors are the DKIM selectors that answered.
	selectors []string
	// unanswered lists the questions that got no usable answer (a
	// timeout, SERVFAIL); the inventory says so, it never reads silence
	// as absence.
	unanswered []string
	// tcp counts answers too large for UDP, asked again over TCP.
	tcp int
}

type question struct {
	name  string
	qtype uint16
}

// errNoDomain is the domain's own name not existing at the resolver.
var errNoDomain = errors.New("the domain does not exist (NXDOMAIN)")

// discover asks every question about domain, at most parallel at once.
// It fails only when the domain's SOA cannot be read: then nothing else
// can be trusted.
func discover(ctx context.Context, q querier, domain string, selectors []string, parallel int) (*observation, error) {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	soa, err := q.query(ctx, domain, mdns.TypeSOA)
	if err != nil {
		return nil, err
	}
	if soa.nxdomain {
		return nil, fmt.Errorf("%s: %w", domain, errNoDomain)
	}
	if len(soaOf(soa.rrs)) == 0 {
		return nil, fmt.Errorf("%s: no SOA record: the name exists but is not a zone's apex", domain)
	}
	obs := &observation{domain: domain}
	obs.add(soa)

	qs := []question{{domain, mdns.TypeNS}, {domain, mdns.TypeMX}, {domain, mdns.TypeTXT}, {domain, mdns.TypeCAA}, {"_dmarc." + domain, mdns.TypeTXT}}
	for _, s := range selectors {
		qs = append(qs, question{s + "._domainkey." + domain, mdns.TypeTXT})
	}
	for _, n := range wellKnownCNAMEs {
		qs = append(qs, question{n + "." + domain, mdns.TypeCNAME})
	}
	for _, n := range wellKnownSRVs {
		qs = append(qs, question{n + "." + domain, mdns.TypeSRV})
	}

	answers := make([]answer, len(qs))
	errs := make([]error, len(qs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(parallel, 1))
	for i, qu := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			answers[i], errs[i] = q.query(ctx, qu.name, qu.qtype)
		}()
	}
	wg.Wait()
	for i, qu := range qs {
		if errs[i] != nil {
			obs.unanswered = append(obs.unanswered, errs[i].Error())
			continue
		}
		obs.add(answers[i])
		if sel, ok := strings.CutSuffix(qu.name, "._domainkey."+domain); ok && len(answers[i].rrs) > 0 {
			obs.selectors = append(obs.selectors, sel)
		}
	}
	return obs, nil
}

func (o *observation) add(a answer) {
	if a.tcp {
		o.tcp++
	}
	for _, rr := range a.rrs {
		r := recordOf(rr)
		if !slices.Contains(o.records, r) {
			o.records = append(o.records, r)
		}
	}
}

func soaOf(rrs []mdns.RR) []*mdns.SOA {
	var out []*mdns.SOA
	for _, rr := range rrs {
		if s, ok := rr.(*mdns.SOA); ok {
			out = append(out, s)
		}
	}
	return out
}

// recordOf is rr in presentation form, without owner TTL and class.
func recordOf(rr mdns.RR) Record {
	h := rr.Header()
	r := Record{Name: strings.TrimSuffix(strings.ToLower(h.Name), "."), Type: mdns.TypeToString[h.Rrtype]}
	switch v := rr.(type) {
	case *mdns.TXT:
		r.Value = strings.Join(v.Txt, "")
	case *mdns.MX:
		r.Value = fmt.Sprintf("%d %s", v.Preference, host(v.Mx))
	case *mdns.NS:
		r.Value = host(v.Ns)
	case *mdns.CNAME:
		r.Value = host(v.Target)
	case *mdns.SRV:
		r.Value = fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, host(v.Target))
	case *mdns.SOA:
		r.Value = fmt.Sprintf("%s %s %d", host(v.Ns), host(v.Mbox), v.Serial)
	case *mdns.CAA:
		r.Value = fmt.Sprintf("%d %s %q", v.Flag, v.Tag, v.Value)
	default:
		s := rr.String()
		r.Value = strings.TrimSpace(strings.TrimPrefix(s, h.String()))
	}
	return r
}

func host(fqdn string) string { return strings.TrimSuffix(strings.ToLower(fqdn), ".") }
