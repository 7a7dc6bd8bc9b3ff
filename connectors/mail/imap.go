package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/handoverhq/handover/handover/secret"
)

// imapMethod names how a login is tried, for the checks' words.
func (t *target) imapMethod(login string) string {
	how := "IMAPS"
	if t.s.IMAPStartTLS {
		how = "IMAP STARTTLS"
	}
	return fmt.Sprintf("fresh %s LOGIN as %s at %s (certificate verified)", how, login, t.s.IMAP)
}

// dialIMAP connects to the IMAP server over TLS: implicit, or STARTTLS
// (a server that does not offer it is refused: no credential is ever sent
// in clear). ctx's deadline bounds the whole connection.
func (t *target) dialIMAP(ctx context.Context) (*imapclient.Client, error) {
	cfg, err := t.tlsConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.s.IMAP)
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", t.s.IMAP, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	opts := &imapclient.Options{TLSConfig: cfg}
	if t.s.IMAPStartTLS {
		c, err := imapclient.NewStartTLS(conn, opts)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("imap %s: STARTTLS: %w", t.s.IMAP, err)
		}
		return c, nil
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("imaps %s: TLS: %w", t.s.IMAP, err)
	}
	return imapclient.New(tc, opts), nil
}

// imapLogin logs in as login with pw on a new connection: (true, "", nil)
// accepted; (false, the server's words, nil) refused; an error when it
// cannot tell (unreachable, TLS refused).
func (t *target) imapLogin(ctx context.Context, login string, pw secret.Secret) (bool, string, error) {
	c, err := t.dialIMAP(ctx)
	if err != nil {
		return false, "", err
	}
	defer c.Close()
	err = c.Login(login, pw.Reveal()).Wait()
	var ie *imap.Error
	switch {
	case err == nil:
		_ = c.Logout().Wait()
		return true, "", nil
	case errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo:
		return false, fmt.Sprintf("NO [%s] %s", ie.Code, ie.Text), nil
	default:
		return false, "", fmt.Errorf("imap login at %s: %w", t.s.IMAP, err)
	}
}
