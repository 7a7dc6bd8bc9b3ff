package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// querier asks one question and returns the answer section's records of
// the asked type, CNAMEs included. A name that does not exist, or has no
// record of the type, is an empty answer with exists false or true.
type querier interface {
	query(ctx context.Context, name string, qtype uint16) (answer, error)
}

type answer struct {
	rrs []mdns.RR
	// nxdomain: the server said the name does not exist.
	nxdomain bool
	// authoritative: the answer came from the zone's own server.
	authoritative bool
	// tcp: the UDP answer was truncated and the question asked again over
	// TCP.
	tcp bool
}

// client asks one resolver (a recursive one, or the zone's authoritative
// server) over UDP with EDNS0, and again over TCP when the answer is
// truncated.
type client struct {
	server  string // host:port
	timeout time.Duration
}

// errRcode is a server's refusal or failure to answer.
type errRcode struct {
	server, name, qtype, rcode string
}

func (e *errRcode) Error() string {
	return fmt.Sprintf("%s %s at %s: %s", e.qtype, e.name, e.server, e.rcode)
}

func (c client) query(ctx context.Context, name string, qtype uint16) (answer, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	udp := &mdns.Client{Net: "udp", Timeout: c.timeout, UDPSize: 1232}
	r, _, err := exchange(ctx, udp, m, c.server)
	var a answer
	if err == nil && r.Truncated {
		tcp := &mdns.Client{Net: "tcp", Timeout: c.timeout}
		r, _, err = exchange(ctx, tcp, m, c.server)
		a.tcp = true
	}
	if err != nil {
		return answer{}, fmt.Errorf("%s %s at %s: %w", mdns.TypeToString[qtype], name, c.server, err)
	}
	a.authoritative = r.Authoritative
	switch r.Rcode {
	case mdns.RcodeSuccess:
	case mdns.RcodeNameError:
		a.nxdomain = true
		return a, nil
	default:
		return answer{}, &errRcode{server: c.server, name: name, qtype: mdns.TypeToString[qtype], rcode: mdns.RcodeToString[r.Rcode]}
	}
	for _, rr := range r.Answer {
		t := rr.Header().Rrtype
		if t == qtype || t == mdns.TypeCNAME {
			a.rrs = append(a.rrs, rr)
		}
	}
	return a, nil
}

// exchange is one exchange bounded by ctx as well as the client's timeout.
func exchange(ctx context.Context, c *mdns.Client, m *mdns.Msg, server string) (*mdns.Msg, time.Duration, error) {
	r, rtt, err := c.ExchangeContext(ctx, m, server)
	if err == nil && r == nil {
		err = errors.New("no answer")
	}
	return r, rtt, err
}

// systemResolver returns the first name server of resolv.conf, as
// host:port.
func systemResolver(resolvConf string) (string, error) {
	cfg, err := mdns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return "", fmt.Errorf("no resolver given and none readable from %s: %w", resolvConf, err)
	}
	if len(cfg.Servers) == 0 {
		return "", fmt.Errorf("no resolver given and %s names no nameserver", resolvConf)
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

// resolverAddr normalises a resolver setting: an address, with port 53
// when it has none.
func resolverAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" || port == "" {
			return "", fmt.Errorf("%q: give host:port or an address", s)
		}
		return s, nil
	}
	if strings.Contains(s, ":") && net.ParseIP(s) == nil {
		return "", fmt.Errorf("%q: give host:port or an address", s)
	}
	return net.JoinHostPort(s, "53"), nil
}
