package dns

import (
	"bytes"
	_ "embed"
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed catalog.yaml
var builtinCatalog []byte

// Service is one catalogue entry: a cloud service and the DNS evidence
// that says a domain uses it. Patterns are shell globs on the record's
// value, compared in lower case (catalog.yaml says which value each
// signal kind carries).
type Service struct {
	ID     string   `yaml:"id"`
	Title  string   `yaml:"title"`
	Vendor string   `yaml:"vendor"`
	Source string   `yaml:"source"`
	MX     []string `yaml:"mx"`
	SPF    []string `yaml:"spf"`
	TXT    []string `yaml:"txt"`
	CNAME  []string `yaml:"cname"`
	SRV    []string `yaml:"srv"`
	DMARC  []string `yaml:"dmarc"`
	NS     []string `yaml:"ns"`
	CAA    []string `yaml:"caa"`
	DKIM   []string `yaml:"dkim"`
}

// patterns returns the entry's patterns for a signal kind.
func (s *Service) patterns(k signalKind) []string {
	switch k {
	case sigMX:
		return s.MX
	case sigSPF:
		return s.SPF
	case sigTXT:
		return s.TXT
	case sigCNAME:
		return s.CNAME
	case sigSRV:
		return s.SRV
	case sigDMARC:
		return s.DMARC
	case sigNS, sigSOA:
		return s.NS
	case sigCAA:
		return s.CAA
	case sigDKIM:
		return s.DKIM
	}
	return nil
}

// Catalog is the ordered list of services, ids unique.
type Catalog struct {
	Services []Service `yaml:"services"`
}

// BuiltinCatalog returns the embedded catalogue. Its tests validate it, so
// an error here is a build defect.
func BuiltinCatalog() (*Catalog, error) {
	var c Catalog
	dec := yaml.NewDecoder(bytes.NewReader(builtinCatalog))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("built-in cloud service catalogue: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("built-in cloud service catalogue: %w", err)
	}
	return &c, nil
}

func (c *Catalog) validate() error {
	seen := map[string]bool{}
	for _, s := range c.Services {
		if s.ID == "" || s.Title == "" || s.Vendor == "" || !strings.HasPrefix(s.Source, "https://") {
			return fmt.Errorf("service %q: id, title, vendor and an https source are required", s.ID)
		}
		if seen[s.ID] {
			return fmt.Errorf("service %q is listed twice", s.ID)
		}
		seen[s.ID] = true
		for _, k := range allSignals {
			for _, p := range s.patterns(k) {
				if p != strings.ToLower(p) {
					return fmt.Errorf("service %q: %s pattern %q: write patterns in lower case", s.ID, k, p)
				}
				if _, err := path.Match(p, ""); err != nil {
					return fmt.Errorf("service %q: %s pattern %q: %v", s.ID, k, p, err)
				}
			}
		}
	}
	return nil
}

// match returns the first service whose patterns for the signal's kind
// match its value.
func (c *Catalog) match(sg signal) (*Service, string) {
	v := strings.ToLower(sg.value)
	for i := range c.Services {
		s := &c.Services[i]
		for _, p := range s.patterns(sg.kind) {
			if ok, _ := path.Match(p, v); ok {
				return s, p
			}
		}
	}
	return nil, ""
}
