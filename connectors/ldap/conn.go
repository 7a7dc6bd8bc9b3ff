package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/crashpoint"
)

// defaultRequestTimeout bounds one LDAP request when the context has no
// earlier deadline.
const defaultRequestTimeout = 30 * time.Second

// session is one LDAP connection and whether it is encrypted.
type session struct {
	conn      *ldap.Conn
	encrypted bool
}

// modify sends one modify request. A test build can be killed while it
// is in flight (crashpoint "ldap-modify"); the shipped binary cannot.
func (s *session) modify(req *ldap.ModifyRequest) error {
	defer crashpoint.Enter("ldap-modify")()
	return s.conn.Modify(req)
}

// passwordModify sends one Password Modify extended request (RFC 3062),
// in flight as modify is.
func (s *session) passwordModify(req *ldap.PasswordModifyRequest) (*ldap.PasswordModifyResult, error) {
	defer crashpoint.Enter("ldap-modify")()
	return s.conn.PasswordModify(req)
}

func (s *session) Close() error {
	if s == nil || s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// dial opens a connection: TLS from the first byte for ldaps://, StartTLS
// for ldap://. Without TLS (StartTLS refused) the connection is only
// returned when insecure is allowed, and says so.
func dial(ctx context.Context, s *settings, tlsConf *tls.Config) (*session, error) {
	host := s.URL.Host
	if s.URL.Port() == "" {
		if s.URL.Scheme == "ldaps" {
			host = net.JoinHostPort(s.URL.Hostname(), "636")
		} else {
			host = net.JoinHostPort(s.URL.Hostname(), "389")
		}
	}
	d := net.Dialer{Timeout: requestTimeout(ctx)}
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", host, err)
	}
	raw = crashpoint.Conn(raw)
	if s.URL.Scheme == "ldaps" {
		tc := tls.Client(raw, tlsConf)
		hctx, cancel := context.WithTimeout(ctx, requestTimeout(ctx))
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS with %s: %w", host, err)
		}
		conn := ldap.NewConn(tc, true)
		conn.Start()
		conn.SetTimeout(requestTimeout(ctx))
		return &session{conn: conn, encrypted: true}, nil
	}
	conn := ldap.NewConn(raw, false)
	conn.Start()
	conn.SetTimeout(requestTimeout(ctx))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.StartTLS(tlsConf); err != nil {
		conn.Close()
		if !s.AllowInsecure || !startTLSRefused(err) {
			// A failed handshake (a certificate that does not verify:
			// perhaps someone in the middle) never falls back to plain
			// text, whatever the playbook allows.
			return nil, fmt.Errorf("StartTLS with %s: %w", host, err)
		}
		// The server itself refused StartTLS: start over in plain text,
		// as the playbook allows.
		conn.Close()
		raw, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", host, err)
		}
		conn = ldap.NewConn(crashpoint.Conn(raw), false)
		conn.Start()
		conn.SetTimeout(requestTimeout(ctx))
		return &session{conn: conn, encrypted: false}, nil
	}
	return &session{conn: conn, encrypted: true}, nil
}

// startTLSRefused reports a StartTLS the server answered with an LDAP
// error (not offered, unwilling), as opposed to a failed TLS handshake or
// network error, which go-ldap reports with its client-side codes (200 and
// up).
func startTLSRefused(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// requestTimeout is the time left before ctx's deadline, capped at
// defaultRequestTimeout.
func requestTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < defaultRequestTimeout {
			return max(left, time.Millisecond)
		}
	}
	return defaultRequestTimeout
}

// guard closes the connection if ctx ends while a request is running, so
// no request outlives its context; it returns the function that disarms
// it.
func (s *session) guard(ctx context.Context) func() bool {
	s.conn.SetTimeout(requestTimeout(ctx))
	return context.AfterFunc(ctx, func() { s.conn.Close() })
}

// bind authenticates with a simple bind. It refuses to send a password
// over a connection that is not encrypted unless insecure is true.
func (s *session) bind(ctx context.Context, dn, password string, insecure bool) error {
	if !s.encrypted && !insecure {
		return fmt.Errorf("refusing to send the password of %s over an unencrypted connection", dn)
	}
	defer s.guard(ctx)()
	if err := s.conn.Bind(dn, password); err != nil {
		return fmt.Errorf("bind %s: %w", dn, err)
	}
	return nil
}

// isInvalidCredentials reports a bind refused for the credential itself
// (wrong password, locked, disabled), as opposed to a failure to ask.
func isInvalidCredentials(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials)
}

// pageFunc receives each entry of a paged search.
type pageFunc func(*ldap.Entry) error

// search runs a paged search (RFC 2696), handing each entry to fn as it
// arrives: memory stays bounded by the page size whatever the directory's
// size. Referrals (AD returns them for its other partitions when a search
// starts at the domain root) are counted, not followed.
func (s *session) search(ctx context.Context, base string, scope int, filter string, attrs []string, pageSize int, fn pageFunc) (referrals int, err error) {
	defer s.guard(ctx)()
	paging := ldap.NewControlPaging(uint32(pageSize))
	for {
		req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, []ldap.Control{paging})
		sctx, cancel := context.WithCancel(ctx)
		resp := s.conn.SearchAsync(sctx, req, pageSize)
		var cookie []byte
		for resp.Next() {
			if e := resp.Entry(); e != nil {
				if err := fn(e); err != nil {
					cancel()
					return referrals, err
				}
				continue
			}
			if resp.Referral() != "" {
				referrals++
				continue
			}
			if c, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				cookie = c.Cookie
			}
		}
		err := resp.Err()
		cancel()
		if err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || ldap.IsErrorWithCode(err, ldap.LDAPResultReferral) {
				return referrals, nil
			}
			return referrals, fmt.Errorf("search %s %s: %w", base, filter, err)
		}
		if err := ctx.Err(); err != nil {
			return referrals, err
		}
		if len(cookie) == 0 {
			return referrals, nil
		}
		paging.SetCookie(cookie)
	}
}

// read returns one entry, or nil when it does not exist.
func (s *session) read(ctx context.Context, dn string, attrs ...string) (*ldap.Entry, error) {
	defer s.guard(ctx)()
	res, err := s.conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", attrs, nil))
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || ldap.IsErrorWithCode(err, ldap.LDAPResultReferral) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", dn, err)
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}

// values returns an attribute's values, following AD's ranged retrieval
// ("member;range=0-1499") for groups with more members than the server
// returns at once.
func (s *session) values(ctx context.Context, e *ldap.Entry, attr string) ([]string, error) {
	if v := e.GetEqualFoldAttributeValues(attr); len(v) > 0 {
		return v, nil
	}
	var out []string
	cur := e
	for {
		var ranged *ldap.EntryAttribute
		for _, a := range cur.Attributes {
			if name, rng, ok := strings.Cut(a.Name, ";"); ok && strings.EqualFold(name, attr) && strings.HasPrefix(strings.ToLower(rng), "range=") {
				ranged = a
			}
		}
		if ranged == nil {
			return out, nil
		}
		out = append(out, ranged.Values...)
		_, rng, _ := strings.Cut(ranged.Name, "=")
		lo, hi, _ := strings.Cut(rng, "-")
		if hi == "*" {
			return out, nil
		}
		var start, end int
		if _, err := fmt.Sscanf(lo+" "+hi, "%d %d", &start, &end); err != nil {
			return nil, fmt.Errorf("read %s: bad range %q", e.DN, ranged.Name)
		}
		next, err := s.read(ctx, e.DN, fmt.Sprintf("%s;range=%d-*", attr, end+1))
		if err != nil {
			return nil, err
		}
		if next == nil {
			return out, nil
		}
		cur = next
	}
}

// ldapMessage is the server's own words in an LDAP error, for reports and
// rejections.
func ldapMessage(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) {
		msg := strings.TrimSpace(le.Err.Error())
		if msg == "" {
			return ldap.LDAPResultCodeMap[le.ResultCode]
		}
		return msg
	}
	return err.Error()
}
