package serve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/handover/serve"
)

// smtpServer is a real SMTP server on loopback (go-smtp) that offers
// STARTTLS with a certificate of its own CA, when tls is set, and takes
// AUTH PLAIN for one user.
type smtpServer struct {
	addr     string
	mu       sync.Mutex
	messages []string
	authed   []string
}

type smtpSession struct {
	s    *smtpServer
	user string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != "smtp-pass-123" {
			return errors.New("bad credentials")
		}
		ss.user = user
		return nil
	}), nil
}
func (ss *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *smtpSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, string(b))
	ss.s.authed = append(ss.s.authed, ss.user)
	ss.s.mu.Unlock()
	return nil
}
func (ss *smtpSession) Reset()        {}
func (ss *smtpSession) Logout() error { return nil }

func newSMTP(t *testing.T, withTLS bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }))
	srv.Domain = "localhost"
	if withTLS {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	} else {
		srv.AllowInsecureAuth = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, pool
}

// TestMailOverSTARTTLS: an event reaches a real SMTP server over
// STARTTLS with authentication; a server that offers no STARTTLS gets
// nothing, and the password is never in a message.
func TestMailOverSTARTTLS(t *testing.T) {
	srv, pool := newSMTP(t, true)
	m := &serve.Mailer{Addr: srv.addr, From: "handover@mairie.test", To: []string{"dsi@mairie.test"}, User: "alerts", Password: secret.New("smtp-pass-123"),
		TLS: &tls.Config{RootCAs: pool}, Attempts: 1}
	ev := serve.Event{Playbook: "mairie", File: "mairie.yaml", From: "clean", To: "drift", Check: "c1", Checked: time.Now(), DriftItems: 1,
		Drift: []serve.EventItem{{Target: "serveurs", System: "h1", Kind: "admin", Change: "added", Object: "intrus", Detail: "intrus is an admin now"}}}
	if err := m.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	msgs, authed := srv.messages, srv.authed
	srv.mu.Unlock()
	if len(msgs) != 1 || authed[0] != "alerts" {
		t.Fatalf("%d messages, authenticated as %v", len(msgs), authed)
	}
	for _, want := range []string{"Subject: [handover] mairie: drift from the signed dossier (1 items)", "intrus is an admin now", "admin added serveurs/h1"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("message lacks %q:\n%s", want, msgs[0])
		}
	}
	if strings.Contains(msgs[0], "smtp-pass-123") {
		t.Error("the SMTP password is in the message")
	}

	plain, _ := newSMTP(t, false)
	m.Addr = plain.addr
	if err := m.Send(context.Background(), ev); err == nil {
		t.Error("a server without STARTTLS was sent the event")
	}
	if len(plain.messages) != 0 {
		t.Errorf("a server without STARTTLS got %d message(s)", len(plain.messages))
	}
}
