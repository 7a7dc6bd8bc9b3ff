package dossier_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/dossier"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
	"github.com/handoverhq/handover/handover/secret"
)

// estate is a signed report, a store with current, pending and previous
// versions, and the incoming provider's keys.
type estate struct {
	dir       string
	fx        *reporttest.Fixture
	store     *secret.MemoryStore
	trusted   string // allowed_signers with the client's key
	ageID     string // age identity file
	ageRcpt   string
	sshKey    string // SSH ed25519 private key file
	sshPub    string
	values    []string // every value in the store
	current   []string // the current values
	exportNow time.Time
}

func newEstate(t *testing.T) *estate {
	t.Helper()
	ctx := context.Background()
	e := &estate{dir: t.TempDir(), store: secret.NewMemoryStore(), exportNow: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	fx, err := reporttest.Write(ctx, filepath.Join(e.dir, "fx"), reporttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.fx = fx
	signer, err := report.LoadSigner(ctx, playbook.SigningSettings{Key: fx.Key, Identity: fx.Identity}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.trusted = filepath.Join(e.dir, "client_signers")
	write(t, e.trusted, report.AllowedSignersLine(fx.Identity, signer.PublicKey())+"\n")

	put := func(target, system, account, value string, state secret.State) {
		p := target + "/" + system + "/" + account
		v, err := e.store.PutPending(ctx, p, secret.New(value), map[string]string{"target": target, "system": system, "object": account})
		if err != nil {
			t.Fatal(err)
		}
		if state != secret.Pending {
			if err := e.store.SetState(ctx, p, v.Version, secret.Current); err != nil {
				t.Fatal(err)
			}
		}
		e.values = append(e.values, value)
		if state == secret.Current {
			e.current = append(e.current, value)
		}
	}
	put("serveurs", "srv-app1", "root", "Old-root-Zq8v1Lk2Pw9xMn4B", secret.Current)
	put("serveurs", "srv-app1", "root", "New-root-Hh7Tr2Yp6Cv3Ws8Q", secret.Current) // supersedes the first
	e.current = e.current[1:]
	put("serveurs", "srv-db1", "root", "Db-root-Jk4Fd9Ls2Qa7Xe1R", secret.Current)
	put("annuaire", "directory", "cn=admin", "Ldap-admin-Mn3Bv8Cx5Zl2Kj7", secret.Current)
	put("annuaire", "directory", "uid=svc", "Pending-svc-Wq1Er4Ty7Ui0Op3", secret.Pending)
	put("autre", "x", "root", "Other-playbook-Aa1Ss2Dd3Ff4Gg", secret.Current)

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e.ageID = filepath.Join(e.dir, "incoming.age-key")
	write(t, e.ageID, "# incoming provider\n"+id.String()+"\n")
	e.ageRcpt = id.Recipient().String()
	e.sshKey, e.sshPub = sshKey(t, e.dir, "incoming")
	return e
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sshKey(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, name+"@nouvelle-infogerance.test")
	if err != nil {
		t.Fatal(err)
	}
	priv = filepath.Join(dir, name+"_ed25519")
	write(t, priv, string(pem.EncodeToMemory(block)))
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	pub = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + name + "@nouvelle-infogerance.test"
	write(t, priv+".pub", pub+"\n")
	return priv, pub
}

func (e *estate) recipients(t *testing.T) []dossier.Recipient {
	t.Helper()
	var rs []dossier.Recipient
	for _, s := range []string{e.ageRcpt, e.sshPub} {
		r, err := dossier.ParseRecipient(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func (e *estate) build(t *testing.T, sel dossier.Selection) *dossier.Built {
	t.Helper()
	ctx := context.Background()
	sel.Targets = []string{"serveurs", "annuaire"}
	vs, err := e.store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	picked, err := sel.Pick(vs)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := dossier.ReadCredentials(ctx, e.store, picked)
	if err != nil {
		t.Fatal(err)
	}
	defer dossier.Destroy(creds)
	b, err := dossier.Build(ctx, dossier.Export{
		ID: "export-20261124T090000Z-abcdef", Now: e.exportNow, ExportedBy: "j.martin", Handover: e.fx.Report.Handover,
		ReportDir: filepath.Join(e.fx.Dir, "report"), Recipients: e.recipients(t), Credentials: creds,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *estate) open(t *testing.T, ct []byte, identity string) (*dossier.Opened, error) {
	t.Helper()
	id, err := dossier.LoadIdentity(identity)
	if err != nil {
		t.Fatal(err)
	}
	return dossier.Open(context.Background(), ct, id, report.TrustAllowedSigners(e.trusted))
}

// assertNoSecret fails if any value appears in b.
func assertNoSecret(t *testing.T, what string, b []byte, values []string) {
	t.Helper()
	for _, v := range values {
		if bytes.Contains(b, []byte(v)) {
			t.Errorf("%s holds a secret value", what)
		}
	}
}

func TestBundleOpensWithEachRecipient(t *testing.T) {
	e := newEstate(t)
	b := e.build(t, dossier.Selection{})
	assertNoSecret(t, "the encrypted bundle", b.Ciphertext, e.values)
	for _, identity := range []string{e.ageID, e.sshKey} {
		t.Run(filepath.Base(identity), func(t *testing.T) {
			o, err := e.open(t, b.Ciphertext, identity)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Destroy()
			if o.SHA256 != b.SHA256 || o.ManifestSHA256 != b.ManifestSHA256 {
				t.Errorf("opened hashes %s/%s, built %s/%s", o.SHA256, o.ManifestSHA256, b.SHA256, b.ManifestSHA256)
			}
			got := map[string]string{}
			for _, c := range o.Credentials {
				got[c.Info.Path] = c.Value.Reveal()
				if c.Info.State != secret.Current {
					t.Errorf("%s: state %s exported without being asked", c.Info.Path, c.Info.State)
				}
			}
			want := map[string]string{
				"serveurs/srv-app1/root":      "New-root-Hh7Tr2Yp6Cv3Ws8Q",
				"serveurs/srv-db1/root":       "Db-root-Jk4Fd9Ls2Qa7Xe1R",
				"annuaire/directory/cn=admin": "Ldap-admin-Mn3Bv8Cx5Zl2Kj7",
			}
			if len(got) != len(want) {
				t.Errorf("credentials %v, want %d of them", keys(got), len(want))
			}
			for p, v := range want {
				if got[p] != v {
					t.Errorf("%s: not the current value", p)
				}
			}
			if o.Verification == nil || o.Verification.Identity != e.fx.Identity {
				t.Errorf("report verification %+v", o.Verification)
			}
			if !strings.HasPrefix(o.Identity.Fingerprint, "age1") && !strings.HasPrefix(o.Identity.Fingerprint, "SHA256:") {
				t.Errorf("identity %+v", o.Identity)
			}
		})
	}
	// The manifest names every file by SHA-256 and holds no value.
	m := b.Manifest
	kinds := map[string]int{}
	for _, f := range m.Files {
		kinds[f.Kind]++
		if len(f.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", f.Name, f.SHA256)
		}
	}
	if kinds[dossier.KindCredential] != 3 || kinds[dossier.KindReport] != 1 || kinds[dossier.KindJournal] != 1 || kinds[dossier.KindSignature] != 4 || kinds[dossier.KindRendering] != 2 {
		t.Errorf("manifest kinds %v", kinds)
	}
	if len(m.Recipients) != 2 || m.Recipients[0].Type != "age-x25519" || m.Recipients[1].Type != "ssh-ed25519" || !strings.HasPrefix(m.Recipients[1].Fingerprint, "SHA256:") {
		t.Errorf("manifest recipients %+v", m.Recipients)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSelection(t *testing.T) {
	e := newEstate(t)
	ctx := context.Background()
	vs, err := e.store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{"serveurs", "annuaire"}
	sel := func(s ...string) []dossier.Selector {
		var out []dossier.Selector
		for _, x := range s {
			p, err := dossier.ParseSelector(x)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		sel     dossier.Selection
		want    []string // path#version
		wantErr string
	}{
		{name: "all current", sel: dossier.Selection{}, want: []string{"annuaire/directory/cn=admin#1", "serveurs/srv-app1/root#2", "serveurs/srv-db1/root#1"}},
		{name: "one system", sel: dossier.Selection{Select: sel("serveurs/srv-db1")}, want: []string{"serveurs/srv-db1/root#1"}},
		{name: "one target", sel: dossier.Selection{Select: sel("annuaire")}, want: []string{"annuaire/directory/cn=admin#1"}},
		{name: "pending asked", sel: dossier.Selection{Select: sel("annuaire"), Pending: true}, want: []string{"annuaire/directory/cn=admin#1", "annuaire/directory/uid=svc#1"}},
		{name: "previous asked", sel: dossier.Selection{Select: sel("serveurs/srv-app1"), Previous: true}, want: []string{"serveurs/srv-app1/root#2", "serveurs/srv-app1/root#1"}},
		{name: "unknown target", sel: dossier.Selection{Select: sel("autre")}, wantErr: `the playbook has no target "autre"`},
		{name: "system matching nothing", sel: dossier.Selection{Select: sel("serveurs/srv-nope")}, wantErr: "--select serveurs/srv-nope matches no stored credential (current)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sel.Targets = targets
			got, err := tc.sel.Pick(vs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, v := range got {
				refs = append(refs, v.Path+"#"+itoa(v.Version))
			}
			if strings.Join(refs, " ") != strings.Join(tc.want, " ") {
				t.Errorf("picked %v, want %v", refs, tc.want)
			}
		})
	}
	if _, err := (dossier.Selection{Targets: []string{"vide"}}).Pick(vs); err == nil || !strings.Contains(err.Error(), "holds no credential") {
		t.Errorf("empty selection: %v", err)
	}
	for _, bad := range []string{"", "/x", "serveurs/"} {
		if _, err := dossier.ParseSelector(bad); err == nil {
			t.Errorf("selector %q accepted", bad)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestOpenRefuses(t *testing.T) {
	e := newEstate(t)
	b := e.build(t, dossier.Selection{})

	// Another key: not a recipient.
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(e.dir, "other.key")
	write(t, otherFile, other.String()+"\n")
	otherSSH, _ := sshKey(t, e.dir, "stranger")

	// A signer the recipient does not trust.
	untrusted, _ := sshKey(t, e.dir, "someone")
	us, err := dossier.LoadSigningKey(untrusted)
	if err != nil {
		t.Fatal(err)
	}
	wrongSigners := filepath.Join(e.dir, "wrong_signers")
	write(t, wrongSigners, report.AllowedSignersLine(e.fx.Identity, us.PublicKey())+"\n")

	for _, tc := range []struct {
		name     string
		ct       func() []byte
		identity string
		signers  string
		want     error
		wantText string
	}{
		{name: "wrong age identity", ct: func() []byte { return b.Ciphertext }, identity: otherFile, want: dossier.ErrWrongIdentity},
		{name: "wrong ssh identity", ct: func() []byte { return b.Ciphertext }, identity: otherSSH, want: dossier.ErrWrongIdentity},
		{name: "byte flipped in the payload", ct: func() []byte { c := bytes.Clone(b.Ciphertext); c[len(c)-40] ^= 1; return c }, identity: e.ageID, want: dossier.ErrDamaged},
		{name: "byte flipped in the header", ct: func() []byte {
			c := bytes.Clone(b.Ciphertext)
			i := bytes.Index(c, []byte("\n---")) + 10
			c[i] ^= 1
			return c
		}, identity: e.ageID, wantText: "bundle"},
		{name: "truncated", ct: func() []byte { return b.Ciphertext[:len(b.Ciphertext)-100] }, identity: e.sshKey, want: dossier.ErrDamaged},
		{name: "untrusted signer", ct: func() []byte { return b.Ciphertext }, identity: e.ageID, signers: wrongSigners, wantText: "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := dossier.LoadIdentity(tc.identity)
			if err != nil {
				t.Fatal(err)
			}
			signers := e.trusted
			if tc.signers != "" {
				signers = tc.signers
			}
			o, err := dossier.Open(context.Background(), tc.ct(), id, report.TrustAllowedSigners(signers))
			if err == nil {
				o.Destroy()
				t.Fatal("opened")
			}
			if o != nil {
				t.Error("a refused bundle returned its content")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %v, want %q", err, tc.wantText)
			}
			assertNoSecret(t, "the error", []byte(err.Error()), e.values)
		})
	}
}

func TestRecipients(t *testing.T) {
	e := newEstate(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := ssh.NewPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rp))) + " rsa@example"
	rf := filepath.Join(e.dir, "recipients.txt")
	write(t, rf, "# the incoming provider's keys\n\n"+e.ageRcpt+"\n"+e.sshPub+"\n")
	rs, err := dossier.ParseRecipientsFile(rf)
	if err != nil || len(rs) != 2 {
		t.Fatalf("recipients file: %v %v", rs, err)
	}
	if _, err := dossier.ParseRecipient(rsaPub); err != nil {
		t.Errorf("ssh-rsa: %v", err)
	}
	for _, tc := range []struct{ in, want string }{
		{"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=", "unsupported"},
		{"sk-ssh-ed25519@openssh.com AAAA", "unsupported"},
		{"age1notakey", "not a valid age X25519 recipient"},
		{"ssh-ed25519 AAAAnotbase64!", "not a valid SSH public key"},
		{"hello", "unknown kind"},
	} {
		if _, err := dossier.ParseRecipient(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.30s: error %v, want %q", tc.in, err, tc.want)
		}
	}
	write(t, rf, "# nothing\n")
	if _, err := dossier.ParseRecipientsFile(rf); err == nil || !strings.Contains(err.Error(), "no recipient") {
		t.Errorf("empty recipients file: %v", err)
	}
	write(t, rf, e.ageRcpt+"\nbogus\n")
	if _, err := dossier.ParseRecipientsFile(rf); err == nil || !strings.Contains(err.Error(), "recipients.txt:2:") {
		t.Errorf("bad line: %v", err)
	}
}

func TestImportReceiptAndHistory(t *testing.T) {
	e := newEstate(t)
	ctx := context.Background()
	b := e.build(t, dossier.Selection{})
	o, err := e.open(t, b.Ciphertext, e.sshKey)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Destroy()

	// The incoming provider's own file store, and its state directory.
	incoming := filepath.Join(e.dir, "incoming")
	st, err := secret.OpenFileStore(filepath.Join(incoming, "creds.age"), secret.FileUnlock{IdentityFile: e.ageID})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dossier.NewRecorder(filepath.Join(incoming, "state"), "import-1", "n.petit", "import", time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	imported, err := dossier.Import(ctx, st, rec, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.End(nil); err != nil {
		t.Fatal(err)
	}
	if len(imported) != 3 {
		t.Fatalf("imported %d", len(imported))
	}
	for _, c := range o.Credentials {
		v, meta, err := st.Get(ctx, c.Info.Path, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Equal(c.Value) || meta.State != secret.Current || meta.Meta["imported_from"] != c.Info.Ref() {
			t.Errorf("%s: imported as %+v", c.Info.Path, meta)
		}
	}

	// The receipt, signed with the SSH identity, verifies with ssh-keygen.
	signer, err := dossier.LoadSigningKey(e.sshKey)
	if err != nil {
		t.Fatal(err)
	}
	r := dossier.NewReceipt(o, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), "contact@nouvelle-infogerance.test", signer.PublicKey(), imported)
	rb, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := dossier.SignReceipt(rb, signer)
	if err != nil {
		t.Fatal(err)
	}
	rf := filepath.Join(e.dir, "receipt.json")
	write(t, rf, string(rb))
	write(t, rf+".sig", string(sig))
	provider := filepath.Join(e.dir, "provider_signers")
	write(t, provider, "contact@nouvelle-infogerance.test "+e.sshPub+"\n")
	got, _, err := dossier.VerifyReceipt(rf, report.TrustAllowedSigners(provider))
	if err != nil {
		t.Fatal(err)
	}
	if got.BundleSHA256 != b.SHA256 || got.ManifestSHA256 != b.ManifestSHA256 || len(got.Imported) != 3 {
		t.Errorf("receipt %+v", got)
	}
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", provider, "-I", "contact@nouvelle-infogerance.test", "-n", dossier.ReceiptNamespace, "-s", rf+".sig")
	cmd.Stdin = bytes.NewReader(rb)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("ssh-keygen -Y verify: %v\n%s", err, out)
	}
	// A changed receipt, another signer, the client's signers: refused.
	write(t, rf, strings.Replace(string(rb), `"imported"`, `"imported" `, 1))
	if _, _, err := dossier.VerifyReceipt(rf, report.TrustAllowedSigners(provider)); err == nil || !strings.Contains(err.Error(), "changed after it was signed") {
		t.Errorf("changed receipt: %v", err)
	}
	write(t, rf, string(rb))
	if _, _, err := dossier.VerifyReceipt(rf, report.TrustAllowedSigners(e.trusted)); err == nil || !strings.Contains(err.Error(), "does not list") {
		t.Errorf("receipt against the client's signers: %v", err)
	}

	// The client's history: the export, then the receipt.
	state := filepath.Join(e.dir, "client-state")
	xrec, err := dossier.NewRecorder(state, "export-1", "j.martin", "export", func() time.Time { return e.exportNow }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := xrec.Append(dossier.ExportRecords(b.Manifest, "dossier.age")...); err != nil {
		t.Fatal(err)
	}
	if err := xrec.Append(dossier.ExportOutcome(b, "dossier.age", nil)); err != nil {
		t.Fatal(err)
	}
	if err := xrec.End(nil); err != nil {
		t.Fatal(err)
	}
	rrec, err := dossier.NewRecorder(state, "receipt-1", "j.martin", "receipt", time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rrec.KeepReceipt(rb, sig); err != nil {
		t.Fatal(err)
	}
	if err := rrec.Append(dossier.ReceiptRecord(got, provider)); err != nil {
		t.Fatal(err)
	}
	if err := rrec.End(nil); err != nil {
		t.Fatal(err)
	}
	hs, err := dossier.History(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Kind != "export" || hs[1].Kind != "receipt" {
		t.Fatalf("history %+v", hs)
	}
	x := hs[0]
	if x.BundleSHA256 != b.SHA256 || len(x.Recipients) != 2 || len(x.Credentials) != 3 || x.Result != "ok" || x.By != "j.martin" {
		t.Errorf("export %+v", x)
	}
	if hs[1].BundleSHA256 != b.SHA256 || hs[1].Imported != 3 || hs[1].Fingerprint != got.SignerFingerprint {
		t.Errorf("receipt %+v", hs[1])
	}
	// Every artefact of the export and the receipt: no value.
	filepath.Walk(e.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(p, "creds.age") {
			return err
		}
		bs, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assertNoSecret(t, p, bs, e.values)
		return nil
	})
	// An edited history is refused, not listed.
	jf := filepath.Join(dossier.HandoffsDir(state), "export-1", dossier.JournalName)
	j, _ := os.ReadFile(jf)
	write(t, jf, strings.Replace(string(j), "j.martin", "x.martin", 1))
	if _, err := dossier.History(state); err == nil {
		t.Error("an edited export journal was read")
	}
}

func TestLetters(t *testing.T) {
	e := newEstate(t)
	b := e.build(t, dossier.Selection{})
	files, err := dossier.ReportFileList(filepath.Join(e.fx.Dir, "report"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(e.fx.Dir, "report", report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	exp := &report.Handoff{Kind: "export", ID: "export-1", Time: e.exportNow, By: "j.martin", Recipients: []string{"age-x25519 " + e.ageRcpt},
		BundleSHA256: b.SHA256, ManifestSHA256: b.ManifestSHA256, Credentials: []string{"memory:serveurs/srv-app1/root#2"}, Result: "ok"}
	for _, lang := range []string{"fr", "en"} {
		for _, format := range []string{"html", "md"} {
			in := dossier.LetterInput{Report: e.fx.Report, ReportSHA256: report.SHA256(js), ReportFiles: files, Export: exp, ReturnWithin: "30 jours", Lang: lang, Now: e.exportNow}
			c, err := dossier.RenderLetter(dossier.Commitment, format, in)
			if err != nil {
				t.Fatal(err)
			}
			r, err := dossier.RenderLetter(dossier.Remise, format, in)
			if err != nil {
				t.Fatal(err)
			}
			for name, doc := range map[string][]byte{"commitment": c, "remise": r} {
				what := name + "-" + lang + "." + format
				if !bytes.Contains(doc, []byte(report.SHA256(js))) {
					t.Errorf("%s does not carry the report's SHA-256", what)
				}
				for _, party := range []string{e.fx.Report.Handover.Client.Name, e.fx.Report.Handover.Outgoing.Name} {
					if !bytes.Contains(doc, []byte(htmlEscape(party, format))) {
						t.Errorf("%s does not name %s", what, party)
					}
				}
				assertNoSecret(t, what, doc, e.values)
			}
			if !bytes.Contains(r, []byte(b.SHA256)) || !bytes.Contains(r, []byte(b.ManifestSHA256)) || !bytes.Contains(r, []byte(files[0].SHA256)) {
				t.Errorf("remise-%s.%s does not list the bundle by hash", lang, format)
			}
			if !bytes.Contains(r, []byte(e.fx.Report.Handover.Incoming.Name)) && !bytes.Contains(r, []byte(htmlEscape(e.fx.Report.Handover.Incoming.Name, format))) {
				t.Errorf("remise-%s.%s does not name the incoming provider", lang, format)
			}
			if !bytes.Contains(c, []byte("30 jours")) {
				t.Errorf("commitment-%s.%s does not give the delay", lang, format)
			}
		}
	}
	fr, _ := dossier.RenderLetter(dossier.Commitment, "html", dossier.LetterInput{Report: e.fx.Report, ReportSHA256: "x", Lang: "fr", Now: e.exportNow})
	for _, want := range []string{"Engagement de confidentialité", "Accès retirés", "Identifiants changés"} {
		if !bytes.Contains(fr, []byte(want)) {
			t.Errorf("French commitment lacks %q", want)
		}
	}
	if _, err := dossier.RenderLetter(dossier.Commitment, "html", dossier.LetterInput{Report: e.fx.Report, Lang: "de"}); err == nil {
		t.Error("a German letter was rendered")
	}
	noExport, _ := dossier.RenderLetter(dossier.Remise, "md", dossier.LetterInput{Report: e.fx.Report, ReportSHA256: "x", Lang: "en", Now: e.exportNow})
	if !bytes.Contains(noExport, []byte("No export of the dossier is recorded")) {
		t.Error("the record without an export does not say so")
	}
}

func htmlEscape(s, format string) string {
	if format != "html" {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}

// failingStore refuses to make more than ok versions current.
type failingStore struct {
	*secret.MemoryStore
	ok int
}

func (f *failingStore) SetState(ctx context.Context, path string, version int, state secret.State) error {
	if f.ok == 0 {
		return errors.New("store went away")
	}
	f.ok--
	return f.MemoryStore.SetState(ctx, path, version, state)
}

// An import cut short leaves the rest pending, never current, and its
// journal says how far it went.
func TestImportCutShort(t *testing.T) {
	e := newEstate(t)
	ctx := context.Background()
	b := e.build(t, dossier.Selection{})
	o, err := e.open(t, b.Ciphertext, e.ageID)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Destroy()
	st := &failingStore{MemoryStore: secret.NewMemoryStore(), ok: 1}
	state := filepath.Join(e.dir, "state")
	rec, err := dossier.NewRecorder(state, "import-1", "n.petit", "import", time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	imported, err := dossier.Import(ctx, st, rec, o)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 made current") {
		t.Fatalf("error %v", err)
	}
	if err := rec.End(err); err != nil {
		t.Fatal(err)
	}
	if len(imported) != 1 {
		t.Errorf("imported %d, want the 1 made current", len(imported))
	}
	vs, _ := st.List(ctx)
	states := map[secret.State]int{}
	for _, v := range vs {
		states[v.State]++
	}
	if states[secret.Current] != 1 || states[secret.Pending] != 2 {
		t.Errorf("store states %v, want 1 current and 2 pending", states)
	}
	j, err := os.ReadFile(filepath.Join(dossier.HandoffsDir(state), "import-1", dossier.JournalName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(j, []byte(`"result":"failed","error":"store went away"`)) {
		t.Errorf("the journal does not record the failure:\n%s", j)
	}
	assertNoSecret(t, "the import journal", j, e.values)
}

// An SSH RSA key is a recipient and an identity too.
func TestRSARecipient(t *testing.T) {
	e := newEstate(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(rk, "rsa@nouvelle-infogerance.test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(e.dir, "incoming_rsa")
	write(t, keyFile, string(pem.EncodeToMemory(block)))
	pub, err := ssh.NewPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dossier.ParseRecipient(string(ssh.MarshalAuthorizedKey(pub)))
	if err != nil || r.Type != "ssh-rsa" {
		t.Fatalf("recipient %+v: %v", r, err)
	}
	ctx := context.Background()
	vs, _ := e.store.List(ctx)
	picked, err := dossier.Selection{Targets: []string{"serveurs"}}.Pick(vs)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := dossier.ReadCredentials(ctx, e.store, picked)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dossier.Build(ctx, dossier.Export{ID: "export-rsa", Now: e.exportNow, ReportDir: filepath.Join(e.fx.Dir, "report"), Recipients: []dossier.Recipient{r}, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.open(t, b.Ciphertext, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Destroy()
	if len(o.Credentials) != 2 || o.Identity.Type != "ssh-rsa" {
		t.Errorf("opened %d credentials with %+v", len(o.Credentials), o.Identity)
	}
	if _, err := e.open(t, b.Ciphertext, e.sshKey); !errors.Is(err, dossier.ErrWrongIdentity) {
		t.Errorf("the ed25519 key opened a bundle for the RSA key: %v", err)
	}
}
