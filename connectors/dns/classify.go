package dns

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// signalKind is what a record says about a service (catalog.yaml's keys).
type signalKind string

const (
	sigMX    signalKind = "mx"
	sigSPF   signalKind = "spf"
	sigTXT   signalKind = "txt"
	sigCNAME signalKind = "cname"
	sigSRV   signalKind = "srv"
	sigDMARC signalKind = "dmarc"
	sigNS    signalKind = "ns"
	sigSOA   signalKind = "soa" // the SOA's primary name server: matched as ns
	sigCAA   signalKind = "caa"
	sigDKIM  signalKind = "dkim"
	// sigContact is an address a record publishes (SOA contact, a CAA
	// iodef): only the provider is looked for in it.
	sigContact signalKind = "contact"
)

var allSignals = []signalKind{sigMX, sigSPF, sigTXT, sigCNAME, sigSRV, sigDMARC, sigNS, sigCAA, sigDKIM}

// Role is what a service does for the domain, as its records say.
type Role string

const (
	RoleMail         Role = "mail reception (MX)"
	RoleSending      Role = "mail sending (SPF)"
	RoleSigning      Role = "mail signing (DKIM)"
	RoleReports      Role = "DMARC reports"
	RoleDNS          Role = "DNS hosting (NS/SOA)"
	RoleVerification Role = "domain verification (TXT)"
	RoleEndpoint     Role = "service endpoint (CNAME/SRV)"
	RoleCertificates Role = "certificate issuance (CAA)"
	RoleContact      Role = "zone contact"
)

// Link kinds drawn in the schéma de principe from a domain to a service.
const (
	LinkMail    = "mail handled by"
	LinkDNS     = "zone hosted by"
	LinkAccount = "account at"
)

func (r Role) link() string {
	switch r {
	case RoleMail, RoleSending, RoleSigning, RoleReports:
		return LinkMail
	case RoleDNS, RoleContact:
		return LinkDNS
	}
	return LinkAccount
}

// signal is one thing a record says: its kind, the value matched against
// the catalogue, and the role it gives the service.
type signal struct {
	kind   signalKind
	value  string
	role   Role
	record Record
}

// signals reads the records of one domain.
func signals(domain string, recs []Record) []signal {
	var out []signal
	add := func(k signalKind, v string, role Role, r Record) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, signal{k, v, role, r})
		}
	}
	for _, r := range recs {
		_, dkimOwner := strings.CutSuffix(r.Name, "._domainkey."+domain)
		switch {
		case r.Type == "SOA":
			f := strings.Fields(r.Value)
			if len(f) >= 2 {
				add(sigSOA, f[0], RoleDNS, r)
				add(sigContact, mboxAddress(f[1]), RoleContact, r)
			}
		case r.Type == "NS":
			add(sigNS, r.Value, RoleDNS, r)
		case r.Type == "MX":
			if _, h, ok := strings.Cut(r.Value, " "); ok {
				add(sigMX, h, RoleMail, r)
			}
		case r.Type == "CAA":
			f := strings.Fields(r.Value)
			if len(f) >= 3 {
				v := strings.Trim(strings.Join(f[2:], " "), `"`)
				if f[1] == "iodef" {
					add(sigContact, strings.TrimPrefix(v, "mailto:"), RoleCertificates, r)
				} else {
					issuer, _, _ := strings.Cut(v, ";")
					add(sigCAA, issuer, RoleCertificates, r)
				}
			}
		case r.Type == "TXT" && r.Name == "_dmarc."+domain:
			for _, a := range dmarcAddresses(r.Value) {
				add(sigDMARC, a, RoleReports, r)
			}
		case r.Type == "TXT" && dkimOwner:
			sel, _, _ := strings.Cut(r.Name, ".")
			add(sigDKIM, sel, RoleSigning, r)
		case r.Type == "CNAME" && dkimOwner:
			add(sigCNAME, r.Value, RoleSigning, r)
		case r.Type == "TXT" && r.Name == domain:
			if isSPF(r.Value) {
				for _, d := range spfDomains(r.Value) {
					add(sigSPF, d, RoleSending, r)
				}
				continue
			}
			add(sigTXT, r.Value, RoleVerification, r)
		case r.Type == "CNAME":
			add(sigCNAME, r.Value, RoleEndpoint, r)
		case r.Type == "SRV":
			f := strings.Fields(r.Value)
			add(sigSRV, f[len(f)-1], RoleEndpoint, r)
		}
	}
	return out
}

func isSPF(txt string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(txt)), "v=spf1")
}

// spfDomains are the domains an SPF record delegates to (include:,
// redirect=).
func spfDomains(txt string) []string {
	var out []string
	for _, t := range strings.Fields(strings.ToLower(txt)) {
		t = strings.TrimLeft(t, "+-~?")
		if d, ok := strings.CutPrefix(t, "include:"); ok {
			out = append(out, d)
		} else if d, ok := strings.CutPrefix(t, "redirect="); ok {
			out = append(out, d)
		}
	}
	return out
}

// dmarcAddresses are the rua and ruf report addresses of a DMARC record,
// without "mailto:" and any size limit ("!10m").
func dmarcAddresses(txt string) []string {
	var out []string
	for _, tag := range strings.Split(txt, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(tag), "=")
		if !ok {
			continue
		}
		if k = strings.ToLower(strings.TrimSpace(k)); k != "rua" && k != "ruf" {
			continue
		}
		for _, u := range strings.Split(v, ",") {
			u = strings.TrimSpace(u)
			u, _, _ = strings.Cut(u, "!")
			if a, ok := strings.CutPrefix(strings.ToLower(u), "mailto:"); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// mboxAddress turns an SOA mailbox ("hostmaster.example.org") into the
// address it stands for.
func mboxAddress(mbox string) string {
	local, dom, ok := strings.Cut(mbox, ".")
	if !ok {
		return mbox
	}
	return strings.ReplaceAll(local, `\`, "") + "@" + dom
}

// matchValue is a signal's value as the catalogue matches it: the domain
// of a DMARC address.
func (s signal) matchValue() string {
	if s.kind == sigDMARC {
		if _, d, ok := strings.Cut(s.value, "@"); ok {
			return d
		}
	}
	return s.value
}

// Found is one service a domain uses, and the records that say so.
type Found struct {
	ID, Title, Vendor, Source string
	// Provider: the service is the outgoing provider itself (records
	// pointing at its domains that no catalogue entry claims).
	Provider bool
	Roles    []Role
	Evidence []Record
	// First is the first record that gave the service each role.
	First map[Role]Record
}

// ProviderRecord is a record that points at the outgoing provider.
type ProviderRecord struct {
	Record  Record
	Role    Role
	Reasons []string
}

// Classified is what one domain's records say.
type Classified struct {
	Services []Found
	Provider []ProviderRecord
}

// classify attributes a domain's records to services of the catalogue,
// to the outgoing provider, or, for a verification record or a host
// nobody claims, to an unclassified service named after it.
func classify(domain string, recs []Record, cat *Catalog, out connector.Outgoing) Classified {
	var c Classified
	idx := map[string]int{}
	found := func(id, title, vendor, source string, provider bool, sg signal) {
		i, ok := idx[id]
		if !ok {
			i = len(c.Services)
			idx[id] = i
			c.Services = append(c.Services, Found{ID: id, Title: title, Vendor: vendor, Source: source, Provider: provider, First: map[Role]Record{}})
		}
		f := &c.Services[i]
		if !slices.Contains(f.Roles, sg.role) {
			f.Roles = append(f.Roles, sg.role)
			f.First[sg.role] = sg.record
		}
		if !slices.Contains(f.Evidence, sg.record) {
			f.Evidence = append(f.Evidence, sg.record)
		}
	}
	provIdx := map[Record]int{}
	for _, sg := range signals(domain, recs) {
		why := providerReasons(sg, out)
		if len(why) > 0 {
			if i, ok := provIdx[sg.record]; ok {
				for _, w := range why {
					if !slices.Contains(c.Provider[i].Reasons, w) {
						c.Provider[i].Reasons = append(c.Provider[i].Reasons, w)
					}
				}
			} else {
				provIdx[sg.record] = len(c.Provider)
				c.Provider = append(c.Provider, ProviderRecord{Record: sg.record, Role: sg.role, Reasons: why})
			}
		}
		if sg.kind == sigContact {
			if d := out.Domain(sg.value); d != "" {
				found("provider:"+d, d, "", "", true, sg)
			}
			continue
		}
		if s, _ := cat.match(signal{kind: sg.kind, value: sg.matchValue()}); s != nil {
			found(s.ID, s.Title, s.Vendor, s.Source, false, sg)
			continue
		}
		if d := out.Domain(sg.matchValue()); d != "" {
			found("provider:"+d, d, "", "", true, sg)
			continue
		}
		if id, title := unclassified(domain, sg); id != "" {
			found(id, title, "", "", false, sg)
		}
	}
	return c
}

// providerReasons says why a signal points at the outgoing provider.
func providerReasons(sg signal, out connector.Outgoing) []string {
	v := sg.matchValue()
	switch sg.kind {
	case sigTXT, sigDKIM:
		return out.Text(sg.value)
	case sigDMARC:
		if d := out.Domain(sg.value); d != "" {
			return []string{fmt.Sprintf("DMARC reports go to %s, in the provider's domain %s", sg.value, d)}
		}
		return nil
	}
	if d := out.Domain(v); d != "" {
		return []string{fmt.Sprintf("%s %s is in the provider's domain %s", sg.kind, v, d)}
	}
	return nil
}

// verificationKey is how services name their domain tokens
// ("facebook-domain-verification", "adobe-idp-site-verification",
// "brevo-code", "_globalsign-domain-verification").
var verificationKey = regexp.MustCompile(`(verif|validation|domain-key|-code$|-site-)`)

// unclassified names a service no catalogue entry knows: a verification
// token by its prefix ("facebook-domain-verification"), a host by its
// last two labels. A local SPF mechanism or the domain's own hosts are no
// service.
func unclassified(domain string, sg signal) (id, title string) {
	switch sg.kind {
	case sigTXT:
		k, _, ok := strings.Cut(sg.value, "=")
		if !ok {
			k, _, ok = strings.Cut(sg.value, ":")
		}
		k = strings.ToLower(k)
		// Only what reads as a service's domain token: a TXT record of
		// another purpose (a note, a project's key) names no service.
		if !ok || strings.ContainsAny(k, " ;") || k == "" || !verificationKey.MatchString(k) {
			return "", ""
		}
		return "unclassified:" + k, k
	case sigDKIM:
		return "", ""
	}
	h := strings.ToLower(sg.matchValue())
	if h == domain || strings.HasSuffix(h, "."+domain) {
		return "", ""
	}
	labels := strings.Split(h, ".")
	if len(labels) >= 2 {
		h = strings.Join(labels[len(labels)-2:], ".")
	}
	return "unclassified:" + h, h
}
