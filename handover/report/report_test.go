package report_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

func fixture(t *testing.T, o reporttest.Options) *reporttest.Fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := reporttest.Write(ctx, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func verify(t *testing.T, reportJSON string, trust report.Trust) (*report.Verification, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return report.Verify(ctx, reportJSON, trust)
}

func TestReportWriteThenVerify(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	v, err := verify(t, f.Files.JSON, report.IntegrityOnly())
	if err != nil {
		t.Fatalf("a freshly written report does not verify: %v", err)
	}
	if !v.IntegrityOnly {
		t.Error("IntegrityOnly is false with the shipped allowed_signers")
	}
	if !strings.Contains(v.Trust, "not who signed them") {
		t.Errorf("trust statement for the bundled allowed_signers does not warn about identity: %s", v.Trust)
	}
	if v.Identity != reporttest.Identity {
		t.Errorf("identity = %q, want %q", v.Identity, reporttest.Identity)
	}
	if v.JournalHead != f.Report.Journal.Head || v.JournalRecords != len(f.Report.Journal.Records) {
		t.Errorf("journal head %s (%d records), want %s (%d)", v.JournalHead, v.JournalRecords, f.Report.Journal.Head, len(f.Report.Journal.Records))
	}
	if len(v.Files) != 4 {
		t.Fatalf("checked %d files, want 4", len(v.Files))
	}
	for _, fc := range v.Files {
		if !fc.SignedOK {
			t.Errorf("%s: signature not ok", fc.Name)
		}
	}
	given, err := verify(t, f.Files.JSON, report.TrustAllowedSigners(f.Files.AllowedSigners))
	if err != nil {
		t.Fatal(err)
	}
	if given.IntegrityOnly || !strings.Contains(given.Trust, "supplied by you") {
		t.Errorf("trust with --allowed-signers: %s", given.Trust)
	}
	// The allowed_signers line is the one ssh-keygen expects.
	b, err := os.ReadFile(f.Files.AllowedSigners)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), reporttest.Identity+` namespaces="handover-report" ssh-ed25519 `) {
		t.Errorf("allowed_signers = %q", b)
	}
}

// TestReportFormats: a report written without its HTML rendering (as
// report.formats: [json, md] asks) has no report.html, says so in the
// signed report.json, and verifies without it; one without either
// rendering too.
func TestReportFormats(t *testing.T) {
	for _, formats := range [][]string{{"json", "md"}, {"json"}} {
		t.Run(strings.Join(formats, "+"), func(t *testing.T) {
			f := fixture(t, reporttest.Options{Formats: formats})
			if f.Files.HTML != "" {
				t.Errorf("Files.HTML = %q, want none", f.Files.HTML)
			}
			if _, err := os.Stat(filepath.Join(f.Files.Dir, report.HTMLFile)); !os.IsNotExist(err) {
				t.Errorf("report.html written: %v", err)
			}
			_, err := os.Stat(filepath.Join(f.Files.Dir, report.MarkdownFile))
			if wantMD := len(formats) == 2; (err == nil) != wantMD {
				t.Errorf("report.md written: %v, want %v", err == nil, wantMD)
			}
			for _, p := range f.Files.All() {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("Files lists %s: %v", p, err)
				}
			}
			v, err := verify(t, f.Files.JSON, report.IntegrityOnly())
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if len(v.Problems) > 0 {
				t.Errorf("problems: %v", v.Problems)
			}
			if want := len(formats) + 1; len(v.Files) != want { // and the journal
				t.Errorf("checked %d files, want %d", len(v.Files), want)
			}
		})
	}
}

// TestReportVerifiedBySSHKeygen checks every signature with OpenSSH itself.
func TestReportVerifiedBySSHKeygen(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	for _, file := range []string{f.Files.JSON, f.Files.HTML, f.Files.Markdown, f.Files.Journal} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out, err := sshKeygenVerify(t, f.Files.AllowedSigners, file, file+".sig")
			if err != nil {
				t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
			}
			if !strings.Contains(out, `Good "handover-report" signature for `+reporttest.Identity) {
				t.Errorf("ssh-keygen said: %s", out)
			}
		})
	}
	// And OpenSSH refuses a changed file.
	b, err := os.ReadFile(f.Files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(changed, bytes.Replace(b, []byte("partial"), []byte("success"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := sshKeygenVerify(t, f.Files.AllowedSigners, changed, f.Files.JSON+".sig"); err == nil {
		t.Fatalf("ssh-keygen accepted a changed report.json: %s", out)
	}
}

func sshKeygenVerify(t *testing.T, allowed, file, sig string) (string, error) {
	t.Helper()
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", reporttest.Identity, "-n", report.Namespace, "-s", sig)
	cmd.Stdin = in
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestVerifyTamper changes one thing in a written report and expects the
// verification to fail naming the file, the place and what is wrong.
func TestVerifyTamper(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, f *reporttest.Fixture)
		want   []string
	}{
		{
			name:   "report byte in a system",
			tamper: flipIn(report.JSONFile, `"name": "srv-compta1"`, "srv-compta1", "srv-compta7"),
			want:   []string{"report.json: does not match its signature", "report.json lines", `dossier[0].systems[2] (system "srv-compta7" of target "serveurs") differs from what was signed`, "(signed, intact) shows", "srv-compta1", "srv-compta7"},
		},
		{
			name:   "report byte in an action",
			tamper: flipIn(report.JSONFile, `"result": "failed"`, "failed", "fail3d"),
			want:   []string{"report.json: does not match its signature", "actions[", "remove-cron", "differs from what was signed"},
		},
		{
			name:   "report byte in the journal copy",
			tamper: flipIn(report.JSONFile, `"kind": "outcome"`, "outcome", "outcomf"),
			want:   []string{"report.json: does not match its signature", "report.json journal record 8: differs from journal.jsonl record 8 (signed, intact)"},
		},
		{
			name:   "report syntax",
			tamper: flipIn(report.JSONFile, `"format_version": 3,`, ",", ";"),
			want:   []string{"report.json: does not match its signature", "report.json line 2: cannot be read as a report"},
		},
		{
			name:   "journal line removed",
			tamper: journalLines(func(l []string) []string { return append(l[:4:4], l[5:]...) }),
			want:   []string{"journal.jsonl: does not match its signature", "journal.jsonl record 5: sequence number is 6, expected 5"},
		},
		{
			name:   "journal lines reordered",
			tamper: journalLines(func(l []string) []string { l[6], l[7] = l[7], l[6]; return l }),
			want:   []string{"journal.jsonl: does not match its signature", "journal.jsonl record 7: sequence number is 8, expected 7"},
		},
		{
			name: "journal line edited",
			tamper: journalLines(func(l []string) []string {
				l[7] = strings.Replace(l[7], `"result":"applied"`, `"result":"failed"`, 1)
				return l
			}),
			want: []string{"journal.jsonl: does not match its signature", "journal.jsonl record 8: content does not match its hash (record edited)"},
		},
		{
			name:   "signatures swapped between files",
			tamper: swap(report.JSONFile+".sig", report.JournalFile+".sig"),
			want:   []string{"report.json.sig: is the signature of journal.jsonl, not of report.json", "journal.jsonl.sig: is the signature of report.json, not of journal.jsonl"},
		},
		{
			name:   "html edited",
			tamper: flipIn(report.HTMLFile, "<h2>Passation partielle</h2>", "partielle", "réussie"),
			want:   []string{"report.html: does not match its signature", "report.html line", "differs from the rendering of report.json", "Passation réussie"},
		},
		{
			name:   "markdown edited",
			tamper: flipIn(report.MarkdownFile, "srv-app1", "app1", "app9"),
			want:   []string{"report.md: does not match its signature", "report.md line", "differs from the rendering of report.json"},
		},
		{
			name:   "signature byte",
			tamper: damageSignature,
			want:   []string{"report.json: does not match its signature report.json.sig", "report.json.sig: report.json's content matches the index of the signed, intact report.html: the signature file itself was damaged or replaced"},
		},
		{
			name:   "signature file removed",
			tamper: func(t *testing.T, f *reporttest.Fixture) { mustRemove(t, f.Files.HTML+".sig") },
			want:   []string{"report.html.sig: missing: the file is not signed"},
		},
		{
			name:   "markdown removed",
			tamper: func(t *testing.T, f *reporttest.Fixture) { mustRemove(t, f.Files.Markdown) },
			want:   []string{"report.md: missing"},
		},
		{
			name: "html and its signature removed",
			tamper: func(t *testing.T, f *reporttest.Fixture) {
				mustRemove(t, f.Files.HTML)
				mustRemove(t, f.Files.HTML+".sig")
			},
			want: []string{"report.html: missing", "report.html.sig: missing"},
		},
		{
			name:   "journal removed",
			tamper: func(t *testing.T, f *reporttest.Fixture) { mustRemove(t, f.Files.Journal) },
			want:   []string{"journal.jsonl: missing"},
		},
		{
			name: "extra file",
			tamper: func(t *testing.T, f *reporttest.Fixture) {
				if err := os.WriteFile(filepath.Join(f.Files.Dir, "notes.txt"), []byte("added\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"notes.txt: is not part of the signed report"},
		},
		{
			name:   "report pretty-printed with tabs",
			tamper: flipIn(report.JSONFile, `  "format_version": 3,`, `  "format_version"`, "\t\"format_version\""),
			want:   []string{"report.json line 2: is not in canonical form", "column 1", `found "▶\t\"format_version\"`, `canonical "▶  \"format_version\"`},
		},
		{
			name:   "html re-rendered from another report",
			tamper: rerender,
			want:   []string{"report.html: does not match its signature", "report.html line", "was rendered from a report.json with SHA-256"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture(t, reporttest.Options{})
			tc.tamper(t, f)
			v, err := verify(t, f.Files.JSON, report.IntegrityOnly())
			if err == nil {
				t.Fatal("verification passed")
			}
			var ve *report.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *report.VerifyError: %v", err, err)
			}
			if v.OK() {
				t.Error("Verification.OK() is true")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestVerifyRefusesUnlistedKey(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(other, []byte(report.AllowedSignersLine("someone@else", signer.PublicKey())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = verify(t, f.Files.JSON, report.TrustAllowedSigners(other))
	if err == nil || !strings.Contains(err.Error(), "report.json.sig: made by key SHA256:") || !strings.Contains(err.Error(), "which "+other+" does not list") {
		t.Fatalf("verify with someone else's allowed_signers: %v", err)
	}
}

func TestReportWriteRefusesAnotherJournal(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	signer, err := report.LoadSigner(context.Background(), playbook.SigningSettings{Key: f.Key}, "")
	if err != nil {
		t.Fatal(err)
	}
	r := *f.Report
	r.Journal.Head = strings.Repeat("a", 64)
	_, err = report.Write(context.Background(), t.TempDir(), &r, filepath.Join(f.Dir, "run", "journal.jsonl"), signer)
	if err == nil || !strings.Contains(err.Error(), "but the report's journal head is aaaaaaaaaaaa") {
		t.Fatalf("Write with a head that is not the journal's: %v", err)
	}
	_, err = report.Write(context.Background(), filepath.Dir(f.Files.JSON), f.Report, filepath.Join(f.Dir, "run", "journal.jsonl"), signer)
	if err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("Write over a signed report: %v", err)
	}
}

func flipIn(file, context, old, new string) func(*testing.T, *reporttest.Fixture) {
	return func(t *testing.T, f *reporttest.Fixture) {
		t.Helper()
		p := filepath.Join(filepath.Dir(f.Files.JSON), file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte(context))
		if i < 0 {
			t.Fatalf("%s does not contain %q", file, context)
		}
		j := bytes.Index(b[i:], []byte(old))
		if j < 0 {
			t.Fatalf("%s: %q not within %q", file, old, context)
		}
		out := append(append(append([]byte{}, b[:i+j]...), new...), b[i+j+len(old):]...)
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func journalLines(edit func([]string) []string) func(*testing.T, *reporttest.Fixture) {
	return func(t *testing.T, f *reporttest.Fixture) {
		t.Helper()
		b, err := os.ReadFile(f.Files.Journal)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		out := strings.Join(edit(lines), "\n") + "\n"
		if out == string(b) {
			t.Fatal("the edit changed nothing")
		}
		if err := os.WriteFile(f.Files.Journal, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func swap(a, b string) func(*testing.T, *reporttest.Fixture) {
	return func(t *testing.T, f *reporttest.Fixture) {
		t.Helper()
		dir := filepath.Dir(f.Files.JSON)
		pa, pb := filepath.Join(dir, a), filepath.Join(dir, b)
		ba, err := os.ReadFile(pa)
		if err != nil {
			t.Fatal(err)
		}
		bb, err := os.ReadFile(pb)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pa, bb, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pb, ba, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// damageSignature changes one base64 character near the end of
// report.json.sig, inside the signature blob.
func damageSignature(t *testing.T, f *reporttest.Fixture) {
	t.Helper()
	p := f.Files.JSON + ".sig"
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("\n-----END")) - 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rerender replaces report.html by the rendering of a different report.
func rerender(t *testing.T, f *reporttest.Fixture) {
	t.Helper()
	r := *f.Report
	r.Run.Result = report.RunSuccess
	b, err := report.Render(&r, "html", "fr")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Files.HTML, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// TestReportLoadSigner covers the key sources: a key file, an encrypted key file
// (refused with a message naming it) and a key held by a real ssh-agent.
func TestReportLoadSigner(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plain := writePEM(t, filepath.Join(dir, "plain"), func() (*pem.Block, error) { return ssh.MarshalPrivateKey(priv, "ops@mairie") })
	sshPub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain+".pub", ssh.MarshalAuthorizedKey(sshPub)[:len(ssh.MarshalAuthorizedKey(sshPub))-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain+".pub", append(bytes.TrimSpace(ssh.MarshalAuthorizedKey(sshPub)), []byte(" ops@mairie\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	encrypted := writePEM(t, filepath.Join(dir, "encrypted"), func() (*pem.Block, error) {
		return ssh.MarshalPrivateKeyWithPassphrase(priv, "ops@mairie", []byte("correct horse"))
	})
	fp := ssh.FingerprintSHA256(sshPub)
	ctx := context.Background()

	t.Run("file, identity from the key comment", func(t *testing.T) {
		s, err := report.LoadSigner(ctx, playbook.SigningSettings{Key: "plain"}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if s.Identity() != "ops@mairie" || ssh.FingerprintSHA256(s.PublicKey()) != fp {
			t.Errorf("identity %q key %s", s.Identity(), ssh.FingerprintSHA256(s.PublicKey()))
		}
	})
	t.Run("file, wrong public_key", func(t *testing.T) {
		_, err := report.LoadSigner(ctx, playbook.SigningSettings{Key: plain, PublicKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "")
		if err == nil || !strings.Contains(err.Error(), "but signing.public_key names") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("encrypted file", func(t *testing.T) {
		_, err := report.LoadSigner(ctx, playbook.SigningSettings{Key: encrypted, Identity: "x"}, "")
		if err == nil || !strings.Contains(err.Error(), "signing key "+encrypted+" is protected by a passphrase") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ssh-agent", func(t *testing.T) {
		sock := startAgent(t)
		add := exec.Command("ssh-add", plain)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add: %v\n%s", err, out)
		}
		t.Setenv("SSH_AUTH_SOCK", sock)
		s, err := report.LoadSigner(ctx, playbook.SigningSettings{Agent: true, PublicKey: plain + ".pub", Identity: "mairie-ops"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.Identity() != "mairie-ops" {
			t.Errorf("identity = %q", s.Identity())
		}
		data := []byte("a report\n")
		sig, err := s.Sign(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		file := filepath.Join(tmp, "data")
		allowed := filepath.Join(tmp, "allowed_signers")
		for p, b := range map[string][]byte{file: data, file + ".sig": sig, allowed: []byte(report.AllowedSignersLine(reporttest.Identity, s.PublicKey()) + "\n")} {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := sshKeygenVerify(t, allowed, file, file+".sig"); err != nil {
			t.Fatalf("ssh-keygen rejects the agent's signature: %v\n%s", err, out)
		}
		_, err = report.LoadSigner(ctx, playbook.SigningSettings{Agent: true, PublicKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "")
		if err == nil || !strings.Contains(err.Error(), "holds no key SHA256:AAAA") {
			t.Fatalf("agent without the key: %v", err)
		}
	})
}

func writePEM(t *testing.T, path string, mk func() (*pem.Block, error)) string {
	t.Helper()
	b, err := mk()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAgent runs a real ssh-agent in the foreground on a private socket
// and stops it when the test ends.
func startAgent(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not create its socket in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
