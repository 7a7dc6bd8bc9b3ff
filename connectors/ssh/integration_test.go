package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// outgoingFleet recognises the testenv's outgoing provider the way a
// playbook would.
func outgoingFleet(e *testenv.Env) playbook.Outgoing {
	return playbook.Outgoing{
		Names:       []string{testenv.ProviderName, "Prestanet"},
		Domains:     []string{testenv.ProviderDomain},
		SSHKeys:     e.Fleet.ProviderFingerprints,
		KeyComments: []string{"*prestanet*"},
		Accounts:    []string{"prestanet*"},
	}
}

type recorded struct {
	mu     sync.Mutex
	events []map[string]string
}

func (r *recorded) Record(kind, system string, detail map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := map[string]string{"kind": kind, "system": system}
	for k, v := range detail {
		d[k] = v
	}
	r.events = append(r.events, d)
}

// storeReader adapts a store to the connector's read-only view.
type storeReader struct{ s secret.Store }

func (r storeReader) Current(ctx context.Context, path string) (secret.Secret, bool, error) {
	v, _, err := r.s.Get(ctx, path, 0)
	if err != nil {
		if strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "no current") {
			return secret.Secret{}, false, nil
		}
		return secret.Secret{}, false, err
	}
	return v, true, nil
}

// configure builds a target from YAML settings against the fleet.
func configure(t *testing.T, e *testenv.Env, settingsYAML string, store secret.Store, rec connector.Recorder) *target {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(settingsYAML), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("test.yaml")
	env := connector.Env{Outgoing: connector.NewOutgoing(outgoingFleet(e)), Resolver: &playbook.Resolver{Dir: t.TempDir()}, Secrets: storeReader{store}, Recorder: rec, Now: time.Now}
	tg := New().Configure(d, playbook.Target{Name: "fleet", Type: "ssh", Settings: doc.Content[0]}, env)
	if ds := d.Diagnostics(); len(ds) > 0 {
		t.Fatalf("settings: %v", ds)
	}
	t.Cleanup(func() { tg.Close() })
	return tg.(*target)
}

// sampleHosts are the fleet hosts the tests use: the planted variants
// repeat every five hosts, so the first five show every case whatever the
// fleet's size, and the tests' cost does not grow with it.
func sampleHosts(e *testenv.Env) []testenv.Host {
	return e.Fleet.Hosts[:min(5, len(e.Fleet.Hosts))]
}

func fleetSettings(e *testenv.Env, extra string) string {
	var hosts []string
	for _, h := range sampleHosts(e) {
		hosts = append(hosts, fmt.Sprintf("  - {name: %s, address: %s}", h.Name, strings.TrimSuffix(h.Addr, ":22")))
	}
	return fmt.Sprintf("hosts:\n%s\nauth: {key_file: %s}\nknown_hosts: %s\n%s", strings.Join(hosts, "\n"), e.Fleet.OperatorKey, e.Fleet.KnownHosts, extra)
}

// resetFleet brings back the planted state, through the testenv command.
func resetFleet(t *testing.T) {
	t.Helper()
	testenv.Reset(t, "fleet")
}

// plannedChange inventories the target's one host, plans, and returns the
// planned change with action (and object, unless empty).
func plannedChange(t *testing.T, tg *target, action plan.Action, object string) plan.Change {
	t.Helper()
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Systems[0].Error; err != "" {
		t.Fatal(err)
	}
	changes, err := tg.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(changes, func(c plan.Change) bool { return c.Action == action && (object == "" || c.Object == object) })
	if i < 0 {
		t.Fatalf("no %s %s planned", action, object)
	}
	return changes[i]
}

// caCertAuth is a fresh key with a user certificate for principal, signed
// by the CA whose private key is in caFile.
func caCertAuth(t *testing.T, caFile, principal string) ssh.AuthMethod {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	key := newEd25519Signer(t)
	cert := &ssh.Certificate{Key: key.PublicKey(), CertType: ssh.UserCert, KeyId: "test", ValidPrincipals: []string{principal},
		ValidAfter: uint64(time.Now().Add(-time.Hour).Unix()), ValidBefore: ssh.CertTimeInfinity,
		Permissions: ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}}}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.PublicKeys(signer)
}

// newEd25519Signer is a fresh ed25519 key.
func newEd25519Signer(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rootSSH runs a command on a fleet host as root with OpenSSH's client
// and the operator's key: a view of the host independent of the connector.
func rootSSH(e *testenv.Env, ip, command string) ([]byte, error) {
	return exec.Command("ssh", "-i", e.Fleet.OperatorKey, "-o", "UserKnownHostsFile="+e.Fleet.KnownHosts, "-o", "BatchMode=yes", "root@"+ip, command).CombinedOutput()
}

func findingsOf(sys connector.System, kind string) []connector.Finding {
	var out []connector.Finding
	for _, f := range sys.Findings {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

// tryLogin reports whether user can log in to addr with auth.
func tryLogin(t *testing.T, e *testenv.Env, h testenv.Host, user string, auth ssh.AuthMethod) bool {
	t.Helper()
	c, err := sshDial(t, e, h, user, auth)
	if err != nil {
		if !isAuthFailure(err) {
			t.Fatalf("login %s@%s: %v", user, h.Name, err)
		}
		return false
	}
	c.Close()
	return true
}

// sshDial logs in to h as user, with the connector's own dialer.
func sshDial(t *testing.T, e *testenv.Env, h testenv.Host, user string, auth ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	keys, err := newHostKeys(e.Fleet.KnownHosts, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &dialer{Keys: keys, Timeout: 20 * time.Second}
	return d.Dial(context.Background(), h.Name, h.Addr, "", user, []ssh.AuthMethod{auth})
}

func keyAuth(t *testing.T, pemBytes []byte) ssh.AuthMethod {
	t.Helper()
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.PublicKeys(s)
}

// okInventory inventories tg's one host; the test ends if that fails.
func okInventory(t *testing.T, tg *target) *connector.Inventory {
	t.Helper()
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Systems[0].Error; err != "" {
		t.Fatal(err)
	}
	return inv
}

// inventoryAsRoot inventories the one host of settings and checks that
// the script ran as root: it read /etc/shadow.
func inventoryAsRoot(t *testing.T, e *testenv.Env, settings string) {
	t.Helper()
	sys := okInventory(t, configure(t, e, settings, secret.NewMemoryStore(), nil)).Systems[0]
	// Only root reads /etc/shadow: whether handover holds a password is
	// known from it.
	if !slices.ContainsFunc(sys.Accounts, func(a connector.Account) bool { return a.Password != nil && a.Password.Held != connector.HeldUnknown }) {
		t.Error("no password facts: the inventory did not run as root")
	}
}

// checkHandedOver checks host h after a whole run: the handed-over
// passwords of root and the admin no longer log in, a re-inventory finds
// no agent, and a second plan is empty.
func checkHandedOver(t *testing.T, ctx context.Context, e *testenv.Env, h testenv.Host, tg *target) {
	t.Helper()
	for _, acct := range []struct{ user, oldFile string }{{"root", h.RootPasswordFile}, {h.Admin, h.AdminPassFile}} {
		old := secret.New(testenv.ReadSecret(t, acct.oldFile))
		if tryLogin(t, e, h, acct.user, passwordAuth(old)[0]) {
			t.Errorf("the handed-over password of %s still logs in", acct.user)
		}
	}
	inv2, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := inv2.Systems[0].Error; err != "" {
		t.Fatal(err)
	}
	if agents := findingsOf(inv2.Systems[0], connector.KindAgent); len(agents) > 0 {
		t.Errorf("agents remain: %v", agents)
	}
	again, err := tg.Plan(inv2, decisions(inv2))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range again {
		t.Errorf("second plan is not empty: %s %s", ch.Action, ch.Object)
	}
}

// firstHostToChange is the fleet's first host, for a test that changes
// it: the fleet locked for the test alone, the host planted again after.
func firstHostToChange(t *testing.T) (*testenv.Env, testenv.Host, string) {
	t.Helper()
	testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	// Another build's testenv may have reset the fleet without what this
	// tree plants: planted again first.
	resetFleet(t)
	e := testenv.Require(t)
	h := e.Fleet.Hosts[0]
	t.Cleanup(func() { resetFleet(t) })
	return e, h, strings.TrimSuffix(h.Addr, ":22")
}

// operatorSettings is a target of host h alone, logged in to as root with
// the operator's key.
func operatorSettings(e *testenv.Env, h testenv.Host) string {
	return fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {key_file: %s}\nknown_hosts: %s\n", h.Name, strings.TrimSuffix(h.Addr, ":22"), e.Fleet.OperatorKey, e.Fleet.KnownHosts)
}

// reconfigureSSHD runs script on the host as root, then has its sshd (the
// host's PID 1) read its configuration again, then runs then; it returns
// what then printed, once sshd is back.
func reconfigureSSHD(t *testing.T, e *testenv.Env, ip, script, then string) []byte {
	t.Helper()
	cmd := script + " && kill -HUP 1"
	if then != "" {
		cmd += " && " + then
	}
	out, err := rootSSH(e, ip, cmd)
	if err != nil {
		t.Fatalf("reconfigure sshd: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond) // sshd reloading
	return out
}

// pinnedSettings is a target of host h alone, its host key pinned by
// fingerprint, logged in to as root with the operator's key.
func pinnedSettings(e *testenv.Env, h testenv.Host, pin string) string {
	return fmt.Sprintf("hosts: [{name: %s, address: %s, host_key: '%s'}]\nauth: {key_file: %s}\n", h.Name, strings.TrimSuffix(h.Addr, ":22"), pin, e.Fleet.OperatorKey)
}

// plantedInventory inventories host h alone (oneHostSettings) and checks
// that every artefact planted there is found and attributed.
func plantedInventory(t *testing.T, ctx context.Context, e *testenv.Env, h testenv.Host) (*target, secret.Store, *connector.Inventory) {
	t.Helper()
	store := secret.NewMemoryStore()
	tg := configure(t, e, oneHostSettings(e, h), store, nil)
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkPlanted(t, h, inv.Systems[0])
	return tg, store, inv
}

// oneHostSettings is a target of host h alone, logged in to as root with
// the operator's key, with the handed-over passwords of root and the admin.
func oneHostSettings(e *testenv.Env, h testenv.Host) string {
	return fmt.Sprintf(`hosts: [{name: %s, address: %s}]
auth: {key_file: %s}
known_hosts: %s
passwords:
  - {account: root, password: '${file:%s}'}
  - {account: %s, password: '${file:%s}'}
`, h.Name, strings.TrimSuffix(h.Addr, ":22"), e.Fleet.OperatorKey, e.Fleet.KnownHosts, h.RootPasswordFile, h.Admin, h.AdminPassFile)
}

// systemdHostToChange is the fleet's host booted by systemd, for a test
// that changes it (as firstHostToChange); the test fails with the reason
// when the testenv could not start that host.
func systemdHostToChange(t *testing.T) (*testenv.Env, testenv.Host, string) {
	t.Helper()
	testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	resetFleet(t) // this tree's plants, as firstHostToChange
	e := testenv.Require(t)
	if e.Fleet == nil || e.Fleet.SystemdHost == nil {
		t.Fatalf("testenv has no systemd host (%s): run bin/testenv up -only fleet", e.Fleet.SystemdHostError)
	}
	h := *e.Fleet.SystemdHost
	t.Cleanup(func() { resetFleet(t) })
	return e, h, strings.TrimSuffix(h.Addr, ":22")
}

func agentDaemons(h testenv.Host) []string {
	var d []string
	for _, a := range h.AgentDetails {
		d = append(d, a.Daemon)
	}
	return d
}

// canSudo logs in to h as user with the private key and tells whether
// `sudo -n true` succeeds (no password asked).
func canSudo(t *testing.T, e *testenv.Env, h testenv.Host, user string, key []byte) bool {
	t.Helper()
	c, err := sshDial(t, e, h, user, keyAuth(t, key))
	if err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Run("sudo -n true") == nil
}

func fingerprintOf(t *testing.T, authorizedLine []byte) string {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey(authorizedLine)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(k)
}

// decisions are the engine's decisions on inv under the playbook's
// default policy, for tests that plan without a run.
func decisions(inv *connector.Inventory) connector.Decisions {
	p := playbook.Policy{RotateAdmins: true, Password: secret.DefaultPolicy(), AccessKeyType: "ed25519", MaxCredentialAge: 90 * 24 * time.Hour}
	return engine.Decide(p, "fleet", inv, time.Now())
}

// done are changes the target took, for Verify, as the engine gives them.
func done(chs []plan.Change) []connector.Done {
	out := make([]connector.Done, len(chs))
	for i, ch := range chs {
		out[i] = connector.Done{Change: ch, At: time.Now()}
	}
	return out
}
