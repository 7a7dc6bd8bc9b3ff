package report

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestAcceptCertificate: a cert-authority entry accepts a user
// certificate its key signed, for one of the certificate's principals,
// within its validity; not the CA's plain key, another CA's certificate,
// a host certificate or an expired one.
func TestAcceptCertificate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ca, other := newSigner(t), newSigner(t)
	user := newSigner(t)
	cert := func(by ssh.Signer, typ uint32, principals []string, after, before time.Time) *ssh.Certificate {
		c := &ssh.Certificate{Key: user.PublicKey(), CertType: typ, KeyId: "k", ValidPrincipals: principals, ValidAfter: uint64(after.Unix()), ValidBefore: uint64(before.Unix())}
		if err := c.SignCert(rand.Reader, by); err != nil {
			t.Fatal(err)
		}
		return c
	}
	day := 24 * time.Hour
	line := "*@mairie.test cert-authority " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	signers, err := parseAllowedSigners([]byte(line+"\n"), "allowed_signers")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  ssh.PublicKey
		want string // "" accepted; "-" not concerned
	}{
		{"valid certificate", cert(ca, ssh.UserCert, []string{"dsi@mairie.test"}, now.Add(-day), now.Add(day)), ""},
		{"the CA's own key", ca.PublicKey(), "-"},
		{"the user's plain key", user.PublicKey(), "-"},
		{"another CA", cert(other, ssh.UserCert, []string{"dsi@mairie.test"}, now.Add(-day), now.Add(day)), "-"},
		{"host certificate", cert(ca, ssh.HostCert, []string{"dsi@mairie.test"}, now.Add(-day), now.Add(day)), "not a user certificate"},
		{"expired", cert(ca, ssh.UserCert, []string{"dsi@mairie.test"}, now.Add(-2*day), now.Add(-day)), "cert has expired"},
		{"another principal", cert(ca, ssh.UserCert, []string{"other@mairie.test"}, now.Add(-day), now.Add(day)), "not in the set of valid principals"},
		{"forged certificate", forged(cert(ca, ssh.UserCert, []string{"dsi@mairie.test"}, now.Add(-day), now.Add(day))), "signature does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, whys := accept(signers, tc.key, "dsi@mairie.test", Namespace, now)
			got := fmt.Sprint(whys)
			switch {
			case tc.want == "" && e == nil:
				t.Errorf("refused: %s", got)
			case tc.want == "-" && (e != nil || len(whys) > 0):
				t.Errorf("the entry concerns it: %v %s", e, got)
			case tc.want != "" && tc.want != "-" && (e != nil || !strings.Contains(got, tc.want)):
				t.Errorf("accepted or wrong reason: %v %s", e, got)
			}
		})
	}
}

// forged changes a signed certificate, so that its CA signature no
// longer holds.
func forged(c *ssh.Certificate) *ssh.Certificate {
	c.KeyId = "changed after signing"
	return c
}

func newSigner(t *testing.T) ssh.Signer {
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
