package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// TestSettingsErrors: every problem of a mail target is reported at its
// position, all at once.
func TestSettingsErrors(t *testing.T) {
	for _, tt := range []struct {
		name, target string
		want         []string
	}{
		{"server without ssh", "    host: m.example\n", []string{":7:5: a mail target in mode server needs ssh:"}},
		{"ssh without key or known hosts", "    host: m.example\n    ssh: {user: root}\n", []string{"ssh needs key_file or password", "ssh needs known_hosts or host_key"}},
		{"bad pin and unknown key", "    host: m.example\n    ssh: {key_file: k, host_key: 'MD5:aa'}\n    imap_tls: none\n    colour: blue\n", []string{
			`ssh.host_key: "MD5:aa" is not a SHA256 fingerprint`, `imap_tls must be one of implicit, starttls`, `colour`}},
		{"mailbox mode with ssh and masters", "    mode: mailbox\n    host: m.example\n    ssh: {key_file: k, known_hosts: kh}\n    master_users: [{login: m, password: '${env:X}'}]\n", []string{
			"ssh: is for mode server", "mode mailbox needs mailboxes:", "master_users: master users live in the server's configuration"}},
		{"literal password", "    host: m.example\n    ssh: {key_file: k, known_hosts: kh}\n    mailboxes: [{login: a@b, password: secret}]\n", []string{"mailboxes.password"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "p.yaml")
			text := "version: 1\nhandover:\n  client: {name: C}\n  outgoing: {name: P}\n  date: 2026-01-01\ntargets:\n  - name: m\n    type: mail\n" + tt.target
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			pb, d, err := playbook.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			before := len(d.Diagnostics())
			if tg := New().Configure(d, pb.Targets[0], connector.Env{}); tg != nil {
				t.Error("a target was configured from bad settings")
			}
			var got []string
			for _, diag := range d.Diagnostics()[before:] {
				got = append(got, diag.Pos.String()+": "+diag.Msg)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no %q in:\n%s", w, all)
				}
			}
		})
	}
}
