package ssh

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// Long: one end-to-end run on the sample hosts, then every proof that the provider's access is gone.
func TestApplyRemovesProviderAccessAndRotates(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	t.Cleanup(func() { resetFleet(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, tg, store := runEngine(t, e, sampleHosts(e), "")

	for _, h := range sampleHosts(e) {
		t.Run(h.Name, func(t *testing.T) {
			for _, file := range e.Fleet.ProviderKeys {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for _, user := range []string{"root", h.Admin, h.ProviderUser} {
					if tryLogin(t, e, h, user, keyAuth(t, b)) {
						t.Errorf("provider key %s still logs in as %s", filepath.Base(file), user)
					}
				}
			}
			// A certificate the provider's CA signs no longer logs in where
			// sshd trusted the CA.
			if slices.ContainsFunc(h.Keys, func(k testenv.AuthorizedKey) bool { return k.User == caOwner }) &&
				tryLogin(t, e, h, "root", caCertAuth(t, e.Fleet.ProviderCAKey, "root")) {
				t.Error("a certificate signed by the provider's CA still logs in as root")
			}
			access, _, err := store.Get(ctx, tg.accessKeyPath(h.Name), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !tryLogin(t, e, h, "root", keyAuth(t, access.RevealBytes())) {
				t.Error("the new access key does not log in as root")
			}
			for _, acct := range []struct{ user, oldFile string }{{"root", h.RootPasswordFile}, {h.Admin, h.AdminPassFile}} {
				old := secret.New(testenv.ReadSecret(t, acct.oldFile))
				if tryLogin(t, e, h, acct.user, passwordAuth(old)[0]) {
					t.Errorf("the handed-over password of %s still logs in", acct.user)
				}
				cur, _, err := store.Get(ctx, connector.SecretPath("fleet", h.Name, acct.user), 0)
				if err != nil {
					t.Fatal(err)
				}
				if !tryLogin(t, e, h, acct.user, passwordAuth(cur)[0]) {
					t.Errorf("the new password of %s does not log in", acct.user)
				}
			}
		})
	}

	inv2, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sys := range inv2.Systems {
		if sys.Error != "" {
			t.Fatalf("%s: %s", sys.Name, sys.Error)
		}
		if agents := findingsOf(sys, connector.KindAgent); len(agents) > 0 {
			t.Errorf("%s: agents remain: %v", sys.Name, agents)
		}
	}
	again, err := tg.Plan(inv2, decisions(inv2))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range again {
		t.Errorf("second plan is not empty: %s %s %s", ch.System, ch.Action, ch.Object)
	}
}

// TestPasswordProofWhereSuIsRefused: on a host whose PAM refuses su to
// everyone (as pam_wheel can), su proves nothing, and a refusal of the old
// password by su must not pass for proof that it is dead: the proofs fall
// back to SSH password logins, which this host allows.
func TestPasswordProofWhereSuIsRefused(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	t.Cleanup(func() { resetFleet(t) })
	h := e.Fleet.Hosts[0]
	store := secret.NewMemoryStore()
	settings := fmt.Sprintf("hosts:\n  - {name: %s, address: %s}\nauth: {key_file: %s}\nknown_hosts: %s\npasswords:\n  - {account: root, password: '${file:%s}'}\n",
		h.Name, strings.TrimSuffix(h.Addr, ":22"), e.Fleet.OperatorKey, e.Fleet.KnownHosts, h.RootPasswordFile)
	tg := configure(t, e, settings, store, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := tg.runnerFor(ctx, tg.s.Hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, `printf 'auth requisite pam_deny.so\naccount required pam_permit.so\nsession required pam_permit.so\n' > /etc/pam.d/su`, nil, []byte{}); err != nil {
		t.Fatal(err)
	}

	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := tg.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	var ch plan.Change
	for _, c := range changes {
		if c.Action == plan.RotatePassword && c.Object == "root" {
			ch = c
		}
	}
	if ch.ID == "" {
		t.Fatal("no rotation of root planned")
	}
	old, next := setRootPassword(ctx, t, tg, ch)
	tried := tg.TryCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: next}, {Change: ch, Secret: old}})
	if tried[0].Err != nil || !tried[0].Works {
		t.Errorf("new password: works=%v err=%v; want it proven by another way than su", tried[0].Works, tried[0].Err)
	}
	if tried[1].Err != nil || tried[1].Works {
		t.Errorf("old password: works=%v err=%v; want it rejected", tried[1].Works, tried[1].Err)
	}
	if m := tried[0].Method; m != "fresh SSH password login" {
		t.Errorf("proven by %q, want a fresh SSH password login", m)
	}
}

// TestLockEndsTheProviderSessions: the provider is logged in when its
// account is locked (a session left open, a tunnel). Locking the account
// ends that session too, and whatever else runs as the account.
func TestLockEndsTheProviderSessions(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	key, err := os.ReadFile(e.Fleet.ProviderKeys[i])
	if err != nil {
		t.Fatal(err)
	}
	c, err := sshDial(t, e, h, h.ProviderUser, keyAuth(t, key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 600"); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- sess.Wait() }()

	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	lock := plannedChange(t, tg, plan.LockAccount, h.ProviderUser)
	res := tg.Apply(context.Background(), h.Name, []plan.Change{lock}, nil).Results[0]
	if res.Err != nil {
		t.Fatalf("lock: %v", res.Err)
	}
	if !strings.Contains(res.Detail, "ended its processes") {
		t.Errorf("outcome: %s", res.Detail)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Error("the provider's open session survived the lock of its account")
	}
	if out, err := rootSSH(e, ip, "pgrep -u "+h.ProviderUser+" || echo none"); err != nil || string(out) != "none\n" {
		t.Errorf("processes of %s after the lock (%v): %s", h.ProviderUser, err, out)
	}
}

// TestAccessKeyWhereSSHDRefusesEd25519: on a host whose sshd takes no
// ed25519 key (as in FIPS mode), the new access key is RSA, and proven by
// a fresh login with it; an ed25519 one could never have logged in.
func TestAccessKeyWhereSSHDRefusesEd25519(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	// sshd reads its configuration again when it gets SIGHUP (it is the
	// host's PID 1, and stays so).
	if out, err := rootSSH(e, ip, "printf 'PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\\n' > /etc/ssh/sshd_config.d/00-fips.conf && kill -HUP 1"); err != nil {
		t.Fatalf("configure sshd: %v\n%s", err, out)
	}
	root := secret.New(testenv.ReadSecret(t, h.RootPasswordFile))
	// Until sshd is back with the new settings: the password logs in, the
	// operator's ed25519 key no longer does.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", h.Addr, time.Second); err == nil {
			c.Close()
			if _, err := rootSSH(e, ip, "true"); err != nil && tryLogin(t, e, h, "root", passwordAuth(root)[0]) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("sshd did not come back refusing ed25519 keys after SIGHUP")
		}
	}
	tg := configure(t, e, fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {password: '${file:%s}'}\nknown_hosts: %s\n",
		h.Name, ip, h.RootPasswordFile, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
	ctx := context.Background()
	ch := plannedChange(t, tg, plan.InstallKey, "")
	if ch.Params["key_type"] != "rsa" || !strings.Contains(ch.Reason, "does not take ed25519") {
		t.Errorf("planned key type %q (%s), want rsa and why", ch.Params["key_type"], ch.Reason)
	}
	key, err := tg.NewCredential(ctx, ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if signer, err := ssh.ParsePrivateKey(key.RevealBytes()); err != nil || signer.PublicKey().Type() != ssh.KeyAlgoRSA {
		t.Fatalf("access key: %v, want an RSA key", err)
	}
	cred := []connector.Credential{{Change: ch, Secret: key}}
	if err := tg.SetCredentials(ctx, ch.System, cred)[0].Err; err != nil {
		t.Fatal(err)
	}
	if tr := tg.TryCredentials(ctx, ch.System, cred)[0]; tr.Err != nil || !tr.Works {
		t.Errorf("RSA access key: works=%v err=%v", tr.Works, tr.Err)
	}
}

// TestProviderCertificateLogsInBeforeTheRun: the planted user CA is real:
// a certificate it signs logs in as root where sshd trusts it, and only
// there.
func TestProviderCertificateLogsInBeforeTheRun(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	trusted := 0
	for _, h := range sampleHosts(e) {
		want := slices.ContainsFunc(h.Keys, func(k testenv.AuthorizedKey) bool { return k.User == caOwner })
		if got := tryLogin(t, e, h, "root", caCertAuth(t, e.Fleet.ProviderCAKey, "root")); got != want {
			t.Errorf("%s: a certificate of the provider's CA logs in: %v, want %v", h.Name, got, want)
		}
		if want {
			trusted++
		}
	}
	if trusted == 0 {
		t.Error("no host trusts the provider's CA: the test proves nothing")
	}
}

// TestCheckStoredByHashThenLogin: a freshness check proves a stored
// password by the account's shadow hash when it is the SHA-512 crypt hash
// of the stored value (no su login), and by a su login when the hash does
// not settle it: another scheme (yescrypt) holding the same password, or a
// password changed outside handover, which the login then refuses.
func TestCheckStoredByHashThenLogin(t *testing.T) {
	e, h, _ := firstHostToChange(t)
	settings := operatorSettings(e, h) + fmt.Sprintf("passwords:\n  - {account: root, password: '${file:%s}'}\n", h.RootPasswordFile)
	tg := configure(t, e, settings, secret.NewMemoryStore(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch := plannedChange(t, tg, plan.RotatePassword, "root")
	old, next := setRootPassword(ctx, t, tg, ch)
	r, err := tg.runnerFor(ctx, tg.s.Hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	setOutside := func(method string, pw secret.Secret) {
		t.Helper()
		in := []byte("root:" + pw.Reveal() + "\n")
		defer clear(in)
		if out, err := r.Run(ctx, "chpasswd -c "+method, nil, in); err != nil {
			t.Fatalf("chpasswd -c %s: %v %s", method, err, out)
		}
	}
	const byHash, bySU = "shadow hash of root read anew", "su login as root"
	for _, tc := range []struct {
		name   string
		before func()
		cred   secret.Secret
		works  bool
		method string
	}{
		{"set by handover", func() {}, next, true, byHash},
		{"handed-over password", func() {}, old, false, bySU},
		{"same password, yescrypt", func() { setOutside("YESCRYPT", next) }, next, true, bySU},
		{"changed outside handover", func() { setOutside("SHA512", old) }, next, false, bySU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.before()
			tr := tg.CheckStored(ctx, ch.System, []connector.Credential{{Change: ch, Secret: tc.cred}})[0]
			if tr.Err != nil || tr.Works != tc.works || !strings.HasPrefix(tr.Method, tc.method) {
				t.Errorf("works=%v err=%v by %q; want works=%v by %s…", tr.Works, tr.Err, tr.Method, tc.works, tc.method)
			}
		})
	}
}

// setRootPassword sets a fresh password for ch (root's rotation) and
// returns the handed-over one and the new one.
func setRootPassword(ctx context.Context, t *testing.T, tg *target, ch plan.Change) (old, next secret.Secret) {
	t.Helper()
	old, haveOld, err := tg.KnownCredential(ctx, ch)
	if err != nil || !haveOld {
		t.Fatalf("handed-over password of root: %v, %v", haveOld, err)
	}
	next, err = secret.Generate(nil, secret.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.SetCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: next}})[0].Err; err != nil {
		t.Fatal(err)
	}
	return old, next
}
