package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// Well-known OIDs.
const (
	oidADCapability   = "1.2.840.113556.1.4.800" // LDAP_CAP_ACTIVE_DIRECTORY_OID
	oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"
	oidPPolicyControl = "1.3.6.1.4.1.42.2.27.8.5.1"
	oidInChain        = "1.2.840.113556.1.4.1941" // LDAP_MATCHING_RULE_IN_CHAIN
)

// serverInfo is what the RootDSE (and, for AD, the domain object) says.
type serverInfo struct {
	Dialect        string
	BaseDN         string
	NamingContexts []string
	Realm          string // AD
	DomainSID      []byte // AD
	PasswordModify bool   // RFC 3062 extended operation offered
	Facts          []connector.Fact
}

func (t *Target) readInfo(ctx context.Context, sess *session) (*serverInfo, error) {
	root, err := sess.read(ctx, "", "*", "+")
	if err != nil {
		return nil, fmt.Errorf("RootDSE: %w", err)
	}
	if root == nil {
		return nil, errors.New("RootDSE: the server returned nothing")
	}
	info := &serverInfo{NamingContexts: root.GetEqualFoldAttributeValues("namingContexts")}
	caps := root.GetEqualFoldAttributeValues("supportedCapabilities")
	switch {
	case t.s.Dialect != auto:
		info.Dialect = t.s.Dialect
	case slices.Contains(caps, oidADCapability):
		info.Dialect = AD
	default:
		info.Dialect = OpenLDAP
	}
	info.PasswordModify = slices.Contains(root.GetEqualFoldAttributeValues("supportedExtension"), oidPasswordModify)
	info.BaseDN = t.s.BaseDN
	if info.BaseDN == "" {
		info.BaseDN = root.GetEqualFoldAttributeValue("defaultNamingContext")
	}
	if info.BaseDN == "" && len(info.NamingContexts) > 0 {
		info.BaseDN = info.NamingContexts[0]
	}
	if info.BaseDN == "" {
		return nil, errors.New("RootDSE names no naming context: set base_dn")
	}
	add := func(name, value string) {
		if value != "" {
			info.Facts = append(info.Facts, connector.Fact{Name: name, Value: value})
		}
	}
	add("dialect", info.Dialect)
	add("base_dn", info.BaseDN)
	add("naming_contexts", strings.Join(info.NamingContexts, "; "))
	add("vendor", root.GetEqualFoldAttributeValue("vendorName"))
	add("vendor_version", root.GetEqualFoldAttributeValue("vendorVersion"))
	add("dns_host_name", root.GetEqualFoldAttributeValue("dnsHostName"))
	add("domain_functionality", root.GetEqualFoldAttributeValue("domainFunctionality"))
	add("forest_functionality", root.GetEqualFoldAttributeValue("forestFunctionality"))
	add("sasl_mechanisms", strings.Join(root.GetEqualFoldAttributeValues("supportedSASLMechanisms"), " "))
	if slices.Contains(root.GetEqualFoldAttributeValues("supportedControl"), oidPPolicyControl) {
		add("password_policy_control", "supported")
	}
	if info.Dialect == AD {
		info.Realm = t.s.Realm
		if info.Realm == "" {
			// ldapServiceName is "dns.domain:host$@REALM".
			if _, r, ok := strings.Cut(root.GetEqualFoldAttributeValue("ldapServiceName"), "@"); ok {
				info.Realm = strings.ToUpper(r)
			}
		}
		if info.Realm == "" {
			info.Realm = realmOf(info.BaseDN)
		}
		add("kerberos_realm", info.Realm)
		dom, err := sess.read(ctx, info.BaseDN, "objectSid")
		if err != nil {
			return nil, err
		}
		if dom != nil {
			info.DomainSID = dom.GetEqualFoldRawAttributeValue("objectSid")
		}
		if len(info.DomainSID) == 0 {
			return nil, fmt.Errorf("%s has no objectSid: is base_dn the domain's root?", info.BaseDN)
		}
		add("domain_sid", sidString(info.DomainSID))
	}
	return info, nil
}

// realmOf derives a Kerberos realm from a domain DN: DC=ad,DC=example,DC=test
// is AD.EXAMPLE.TEST.
func realmOf(dn string) string {
	var labels []string
	for _, part := range strings.Split(dn, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "dc") {
			labels = append(labels, strings.ToUpper(v))
		}
	}
	return strings.Join(labels, ".")
}
