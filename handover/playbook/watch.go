package playbook

import (
	"net"
	"net/mail"
	"net/url"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// WatchSettings are how `handover serve` watches this playbook: when it
// checks and whom it tells of a change of state. serve's flags override
// them.
//
//	watch:
//	  interval: 1h              # or cron: "0 6 * * 1-5" (5 fields, UTC)
//	  jitter: 2m
//	  remind: 24h
//	  notify:
//	    webhook:
//	      url: https://hooks.example.net/handover
//	      secret: ${file:secrets/webhook.key}     # HMAC-SHA256 key
//	    email:
//	      smtp: smtp.example.net:587              # STARTTLS required
//	      from: handover@client.example
//	      to: [dsi@client.example]
//	      user: handover
//	      password: ${vault:handover/smtp#password}
//	      ca_cert: smtp-ca.pem
//
// Secrets (the HMAC key, the SMTP password) are credential references,
// never values.
type WatchSettings struct {
	Interval time.Duration
	// Cron is a standard cron expression (or @hourly, @every 30m...),
	// checked when the playbook is read.
	Cron string
	// Jitter, when set, overrides serve's default (nil: not written).
	Jitter  *time.Duration
	Remind  time.Duration
	Webhook *WebhookSettings
	Email   *EmailSettings
	Pos     Pos
}

// WebhookSettings: a JSON POST to URL, its body signed with HMAC-SHA256
// keyed by Secret.
type WebhookSettings struct {
	URL    string
	Secret Ref
	Pos    Pos
}

// EmailSettings: notifications sent through an SMTP server with STARTTLS.
type EmailSettings struct {
	SMTP     string // HOST:PORT
	From     string
	To       []string
	User     string
	Password Ref
	CACert   string // PEM file, relative to the playbook
	Pos      Pos
}

// Schedule is the watch's schedule (nil when the playbook sets none).
func (w *WatchSettings) Schedule() cron.Schedule {
	switch {
	case w == nil:
		return nil
	case w.Cron != "":
		s, err := cron.ParseStandard(w.Cron)
		if err != nil {
			return nil
		}
		return s
	case w.Interval > 0:
		return cron.Every(w.Interval)
	}
	return nil
}

func decodeWatch(d *Decoder, n *yaml.Node) *WatchSettings {
	w := &WatchSettings{Pos: d.Pos(n)}
	var intervalNode, cronNode *yaml.Node
	d.Map(n, "watch", map[string]Field{
		"interval": {Decode: func(n *yaml.Node) {
			intervalNode = n
			w.Interval = d.Duration(n, "watch.interval")
			if w.Interval > 0 && w.Interval < time.Second {
				d.Errorf(n, "watch.interval: at least 1s")
			} else if w.Interval == 0 && n.Value != "" {
				d.Errorf(n, "watch.interval: must be more than 0")
			}
		}},
		"cron": {Decode: func(n *yaml.Node) {
			cronNode = n
			w.Cron = d.NonEmpty(n, "watch.cron")
			if w.Cron != "" {
				if _, err := cron.ParseStandard(w.Cron); err != nil {
					d.Errorf(n, "watch.cron %q: %v (5 fields: minute hour day-of-month month day-of-week, in UTC; or @hourly, @daily, @every 30m)", w.Cron, err)
				}
			}
		}},
		"jitter": {Decode: func(n *yaml.Node) { j := d.Duration(n, "watch.jitter"); w.Jitter = &j }},
		"remind": {Decode: func(n *yaml.Node) { w.Remind = d.Duration(n, "watch.remind") }},
		"notify": {Decode: func(n *yaml.Node) {
			d.Map(n, "watch.notify", map[string]Field{
				"webhook": {Decode: func(n *yaml.Node) { w.Webhook = decodeWebhook(d, n) }},
				"email":   {Decode: func(n *yaml.Node) { w.Email = decodeEmail(d, n) }},
			})
		}},
	})
	if intervalNode != nil && cronNode != nil {
		d.Errorf(cronNode, "watch: give interval or cron, not both (interval is at %s)", d.Pos(intervalNode))
	}
	return w
}

// noPrompt refuses a ${prompt:...} reference where serve, which asks no
// one, resolves it.
func noPrompt(d *Decoder, n *yaml.Node, r Ref, what string) {
	if r.Kind == "prompt" {
		d.Errorf(n, "%s: handover serve asks no one: use ${file:...}, ${env:...} or ${vault:...}", what)
	}
}

func decodeWebhook(d *Decoder, n *yaml.Node) *WebhookSettings {
	h := &WebhookSettings{Pos: d.Pos(n)}
	d.Map(n, "watch.notify.webhook", map[string]Field{
		"url": {Required: true, Decode: func(n *yaml.Node) {
			h.URL = d.NonEmpty(n, "watch.notify.webhook.url")
			if h.URL == "" {
				return
			}
			u, err := url.Parse(h.URL)
			switch {
			case err != nil:
				d.Errorf(n, "watch.notify.webhook.url: %v", err)
			case (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
				d.Errorf(n, "watch.notify.webhook.url %q: an http(s) URL with a host", h.URL)
			case u.User != nil:
				d.Errorf(n, "watch.notify.webhook.url: no credentials in the URL (the body is signed with secret)")
			}
		}},
		"secret": {Decode: func(n *yaml.Node) {
			h.Secret = d.Ref(n, "watch.notify.webhook.secret")
			noPrompt(d, n, h.Secret, "watch.notify.webhook.secret")
		}},
	})
	return h
}

func decodeEmail(d *Decoder, n *yaml.Node) *EmailSettings {
	e := &EmailSettings{Pos: d.Pos(n)}
	address := func(n *yaml.Node, what string) string {
		s := d.NonEmpty(n, what)
		if s != "" {
			if a, err := mail.ParseAddress(s); err != nil || a.Name != "" {
				d.Errorf(n, "%s %q: a bare e-mail address (name@domain)", what, s)
			}
		}
		return s
	}
	d.Map(n, "watch.notify.email", map[string]Field{
		"smtp": {Required: true, Decode: func(n *yaml.Node) {
			e.SMTP = d.NonEmpty(n, "watch.notify.email.smtp")
			if e.SMTP != "" {
				if h, p, err := net.SplitHostPort(e.SMTP); err != nil || h == "" || p == "" {
					d.Errorf(n, "watch.notify.email.smtp %q: HOST:PORT (587 for submission with STARTTLS)", e.SMTP)
				}
			}
		}},
		"from": {Required: true, Decode: func(n *yaml.Node) { e.From = address(n, "watch.notify.email.from") }},
		"to": {Required: true, Decode: func(n *yaml.Node) {
			if s := resolveAlias(n); s != nil && s.Kind == yaml.ScalarNode {
				e.To = append(e.To, address(s, "watch.notify.email.to"))
				return
			}
			d.Seq(n, "watch.notify.email.to", func(item *yaml.Node) { e.To = append(e.To, address(item, "watch.notify.email.to item")) })
			if len(e.To) == 0 {
				d.Errorf(n, "watch.notify.email.to: at least one recipient")
			}
		}},
		"user": {Decode: func(n *yaml.Node) { e.User = d.NonEmpty(n, "watch.notify.email.user") }},
		"password": {Decode: func(n *yaml.Node) {
			e.Password = d.Ref(n, "watch.notify.email.password")
			noPrompt(d, n, e.Password, "watch.notify.email.password")
		}},
		"ca_cert": {Decode: func(n *yaml.Node) { e.CACert = d.NonEmpty(n, "watch.notify.email.ca_cert") }},
	})
	if !e.Password.IsZero() && e.User == "" {
		d.Errorf(n, "watch.notify.email: password without user")
	}
	return e
}
