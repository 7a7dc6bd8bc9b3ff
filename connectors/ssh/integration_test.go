package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
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
	pb := &playbook.Playbook{Outgoing: outgoingFleet(e), Policy: playbook.Policy{RotateAdmins: true, Password: secret.DefaultPolicy(), AccessKeyType: "ed25519", Parallel: 16}}
	env := connector.Env{Playbook: pb, Resolver: &playbook.Resolver{Dir: t.TempDir()}, Secrets: storeReader{store}, Recorder: rec, Now: time.Now}
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
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "testenv")
	build := exec.Command("go", "build", "-o", bin, "./testenv/cmd/testenv")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testenv: %v\n%s", err, out)
	}
	// Bounded: the state directory is shared, a stuck reset must fail the
	// test rather than hang it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "reset", "-only", "fleet")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv reset -only fleet: %v\n%s", err, out)
	}
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
	changes, err := tg.Plan(inv)
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

// checkPlanted checks that an inventory found, and attributed rightly,
// everything planted on a testenv host.
func checkPlanted(t *testing.T, h testenv.Host, sys connector.System) {
	t.Helper()
	if sys.Error != "" {
		t.Fatalf("host error: %s", sys.Error)
	}
	byID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		byID[f.ID] = f
	}
	for _, k := range h.Keys {
		id := "ssh-key:" + k.User + ":" + k.Fingerprint + ":" + k.File
		f, ok := byID[id]
		if !ok {
			t.Errorf("key %s of %s in %s not found", k.Fingerprint, k.User, k.File)
			continue
		}
		if f.Provider != k.Provider {
			t.Errorf("key %s (%s) in %s: provider=%v, want %v (reasons %v)", k.Fingerprint, k.Comment, k.File, f.Provider, k.Provider, f.Reasons)
		}
		if k.Options != "" && f.Detail["options"] == "" {
			t.Errorf("key %s: options %q not reported", k.Fingerprint, k.Options)
		}
	}
	for _, c := range h.Cron {
		var got []connector.Finding
		for _, f := range findingsOf(sys, connector.KindCron) {
			if f.Detail[detailFile] == c.File {
				got = append(got, f)
			}
		}
		if len(got) == 0 {
			t.Errorf("cron file %s: no entry found", c.File)
		}
		for _, f := range got {
			if f.Provider != c.Provider {
				t.Errorf("cron %s: provider=%v, want %v (reasons %v)", f.Summary, f.Provider, c.Provider, f.Reasons)
			}
		}
	}
	for _, file := range h.Sudoers {
		found := false
		for _, f := range findingsOf(sys, connector.KindGrant) {
			if f.Detail[detailFile] == file {
				found = true
				if !f.Provider {
					t.Errorf("grant %s not attributed to the provider", f.Summary)
				}
			}
		}
		if !found {
			t.Errorf("sudoers file %s: no grant found", file)
		}
	}
	for _, a := range h.AgentDetails {
		f, ok := byID["agent:"+a.Name]
		if !ok {
			t.Errorf("agent %s (%s) not found", a.Name, a.State)
			continue
		}
		if !f.Provider || len(f.Reasons) == 0 {
			t.Errorf("agent %s not attributed: %v", a.Name, f.Reasons)
		}
		if a.Package != "" && !strings.Contains(f.Detail["packages"], a.Package) {
			t.Errorf("agent %s: package %s not reported: %v", a.Name, a.Package, f.Detail)
		}
		if a.Running && !strings.Contains(f.Detail["processes"], a.Daemon) {
			t.Errorf("agent %s: process %s not reported: %v", a.Name, a.Daemon, f.Detail)
		}
		if a.State == "rc" && !strings.Contains(f.Summary, "rc") {
			t.Errorf("agent %s: rc state not reported: %s", a.Name, f.Summary)
		}
	}
	var provider, admin connector.Account
	for _, a := range sys.Accounts {
		switch a.Name {
		case h.ProviderUser:
			provider = a
		case h.Admin:
			admin = a
		}
	}
	if !provider.Provider || !provider.Admin {
		t.Errorf("provider account %s: provider=%v admin=%v via %v", h.ProviderUser, provider.Provider, provider.Admin, provider.AdminVia)
	}
	if !admin.Admin || admin.Provider {
		t.Errorf("admin account %s: admin=%v provider=%v", h.Admin, admin.Admin, admin.Provider)
	}
}

func TestInventoryFindsEveryPlantedArtefact(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	tg := configure(t, e, fleetSettings(e, ""), secret.NewMemoryStore(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range sampleHosts(e) {
		sys := inv.Systems[i]
		t.Run(h.Name, func(t *testing.T) {
			checkPlanted(t, h, sys)
			if sys.Hardware == nil || sys.Hardware.CPUs == 0 || sys.Hardware.MemoryMB == 0 {
				t.Errorf("hardware not read: %+v", sys.Hardware)
			}
			if len(sys.Software) == 0 {
				t.Error("no packages read")
			}
			hasSSHD := slices.ContainsFunc(sys.Ports, func(p connector.Port) bool { return strings.HasSuffix(p.Addr, ":22") })
			if !hasSSHD {
				t.Errorf("sshd's port not among %v", sys.Ports)
			}
		})
	}
}

// engineRun plays the engine's part for one host's changes: the
// write-ahead protocol for credentials (pending in the store, set, new
// works, old fails, current), Apply for the rest, then Verify.
// planAndRun plans from inv and applies every change as the engine does;
// the test ends there if any failed.
func planAndRun(t *testing.T, ctx context.Context, tg *target, store secret.Store, inv *connector.Inventory) {
	t.Helper()
	changes, err := tg.Plan(inv)
	if err != nil {
		t.Fatal(err)
	}
	engineRun(t, ctx, tg, store, changes)
	if t.Failed() {
		t.FailNow()
	}
}

func engineRun(t *testing.T, ctx context.Context, tg *target, store secret.Store, changes []plan.Change) {
	t.Helper()
	p := plan.Plan{Changes: changes}
	p.Sort()
	// As the engine calls a batch connector: the access key, then the
	// rotations, then the rest, each group in one call.
	var key, rotations, rest []plan.Change
	for _, ch := range p.Changes {
		switch ch.Action {
		case plan.InstallKey:
			key = append(key, ch)
		case plan.RotatePassword:
			rotations = append(rotations, ch)
		default:
			rest = append(rest, ch)
		}
	}
	system := p.Changes[0].System
	for _, group := range [][]plan.Change{key, rotations} {
		if len(group) == 0 {
			continue
		}
		var next, old []connector.Credential
		var versions []secret.Version
		for _, ch := range group {
			if ch.Action == plan.RotatePassword {
				o, haveOld, err := tg.KnownCredential(ctx, ch)
				if err != nil {
					t.Fatalf("%s %s: known credential: %v", ch.Action, ch.Object, err)
				}
				if haveOld {
					old = append(old, connector.Credential{Change: ch, Secret: o})
				}
			}
			n, err := tg.NewCredential(ctx, ch, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, err := store.PutPending(ctx, ch.SecretPath, n, map[string]string{"change": ch.ID})
			if err != nil {
				t.Fatal(err)
			}
			next, versions = append(next, connector.Credential{Change: ch, Secret: n}), append(versions, v)
		}
		for i, err := range tg.SetCredentials(ctx, system, next) {
			if err != nil {
				t.Fatalf("%s %s on %s: %v", group[i].Action, group[i].Object, system, err)
			}
		}
		// The new passwords' su logins ran in the script that set them,
		// and are taken (once) by TryCredentials.
		kept := func() int {
			tg.mu.Lock()
			defer tg.mu.Unlock()
			n := 0
			for _, c := range next {
				if _, ok := tg.proofs[proofKey(system, c.Change.Params["user"], c.Secret)]; ok {
					n++
				}
			}
			return n
		}
		if n, want := kept(), len(old); n != want {
			t.Errorf("%s: %d su proofs kept from the credential script, want %d", system, n, want)
		}
		for i, tr := range tg.TryCredentials(ctx, system, next) {
			if tr.Err != nil || !tr.Works {
				t.Fatalf("%s %s on %s: new credential works=%v err=%v", group[i].Action, group[i].Object, system, tr.Works, tr.Err)
			}
		}
		if n := kept(); n != 0 {
			t.Errorf("%s: %d su proofs left once taken", system, n)
		}
		for i, tr := range tg.TryCredentials(ctx, system, old) {
			if tr.Err != nil || tr.Works {
				t.Fatalf("%s %s on %s: old credential still works=%v err=%v", old[i].Change.Action, old[i].Change.Object, system, tr.Works, tr.Err)
			}
		}
		for i, ch := range group {
			if err := store.SetState(ctx, ch.SecretPath, versions[i].Version, secret.Current); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(rest) > 0 {
		for i, res := range tg.ApplyBatch(ctx, system, rest, storeReader{store}) {
			if res.Err != nil {
				t.Fatalf("%s %s on %s: %v", rest[i].Action, rest[i].Object, system, res.Err)
			}
		}
	}
	applied := p.Changes
	if len(applied) == 0 {
		return
	}
	checks, err := tg.Verify(ctx, applied[0].System, applied)
	if err != nil {
		t.Fatalf("verify %s: %v", applied[0].System, err)
	}
	proven := map[string]bool{}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("%s: check failed: %s (%s)", applied[0].System, c.What, c.Detail)
		}
		if strings.HasPrefix(c.What, "old and new passwords tested by") && !strings.Contains(c.What, "su login") {
			t.Errorf("%s: %s; want a su login", applied[0].System, c.What)
		}
		proven[c.Change] = true
	}
	for _, ch := range applied {
		if !proven[ch.ID] {
			t.Errorf("%s: no verification for %s %s", ch.System, ch.Action, ch.Object)
		}
	}
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
	d := &dialer{keys: keys, timeout: 20 * time.Second}
	return d.dial(context.Background(), h.Name, h.Addr, "", user, []ssh.AuthMethod{auth})
}

func keyAuth(t *testing.T, pemBytes []byte) ssh.AuthMethod {
	t.Helper()
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.PublicKeys(s)
}

func TestApplyRemovesProviderAccessAndRotates(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	t.Cleanup(func() { resetFleet(t) })
	var pw []string
	for _, h := range sampleHosts(e) {
		pw = append(pw,
			fmt.Sprintf("  - {account: root, password: '${file:%s}', hosts: [%s]}", h.RootPasswordFile, h.Name),
			fmt.Sprintf("  - {account: %s, password: '${file:%s}', hosts: [%s]}", h.Admin, h.AdminPassFile, h.Name))
	}
	store := secret.NewMemoryStore()
	tg := configure(t, e, fleetSettings(e, "passwords:\n"+strings.Join(pw, "\n")+"\n"), store, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := tg.Plan(inv)
	if err != nil {
		t.Fatal(err)
	}
	bySystem := map[string][]plan.Change{}
	for _, ch := range changes {
		bySystem[ch.System] = append(bySystem[ch.System], ch)
	}
	var wg sync.WaitGroup
	for _, h := range sampleHosts(e) {
		if len(bySystem[h.Name]) == 0 {
			t.Fatalf("%s: nothing planned", h.Name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			engineRun(t, ctx, tg, store, bySystem[h.Name])
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

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
	again, err := tg.Plan(inv2)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range again {
		t.Errorf("second plan is not empty: %s %s %s", ch.System, ch.Action, ch.Object)
	}
}

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
	if got := tg.keys.pinnedAlgorithms(h.Addr); !slices.Equal(got, []string{ssh.KeyAlgoECDSA256}) {
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

func TestSudoUser(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	h := e.Fleet.Hosts[0]
	settings := fmt.Sprintf(`hosts: [%s]
user: %s
auth: {password: '${file:%s}'}
sudo: {password: '${file:%s}'}
known_hosts: %s
access_key: false
`, strings.TrimSuffix(h.Addr, ":22"), h.Admin, h.AdminPassFile, h.AdminPassFile, e.Fleet.KnownHosts)
	inventoryAsRoot(t, e, settings)
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
	if len(findingsOf(sys, connector.KindCredAge)) == 0 {
		t.Error("no credential findings: the inventory did not run as root")
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
	changes, err := tg.Plan(inv)
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
	old, haveOld, err := tg.KnownCredential(ctx, ch)
	if err != nil || !haveOld {
		t.Fatalf("handed-over password of root: %v, %v", haveOld, err)
	}
	next, err := tg.NewCredential(ctx, ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.SetCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: next}})[0]; err != nil {
		t.Fatal(err)
	}
	tried := tg.TryCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: next}, {Change: ch, Secret: old}})
	if tried[0].Err != nil || !tried[0].Works {
		t.Errorf("new password: works=%v err=%v; want it proven by another way than su", tried[0].Works, tried[0].Err)
	}
	if tried[1].Err != nil || tried[1].Works {
		t.Errorf("old password: works=%v err=%v; want it rejected", tried[1].Works, tried[1].Err)
	}
	if m := tg.method(ch.ID); m != "fresh SSH password login" {
		t.Errorf("proven by %q, want a fresh SSH password login", m)
	}
}

// TestJumpHost reaches hosts only through a bastion: their names resolve
// on the bastion alone (its /etc/hosts), so a connection that did not go
// through it fails. Every host's connection is a channel of one login on
// the bastion, made with the connection user's credentials: the new
// access key is proven on a host behind the bastion without the bastion
// having to know that key. A bastion whose key differs from its pin is
// refused.
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
	changes, err := tg.Plan(inv)
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
	if err := tg.SetCredentials(context.Background(), ch.System, cred)[0]; err != nil {
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
	changes, err := tg.Plan(inv)
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
	if err := tg.SetCredentials(context.Background(), ch.System, cred)[0]; err != nil {
		t.Fatal(err)
	}
	if tr := tg.TryCredentials(context.Background(), ch.System, cred)[0]; tr.Err != nil || !tr.Works {
		t.Errorf("supplied access key: works=%v err=%v", tr.Works, tr.Err)
	}
	if m := tg.method(ch.ID); m != "fresh SSH login with the key held by ssh-agent" {
		t.Errorf("proven by %q, want a login with the agent's key", m)
	}
}

// TestRPMHost runs the whole job on the fleet's RHEL-family host (rpm and
// dnf, no dpkg, the admin in wheel, root's crontab in /var/spool/cron):
// every planted artefact found and attributed, the packaged agent removed
// by the host's package manager (dnf) and proven gone by re-inventory and
// by rpm itself, passwords rotated and proven, and nothing left to plan.
func TestRPMHost(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || e.Fleet.RPMHost == nil {
		t.Fatal("testenv has no RHEL-family host: run bin/testenv up -only fleet")
	}
	h := *e.Fleet.RPMHost
	t.Cleanup(func() { resetFleet(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg, store, inv := plantedInventory(t, ctx, e, h)
	sys := inv.Systems[0]
	if t.Failed() {
		t.FailNow()
	}
	var os string
	for _, f := range sys.Facts {
		if f.Name == "os" {
			os = f.Value
		}
	}
	if !strings.HasPrefix(os, "Rocky Linux") {
		t.Errorf("os %q, want Rocky Linux's os-release", os)
	}
	if !slices.ContainsFunc(sys.Software, func(p connector.Package) bool {
		return p.Name == "teamviewer" && strings.HasSuffix(p.Version, ".el9")
	}) {
		t.Errorf("the teamviewer rpm is not among the packages: %v", sys.Software)
	}
	for _, a := range sys.Accounts {
		if a.Name == h.Admin && !slices.Contains(a.AdminVia, "wheel group") {
			t.Errorf("%s is an admin via %v, want the wheel group", a.Name, a.AdminVia)
		}
	}

	planAndRun(t, ctx, tg, store, inv)
	ip := strings.TrimSuffix(h.Addr, ":22")
	out, err := rootSSH(e, ip, "rpm -q teamviewer; pgrep -x teamviewerd; ls /opt/teamviewer /usr/lib/systemd/system/teamviewerd.service")
	if err == nil || !strings.Contains(string(out), "package teamviewer is not installed") {
		t.Errorf("teamviewer is still on the host:\n%s", out)
	}
	// Removed by the host's package manager, which logs what it erased.
	out, err = rootSSH(e, ip, "cat /var/log/dnf.rpm.log")
	if err != nil || !strings.Contains(string(out), "teamviewer") {
		t.Errorf("dnf did not remove teamviewer (%v):\n%s", err, out)
	}
	checkHandedOver(t, ctx, e, h, tg)
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
	again, err := tg.Plan(inv2)
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
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
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

// TestSystemdHost runs the whole job on the fleet's systemd host, booted
// as a real server is: systemd is PID 1, started sshd and the agents'
// units, and restarts an agent that dies (Restart=always). The inventory
// reads the running units from systemd; the removal stops and disables
// them through systemctl, so that none comes back and no unit is left
// failed; the host's manager ends the run as healthy as it started.
func TestSystemdHost(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	if out, err := rootSSH(e, ip, "cat /proc/1/comm; systemctl is-system-running"); err != nil || string(out) != "systemd\nrunning\n" {
		t.Fatalf("the systemd host is not booted by a healthy systemd (%v):\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg, store, inv := plantedInventory(t, ctx, e, h)
	sys := inv.Systems[0]
	if !slices.ContainsFunc(sys.Facts, func(f connector.Fact) bool { return f.Name == "systemd" && f.Value == "running" }) {
		t.Errorf("systemd not reported running: %v", sys.Facts)
	}
	var units []string
	for _, a := range h.AgentDetails {
		if !a.Running {
			continue
		}
		units = append(units, a.Unit)
		if !slices.ContainsFunc(sys.Services, func(s connector.Service) bool { return s.Name == a.Unit && s.Running && s.Enabled }) {
			t.Errorf("service %s not reported enabled and running (from systemd): %v", a.Unit, sys.Services)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	planAndRun(t, ctx, tg, store, inv)
	// Past the units' RestartSec (5 s): a unit killed rather than stopped
	// would be running again, or failed.
	time.Sleep(6 * time.Second)
	out, err := rootSSH(e, ip, "systemctl is-system-running; systemctl --failed --no-legend --plain; systemctl show -p Id,LoadState,ActiveState "+strings.Join(units, " ")+
		"; for p in "+strings.Join(agentDaemons(h), " ")+"; do pgrep -x $p && echo running: $p; done; dpkg -l teamviewer anydesk 2>&1 | grep '^[a-z][a-z] ' || echo no-packages")
	got := string(out)
	if err != nil || !strings.HasPrefix(got, "running\n") || strings.Contains(got, "running:") || !strings.Contains(got, "no-packages") {
		t.Errorf("after the run (%v):\n%s", err, got)
	}
	for _, u := range units {
		if !strings.Contains(got, "Id="+u+"\nLoadState=not-found\nActiveState=inactive") && !strings.Contains(got, "LoadState=not-found\nActiveState=inactive\nId="+u) {
			t.Errorf("unit %s is still known to systemd:\n%s", u, got)
		}
	}
	checkHandedOver(t, ctx, e, h, tg)
}

// TestSystemdUnitWithoutFile: an agent whose unit file is gone while
// systemd still runs it (deleted by hand, no reload since: systemd keeps
// the unit and restarts it when it dies) is found by the unit systemd
// holds, stopped through systemd and forgotten by it, not merely killed.
func TestSystemdUnitWithoutFile(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	const unit = "ninjarmm-agent.service"
	if out, err := rootSSH(e, ip, "rm /etc/systemd/system/"+unit+" /etc/systemd/system/multi-user.target.wants/"+unit+" && systemctl show -p LoadState,ActiveState "+unit); err != nil || string(out) != "LoadState=loaded\nActiveState=active\n" {
		t.Fatalf("unit file removed behind systemd's back (%v):\n%s", err, out)
	}
	tg := configure(t, e, fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {key_file: %s}\nknown_hosts: %s\n",
		h.Name, ip, e.Fleet.OperatorKey, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
	remove := plannedChange(t, tg, plan.RemoveAgent, "ninjarmm")
	if !strings.Contains(remove.Before+" "+remove.Params["units"], unit) {
		t.Errorf("the removal does not name %s: %s %v", unit, remove.Before, remove.Params)
	}
	ctx := context.Background()
	if res := tg.ApplyBatch(ctx, h.Name, []plan.Change{remove}, nil)[0]; res.Err != nil {
		t.Fatalf("remove ninjarmm: %v", res.Err)
	} else if !strings.Contains(res.Outcome.Detail, "stopped and disabled "+unit) {
		t.Errorf("the unit was not stopped through systemd: %s", res.Outcome.Detail)
	}
	checks, err := tg.Verify(ctx, h.Name, []plan.Change{remove})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
	time.Sleep(6 * time.Second) // past RestartSec
	out, err := rootSSH(e, ip, "systemctl is-system-running; systemctl show -p LoadState,ActiveState "+unit+"; pgrep -x ninjarmm-linage || echo no-process")
	if err != nil || string(out) != "running\nLoadState=not-found\nActiveState=inactive\nno-process\n" {
		t.Errorf("after the removal (%v):\n%s", err, out)
	}
}

// systemdHostToChange is the fleet's host booted by systemd, for a test
// that changes it (as firstHostToChange); the test fails with the reason
// when the testenv could not start that host.
func systemdHostToChange(t *testing.T) (*testenv.Env, testenv.Host, string) {
	t.Helper()
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || e.Fleet.SystemdHost == nil {
		t.Fatalf("testenv has no systemd host (%s): run bin/testenv up -only fleet", e.Fleet.SystemdHostError)
	}
	h := *e.Fleet.SystemdHost
	t.Cleanup(func() { resetFleet(t) })
	return e, h, strings.TrimSuffix(h.Addr, ":22")
}

// TestProviderUnitOfItsOwn: the provider left a supervision job of its own
// as a systemd service and timer (no catalogue entry knows it). The
// inventory reports both as the provider's; with a catalogue extension
// describing the job, it is removed like any agent: timer stopped and
// disabled, files gone, systemd healthy, re-inventory clean.
func TestProviderUnitOfItsOwn(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	script := `printf '[Unit]\nDescription=Supervision\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/prestanet-check\n' > /etc/systemd/system/prestanet-supervision.service &&
printf '[Timer]\nOnBootSec=1min\nOnUnitActiveSec=5min\n[Install]\nWantedBy=timers.target\n' > /etc/systemd/system/prestanet-supervision.timer &&
printf '#!/bin/sh\necho ok\n' > /usr/local/bin/prestanet-check && chmod 755 /usr/local/bin/prestanet-check &&
systemctl daemon-reload && systemctl enable --now prestanet-supervision.timer 2>/dev/null && systemctl is-active prestanet-supervision.timer`
	if out, err := rootSSH(e, ip, script); err != nil || string(out) != "active\n" {
		t.Fatalf("plant the provider's job (%v):\n%s", err, out)
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	sys := okInventory(t, tg).Systems[0]
	for _, u := range []string{"prestanet-supervision.service", "prestanet-supervision.timer"} {
		i := slices.IndexFunc(sys.Findings, func(f connector.Finding) bool { return f.ID == "service:"+u })
		if i < 0 || !sys.Findings[i].Provider {
			t.Errorf("the provider's %s is not reported as the provider's: %v", u, findingsOf(sys, connector.KindService))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	ext := filepath.Join(t.TempDir(), "agents-extra.yaml")
	if err := os.WriteFile(ext, []byte(`agents:
  - name: prestanet-supervision
    title: Prestanet supervision job
    vendor: Prestanet Informatique
    source: https://prestanet.test/supervision
    packages: []
    units: [prestanet-supervision.service]
    processes: [prestanet-check]
    paths: [/usr/local/bin/prestanet-check]
    configs: []
    cron: []
    timers: [prestanet-supervision.timer]
    removal:
      purge: false
      uninstaller: ""
      files: [/usr/local/bin/prestanet-check]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tg = configure(t, e, operatorSettings(e, h)+"catalog: "+ext+"\n", secret.NewMemoryStore(), nil)
	remove := plannedChange(t, tg, plan.RemoveAgent, "prestanet-supervision")
	if res := tg.ApplyBatch(context.Background(), h.Name, []plan.Change{remove}, nil)[0]; res.Err != nil {
		t.Fatalf("remove: %v", res.Err)
	}
	checks, err := tg.Verify(context.Background(), h.Name, []plan.Change{remove})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
	out, err := rootSSH(e, ip, "systemctl is-system-running; systemctl show -p LoadState prestanet-supervision.timer prestanet-supervision.service; ls /usr/local/bin/prestanet-check 2>&1")
	if err == nil || !strings.HasPrefix(string(out), "running\nLoadState=not-found\n\nLoadState=not-found\n") || !strings.Contains(string(out), "No such file") {
		t.Errorf("after the removal (%v):\n%s", err, out)
	}
	if left := findingsOf(okInventory(t, tg).Systems[0], connector.KindService); len(left) > 0 {
		t.Errorf("still reported: %v", left)
	}
}

func agentDaemons(h testenv.Host) []string {
	var d []string
	for _, a := range h.AgentDetails {
		d = append(d, a.Daemon)
	}
	return d
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
	res := tg.ApplyBatch(context.Background(), h.Name, []plan.Change{lock}, nil)[0]
	if res.Err != nil {
		t.Fatalf("lock: %v", res.Err)
	}
	if !strings.Contains(res.Outcome.Detail, "ended its processes") {
		t.Errorf("outcome: %s", res.Outcome.Detail)
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

// TestProviderTunnelProcess: a reverse tunnel to the provider's bastion
// runs on the host (as autossh would keep it). The inventory reports the
// process as the provider's, by its command line, with a stable id.
func TestProviderTunnelProcess(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	tunnel := "autossh -M 0 -N -R 2222:localhost:22 tunnel@bastion." + testenv.ProviderDomain
	if out, err := rootSSH(e, ip, "setsid bash -c 'exec -a \""+tunnel+"\" sleep 600' </dev/null >/dev/null 2>&1 & sleep 0.2; pgrep -f bastion >/dev/null && echo started"); err != nil || string(out) != "started\n" {
		t.Fatalf("start the tunnel (%v): %s", err, out)
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	var ids []string
	for range 2 {
		var got []connector.Finding
		for _, f := range findingsOf(okInventory(t, tg).Systems[0], connector.KindProcess) {
			if strings.Contains(f.Summary, tunnel) {
				got = append(got, f)
			}
		}
		if len(got) != 1 || !got[0].Provider {
			t.Fatalf("the tunnel is not reported once as the provider's: %v", got)
		}
		ids = append(ids, got[0].ID)
	}
	if ids[0] != ids[1] {
		t.Errorf("the same process has two ids: %v", ids)
	}
}

// TestSudoWithoutPassword logs in as an account whose sudo rule needs no
// password (NOPASSWD: the provider's own account, here): the inventory
// runs as root through `sudo -n`.
func TestSudoWithoutPassword(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	h := e.Fleet.Hosts[0]
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	if i < 0 {
		t.Fatalf("no key of the provider's account %s among %v", h.ProviderUser, e.Fleet.ProviderKeyComments)
	}
	settings := fmt.Sprintf("hosts: [%s]\nuser: %s\nauth: {key_file: %s}\nsudo: true\nknown_hosts: %s\naccess_key: false\n",
		strings.TrimSuffix(h.Addr, ":22"), h.ProviderUser, e.Fleet.ProviderKeys[i], e.Fleet.KnownHosts)
	inventoryAsRoot(t, e, settings)

	// The provider's account is the only access here and no access key
	// replaces it: the plan removes everything of the provider's but what
	// this very login needs (its account, its key, its sudo rule), which
	// would lock the incoming team out. With an access key, all of it.
	planned := func(settings string) map[plan.Action][]string {
		tg := configure(t, e, settings, secret.NewMemoryStore(), nil)
		inv, err := tg.Inventory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		changes, err := tg.Plan(inv)
		if err != nil {
			t.Fatal(err)
		}
		got := map[plan.Action][]string{}
		for _, ch := range changes {
			got[ch.Action] = append(got[ch.Action], ch.Object)
		}
		return got
	}
	own := []struct {
		action plan.Action
		object string
	}{
		{plan.LockAccount, h.ProviderUser},
		{plan.RemoveKey, h.ProviderUser + ":" + e.Fleet.ProviderFingerprints[i] + ":/home/" + h.ProviderUser + "/.ssh/authorized_keys"},
		{plan.RemoveGrant, "/etc/sudoers.d/prestanet:" + h.ProviderUser + " ALL=(ALL:ALL) NOPASSWD: ALL"},
	}
	without := planned(settings)
	for _, o := range own {
		if slices.Contains(without[o.action], o.object) {
			t.Errorf("without an access key, planned %s %s: the run would cut its own access", o.action, o.object)
		}
	}
	if len(without[plan.RemoveAgent]) == 0 || len(without[plan.RemoveKey]) == 0 {
		t.Errorf("without an access key, the rest of the provider's access is not planned: %v", without)
	}
	with := planned(strings.Replace(settings, "access_key: false\n", "", 1))
	for _, o := range own {
		if !slices.Contains(with[o.action], o.object) {
			t.Errorf("with an access key, %s %s not planned: %v", o.action, o.object, with[o.action])
		}
	}
}

// TestRPMHostPackageManagers removes the RHEL-family host's packaged agent
// where dnf is not the tool at hand: yum alone (as on RHEL 7, or RHEL 8+
// where yum is dnf under its old name), and rpm alone (a minimal image).
// Each time the agent's package is gone, by rpm's own account and by
// re-inventory.
func TestRPMHostPackageManagers(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || e.Fleet.RPMHost == nil {
		t.Fatal("testenv has no RHEL-family host: run bin/testenv up -only fleet")
	}
	h := *e.Fleet.RPMHost
	ip := strings.TrimSuffix(h.Addr, ":22")
	t.Cleanup(func() { resetFleet(t) })
	for _, tc := range []struct {
		name, prepare string
		byDnf         bool // dnf's log records the erase
	}{
		{"yum", "mv /usr/bin/dnf /usr/bin/dnf.hidden && ln -s dnf-3 /usr/bin/yum", true},
		{"rpm", "mv /usr/bin/dnf /usr/bin/dnf.hidden", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetFleet(t)
			if out, err := rootSSH(e, ip, tc.prepare); err != nil {
				t.Fatalf("%s: %v\n%s", tc.prepare, err, out)
			}
			tg := configure(t, e, fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {key_file: %s}\nknown_hosts: %s\n",
				h.Name, ip, e.Fleet.OperatorKey, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
			ctx := context.Background()
			remove := []plan.Change{plannedChange(t, tg, plan.RemoveAgent, "teamviewer")}
			if res := tg.ApplyBatch(ctx, h.Name, remove, nil)[0]; res.Err != nil {
				t.Fatalf("remove teamviewer: %v", res.Err)
			}
			checks, err := tg.Verify(ctx, h.Name, remove)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range checks {
				if !c.OK {
					t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
				}
			}
			out, _ := rootSSH(e, ip, "rpm -q teamviewer; cat /var/log/dnf.rpm.log 2>/dev/null")
			if !strings.Contains(string(out), "package teamviewer is not installed") {
				t.Errorf("rpm still has teamviewer:\n%s", out)
			}
			if logged := strings.Contains(string(out), "Erase: teamviewer"); logged != tc.byDnf {
				t.Errorf("dnf's log records the erase: %v, want %v:\n%s", logged, tc.byDnf, out)
			}
		})
	}
}

// TestSudoRequiresTTY: on a host whose sudoers demand a terminal
// (`Defaults requiretty`, as older RHEL had), the inventory as a sudo user
// fails and says what to change.
func TestSudoRequiresTTY(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	if out, err := rootSSH(e, ip, "printf 'Defaults requiretty\\n' > /etc/sudoers.d/tty && chmod 440 /etc/sudoers.d/tty && visudo -c -q"); err != nil {
		t.Fatalf("requiretty: %v\n%s", err, out)
	}
	tg := configure(t, e, fmt.Sprintf("hosts: [%s]\nuser: %s\nauth: {password: '${file:%s}'}\nsudo: {password: '${file:%s}'}\nknown_hosts: %s\naccess_key: false\n",
		ip, h.Admin, h.AdminPassFile, h.AdminPassFile, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
	inv, err := tg.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Systems[0].Error; !strings.Contains(got, "requiretty") || !strings.Contains(got, "!requiretty") {
		t.Errorf("error %q, want one that names requiretty and the fix", got)
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
	if err := tg.SetCredentials(ctx, ch.System, cred)[0]; err != nil {
		t.Fatal(err)
	}
	if tr := tg.TryCredentials(ctx, ch.System, cred)[0]; tr.Err != nil || !tr.Works {
		t.Errorf("RSA access key: works=%v err=%v", tr.Works, tr.Err)
	}
}

// TestMatchBlockKeyFiles: sshd reads some key files for the accounts or
// connections a Match block names only, which `sshd -T` (the global
// settings) does not show: a provider key in a file read for one account
// ("Match User", with %u), and the provider's CA trusted for connections
// from some addresses ("Match Address"). Both are found, attributed to the
// account they serve (not to every account), and removed; neither logs in
// afterwards.
func TestMatchBlockKeyFiles(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	h := e.Fleet.Hosts[0] // sshd trusts no CA there
	ip := strings.TrimSuffix(h.Addr, ":22")
	t.Cleanup(func() { resetFleet(t) })
	support := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, "support@") })
	if support < 0 {
		t.Fatalf("no support key among %v", e.Fleet.ProviderKeyComments)
	}
	keyLine, err := os.ReadFile(e.Fleet.ProviderKeys[support] + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	caLine, err := os.ReadFile(e.Fleet.ProviderCAKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	const user = "jdupont" // the client's own account: only its own key is planted
	script := fmt.Sprintf(`mkdir -p /etc/ssh/keys.d && printf '%%s' %s > /etc/ssh/keys.d/%s_extra && printf '%%s' %s > /etc/ssh/match_ca.pub &&
printf '\nMatch User %s\n\tAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/keys.d/%%%%u_extra\nMatch Address 127.0.0.0/8\n\tTrustedUserCAKeys /etc/ssh/match_ca.pub\n' >> /etc/ssh/sshd_config &&
sshd -t`, shellQuote(string(keyLine)), user, shellQuote(string(caLine)), user)
	reconfigureSSHD(t, e, ip, script, "")
	b, err := os.ReadFile(e.Fleet.ProviderKeys[support])
	if err != nil {
		t.Fatal(err)
	}
	logins := func() (key, cert bool) {
		return tryLogin(t, e, h, user, keyAuth(t, b)), tryLogin(t, e, h, "root", caCertAuth(t, e.Fleet.ProviderCAKey, "root"))
	}
	if key, cert := logins(); !key || !cert {
		t.Fatalf("before the run: the key in the Match file logs in: %v, the CA's certificate: %v", key, cert)
	}

	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	inv := okInventory(t, tg)
	sys := inv.Systems[0]
	want := map[string]bool{
		"ssh-key:" + user + ":" + e.Fleet.ProviderFingerprints[support] + ":/etc/ssh/keys.d/" + user + "_extra": false,
		"ssh-key:" + caOwner + ":" + fingerprintOf(t, caLine) + ":/etc/ssh/match_ca.pub":                        false,
	}
	for _, f := range findingsOf(sys, connector.KindSSHKey) {
		if _, ok := want[f.ID]; ok {
			want[f.ID] = true
			if !f.Provider {
				t.Errorf("%s not attributed to the provider: %v", f.ID, f.Reasons)
			}
		} else if strings.Contains(f.ID, "/etc/ssh/keys.d/") {
			t.Errorf("a Match User file counted for another account: %s", f.ID)
		}
	}
	for id, found := range want {
		if !found {
			t.Errorf("not found: %s", id)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	changes, err := tg.Plan(inv)
	if err != nil {
		t.Fatal(err)
	}
	var remove []plan.Change
	for _, ch := range changes {
		if _, ok := want[ch.Finding]; ok && ch.Action == plan.RemoveKey {
			remove = append(remove, ch)
		}
	}
	if len(remove) != len(want) {
		t.Fatalf("planned %d removals of the Match blocks' keys, want %d", len(remove), len(want))
	}
	for i, res := range tg.ApplyBatch(context.Background(), h.Name, remove, nil) {
		if res.Err != nil {
			t.Errorf("%s: %v", remove[i].Object, res.Err)
		}
	}
	if key, cert := logins(); key || cert {
		t.Errorf("after the removal: the key in the Match file logs in: %v, the CA's certificate: %v", key, cert)
	}
}

// TestSudoersIncludedFileAndContinuedRule: the provider's sudo rights sit
// in a file /etc/sudoers includes by name (not in /etc/sudoers.d), given
// through a User_Alias, in a rule continued over three lines. The rule is
// found whole, attributed through the alias, and removed whole (the
// result still passes visudo): the provider's account can no longer sudo.
func TestSudoersIncludedFileAndContinuedRule(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	const local = "/etc/sudoers.local"
	script := `rm /etc/sudoers.d/prestanet && printf 'User_Alias N2 = ` + h.ProviderUser + `\nN2 ALL=(ALL) NOPASSWD: \\\n    /usr/bin/apt, \\\n    ALL\n' > ` + local + ` && chmod 440 ` + local + ` &&
printf '#include ` + local + `\n' >> /etc/sudoers && visudo -c -q`
	if out, err := rootSSH(e, ip, script); err != nil {
		t.Fatalf("plant: %v\n%s", err, out)
	}
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	key, err := os.ReadFile(e.Fleet.ProviderKeys[i])
	if err != nil {
		t.Fatal(err)
	}
	sudo := func() bool { return canSudo(t, e, h, h.ProviderUser, key) }
	if !sudo() {
		t.Fatal("before the run, the provider's account cannot sudo through the included file")
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	ch := plannedChange(t, tg, plan.RemoveGrant, local+":N2 ALL=(ALL) NOPASSWD: /usr/bin/apt, ALL")
	if res := tg.ApplyBatch(context.Background(), h.Name, []plan.Change{ch}, nil)[0]; res.Err != nil {
		t.Fatalf("remove the rule: %v", res.Err)
	}
	if sudo() {
		t.Error("after the removal, the provider's account can still sudo")
	}
	if out, err := rootSSH(e, ip, "cat "+local+"; visudo -c -q && echo valid"); err != nil || string(out) != "User_Alias N2 = "+h.ProviderUser+"\nvalid\n" {
		t.Errorf("%s after the removal (%v):\n%s", local, err, out)
	}
}

// TestSudoersRuleSharedWithTheClient: one rule grants sudo to the
// provider's account and to the client's own admin. The provider's account
// is taken out of it; the client's admin keeps its rights.
func TestSudoersRuleSharedWithTheClient(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	const client = "jdupont"
	rule := h.ProviderUser + ", " + client + " ALL=(ALL) NOPASSWD: ALL"
	if out, err := rootSSH(e, ip, "rm /etc/sudoers.d/prestanet && printf '%s\\n' '"+rule+"' > /etc/sudoers.d/equipe && chmod 440 /etc/sudoers.d/equipe && visudo -c -q"); err != nil {
		t.Fatalf("plant: %v\n%s", err, out)
	}
	i := slices.IndexFunc(e.Fleet.ProviderKeyComments, func(c string) bool { return strings.HasPrefix(c, h.ProviderUser+"@") })
	providerKey, err := os.ReadFile(e.Fleet.ProviderKeys[i])
	if err != nil {
		t.Fatal(err)
	}
	clientKey, err := os.ReadFile(e.Fleet.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	sudo := func(user string, key []byte) bool { return canSudo(t, e, h, user, key) }
	if !sudo(h.ProviderUser, providerKey) || !sudo(client, clientKey) {
		t.Fatal("before the run, the shared rule does not grant both accounts")
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	ch := plannedChange(t, tg, plan.RemoveGrant, "/etc/sudoers.d/equipe:"+rule)
	if res := tg.ApplyBatch(context.Background(), h.Name, []plan.Change{ch}, nil)[0]; res.Err != nil {
		t.Fatalf("apply: %v", res.Err)
	}
	if sudo(h.ProviderUser, providerKey) {
		t.Error("the provider's account can still sudo")
	}
	if !sudo(client, clientKey) {
		t.Error("the client's admin lost its sudo rights with the provider's")
	}
	checks, err := tg.Verify(context.Background(), h.Name, []plan.Change{ch})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
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
