package ssh

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
)

func decodeWithConfig(t *testing.T, config, src string) (settings, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("ssh_config: ssh_config\n"+src), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("pb.yaml")
	s := decodeSettings(d, doc.Content[0], func(p string) string { return filepath.Join(dir, p) })
	return s, d.Diagnostics().Error()
}

const sshConfigText = `# the operator's client configuration
Host srv-*
    User exploit
    IdentityFile ~/.ssh/mairie_ed25519
    UserKnownHostsFile ~/.ssh/known_hosts_mairie
    ProxyJump bastion-dmz,admin@10.0.0.1:2222

Host srv-web-01
    HostName 192.0.2.10
    Port 2201

Host bastion-dmz
    HostName dmz.mairie.example
    Port 2022

Host poste-*
    User root
`

func TestSSHConfigFillsWhatThePlaybookLeaves(t *testing.T) {
	home, _ := os.UserHomeDir()
	s, errs := decodeWithConfig(t, sshConfigText, "hosts: [srv-web-01, srv-db-01]\nauth: {agent: true}\nsudo: true\n")
	if errs != "" {
		t.Fatal(errs)
	}
	if s.User != "exploit" || s.AccessKey.User != "exploit" {
		t.Errorf("user %q, access key user %q, want exploit", s.User, s.AccessKey.User)
	}
	if want := filepath.Join(home, ".ssh/mairie_ed25519"); s.Auth.KeyFile != want {
		t.Errorf("key file %q, want %q", s.Auth.KeyFile, want)
	}
	if want := filepath.Join(home, ".ssh/known_hosts_mairie"); s.KnownHosts != want {
		t.Errorf("known hosts %q, want %q", s.KnownHosts, want)
	}
	web, db := s.Hosts[0], s.Hosts[1]
	if web.Address != "192.0.2.10" || web.Port != 2201 || db.Address != "srv-db-01" || db.Port != 22 {
		t.Errorf("hosts %+v %+v", web, db)
	}
	j := s.Jump
	if j == nil || j.Address != "10.0.0.1" || j.Port != 2222 || j.User != "admin" || len(j.Via) != 1 {
		t.Fatalf("jump %+v", j)
	}
	if v := j.Via[0]; v.Address != "dmz.mairie.example" || v.Port != 2022 || v.User != "exploit" {
		t.Errorf("first hop %+v", v)
	}
}

func TestSSHConfigPlaybookWins(t *testing.T) {
	s, errs := decodeWithConfig(t, sshConfigText, `hosts: [{name: srv-web-01, address: 10.9.9.9, port: 22}]
user: root
auth: {key_file: id_playbook}
known_hosts: kh
jump: {address: 10.1.1.1}
`)
	if errs != "" && !strings.Contains(errs, "known_hosts:") {
		t.Fatal(errs)
	}
	if s.User != "root" || !strings.HasSuffix(s.Auth.KeyFile, "id_playbook") || !strings.HasSuffix(s.KnownHosts, "kh") || s.Jump.Address != "10.1.1.1" || len(s.Jump.Via) != 0 {
		t.Errorf("the playbook did not win: %+v", s)
	}
	if h := s.Hosts[0]; h.Address != "10.9.9.9" || h.Port != 22 {
		t.Errorf("host %+v", h)
	}
}

func TestSSHConfigDisagreementIsAnError(t *testing.T) {
	_, errs := decodeWithConfig(t, sshConfigText, "hosts: [srv-web-01, poste-01]\nauth: {agent: true}\ntrust_on_first_use: true\n")
	for _, w := range []string{
		`the target's hosts disagree on User ("exploit" for srv-web-01; "root" for poste-01)`,
		`IdentityFile is "`,
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("missing %q in:\n%s", w, errs)
		}
	}
}
