package playbook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/playbook"
)

func TestWatchSection(t *testing.T) {
	src := `version: 1
handover:
  client: {name: Mairie}
  outgoing: {name: Prestanet}
secrets:
  file: {path: s.age, identity: key.txt}
outgoing:
  domains: [prestanet.fr]
targets:
  - {name: srv, type: ssh}
watch:
  cron: "30 6 * * 1-5"
  jitter: 0s
  remind: 1d
  notify:
    webhook: {url: "https://hooks.mairie.test/h", secret: "${file:hook.key}"}
    email:
      smtp: smtp.mairie.test:587
      from: handover@mairie.test
      to: [dsi@mairie.test, astreinte@mairie.test]
      user: handover
      password: ${vault:handover/smtp#password}
      ca_cert: ca.pem
`
	pb, d := playbook.Parse("m.yaml", []byte(src))
	if diags := d.Diagnostics(); len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
	w := pb.Watch
	if w == nil || w.Cron != "30 6 * * 1-5" || w.Jitter == nil || *w.Jitter != 0 || w.Remind != 24*time.Hour {
		t.Fatalf("watch: %+v", w)
	}
	from := time.Date(2026, 12, 4, 7, 0, 0, 0, time.UTC) // a Friday
	if next := w.Schedule().Next(from); !next.Equal(time.Date(2026, 12, 7, 6, 30, 0, 0, time.UTC)) {
		t.Errorf("next check after %s: %s", from, next)
	}
	if h := w.Webhook; h == nil || h.URL != "https://hooks.mairie.test/h" || h.Secret.String() != "${file:hook.key}" {
		t.Errorf("webhook: %+v", h)
	}
	if e := w.Email; e == nil || e.SMTP != "smtp.mairie.test:587" || len(e.To) != 2 || e.User != "handover" ||
		e.Password.String() != "${vault:handover/smtp#password}" || e.CACert != "ca.pem" {
		t.Errorf("email: %+v", e)
	}
	// The references are resolved (and linted) like the playbook's others.
	n := 0
	for _, r := range d.Refs() {
		if r.Kind == "file" && r.Arg == "hook.key" || r.Kind == "vault" && r.Arg == "handover/smtp" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("the watch section's references are not among the playbook's: %+v", d.Refs())
	}
	pb, _ = playbook.Parse("m.yaml", []byte(src[:strings.Index(src, "watch:")]+"watch: {interval: 15m}\n"))
	if s := pb.Watch.Schedule(); s == nil || s.Next(from).Sub(from) != 15*time.Minute {
		t.Errorf("interval schedule: %v", s)
	}
}
