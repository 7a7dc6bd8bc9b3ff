package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/handover/freshness"
	"github.com/handoverhq/handover/testenv"
)

// freshnessPlaybook is a playbook over the directory and the given fleet
// hosts whose plan is empty on the planted estate (nothing is the
// provider's but the teamviewer agent of the first host, waived, and the
// directory's bind account, waived), so that a check of the unchanged
// estate has nothing to say.
func freshnessPlaybook(t *testing.T, env *testenv.Env, dir string, hosts []testenv.Host) string {
	t.Helper()
	return freshnessPlaybookOf(t, env, dir, hosts, true)
}

// freshnessPlaybookOf is freshnessPlaybook, with or without the directory.
func freshnessPlaybookOf(t *testing.T, env *testenv.Env, dir string, hosts []testenv.Host, directory bool) string {
	t.Helper()
	var hs []string
	for _, h := range hosts {
		hs = append(hs, fmt.Sprintf("      - {name: %s, address: %s}", h.Name, strings.Split(h.Addr, ":")[0]))
	}
	text := fmt.Sprintf(`version: 1
handover:
  client: {name: Mairie de Saint-Exemple}
  outgoing: {name: Prestanet Informatique}
state: %[1]s/state
secrets:
  file:
    path: %[1]s/secrets.age
    passphrase: ${file:%[2]s}
signing:
  key: %[3]s
  identity: %[4]s
outgoing:
  domains: [nobody.invalid]
  agents: [teamviewer]
policy:
  rotate: {admins: false}
waivers:
  - {target: annuaire, finding: "credential-age:*", justification: "bind account kept by the client", approver: DSI, expires: 2099-01-01}
  - {target: serveurs, finding: "%[5]s/agent:teamviewer", justification: "kept until March", approver: DSI, expires: 2099-01-01}
targets:
  - name: annuaire
    type: ldap
    url: %[6]s
    ca_cert: %[7]s
    dialect: openldap
    bind_dn: %[8]s
    password: ${file:%[9]s}
    base_dn: %[10]s
    admin_groups: ["%[11]s"]
  - name: serveurs
    type: ssh
    hosts:
%[12]s
    user: root
    auth: {key_file: %[13]s}
    known_hosts: %[14]s
    access_key: false
`, dir, env.Operator.PassphraseFile, env.Operator.SigningKey, env.Operator.Identity, hosts[0].Name,
		env.LDAP.URLS, env.CACert, env.LDAP.AdminDN, env.LDAP.AdminPasswordFile, env.LDAP.BaseDN, env.LDAP.AdminGroupDN,
		strings.Join(hs, "\n"), env.Fleet.OperatorKey, env.Fleet.KnownHosts)
	if !directory {
		// The directory's target and waiver go; the hosts' stay.
		i, j := strings.Index(text, "  - name: annuaire\n"), strings.Index(text, "  - name: serveurs\n")
		text = text[:i] + text[j:]
		text = strings.Replace(text, "  - {target: annuaire, finding: \"credential-age:*\", justification: \"bind account kept by the client\", approver: DSI, expires: 2099-01-01}\n", "", 1)
	}
	return writePlaybook(t, dir, text)
}

// onHost runs a shell command as root on a fleet host over SSH.
func onHost(t *testing.T, env *testenv.Env, h testenv.Host, cmd string) {
	t.Helper()
	rootShell(t, env.Fleet.OperatorKey, env.Fleet.KnownHosts, h.Addr, cmd, "")
}

// rootShell runs cmd as root at addr over SSH with the operator's key
// (the host key checked against knownHosts), stdin on its input: the
// test's own hand, not the connector's.
func rootShell(t *testing.T, keyFile, knownHosts, addr, cmd, stdin string) {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ssh %s: %v", addr, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Stdin = strings.NewReader(stdin)
	if out, err := s.CombinedOutput(cmd); err != nil {
		t.Fatalf("%s on %s: %v\n%s", cmd, addr, err, out)
	}
}

// ldapAdmin binds to the test directory as its admin, over LDAPS.
func ldapAdmin(t *testing.T, env *testenv.Env) *goldap.Conn {
	t.Helper()
	c := ldapDial(t, env, env.LDAP.URLS)
	if err := c.Bind(env.LDAP.AdminDN, testenv.ReadSecret(t, env.LDAP.AdminPasswordFile)); err != nil {
		t.Fatal(err)
	}
	return c
}

// testCAPool holds the test estate's CA certificate.
func testCAPool(t *testing.T, env *testenv.Env) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(env.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// ldapDial connects to the test directory at u over LDAPS, its
// certificate verified against the test estate's CA.
func ldapDial(t *testing.T, env *testenv.Env, u string) *goldap.Conn {
	t.Helper()
	return ldapDialName(t, env, u, "127.0.0.1")
}

// ldapDialName is ldapDial checking the certificate for serverName.
func ldapDialName(t *testing.T, env *testenv.Env, u, serverName string) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(u, goldap.DialWithTLSConfig(&tls.Config{RootCAs: testCAPool(t, env), ServerName: serverName}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// resetComponent puts a testenv component back as planted.
func resetComponent(t *testing.T, name string) {
	t.Helper()
	testenv.Reset(t, name)
}

// checkRecord runs `handover check -o` and returns the record and the
// exit status.
func checkRecord(t *testing.T, dir, pb string, args ...string) (*freshness.Record, int, string) {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("check-%d.json", time.Now().UnixNano()))
	text, code, _ := handover(t, nil, append(append([]string{"check", "-o", out}, args...), pb)...)
	if code == 1 {
		t.Fatalf("check: exit 1:\n%s", text)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("check wrote no record: %v\n%s", err, text)
	}
	var r freshness.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r, code, text
}

type driftWant struct{ target, system, kind, change, id, to string }

func (w driftWant) String() string {
	return strings.Join([]string{w.target, w.system, w.kind, w.change, w.id, w.to}, " ")
}

// TestCheckDriftOnTestEstate: a signed dossier of two fleet hosts and the
// directory, the unchanged estate checked clean (exit 0, no item), then
// drift planted over SSH and LDAP, one of each kind — a new sudo admin, a
// new authorized key, a new agent not of the provider, a new listening
// port, a new admin of the directory through a nested group, a host added
// to the playbook and one gone — and `check` reports exactly those, with
// exit 2. The hosts and the directory are reset afterwards.
func TestCheckDriftOnTestEstate(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	testenv.LockComponent(t, "slapd", true)
	if len(env.Fleet.Hosts) < 3 {
		t.Fatalf("the test estate has %d fleet hosts, want 3", len(env.Fleet.Hosts))
	}
	h1, h2, h3 := env.Fleet.Hosts[0], env.Fleet.Hosts[1], env.Fleet.Hosts[2]
	h1Addr := strings.Split(h1.Addr, ":")[0]
	t.Cleanup(func() {
		resetComponent(t, "fleet")
		resetComponent(t, "slapd")
	})
	dir := t.TempDir()
	pb := freshnessPlaybook(t, env, dir, []testenv.Host{h1, h2})

	// No signed dossier yet: check says so and fails.
	if out, code, _ := handover(t, nil, "check", pb); code != 1 || !strings.Contains(out, "no signed report") {
		t.Fatalf("check without a dossier: exit %d, want 1 saying so:\n%s", code, out)
	}
	if out, code, _ := handover(t, nil, "dossier", "update", "--yes", pb); code != 0 {
		t.Fatalf("dossier update: exit %d\n%s", code, out)
	}
	prom := filepath.Join(dir, "handover.prom")
	rec, code, text := checkRecord(t, dir, pb, "--prometheus", prom)
	promtoolFile(t, prom)
	if code != 0 || len(rec.Drift) != 0 || rec.Status != freshness.Clean {
		t.Fatalf("unchanged estate: exit %d, %d items, want 0 and none:\n%s", code, len(rec.Drift), text)
	}
	if rec.Baseline == nil || rec.Baseline.Mode != "dossier-update" || len(rec.Waived) != 0 {
		t.Fatalf("baseline %+v, waived %+v", rec.Baseline, rec.Waived)
	}
	// A resume signs a report without a dossier: not a baseline.
	if out, code, _ := handover(t, nil, "resume", pb); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	if again, code, text := checkRecord(t, dir, pb); code != 0 || again.Baseline.RunID != rec.Baseline.RunID {
		t.Fatalf("after a resume: exit %d, baseline %+v, want %s:\n%s", code, again.Baseline, rec.Baseline.RunID, text)
	}

	// Drift, planted as anyone would.
	onHost(t, env, h1, "useradd -m -s /bin/bash intrus && usermod -aG sudo intrus")
	onHost(t, env, h2, "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDYyZcWVbIHg7Yz5BqPKNPQnMpYk8G2oRR9Vn0fXUHke inconnu@ailleurs.test' >> /root/.ssh/authorized_keys")
	onHost(t, env, h2, "install -d /usr/share/anydesk && printf '#!/bin/sh\\n' > /usr/bin/anydesk && chmod 755 /usr/bin/anydesk")
	onHost(t, env, h1, fmt.Sprintf(`nohup python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("%s", 5901)); s.listen(); time.sleep(3600)' >/dev/null 2>&1 &`, h1Addr))
	c := ldapAdmin(t, env)
	newAdmin := "uid=mrobin,ou=accueil,ou=people," + env.LDAP.BaseDN
	mod := goldap.NewModifyRequest(env.LDAP.NestedGroupDN, nil)
	mod.Add("member", []string{newAdmin})
	if err := c.Modify(mod); err != nil {
		t.Fatalf("adding %s to %s: %v", newAdmin, env.LDAP.NestedGroupDN, err)
	}
	c.Close()
	writePlaybookHosts := func(hosts ...testenv.Host) { freshnessPlaybook(t, env, dir, hosts) }
	rec, code, text = checkRecord(t, dir, pb)
	got := baselineItems(rec)
	t.Logf("check after planting (exit %d):\n%s", code, text)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	assertItems(t, got, []func(driftWant) bool{
		match("annuaire", "", "admin", "added", "account:"+newAdmin),
		match("serveurs", h1.Name, "admin", "added", "account:intrus"),
		match("serveurs", h1.Name, "listening", "added", "port:tcp:"+h1Addr+":5901"),
		match("serveurs", h2.Name, "agent", "added", "agent:anydesk"),
		func(w driftWant) bool {
			return w.target == "serveurs" && w.system == h2.Name && w.kind == "ssh-key" && w.change == "added" && strings.HasPrefix(w.id, "ssh-key:root:SHA256:") && strings.HasSuffix(w.id, ":/root/.ssh/authorized_keys")
		},
	})
	for _, d := range rec.Drift {
		if d.Kind == "admin" && d.Object == "intrus" && !strings.Contains(d.To, "sudo") {
			t.Errorf("the new admin's path is %q, want the sudo group named", d.To)
		}
		if d.Kind == "admin" && d.Object == newAdmin && !strings.Contains(d.To, env.LDAP.NestedGroupDN) && !strings.Contains(strings.ToLower(d.To), "it-support") {
			t.Errorf("the new directory admin's path is %q, want the nested group named", d.To)
		}
	}

	// A host added to the playbook and one no longer there.
	writePlaybookHosts(h1, h3)
	rec, code, text = checkRecord(t, dir, pb)
	if code != 2 {
		t.Errorf("hosts moved: exit %d, want 2:\n%s", code, text)
	}
	got = baselineItems(rec)
	var sys []driftWant
	for _, g := range got {
		if g.kind == "system" {
			sys = append(sys, g)
		}
	}
	if len(sys) != 2 || !slices.ContainsFunc(sys, match("serveurs", h3.Name, "system", "added", "system:"+h3.Name)) ||
		!slices.ContainsFunc(sys, match("serveurs", h2.Name, "system", "removed", "system:"+h2.Name)) {
		t.Errorf("systems: got %v, want %s added and %s removed", sys, h3.Name, h2.Name)
	}
	leakScan(t, env, dir, text)

	// A tampered baseline is an error, never a baseline.
	js := rec.Baseline.Report
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, []byte(strings.Replace(string(b), `"intrus"`, `"intruse"`, 1)+" "), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code, _ := handover(t, nil, "check", pb); code != 1 || !strings.Contains(out, "does not verify") {
		t.Errorf("check on a tampered baseline: exit %d, want 1 saying it does not verify:\n%s", code, out)
	}
}

// promtoolFile checks a metrics file with Debian's promtool (package
// prometheus); the test fails when it is missing.
func promtoolFile(t *testing.T, path string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (testenv/scripts/install-deps.sh does)")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
	}
	b, _ := os.ReadFile(path)
	for _, m := range []string{"handover_check_success", "handover_check_last_success_timestamp_seconds", "handover_check_duration_seconds", "handover_check_target_drift_items"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("%s has no %s", path, m)
		}
	}
}

// baselineItems are the drift items that compare with the dossier (not
// the plan's or the credentials').
func baselineItems(r *freshness.Record) []driftWant {
	var out []driftWant
	for _, d := range r.Drift {
		if d.Change == "" {
			continue
		}
		out = append(out, driftWant{d.Target, d.System, d.Kind, string(d.Change), d.ID, d.To})
	}
	return out
}

func match(target, system, kind, change, id string) func(driftWant) bool {
	return func(w driftWant) bool {
		return w.target == target && (system == "" || w.system == system) && w.kind == kind && w.change == change && w.id == id
	}
}

// assertItems: every item matches exactly one of the predicates, and
// every predicate one item, except the package counts and the account
// entries that go with a new admin (asserted apart).
func assertItems(t *testing.T, got []driftWant, want []func(driftWant) bool) {
	t.Helper()
	used := make([]bool, len(want))
	for _, g := range got {
		found := false
		for i, w := range want {
			if !used[i] && w(g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("unexpected drift item: %s", g)
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("expected drift item %d not reported; got %v", i, got)
		}
	}
}

// leakScan fails if any secret of the test estate appears in the text or
// in any file under dir but the secret store.
func leakScan(t *testing.T, env *testenv.Env, dir string, texts ...string) {
	t.Helper()
	var secrets []string
	for _, f := range []string{env.LDAP.AdminPasswordFile, env.Operator.PassphraseFile} {
		secrets = append(secrets, testenv.ReadSecret(t, f))
	}
	for _, h := range env.Fleet.Hosts {
		secrets = append(secrets, testenv.ReadSecret(t, h.RootPasswordFile), testenv.ReadSecret(t, h.AdminPassFile))
	}
	check := func(where, s string) {
		for _, v := range secrets {
			if len(v) >= 6 && strings.Contains(s, v) {
				t.Errorf("a secret of the test estate appears in %s", where)
			}
		}
	}
	for i, s := range texts {
		check(fmt.Sprintf("output %d", i), s)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".age") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			check(p, string(b))
		}
		return nil
	})
}
