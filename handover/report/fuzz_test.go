package report

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// allowed_signers files and report.json come from whoever hands a report
// over: parsing them must not panic.
func FuzzAllowedSigners(f *testing.F) {
	f.Add([]byte(`dsi@mairie namespaces="handover-report",valid-after="20260101" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxsBHq3g4pCDm2IoyYTYhNGFKTMCtcVXaJVpHNQGMLp` + "\n# c\n"))
	f.Add([]byte(`"a b",c@d cert-authority ssh-rsa AAAA`))
	f.Fuzz(func(t *testing.T, b []byte) { parseAllowedSigners(b, "allowed_signers") })
}

func FuzzReportJSON(f *testing.F) {
	f.Add([]byte(`{"format_version":3,"lang":"fr","run":{"id":"x"},"dossier":[],"actions":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Report
		if json.Unmarshal(b, &r) == nil {
			Marshal(&r)
		}
	})
}

// A detached signature (a receipt's, say) comes from whoever hands it
// over: checking it against the user's allowed_signers never panics, and
// never accepts a signature of other data.
func FuzzVerifyDetached(f *testing.F) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		f.Fatal(err)
	}
	file := filepath.Join(f.TempDir(), "allowed_signers")
	line := "auditeur@example.test " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	data := []byte(`{"bundle":"sha256:0"}`)
	sig, err := sshsig.SignWithRand(bytes.NewReader(data), rand.Reader, s, sshsig.HashSHA512, Namespace)
	if err != nil {
		f.Fatal(err)
	}
	armored := sshsig.Armor(sig)
	trust := TrustAllowedSigners(file)
	if _, err := trust.VerifyDetached(data, armored, Namespace, "auditeur@example.test"); err != nil {
		f.Fatalf("the seed signature does not verify: %v", err)
	}
	f.Add(data, armored)
	f.Add([]byte("x"), []byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, d, a []byte) {
		_, err := trust.VerifyDetached(d, a, Namespace, "auditeur@example.test")
		if err == nil && !bytes.Equal(d, data) {
			t.Fatalf("a signature of %q verifies for %q", data, d)
		}
	})
}
