package mail

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/testenv"
)

// requireMailHost returns the testenv with its mail host, or fails.
func requireMailHost(t *testing.T) *testenv.Env {
	t.Helper()
	e := testenv.Require(t)
	if e.MailHost == nil {
		t.Fatal("integration test needs the mail host: run bin/testenv up -only mailhost")
	}
	return e
}

// resetMailHost brings the mail host back to its planted state.
func resetMailHost(t *testing.T) {
	t.Helper()
	resetComponent(t, "mailhost")
}

// resetComponent brings a testenv component back to its planted state.
func resetComponent(t *testing.T, name string) {
	t.Helper()
	testenv.Reset(t, name)
}

// rootSSH runs a command on the mail host as root with the operator's key,
// without the connector: the tests' own observation.
func rootSSH(e *testenv.Env, command string) (string, error) {
	out, err := exec.Command("ssh", "-i", e.MailHost.OperatorKey, "-o", "UserKnownHostsFile="+e.MailHost.KnownHosts,
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "root@"+e.MailHost.Address, command).CombinedOutput()
	return string(out), err
}

// mailPlaybook is the playbook part naming the provider and a mail target
// for the mail host, with the handed-over passwords of the function
// mailboxes, the IT lead's, the provider's own mailbox and its master
// user.
func mailPlaybook(e *testenv.Env, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "outgoing:\n  names: [%q]\n  domains: [%q]\n  accounts: [\"prestanet-*\"]\n", testenv.ProviderName, testenv.ProviderDomain)
	b.WriteString(mailTarget(e, handedMailboxes(e), extra))
	return b.String()
}

// handedMailboxes are the mailboxes whose passwords the provider handed
// over in the test playbooks.
func handedMailboxes(e *testenv.Env) []testenv.Account {
	var out []testenv.Account
	for _, a := range e.MailHost.Accounts {
		local, _, _ := strings.Cut(a.Name, "@")
		switch local {
		case "mairie", "accueil", "urbanisme", "mediatheque", "sophie.lefevre", "prestanet-support":
			out = append(out, a)
		}
	}
	return out
}

func mailTarget(e *testenv.Env, boxes []testenv.Account, extra string) string {
	m := e.MailHost
	var b strings.Builder
	fmt.Fprintf(&b, "targets:\n  - name: messagerie\n    type: mail\n    host: %s\n    system: %s\n", m.Address, m.Name)
	fmt.Fprintf(&b, "    ssh: {key_file: %s, known_hosts: %s}\n", m.OperatorKey, m.KnownHosts)
	fmt.Fprintf(&b, "    ca_cert: %s\n    smtp: %s\n", e.CACert, m.SMTPAddr)
	b.WriteString("    mailboxes:\n")
	for _, a := range boxes {
		fmt.Fprintf(&b, "      - {login: %s, password: '${file:%s}'}\n", a.Name, a.PasswordFile)
	}
	fmt.Fprintf(&b, "    master_users:\n      - {login: %s, password: '${file:%s}'}\n", m.MasterUser.Name, m.MasterUser.PasswordFile)
	b.WriteString(extra)
	return b.String()
}

// snapshot reads, as root over SSH without the connector, what a change
// would alter: the passwd-files, every user's Sieve scripts, the Postfix
// sources and tables. Nothing a login or a delivery alone alters (logs,
// mail, the queue) is read.
func snapshot(e *testenv.Env) func(context.Context) (string, error) {
	const script = `export LC_ALL=C
sha256sum /etc/dovecot/users /etc/dovecot/master-users /etc/dovecot/dovecot.conf /etc/postfix/main.cf /etc/postfix/virtual /etc/postfix/recipient_bcc /etc/aliases
postmap -s hash:/etc/postfix/virtual | sort; postmap -s hash:/etc/postfix/recipient_bcc | sort; postalias -s hash:/etc/aliases | sort
doveadm sieve list -A | sort
for f in /var/vmail/*/*/sieve/*.sieve; do sha256sum "$f"; done
ls -l --time-style=+ /var/vmail/*/*/.dovecot.sieve 2>/dev/null | awk '{print $NF, $(NF-2)}'`
	return func(ctx context.Context) (string, error) {
		out, err := rootSSH(e, script)
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return out, nil
	}
}

// cut freezes every process of the mail host (SIGSTOP), so that nothing
// there answers, until restore thaws them (SIGCONT).
func cut(e *testenv.Env) func(t *testing.T) func() {
	root := filepath.Join(e.Dir, "mailhost", "root")
	signal := func(sig syscall.Signal) int {
		n := 0
		entries, _ := os.ReadDir("/proc")
		for _, en := range entries {
			pid, err := strconv.Atoi(en.Name())
			if err != nil {
				continue
			}
			if r, err := os.Readlink("/proc/" + en.Name() + "/root"); err == nil && r == root {
				if syscall.Kill(pid, sig) == nil {
					n++
				}
			}
		}
		return n
	}
	return func(t *testing.T) func() {
		if signal(syscall.SIGSTOP) == 0 {
			t.Fatalf("no process of the mail host found under %s", root)
		}
		return func() { signal(syscall.SIGCONT) }
	}
}
