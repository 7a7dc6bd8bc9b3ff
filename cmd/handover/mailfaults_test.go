package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/testenv"
)

// TestMailTargetFaultsMidChange: the test estate's mail host managed over
// SSH through a TCP proxy that, in the middle of the rotation of a
// mailbox's password (the intent journaled, the change about to be sent),
// resets the connection, or lets the change through and holds the host's
// answer back past the change's time limit. The run exits non-zero saying
// what happened; no credential is lost (the handed-over password or a
// value of the store logs in over IMAP, which the proxy does not touch);
// the journal verifies; the next run, the network healthy again, finishes
// the job: the stored password logs in over IMAP, the handed-over one is
// refused, nothing is pending.
func TestMailTargetFaultsMidChange(t *testing.T) {
	env := testenv.Require(t)
	if env.MailHost == nil || env.Operator == nil {
		t.Fatal("the test estate has no mail host: run `make testenv-up`")
	}
	testenv.LockComponent(t, "mailhost", true)
	resetComponents(t, "mailhost")
	t.Cleanup(func() { resetComponents(t, "mailhost") })
	env = testenv.Require(t)
	m := env.MailHost
	i := slices.IndexFunc(m.Accounts, func(a testenv.Account) bool { return strings.HasPrefix(a.Name, "mairie@") })
	if i < 0 {
		t.Fatal("the mail host has no mairie@ mailbox")
	}
	box := m.Accounts[i]
	bin := buildHandover(t, crashTestTag)
	for _, tc := range []struct {
		name  string
		fault func(p *faultProxy)
		want  []string
		slice bool
	}{
		{"reset-at-once", func(p *faultProxy) { p.resetAfter(0) }, []string{"connection reset", "eof", "broken pipe", "did not report"}, false},
		// The change's command reaches the host, then its answers are
		// held back past the change's time limit.
		{"answer-too-late", func(p *faultProxy) { p.stallAfter(300) }, []string{"did not answer in time", "no ssh answer within", "timeout", "deadline"}, true},
	} {
		if !inSlice(tc.slice) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			old := testenv.ReadSecret(t, box.PasswordFile)
			if ok, _ := imapLogin(t, env, box.Name, old); !ok {
				resetComponents(t, "mailhost")
			}
			dir := t.TempDir()
			p := newFaultProxy(t, m.SSHAddr)
			_, port, _ := net.SplitHostPort(p.addr())
			pb := writePlaybook(t, dir, playbookHead(env, dir)+fmt.Sprintf(`policy:
  rotate: {admins: false, accounts: ["messagerie:%[1]s"]}
targets:
  - name: messagerie
    type: mail
    host: 127.0.0.1
    system: %[2]s
    ssh: {port: %[3]s, key_file: %[4]s, known_hosts: %[5]s}
    imap: %[6]s
    tls_server_name: %[7]s
    ca_cert: %[8]s
    smtp: %[9]s
    mailboxes:
      - {login: %[1]s, password: "${file:%[10]s}"}
`, box.Name, m.Name, port, m.OperatorKey, proxiedKnownHosts(t, dir, m.KnownHosts, m.Address, port), m.IMAPSAddr, m.TLSName, env.CACert, m.SMTPAddr, box.PasswordFile))
			faultedRun(t, bin, pb, p, tc.fault, tc.want)
			storePath := filepath.Join(dir, "secrets.age")
			path := connector.SecretPath("messagerie", m.Name, box.Name)
			logsIn := func(pw string) bool { ok, _ := imapLogin(t, env, box.Name, pw); return ok }
			noCredentialLost(t, openStoreRO(t, env, storePath), path, box.Name, old, logsIn)
			journalsIntact(t, dir)
			out, code, _ := handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("next run, the network healthy: exit %d\n%s", code, out)
			}
			cur := settledCredential(t, env, dir, storePath, path)
			if ok, why := imapLogin(t, env, box.Name, cur); !ok {
				t.Errorf("the stored password of %s does not log in over IMAP: %s", box.Name, why)
			}
			if ok, _ := imapLogin(t, env, box.Name, old); ok {
				t.Errorf("the handed-over password of %s still logs in over IMAP", box.Name)
			}
		})
	}
}

// proxiedKnownHosts writes dir/known_hosts trusting, for 127.0.0.1 on
// port, the host keys that knownHosts holds for addr.
func proxiedKnownHosts(t *testing.T, dir, knownHosts, addr, port string) string {
	t.Helper()
	b, err := os.ReadFile(knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	var kh []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && (f[0] == addr || f[0] == "["+addr+"]:22") {
			kh = append(kh, "[127.0.0.1]:"+port+" "+f[1]+" "+f[2])
		}
	}
	if len(kh) == 0 {
		t.Fatalf("no host key of %s in %s", addr, knownHosts)
	}
	p := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(p, []byte(strings.Join(kh, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
