package ssh

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
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

func TestWrongHostKeyAndUnreachableHost(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	if e.Fleet == nil || len(e.Fleet.Hosts) < 2 {
		t.Fatal("testenv needs a fleet of at least 2 hosts")
	}
	h1, h2 := e.Fleet.Hosts[0], e.Fleet.Hosts[1]
	// A host that takes the TCP connection and then says nothing (a hung
	// sshd, a firewall that swallows the traffic).
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// A pin that is not h1's key, and an address where nothing listens.
	wrong := "SHA256:" + strings.Repeat("A", 43)
	settings := fmt.Sprintf(`hosts:
  - {name: %s, address: %s, host_key: %q}
  - {name: %s, address: %s}
  - {name: nowhere, address: 127.0.1.254, host_key: %q}
  - {name: silent, address: 127.0.0.1, port: %d, host_key: %q}
auth: {key_file: %s}
known_hosts: %s
host_timeout: 3s
`, h1.Name, strings.TrimSuffix(h1.Addr, ":22"), wrong, h2.Name, strings.TrimSuffix(h2.Addr, ":22"), wrong, silent.Addr().(*net.TCPAddr).Port, wrong, e.Fleet.OperatorKey, e.Fleet.KnownHosts)
	tg := configure(t, e, settings, secret.NewMemoryStore(), nil)
	start := time.Now()
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Systems[3].Error; !strings.Contains(got, "no SSH answer within host_timeout (3s)") {
		t.Errorf("silent host: error %q, want the host timeout", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the inventory took %v: the silent host was not bounded by its 3 s timeout", d)
	}
	if got := inv.Systems[0].Error; !strings.Contains(got, "does not match") || !strings.Contains(got, h1.HostKeyFP) {
		t.Errorf("wrong host key: error %q", got)
	}
	if inv.Systems[1].Error != "" || len(inv.Systems[1].Findings) == 0 {
		t.Errorf("%s should proceed: %q", h2.Name, inv.Systems[1].Error)
	}
	if got := inv.Systems[2].Error; !strings.Contains(got, "refused") {
		t.Errorf("unreachable host: error %q", got)
	}
}

// TestPinOfAnotherKeyType: a host has an ed25519 and an ECDSA host key
// and the playbook pins the ECDSA one (the fingerprint an older client
// showed, or a provider's dossier lists). The host is not refused for
// showing its ed25519 key first: its ECDSA key is asked for and matches.
// A pin that is none of its keys is still refused.
func TestPinOfAnotherKeyType(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	out := reconfigureSSHD(t, e, ip, "ssh-keygen -q -t ecdsa -N '' -f /etc/ssh/ssh_host_ecdsa_key && printf 'HostKey /etc/ssh/ssh_host_ecdsa_key\\n' >> /etc/ssh/sshd_config.d/hostkeys.conf", "ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub")
	ecdsa := strings.Fields(string(out))[1]
	settings := func(pin string) string { return pinnedSettings(e, h, pin) }
	tg := configure(t, e, settings(ecdsa), secret.NewMemoryStore(), nil)
	for range 2 { // the second connection asks for ECDSA at once
		inv, err := tg.Inventory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.Systems[0].Error; got != "" {
			t.Fatalf("host pinned by its ECDSA key refused: %s", got)
		}
	}
	if got := tg.keys.PinnedAlgorithms(h.Addr); !slices.Equal(got, []string{ssh.KeyAlgoECDSA256}) {
		t.Errorf("algorithms remembered for %s: %v", h.Addr, got)
	}
	bad := configure(t, e, settings("SHA256:"+strings.Repeat("B", 43)), secret.NewMemoryStore(), nil)
	inv, err := bad.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Systems[0].Error; !strings.Contains(got, "does not match") {
		t.Errorf("a pin of none of the host's keys: error %q", got)
	}
}

// TestHostCertificate: known_hosts knows the host only through the
// certificate authority that signed its host key (a @cert-authority line),
// as in estates with an SSH CA. The host's certificate is asked for and
// checked; a CA that did not sign it gets the host refused.
func TestHostCertificate(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	out, err := rootSSH(e, ip, "cat /etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		t.Fatalf("host key: %v\n%s", err, out)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(out)
	if err != nil {
		t.Fatal(err)
	}
	ca, other := newEd25519Signer(t), newEd25519Signer(t)
	cert := &ssh.Certificate{Key: hostKey, CertType: ssh.HostCert, KeyId: h.Name, ValidPrincipals: []string{ip},
		ValidAfter: uint64(time.Now().Add(-time.Hour).Unix()), ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	reconfigureSSHD(t, e, ip, "printf '%s' "+shellQuote(string(ssh.MarshalAuthorizedKey(cert)))+" > /etc/ssh/ssh_host_ed25519_key-cert.pub && "+
		"printf 'HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\\n' >> /etc/ssh/sshd_config.d/hostkeys.conf", "")
	inventory := func(ca ssh.Signer) string {
		known := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(known, []byte("@cert-authority 127.0.1.* "+string(ssh.MarshalAuthorizedKey(ca.PublicKey()))), 0o600); err != nil {
			t.Fatal(err)
		}
		tg := configure(t, e, fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {key_file: %s}\nknown_hosts: %s\n", h.Name, ip, e.Fleet.OperatorKey, known), secret.NewMemoryStore(), nil)
		inv, err := tg.Inventory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return inv.Systems[0].Error
	}
	if got := inventory(ca); got != "" {
		t.Errorf("a host whose certificate the known CA signed: %s", got)
	}
	if got := inventory(other); !strings.Contains(got, "host key of "+h.Name) {
		t.Errorf("a host whose certificate another CA signed: error %q, want it refused for its host key", got)
	}
}

// TestOldServerAlgorithms: a server that offers only what OpenSSH 5 and
// 6 did (an RSA host key signed with SHA-1, finite-field Diffie-Hellman,
// AES-CTR, HMAC-SHA1), as an estate's oldest machines still do, is
// inventoried, its RSA host key checked against the pin.
func TestOldServerAlgorithms(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	for _, kex := range []string{"diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha256"} {
		t.Run(kex, func(t *testing.T) {
			resetFleet(t) // OpenSSH's client, which configures the host, refuses these
			conf := "HostKey /etc/ssh/ssh_host_rsa_key\\nKexAlgorithms " + kex + "\\nHostKeyAlgorithms ssh-rsa\\nCiphers aes128-ctr\\nMACs hmac-sha1\\n"
			out := reconfigureSSHD(t, e, ip, "ssh-keygen -q -t rsa -b 2048 -N '' -f /etc/ssh/ssh_host_rsa_key && printf '"+conf+"' > /etc/ssh/sshd_config.d/00-legacy.conf", "ssh-keygen -lf /etc/ssh/ssh_host_rsa_key.pub")
			rsa := strings.Fields(string(out))[1]
			tg := configure(t, e, pinnedSettings(e, h, rsa), secret.NewMemoryStore(), nil)
			inv, err := tg.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := inv.Systems[0].Error; got != "" {
				t.Fatalf("inventory of a server offering only %s: %s", kex, got)
			}
		})
	}
}

func TestTrustOnFirstUseRecordsTheKey(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	h := e.Fleet.Hosts[0]
	known := filepath.Join(t.TempDir(), "known_hosts")
	rec := &recorded{}
	tg := configure(t, e, fmt.Sprintf("hosts: [%s]\nauth: {key_file: %s}\nknown_hosts: %s\ntrust_on_first_use: true\n", strings.TrimSuffix(h.Addr, ":22"), e.Fleet.OperatorKey, known), secret.NewMemoryStore(), rec)
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.Systems[0].Error != "" {
		t.Fatal(inv.Systems[0].Error)
	}
	if len(rec.events) != 1 || rec.events[0]["fingerprint"] != h.HostKeyFP || rec.events[0]["kind"] != "host-key-trusted" {
		t.Errorf("recorded %v, want one host-key-trusted event with %s", rec.events, h.HostKeyFP)
	}
	b, err := os.ReadFile(known)
	if err != nil || !strings.Contains(string(b), "ssh-ed25519") {
		t.Errorf("known_hosts not written: %q %v", b, err)
	}
}

// TestJumpHost reaches hosts only through a bastion: their names resolve
// on the bastion alone (its /etc/hosts), so a connection that did not go
// through it fails. Every host's connection is a channel of one login on
// the bastion, made with the connection user's credentials: the new
// access key is proven on a host behind the bastion without the bastion
// having to know that key. A bastion whose key differs from its pin is
// refused.
//
// Long: a jump host set up, then inventory, apply and proofs through it.
func TestJumpHost(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if len(e.Fleet.Hosts) < 3 {
		t.Fatalf("the fleet has %d hosts; this test needs 3", len(e.Fleet.Hosts))
	}
	jump, behind := e.Fleet.Hosts[0], e.Fleet.Hosts[1:3]
	jumpIP := strings.TrimSuffix(jump.Addr, ":22")
	sshTo := func(script string) {
		t.Helper()
		if out, err := rootSSH(e, jumpIP, script); err != nil {
			t.Fatalf("ssh %s: %v\n%s", jumpIP, err, out)
		}
	}
	var hostsLines, settingsHosts []string
	for i, h := range behind {
		name := fmt.Sprintf("behind-%d.handover-test.lan", i)
		hostsLines = append(hostsLines, strings.TrimSuffix(h.Addr, ":22")+" "+name)
		settingsHosts = append(settingsHosts, fmt.Sprintf("  - {name: %s, address: %s, host_key: '%s'}", h.Name, name, h.HostKeyFP))
	}
	sshTo("cp -p /etc/hosts /etc/hosts.handover-test && printf '%s\\n' '" + strings.Join(hostsLines, "' '") + "' >> /etc/hosts")
	t.Cleanup(func() {
		sshTo("mv /etc/hosts.handover-test /etc/hosts")
		resetFleet(t) // the access key installed behind the bastion
	})
	settings := func(jumpKey string) string {
		return fmt.Sprintf("hosts:\n%s\nauth: {key_file: %s}\nknown_hosts: %s\nhost_timeout: 10s\njump: {address: %s, user: root%s}\n",
			strings.Join(settingsHosts, "\n"), e.Fleet.OperatorKey, e.Fleet.KnownHosts, jumpIP, jumpKey)
	}

	// Without the bastion, the names do not resolve.
	direct := configure(t, e, strings.Split(settings(""), "jump:")[0], secret.NewMemoryStore(), nil)
	inv, err := direct.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.Systems[0].Error == "" {
		t.Fatalf("%s was reached without the bastion: the test proves nothing", inv.Systems[0].Name)
	}

	store := secret.NewMemoryStore()
	tg := configure(t, e, settings(""), store, nil)
	inv, err = tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sys := range inv.Systems {
		if sys.Error != "" || len(sys.Findings) == 0 {
			t.Fatalf("%s through the bastion: error %q, %d findings", sys.Name, sys.Error, len(sys.Findings))
		}
	}
	// One login on the bastion carries both hosts' connections.
	out, err := exec.Command("ss", "-Htn", "state", "established", "dst", jump.Addr).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	if n := len(nonEmptyLines(string(out))); n != 1 {
		t.Errorf("%d connections to the bastion, want 1:\n%s", n, out)
	}

	// The new access key of a host behind the bastion, set and proven.
	changes, err := tg.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(changes, func(c plan.Change) bool {
		return c.Action == plan.InstallKey && c.System == behind[0].Name
	})
	if i < 0 {
		t.Fatalf("no access key planned on %s", behind[0].Name)
	}
	ch := changes[i]
	key, err := tg.NewCredential(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := []connector.Credential{{Change: ch, Secret: key}}
	if err := tg.SetCredentials(context.Background(), ch.System, cred)[0].Err; err != nil {
		t.Fatalf("install the access key behind the bastion: %v", err)
	}
	if tr := tg.TryCredentials(context.Background(), ch.System, cred)[0]; tr.Err != nil || !tr.Works {
		t.Errorf("access key behind the bastion: works=%v err=%v", tr.Works, tr.Err)
	}

	// A bastion that does not show its pinned key is refused.
	bad := configure(t, e, settings(", host_key: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'"), secret.NewMemoryStore(), nil)
	inv, err = bad.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sys := range inv.Systems {
		if !strings.Contains(sys.Error, "does not match") || !strings.Contains(sys.Error, jump.HostKeyFP) {
			t.Errorf("%s through a bastion with the wrong key: error %q", sys.Name, sys.Error)
		}
	}
}

// TestSSHAgent logs in with a key held by a real ssh-agent (auth: {agent:
// true}), and installs an access key the operator supplies as a public
// key: its proof is a fresh login with the private half the agent holds.
func TestSSHAgent(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	h := e.Fleet.Hosts[0]
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		agentCmd.Process.Kill()
		agentCmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not create its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	access := filepath.Join(dir, "access")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "incoming@example.test", "-f", access).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	for _, k := range []string{e.Fleet.OperatorKey, access} {
		add := exec.Command("ssh-add", "-q", k)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add %s: %v\n%s", k, err, out)
		}
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	pub, err := os.ReadFile(access + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resetFleet(t) })

	settings := fmt.Sprintf("hosts: [%s]\nauth: {agent: true}\nknown_hosts: %s\naccess_key: {public_key: '%s'}\n",
		strings.TrimSuffix(h.Addr, ":22"), e.Fleet.KnownHosts, strings.TrimSpace(string(pub)))
	tg := configure(t, e, settings, secret.NewMemoryStore(), nil)
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sys := inv.Systems[0]; sys.Error != "" || len(sys.Findings) == 0 {
		t.Fatalf("inventory with the agent's key: error %q, %d findings", sys.Error, len(sys.Findings))
	}
	changes, err := tg.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(changes, func(c plan.Change) bool { return c.Action == plan.InstallKey })
	if i < 0 {
		t.Fatal("no access key planned")
	}
	ch := changes[i]
	key, err := tg.NewCredential(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key.Reveal() != strings.TrimSpace(string(pub)) {
		t.Fatalf("the access key is not the one supplied: %q", key.Reveal())
	}
	cred := []connector.Credential{{Change: ch, Secret: key}}
	if err := tg.SetCredentials(context.Background(), ch.System, cred)[0].Err; err != nil {
		t.Fatal(err)
	}
	tr := tg.TryCredentials(context.Background(), ch.System, cred)[0]
	if tr.Err != nil || !tr.Works {
		t.Errorf("supplied access key: works=%v err=%v", tr.Works, tr.Err)
	}
	if tr.Method != "fresh SSH login with the key held by ssh-agent" {
		t.Errorf("proven by %q, want a login with the agent's key", tr.Method)
	}
}

// TestProxyJumpChain reaches hosts through two bastions chained by an
// OpenSSH client configuration's ProxyJump (ssh_config), reads them, and
// shows the route by who holds each connection: this process holds only
// the one to the first bastion; the connection to the second bastion is
// the first bastion's sshd's, and the hosts' are the second's.
func TestProxyJumpChain(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	if len(e.Fleet.Hosts) < 4 {
		t.Fatalf("the fleet has %d hosts; this test needs 4", len(e.Fleet.Hosts))
	}
	hop1, hop2, behind := e.Fleet.Hosts[0], e.Fleet.Hosts[1], e.Fleet.Hosts[2:4]
	ip := func(h testenv.Host) string { return strings.TrimSuffix(h.Addr, ":22") }
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`Host hop2
    HostName %s
    User root

Host srv-*
    ProxyJump root@%s,hop2
    IdentityFile %s
    UserKnownHostsFile %s
`, ip(hop2), ip(hop1), e.Fleet.OperatorKey, e.Fleet.KnownHosts)), 0o600); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for i, h := range behind {
		hosts = append(hosts, fmt.Sprintf("  - {name: srv-behind-%d, address: %s}", i, ip(h)))
	}
	tg := configure(t, e, fmt.Sprintf("hosts:\n%s\nssh_config: %s\nauth: {}\nhost_timeout: 20s\n", strings.Join(hosts, "\n"), cfg), secret.NewMemoryStore(), nil)
	if tg.s.Jump == nil || len(tg.s.Jump.Via) != 1 {
		t.Fatalf("the ProxyJump chain was not read: %+v", tg.s.Jump)
	}
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sys := range inv.Systems {
		if sys.Error != "" || len(sys.Findings) == 0 {
			t.Fatalf("%s through the chain: error %q, %d findings", sys.Name, sys.Error, len(sys.Findings))
		}
	}
	// Who holds the established connections, while they are open (other
	// test processes may hold their own: only this one's and sshd's
	// count).
	self := fmt.Sprintf("pid=%d,", os.Getpid())
	holders := func(dst string) (mine, sshd int) {
		out, err := exec.Command("ss", "-Htnp", "state", "established", "dst", dst).Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		for _, l := range nonEmptyLines(string(out)) {
			switch {
			case strings.Contains(l, self):
				mine++
			case strings.Contains(l, `(("sshd"`):
				sshd++
			}
		}
		return mine, sshd
	}
	if mine, _ := holders(hop1.Addr); mine != 1 {
		t.Errorf("this process holds %d connections to the first bastion %s, want 1", mine, hop1.Name)
	}
	for _, h := range append([]testenv.Host{hop2}, behind...) {
		if mine, sshd := holders(h.Addr); mine != 0 || sshd == 0 {
			t.Errorf("connections to %s: %d of this process, %d of an sshd; want none and some", h.Name, mine, sshd)
		}
	}
}
