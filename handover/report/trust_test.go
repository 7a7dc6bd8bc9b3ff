package report_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestVerifyTrustSources: a report verifies against a key the verifier
// holds; a forged report, re-signed with another key and shipped with
// that key's allowed_signers, passes integrity-only and nothing else; no
// trust source at all is refused.
func TestVerifyTrustSources(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	forged := fixture(t, reporttest.Options{}) // another key, same identity
	pub := publicKeyOf(t, f.Key)
	cases := []struct {
		name          string
		report        string
		trust         func(t *testing.T) report.Trust
		ok            bool
		integrityOnly bool
		want          string
	}{
		{"own allowed_signers", f.Files.JSON, trustFile(f.Files.AllowedSigners), true, false, "supplied by you"},
		{"forged, own allowed_signers", forged.Files.JSON, trustFile(f.Files.AllowedSigners), false, false, "does not list"},
		{"forged, integrity only", forged.Files.JSON, func(*testing.T) report.Trust { return report.IntegrityOnly() }, true, true, "not who signed them"},
		{"playbook key file", f.Files.JSON, trustPlaybook(playbook.SigningSettings{Key: f.Key, Identity: reporttest.Identity}), true, false, "(signing.key)"},
		{"playbook public key", f.Files.JSON, trustPlaybook(playbook.SigningSettings{Agent: true, PublicKey: pub, Identity: reporttest.Identity}), true, false, "(signing.public_key)"},
		{"playbook fingerprint", f.Files.JSON, trustPlaybook(playbook.SigningSettings{Agent: true, PublicKey: fingerprintOf(t, pub), Identity: reporttest.Identity}), true, false, "(signing.public_key)"},
		{"playbook, forged report", forged.Files.JSON, trustPlaybook(playbook.SigningSettings{Key: f.Key, Identity: reporttest.Identity}), false, false, "does not list"},
		{"playbook, another identity", f.Files.JSON, trustPlaybook(playbook.SigningSettings{Key: f.Key, Identity: "someone@else"}), false, false, `the key is for someone@else, not for "` + reporttest.Identity + `"`},
		{"no trust source", f.Files.JSON, func(*testing.T) report.Trust { return report.Trust{} }, false, false, "no trust source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verify(t, tc.report, tc.trust(t))
			if (err == nil) != tc.ok {
				t.Fatalf("verified: %v, want %v (%v)", err == nil, tc.ok, err)
			}
			got := v.Trust
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("%q lacks %q", got, tc.want)
			}
			if v.IntegrityOnly != tc.integrityOnly {
				t.Errorf("IntegrityOnly = %v, want %v", v.IntegrityOnly, tc.integrityOnly)
			}
		})
	}
}

// TestVerifyAllowedSignersOptions reads allowed_signers as ssh-keygen
// does: every entry for the key counts, and principals (patterns,
// negations), namespaces=, valid-after=, valid-before= and cert-authority
// each can refuse it. ssh-keygen -Y verify must agree on every case.
func TestVerifyAllowedSignersOptions(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	key := strings.TrimSpace(publicKeyOf(t, f.Key))
	id := reporttest.Identity
	cases := []struct {
		name  string
		lines []string
		want  string // "" verifies
	}{
		{"plain", []string{id + " " + key}, ""},
		{"pattern", []string{"*@numerique-conseil.fr " + key}, ""},
		{"negated", []string{`"*,!` + id + `" ` + key}, "is for *,!" + id},
		{"another principal", []string{"someone@else " + key}, "line 1 is for someone@else"},
		{"namespace", []string{id + ` namespaces="git" ` + key}, "line 1 does not allow namespace handover-report"},
		{"expired", []string{id + ` valid-before="20200101" ` + key}, "line 1 has expired"},
		{"not yet valid", []string{id + ` valid-after="29990101Z" ` + key}, "line 1 is not valid yet"},
		{"in its window", []string{id + ` valid-after="20200101",valid-before="29990101000000Z" ` + key}, ""},
		{"expired entry, then a valid one", []string{id + ` valid-before="20200101" ` + key, "# renewed", id + ` namespaces="handover-report" ` + key}, ""},
		{"cert-authority for the key", []string{id + " cert-authority " + key}, "does not list"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "allowed_signers")
			if err := os.WriteFile(file, []byte(strings.Join(tc.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := verify(t, f.Files.JSON, report.TrustAllowedSigners(file))
			if tc.want == "" && err != nil {
				t.Fatalf("does not verify: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			out, kerr := sshKeygenVerify(t, file, f.Files.JSON, f.Files.JSON+".sig")
			if (kerr == nil) != (tc.want == "") {
				t.Errorf("ssh-keygen -Y verify disagrees (accepted: %v): %s", kerr == nil, out)
			}
		})
	}
}

// TestVerifyAt: valid-before is checked at the time given.
func TestVerifyAt(t *testing.T) {
	f := fixture(t, reporttest.Options{})
	file := filepath.Join(t.TempDir(), "allowed_signers")
	line := reporttest.Identity + ` valid-before="20300101Z" ` + strings.TrimSpace(publicKeyOf(t, f.Key))
	if err := os.WriteFile(file, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, f.Files.JSON, report.TrustAllowedSigners(file).At(time.Date(2029, 12, 31, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Errorf("before valid-before: %v", err)
	}
	_, err := verify(t, f.Files.JSON, report.TrustAllowedSigners(file).At(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))
	var ve *report.VerifyError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "has expired") {
		t.Errorf("at valid-before: %v", err)
	}
}

func trustFile(file string) func(*testing.T) report.Trust {
	return func(*testing.T) report.Trust { return report.TrustAllowedSigners(file) }
}

func trustPlaybook(s playbook.SigningSettings) func(*testing.T) report.Trust {
	return func(t *testing.T) report.Trust {
		tr, err := report.TrustSigningKey(s, "", "playbook.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
}

func publicKeyOf(t *testing.T, keyFile string) string {
	t.Helper()
	s, err := report.LoadSigner(context.Background(), playbook.SigningSettings{Key: keyFile}, "")
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(s.PublicKey()))
}

func fingerprintOf(t *testing.T, pub string) string {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(k)
}
