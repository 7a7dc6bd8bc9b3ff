package serve

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/handoverhq/handover/handover/secret"
)

// Mailer sends events by e-mail over SMTP, always with STARTTLS (a server
// that does not offer it gets nothing) and the server's certificate
// verified; with SMTP authentication when a user is set.
type Mailer struct {
	Addr     string // host:port of the submission server
	From     string
	To       []string
	User     string
	Password secret.Secret
	// TLS verifies the server (RootCAs for a private CA); nil: the
	// system's roots, server name from Addr.
	TLS      *tls.Config
	Attempts int           // 0: 3
	Backoff  time.Duration // first wait between attempts, doubled (0: 2 s)
}

// Send mails ev to every recipient, retrying on failure.
func (m *Mailer) Send(ctx context.Context, ev Event) error {
	host, portText, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("mail: port %q: %w", portText, err)
	}
	tc := m.TLS
	if tc == nil {
		tc = &tls.Config{}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	tc.MinVersion = tls.VersionTLS12
	opts := []mail.Option{mail.WithPort(port), mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tc), mail.WithTimeout(30 * time.Second)}
	if m.User != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(m.User), mail.WithPassword(m.Password.Reveal()))
	}
	msg := mail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("mail: from %q: %w", m.From, err)
	}
	if err := msg.To(m.To...); err != nil {
		return fmt.Errorf("mail: to %v: %w", m.To, err)
	}
	msg.Subject(subject(ev))
	msg.SetBodyString(mail.TypeTextPlain, body(ev))
	attempts, wait := m.Attempts, m.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("mail: %w (last: %v)", ctx.Err(), last)
			case <-time.After(wait):
			}
			wait *= 2
		}
		c, err := mail.NewClient(host, opts...)
		if err != nil {
			return fmt.Errorf("mail: %w", err)
		}
		if last = c.DialAndSendWithContext(ctx, msg); last == nil {
			return nil
		}
	}
	return fmt.Errorf("mail via %s: %w", m.Addr, last)
}

func subject(ev Event) string {
	switch {
	case ev.To == "clean":
		return fmt.Sprintf("[handover] %s: no drift any more", ev.Playbook)
	case ev.To == "failed":
		return fmt.Sprintf("[handover] %s: the check fails", ev.Playbook)
	case ev.Reminder:
		return fmt.Sprintf("[handover] %s: still drifting (%d items), not acknowledged", ev.Playbook, ev.DriftItems)
	case ev.From == "drift":
		return fmt.Sprintf("[handover] %s: the drift changed (%d items)", ev.Playbook, ev.DriftItems)
	}
	return fmt.Sprintf("[handover] %s: drift from the signed dossier (%d items)", ev.Playbook, ev.DriftItems)
}

func body(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Playbook: %s\nCheck: %s at %s\nState: %s -> %s\n", ev.File, ev.Check, ev.Checked.UTC().Format("2006-01-02 15:04:05Z"), orDash(string(ev.From)), ev.To)
	if ev.Error != "" {
		fmt.Fprintf(&b, "\nThe check could not be made: %s\n", ev.Error)
	}
	if len(ev.Drift) > 0 {
		fmt.Fprintf(&b, "\n%d drift item(s):\n", ev.DriftItems)
		for _, d := range ev.Drift {
			where := d.Target
			if d.System != "" {
				where += "/" + d.System
			}
			fmt.Fprintf(&b, "- %s %s %s: %s\n", d.Kind, d.Change, where, d.Detail)
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
