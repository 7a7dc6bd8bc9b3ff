package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/handoverhq/handover/testenv"
)

func TestInstallDir(t *testing.T) {
	tests := []struct{ binary, want string }{
		{"/opt/NinjaRMMAgent/programfiles/ninjarmm-linagent", "/opt/NinjaRMMAgent"},
		{"/opt/teamviewer/tv_bin/teamviewerd", "/opt/teamviewer"},
		{"/usr/local/bin/rmmagent", "/usr/local/bin/rmmagent"},
	}
	for _, tt := range tests {
		if got := installDir(tt.binary); got != tt.want {
			t.Errorf("installDir(%q) = %q, want %q", tt.binary, got, tt.want)
		}
	}
}

func fakeEnv() *testenv.Env {
	return &testenv.Env{
		Dir:      "/state",
		CACert:   "/state/ca.pem",
		Operator: &testenv.OperatorEnv{SigningKey: "/state/sign", Identity: "dsi@example.test", PassphraseFile: "/state/pass"},
		Fleet: &testenv.FleetEnv{
			KnownHosts:  "/state/known_hosts",
			OperatorKey: "/state/operator",
			Hosts: []testenv.Host{
				{
					Name: "srv-app-01", Addr: "127.0.1.2:22", Admin: "admin",
					RootPasswordFile: "/state/h002/root", AdminPassFile: "/state/h002/admin",
					Keys: []testenv.AuthorizedKey{
						{File: "/root/.ssh/authorized_keys", Provider: true},
						{File: "/root/.ssh/authorized_keys", Provider: true},
						{File: "/home/jdupont/.ssh/authorized_keys", Provider: false},
					},
					AgentDetails: []testenv.HostAgent{
						{Name: "rustdesk", Package: "rustdesk"},
						{Name: "ninjarmm", Unit: "ninjarmm-agent.service", UnitFile: "/etc/systemd/system/ninjarmm-agent.service",
							Binary: "/opt/NinjaRMMAgent/programfiles/ninjarmm-linagent", Daemon: "ninjarmm-linage"},
					},
				},
				{Name: "srv-other-01", Addr: "127.0.1.3:22", Admin: "adminlocal"},
			},
		},
	}
}

func TestAnsibleInventory(t *testing.T) {
	inv, err := ansibleInventory(fakeEnv(), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hostVar{"srv-app-01": {
		AnsibleHost:      "127.0.1.2",
		Admin:            "admin",
		ProviderKeyFiles: []string{"/root/.ssh/authorized_keys"},
		AgentPackages:    []string{"rustdesk"},
		LooseAgents: []looseAgent{{
			Unit: "ninjarmm-agent.service", Daemon: "ninjarmm-linage",
			Paths: []string{"/opt/NinjaRMMAgent", "/etc/systemd/system/ninjarmm-agent.service"},
		}},
	}}
	if !reflect.DeepEqual(inv.Fleet.Hosts, want) {
		t.Errorf("hosts = %+v\nwant %+v", inv.Fleet.Hosts, want)
	}
}

func TestFleetPlaybook(t *testing.T) {
	pb, err := fleetPlaybook(fakeEnv(), 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	target := pb.Targets[0].(sshTarget)
	wantHosts := []sshHost{{Name: "srv-app-01", Address: "127.0.1.2"}, {Name: "srv-other-01", Address: "127.0.1.3"}}
	if !reflect.DeepEqual(target.Hosts, wantHosts) {
		t.Errorf("hosts = %+v, want %+v", target.Hosts, wantHosts)
	}
	wantFirst := handedPassword{Account: "admin", Password: "${file:/state/h002/admin}", Hosts: []string{"srv-app-01"}}
	if len(target.Passwords) != 4 || !reflect.DeepEqual(target.Passwords[1], wantFirst) {
		t.Errorf("passwords = %+v, want 4 with [1] = %+v", target.Passwords, wantFirst)
	}
	if pb.Secrets.File.Passphrase != "${file:/state/pass}" || pb.Policy.Parallel != 16 || target.Parallel != 16 {
		t.Errorf("secrets or parallel wrong: %+v %+v", pb.Secrets, pb.Policy)
	}
}

func TestFleetHostsBounds(t *testing.T) {
	for _, n := range []int{-1, 0, 3} {
		if _, err := fleetHosts(fakeEnv(), n); err == nil {
			t.Errorf("fleetHosts(%d) of a 2-host fleet: no error", n)
		}
	}
}

// TestRunWithoutDirectory: the fleet's playbooks are written when the
// testenv runs no directory (the benchmark starts only the fleet for its
// fleet part); the LDAP playbook alone needs one.
func TestRunWithoutDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HANDOVER_TESTENV_DIR", dir)
	b, err := json.Marshal(fakeEnv())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testenv.EnvFile(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := run([]string{"-hosts", "2", "-out", out}, io.Discard); err != nil {
		t.Fatalf("fleet without a directory: %v", err)
	}
	for _, name := range []string{"fleet.yaml", "inventory.yml", "hosts.txt"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "ldap.yaml")); !os.IsNotExist(err) {
		t.Errorf("ldap.yaml written without a directory: %v", err)
	}
	if err := run([]string{"-hosts", "0", "-out", out}, io.Discard); err == nil || !strings.Contains(err.Error(), "no ldap") {
		t.Errorf("the LDAP playbook alone without a directory: %v, want an error saying so", err)
	}
}
