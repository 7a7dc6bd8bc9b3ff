package testenv_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/dovecot"
)

// imapLogin logs user in at addr (IMAPS, or IMAP then STARTTLS) and
// returns the LOGIN result.
func imapLogin(t *testing.T, env *testenv.Env, startTLS bool, user, password string) error {
	t.Helper()
	addr := env.Mail.IMAPSAddr
	if startTLS {
		addr = env.Mail.IMAPAddr
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := dovecot.DialIMAP(ctx, addr, env.CACert, startTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		return err
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select INBOX as %s: %v", user, err)
	}
	return c.Logout().Wait()
}

func mailAccount(t *testing.T, env *testenv.Env, login string) testenv.Account {
	t.Helper()
	i := slices.IndexFunc(env.Mail.Accounts, func(a testenv.Account) bool { return a.Name == login })
	if i < 0 {
		t.Fatalf("no mail account %s in env", login)
	}
	return env.Mail.Accounts[i]
}

func TestDovecotLogin(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "dovecot", true)
	staff := mailAccount(t, env, "claire.moreau@"+testenv.ClientDomain)
	function := mailAccount(t, env, "mairie@"+testenv.ClientDomain)
	for _, tc := range []struct {
		name     string
		account  testenv.Account
		startTLS bool
	}{
		{"staff/imaps", staff, false},
		{"staff/starttls", staff, true},
		{"function/imaps", function, false},
		{"function/starttls", function, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := imapLogin(t, env, tc.startTLS, tc.account.Name, testenv.ReadSecret(t, tc.account.PasswordFile)); err != nil {
				t.Fatalf("login %s: %v", tc.account.Name, err)
			}
		})
	}
}

// The provider's master user opens any mailbox as "mailbox*master".
func TestDovecotMasterLogin(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "dovecot", true)
	m := env.Mail
	master := testenv.ReadSecret(t, m.MasterUser.PasswordFile)
	for _, tc := range []struct {
		mailbox  string
		startTLS bool
	}{
		{"mairie@" + testenv.ClientDomain, false},
		{"sophie.lefevre@" + testenv.ClientDomain, true},
	} {
		t.Run(tc.mailbox, func(t *testing.T) {
			login := tc.mailbox + m.MasterSeparator + m.MasterUser.Name
			if err := imapLogin(t, env, tc.startTLS, login, master); err != nil {
				t.Fatalf("master login %s: %v", login, err)
			}
		})
	}
}

func TestDovecotWrongCredentialsFail(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "dovecot", true)
	m := env.Mail
	staff := mailAccount(t, env, "claire.moreau@"+testenv.ClientDomain)
	for _, tc := range []struct {
		name, user, password string
	}{
		{"wrong password", staff.Name, "pas-le-bon-mot-de-passe"},
		{"another mailbox's password", "mairie@" + testenv.ClientDomain, testenv.ReadSecret(t, staff.PasswordFile)},
		{"wrong master password", staff.Name + m.MasterSeparator + m.MasterUser.Name, "pas-le-bon-mot-de-passe"},
		// A master user is not a mailbox of its own.
		{"master user alone", m.MasterUser.Name, testenv.ReadSecret(t, m.MasterUser.PasswordFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := imapLogin(t, env, false, tc.user, tc.password)
			if err == nil || !strings.Contains(err.Error(), "AUTHENTICATIONFAILED") {
				t.Fatalf("login %s: got %v, want an authentication failure", tc.user, err)
			}
		})
	}
}

func doveadm(t *testing.T, env *testenv.Env, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "doveadm", append([]string{"-c", env.Mail.DoveadmConf}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Every mailbox listed in Forwarding has an active Sieve script that
// redirects to the provider's domain, and no other mailbox has one.
func TestDovecotSieveRedirects(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "dovecot", true)
	var redirecting, active []string
	for _, line := range strings.Split(strings.TrimSpace(doveadm(t, env, "sieve", "list", "-A")), "\n") {
		// "user script ACTIVE"
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "ACTIVE" {
			continue
		}
		active = append(active, f[0])
		script := doveadm(t, env, "sieve", "get", "-u", f[0], f[1])
		if strings.Contains(script, "redirect") && strings.Contains(script, "@"+testenv.ProviderDomain) {
			redirecting = append(redirecting, f[0])
		}
	}
	slices.Sort(redirecting)
	want := slices.Clone(env.Mail.Forwarding)
	slices.Sort(want)
	if len(want) < 2 || !slices.Equal(redirecting, want) {
		t.Errorf("mailboxes redirecting to %s = %v, env.Mail.Forwarding = %v", testenv.ProviderDomain, redirecting, want)
	}
	// The harmless out-of-office script is there too.
	if len(active) <= len(redirecting) {
		t.Errorf("active scripts on %v: want at least one that does not redirect", active)
	}
}
