package ldap_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/connectors/ldap"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// directory is one of the testenv's directories, as the tests see it.
type directory struct {
	dialect     string
	component   string // testenv component, for resets
	url         string // StartTLS
	urls        string // LDAPS
	bindDN      string
	bindFile    string
	adminGroups []string
	serviceOUs  []string
	admins      []testenv.Account
	providers   []string
	nested      string // admin only through a sub-group
	nestedGroup string // RDN of that sub-group
	serviceAdm  []string
	users       int
	// passwordDir holds every account's password, by uid (slapd).
	passwordDir string
	// handed are the other accounts whose passwords are handed over (the
	// provider's by evidence that are not admins): their locks are proven
	// by a refused bind.
	handed []testenv.Account
}

// accounts are the accounts whose passwords the playbook hands over.
func (d directory) accounts() []testenv.Account {
	out := slices.Clone(d.admins)
	for _, a := range d.handed {
		if !slices.ContainsFunc(out, func(b testenv.Account) bool { return strings.EqualFold(a.Name, b.Name) }) {
			out = append(out, a)
		}
	}
	return out
}

func openLDAP(t testing.TB) directory {
	t.Helper()
	e := testenv.Require(t)
	if e.LDAP == nil {
		t.Fatalf("integration test needs the testenv's slapd: run `bin/testenv up -only slapd`")
	}
	l := e.LDAP
	d := directory{
		dialect: ldap.OpenLDAP, component: "slapd", url: l.URL, urls: l.URLS,
		bindDN: l.AdminDN, bindFile: l.AdminPasswordFile,
		adminGroups: []string{l.AdminGroupDN}, serviceOUs: []string{"ou=services," + l.BaseDN},
		admins: l.Admins, providers: append(slices.Clone(l.ProviderDNs), l.EvidenceDNs...), nested: l.NestedAdminDN, nestedGroup: rdnOf(l.NestedGroupDN),
		users: l.Users, passwordDir: l.PasswordDir,
	}
	for _, dn := range l.EvidenceDNs {
		_, uid, _ := strings.Cut(rdnOf(dn), "=")
		d.handed = append(d.handed, testenv.Account{Name: dn, PasswordFile: filepath.Join(l.PasswordDir, uid)})
	}
	return d
}

func activeDirectory(t testing.TB) directory {
	t.Helper()
	e := testenv.Require(t)
	if e.AD == nil {
		t.Fatalf("integration test needs the testenv's Samba AD DC: run `bin/testenv up -only samba`")
	}
	a := e.AD
	// The provider's by evidence (their entries name the provider) are
	// the provider's too: locked, not rotated. Only those the planted
	// admins list: env.json keeps evidence_dns when a testenv built
	// before these plants resets the DC without them.
	providers := slices.Clone(a.ProviderDNs)
	for _, dn := range a.EvidenceDNs {
		if slices.ContainsFunc(a.Admins, func(ac testenv.Account) bool { return ac.Name == dn }) {
			providers = append(providers, dn)
		}
	}
	return directory{
		dialect: ldap.AD, component: "samba", url: a.URL, urls: a.URLS,
		bindDN: a.AdminDN, bindFile: a.AdminPasswordFile,
		serviceOUs: []string{"OU=Services,OU=Mairie," + a.BaseDN},
		admins:     a.Admins, providers: providers, nested: a.NestedAdminDN, nestedGroup: "CN=GG-Admins-Reseau",
		serviceAdm: []string{"CN=svc-backup,OU=Services,OU=Mairie," + a.BaseDN},
		users:      a.Users,
	}
}

func rdnOf(dn string) string { r, _, _ := strings.Cut(dn, ","); return r }

// rotated are the admins a run rotates: every admin but the provider's
// and the service accounts.
func (d directory) rotated() []string {
	var out []string
	for _, a := range d.admins {
		if !slices.Contains(d.providers, a.Name) && !slices.Contains(d.serviceAdm, a.Name) {
			out = append(out, a.Name)
		}
	}
	return out
}

func (d directory) passwordFile(t *testing.T, dn string) string {
	t.Helper()
	for _, a := range d.admins {
		if a.Name == dn {
			return a.PasswordFile
		}
	}
	if d.passwordDir != "" {
		_, uid, _ := strings.Cut(rdnOf(dn), "=")
		return filepath.Join(d.passwordDir, uid)
	}
	t.Fatalf("no password file for %s", dn)
	return ""
}

// storeReader is the engine's view of the store for connectors: current
// versions only.
type storeReader struct{ s *secret.MemoryStore }

func (r storeReader) Current(ctx context.Context, path string) (secret.Secret, bool, error) {
	v, meta, err := r.s.Get(ctx, path, 0)
	if errors.Is(err, secret.ErrNotFound) {
		return secret.Secret{}, false, nil
	}
	if err != nil {
		return secret.Secret{}, false, err
	}
	return v, meta.State == secret.Current, nil
}

// options vary a target's settings from the tests' defaults.
type options struct {
	caFile   string // "" is the testenv's CA
	insecure bool   // allow_insecure_bind
}

// configure builds the target as the engine would from a playbook.
func configure(t testing.TB, d directory, url string, store *secret.MemoryStore, o options) *ldap.Target {
	t.Helper()
	e := testenv.Require(t)
	if o.caFile == "" {
		o.caFile = e.CACert
	}
	var b strings.Builder
	fmt.Fprintf(&b, "url: %s\nca_cert: %s\nbind_dn: %q\npassword: ${file:%s}\npage_size: 100\nallow_insecure_bind: %v\n", url, o.caFile, d.bindDN, d.bindFile, o.insecure)
	if len(d.adminGroups) > 0 {
		fmt.Fprintf(&b, "admin_groups: [%q]\n", d.adminGroups[0])
	}
	fmt.Fprintf(&b, "service_accounts:\n  ous: [%q]\n  patterns: [\"svc-*\"]\n", d.serviceOUs[0])
	b.WriteString("accounts:\n")
	for _, a := range d.accounts() {
		fmt.Fprintf(&b, "  - dn: %q\n    password: ${file:%s}\n", a.Name, a.PasswordFile)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatalf("settings: %v", err)
	}
	out := playbook.Outgoing{Names: []string{testenv.ProviderName}, Domains: []string{testenv.ProviderDomain}, Accounts: []string{"prestanet-*"}}
	dec := playbook.NewDecoder("playbook.yaml")
	env := connector.Env{
		Outgoing: connector.NewOutgoing(out), Resolver: &playbook.Resolver{Dir: t.TempDir()}, Secrets: storeReader{store},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
	}
	tgt := ldap.New().Configure(dec, playbook.Target{Name: "annuaire", Type: "ldap", Settings: doc.Content[0]}, env)
	if ds := dec.Diagnostics(); len(ds) > 0 {
		t.Fatalf("configure: %v", ds)
	}
	lt, ok := tgt.(*ldap.Target)
	if !ok {
		t.Fatalf("configure returned %T", tgt)
	}
	t.Cleanup(func() { lt.Close() })
	return lt
}

// reset brings a directory back to its planted state with the component's
// Reset (`testenv reset -only ...`).
func reset(t testing.TB, d directory) {
	t.Helper()
	testenv.Reset(t, d.component)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func accountByName(inv *connector.Inventory, dn string) (connector.Account, bool) {
	for _, a := range inv.Systems[0].Accounts {
		if strings.EqualFold(a.Name, dn) {
			return a, true
		}
	}
	return connector.Account{}, false
}

func TestLDAPInventoryAndPlanOpenLDAP(t *testing.T) { runInventoryAndPlan(t, openLDAP(t)) }
func TestADInventoryAndPlanSamba(t *testing.T)      { runInventoryAndPlan(t, activeDirectory(t)) }

// runInventoryAndPlan reads the planted directory and plans under the
// engine's default policy: every admin found (nested ones too), the
// provider's accounts and their memberships, the plan's rotations and
// removals. The run itself is the conformance suite's (conformance_test.go).
func runInventoryAndPlan(t *testing.T, d directory) {
	testenv.LockComponent(t, d.component, false)
	ctx := testCtx(t)
	store := secret.NewMemoryStore()
	tgt := configure(t, d, d.url, store, options{})

	inv, err := tgt.Inventory(ctx)
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	for _, a := range d.admins {
		got, ok := accountByName(inv, a.Name)
		if !ok || !got.Admin {
			t.Errorf("admin %s not found as an admin (found=%v)", a.Name, ok)
		}
	}
	nested, _ := accountByName(inv, d.nested)
	if !slices.ContainsFunc(nested.AdminVia, func(v string) bool { return strings.Contains(v, d.nestedGroup) }) {
		t.Errorf("nested admin %s: AdminVia %q does not name %s", d.nested, nested.AdminVia, d.nestedGroup)
	}
	for _, dn := range d.providers {
		got, ok := accountByName(inv, dn)
		if !ok || !got.Provider || len(got.Reasons) == 0 {
			t.Errorf("provider account %s: found=%v provider=%v reasons=%q", dn, ok, got.Provider, got.Reasons)
		}
	}
	for _, dn := range d.serviceAdm {
		got, _ := accountByName(inv, dn)
		if !got.Service || !got.Admin {
			t.Errorf("service admin %s: service=%v admin=%v", dn, got.Service, got.Admin)
		}
	}

	changes, err := tgt.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, dn := range d.rotated() {
		want = append(want, string(plan.RotatePassword)+" "+strings.ToLower(dn))
	}
	for _, dn := range d.providers {
		want = append(want, string(plan.LockAccount)+" "+strings.ToLower(dn))
	}
	var got []string
	for _, ch := range changes {
		if ch.Action == plan.RemoveMembership {
			if !slices.Contains(d.providers, ch.Params["account"]) {
				t.Errorf("remove-membership of a non-provider account: %s", ch.Object)
			}
			continue
		}
		got = append(got, string(ch.Action)+" "+strings.ToLower(ch.Object))
		if ch.Action == plan.RotatePassword && (ch.Object == d.bindDN) != ch.Last {
			t.Errorf("%s: Last=%v", ch.Object, ch.Last)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("plan:\n got %q\nwant %q", got, want)
	}
	for _, dn := range d.providers {
		if !slices.ContainsFunc(d.admins, func(a testenv.Account) bool { return a.Name == dn }) {
			continue // no admin membership to remove
		}
		if !slices.ContainsFunc(changes, func(ch plan.Change) bool {
			return ch.Action == plan.RemoveMembership && ch.Params["account"] == dn
		}) {
			t.Errorf("no remove-membership for provider account %s", dn)
		}
	}

}

// afterRun checks, on the conformance suite's finished run, what the
// directory itself says: on AD the old passwords were refused by the KDC
// while a simple bind still took them (the old password allowed period,
// said in the report); the provider's accounts no longer bind. (That they
// are in no admin group is the connector's own verification, which the
// suite requires to pass.)
func afterRun(d directory) func(t *testing.T, res *engine.Result) {
	return func(t *testing.T, res *engine.Result) {
		if d.dialect == ldap.AD {
			graces := 0
			for _, a := range res.Actions {
				for _, c := range a.Verification {
					if c.Kind == connector.OldRejected && c.OK && strings.Contains(c.Detail, "simple bind still accepted it") {
						graces++
					}
				}
			}
			if graces != len(d.rotated()) {
				t.Errorf("AD rotation checks report the simple-bind grace for %d accounts, want %d", graces, len(d.rotated()))
			}
		}
		for _, dn := range d.providers {
			pw := secret.New(testenv.ReadSecret(t, d.passwordFile(t, dn)))
			if ok := simpleBind(t, d, dn, pw); ok {
				t.Errorf("provider account %s still binds", dn)
			}
		}
	}
}

// simpleBind binds on a fresh LDAPS connection, as a client application
// would.
func simpleBind(t *testing.T, d directory, dn string, pw secret.Secret) bool {
	t.Helper()
	e := testenv.Require(t)
	pem, err := os.ReadFile(e.CACert)
	if err != nil {
		t.Fatal(err)
	}
	tc := tlsConfig(t, pem, d.urls)
	conn, err := goldap.DialURL(d.urls, goldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatalf("dial %s: %v", d.urls, err)
	}
	defer conn.Close()
	err = conn.Bind(dn, pw.Reveal())
	if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind %s: %v", dn, err)
	}
	return err == nil
}

func TestLDAPUnknownCertificateOpenLDAP(t *testing.T) { runUnknownCertificate(t, openLDAP(t)) }
func TestADUnknownCertificateSamba(t *testing.T)      { runUnknownCertificate(t, activeDirectory(t)) }

// runUnknownCertificate: a server whose certificate does not chain to
// ca_cert is refused, over StartTLS and LDAPS, before any password is
// sent.
func runUnknownCertificate(t *testing.T, d directory) {
	// Shared: the server must not be restarted by another test meanwhile.
	testenv.LockComponent(t, d.component, false)
	ctx := testCtx(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(other, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	// allow_insecure_bind must not turn a failed verification into a
	// plain-text bind.
	for _, insecure := range []bool{false, true} {
		for _, url := range []string{d.url, d.urls} {
			tgt := configure(t, d, url, secret.NewMemoryStore(), options{caFile: other, insecure: insecure})
			_, err := tgt.Inventory(ctx)
			if err == nil || !strings.Contains(err.Error(), "failed to verify certificate") {
				t.Errorf("%s with another CA (allow_insecure_bind %v): %v, want a certificate verification error", url, insecure, err)
			}
		}
	}
}

func TestLDAPRejectedOpenLDAP(t *testing.T) { runRejected(t, openLDAP(t)) }
func TestADRejectedSamba(t *testing.T)      { runRejected(t, activeDirectory(t)) }

// runRejected: a password the server's policy refuses comes back as
// ErrRejected with the server's words, and the old password still works.
func runRejected(t *testing.T, d directory) {
	testenv.LockComponent(t, d.component, false)
	ctx := testCtx(t)
	store := secret.NewMemoryStore()
	tgt := configure(t, d, d.url, store, options{})
	ch := rotationOf(t, ctx, tgt, d.nested)
	err := setOne(ctx, tgt, ch, secret.New("Sh0rt!"))
	var rej *connector.ErrRejected
	if !errors.As(err, &rej) || rej.Reason == "" {
		t.Fatalf("SetCredential with a short password: %v, want ErrRejected", err)
	}
	t.Logf("rejected: %s", rej.Reason)
	old, _, err := tgt.KnownCredential(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if tr := tryOne(ctx, tgt, ch, old); tr.Err != nil || !tr.Works {
		t.Fatalf("old password after a rejection: works=%v err=%v", tr.Works, tr.Err)
	}
}

// rotationOf plans and returns the rotation of dn.
func rotationOf(t *testing.T, ctx context.Context, tgt *ldap.Target, dn string) plan.Change {
	t.Helper()
	inv, err := tgt.Inventory(ctx)
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	changes, err := tgt.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if ch.Action == plan.RotatePassword && strings.EqualFold(ch.Object, dn) {
			return ch
		}
	}
	t.Fatalf("no rotation of %s planned", dn)
	return plan.Change{}
}

func TestLDAPCutRotationOpenLDAP(t *testing.T) { runCut(t, openLDAP(t)) }
func TestADCutRotationSamba(t *testing.T)      { runCut(t, activeDirectory(t)) }

// runCut cuts the connection after the server received the new password
// and before its answer reached the connector. SetCredential fails; the
// engine then asks TryCredential, which must say the new password is in
// force (and the old one is not).
func runCut(t *testing.T, d directory) {
	testenv.LockComponent(t, d.component, true)
	t.Cleanup(func() { reset(t, d) })
	ctx := testCtx(t)
	px := newCutProxy(t, d.urls)
	store := secret.NewMemoryStore()
	tgt := configure(t, d, px.url, store, options{})
	ch := rotationOf(t, ctx, tgt, d.nested)
	old, _, err := tgt.KnownCredential(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	next, err := secret.Generate(nil, secret.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	px.arm()
	err = setOne(ctx, tgt, ch, next)
	if err == nil {
		t.Fatal("SetCredential succeeded through a cut connection")
	}
	var rej *connector.ErrRejected
	if errors.As(err, &rej) {
		t.Fatalf("a cut connection reported as a rejection: %v", err)
	}
	if px.cuts.Load() != 1 {
		t.Fatalf("proxy cut %d connections, want 1", px.cuts.Load())
	}
	if tr := tryOne(ctx, tgt, ch, next); tr.Err != nil || !tr.Works {
		t.Fatalf("new password after the cut: works=%v err=%v", tr.Works, tr.Err)
	}
	if tr := tryOne(ctx, tgt, ch, old); tr.Err != nil || tr.Works {
		t.Fatalf("old password after the cut: works=%v err=%v", tr.Works, tr.Err)
	}
}

// cutProxy forwards TCP to a directory. Armed, it forwards the next
// request it sees, waits for the server to act on it, and closes both
// sides without passing the answer on.
type cutProxy struct {
	url   string
	armed atomic.Bool
	cuts  atomic.Int32
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	host := strings.TrimPrefix(target, "ldaps://")
	ip, _, err := net.SplitHostPort(host)
	if err != nil {
		t.Fatal(err)
	}
	// Same address as the server, so its certificate's IP SAN matches and
	// (AD) the KDC is found on port 88 of the same host.
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &cutProxy{url: "ldaps://" + ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, host)
		}
	}()
	return p
}

func (p *cutProxy) arm() { p.armed.Store(true) }

func (p *cutProxy) serve(client net.Conn, target string) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	cut := make(chan struct{})
	var once sync.Once
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				select {
				case <-cut:
					return
				default:
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			armed := p.armed.CompareAndSwap(true, false)
			if armed {
				once.Do(func() { close(cut) })
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
			if armed {
				// Let the server act on the request, then drop both
				// sides: the answer never reaches the client.
				time.Sleep(500 * time.Millisecond)
				p.cuts.Add(1)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestLDAPInventoryMemory inventories the whole directory while sampling
// the heap: memory must stay bounded by the page size, not the number of
// users. At the CI size (-ldap-users 50) it is a smoke test; with
// -ldap-users 10000 it is the measurement (BenchmarkLDAPInventory reports
// the numbers).
func TestLDAPInventoryMemory(t *testing.T) { runMemory(t, openLDAP(t)) }
func TestADInventoryMemory(t *testing.T)   { runMemory(t, activeDirectory(t)) }

func runMemory(t *testing.T, d directory) {
	testenv.LockComponent(t, d.component, false)
	ctx := testCtx(t)
	tgt := configure(t, d, d.urls, secret.NewMemoryStore(), options{})
	start := time.Now()
	peak, inv := inventoryPeak(t, ctx, tgt)
	total := fact(inv, "accounts")
	t.Logf("%s: %s accounts inventoried in %s, %d kept, peak heap growth %.1f MiB",
		d.dialect, total, time.Since(start).Round(time.Millisecond), len(inv.Systems[0].Accounts), float64(peak)/(1<<20))
	if total == "" || total == "0" {
		t.Fatalf("no accounts counted: %q", total)
	}
	if limit := uint64(64 << 20); peak > limit {
		t.Fatalf("peak heap growth %d bytes over %d for %s accounts", peak, limit, total)
	}
}

// BenchmarkLDAPInventory measures a whole inventory of the testenv's
// OpenLDAP directory (`make bench` brings it up with -ldap-users 10000),
// reporting accounts per second and the peak heap growth.
func BenchmarkLDAPInventory(b *testing.B) {
	d := openLDAP(b)
	testenv.LockComponent(b, d.component, false)
	ctx := context.Background()
	tgt := configure(b, d, d.urls, secret.NewMemoryStore(), options{})
	var peak uint64
	var accounts string
	start := time.Now()
	for b.Loop() {
		p, inv := inventoryPeak(b, ctx, tgt)
		peak = max(peak, p)
		accounts = fact(inv, "accounts")
	}
	var n float64
	fmt.Sscan(accounts, &n)
	b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "accounts/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkADInventory10000 adds 10,000 users to the testenv's domain over
// LDAP (the DC's own template stays small, see docs/testenv/ad.md), then
// measures whole inventories, and resets the domain. Measured on a loaded
// 2-core machine: 10,060 accounts (9 kept) in 10.4 s, peak heap growth
// 5.9 MiB with page_size 100 (2.7 MiB for 60 accounts).
func BenchmarkADInventory10000(b *testing.B) {
	d := activeDirectory(b)
	testenv.LockComponent(b, d.component, true)
	b.Cleanup(func() { reset(b, d) })
	e := testenv.Require(b)
	pem, err := os.ReadFile(e.CACert)
	if err != nil {
		b.Fatal(err)
	}
	dialAdmin := func() *goldap.Conn {
		c, err := goldap.DialURL(d.urls, goldap.DialWithTLSConfig(tlsConfig(b, pem, d.urls)))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Bind(d.bindDN, testenv.ReadSecret(b, d.bindFile)); err != nil {
			b.Fatal(err)
		}
		return c
	}
	const users, workers = 10000, 4
	ou := "OU=Bench,OU=Mairie," + e.AD.BaseDN
	c := dialAdmin()
	add := goldap.NewAddRequest(ou, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	if err := c.Add(add); err != nil {
		b.Fatal(err)
	}
	c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialAdmin()
			defer c.Close()
			for i := w; i < users; i += workers {
				a := goldap.NewAddRequest(fmt.Sprintf("CN=Bench User %d,%s", i, ou), nil)
				a.Attribute("objectClass", []string{"user"})
				a.Attribute("sAMAccountName", []string{fmt.Sprintf("bench%d", i)})
				a.Attribute("mail", []string{fmt.Sprintf("bench%d@%s", i, testenv.ClientDomain)})
				if err := c.Add(a); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	tgt := configure(b, d, d.urls, secret.NewMemoryStore(), options{})
	ctx := context.Background()
	var peak uint64
	var accounts string
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		p, inv := inventoryPeak(b, ctx, tgt)
		peak = max(peak, p)
		accounts = fact(inv, "accounts")
	}
	var n float64
	fmt.Sscan(accounts, &n)
	b.ReportMetric(n*float64(b.N)/time.Since(start).Seconds(), "accounts/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func inventoryPeak(t testing.TB, ctx context.Context, tgt *ldap.Target) (uint64, *connector.Inventory) {
	t.Helper()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > base.HeapInuse && m.HeapInuse-base.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse - base.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	inv, err := tgt.Inventory(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	return peak.Load(), inv
}

func fact(inv *connector.Inventory, name string) string {
	for _, f := range inv.Systems[0].Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func tlsConfig(t testing.TB, pem []byte, url string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("testenv CA: no certificate")
	}
	host, _, err := net.SplitHostPort(strings.TrimPrefix(url, "ldaps://"))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
}

// decisions are the engine's rotation decisions under the tests' policy.
func decisions(inv *connector.Inventory) connector.Decisions {
	p := playbook.Policy{RotateAdmins: true, Password: secret.DefaultPolicy(), Retries: 3, MaxCredentialAge: 90 * 24 * time.Hour}
	return engine.Decide(p, "annuaire", inv, time.Now())
}

func setOne(ctx context.Context, tgt *ldap.Target, ch plan.Change, v secret.Secret) error {
	return tgt.SetCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: v}})[0].Err
}

func tryOne(ctx context.Context, tgt *ldap.Target, ch plan.Change, v secret.Secret) connector.Tried {
	return tgt.TryCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: v}})[0]
}
