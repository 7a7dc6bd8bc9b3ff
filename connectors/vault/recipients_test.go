package vault

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// TestSealShares: each share is encrypted to its own recipient only, and
// the bundle holds no plain share.
func TestSealShares(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	ent, err := openpgp.NewEntity("Maire", "", "maire@example.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := ent.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	pgpFile := filepath.Join(t.TempDir(), "maire.asc")
	if err := os.WriteFile(pgpFile, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shares := []string{"c2hhcmUtb25lLXBsYWlu", "c2hhcmUtdHdvLXBsYWlu"}
	bundle, err := sealShares([]recipient{{Name: "DSI", Age: id.Recipient().String()}, {PGP: pgpFile}}, shares)
	if err != nil {
		t.Fatal(err)
	}
	if !sealed(bundle) {
		t.Fatal("the bundle does not read as encrypted")
	}
	lines := strings.Split(strings.TrimSpace(bundle.Reveal()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, s := range shares {
		if strings.Contains(bundle.Reveal(), s) {
			t.Fatal("a plain share is in the bundle")
		}
	}
	ct := func(l string) []byte {
		_, b64, _ := strings.Cut(l, ": ")
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	r, err := age.Decrypt(bytes.NewReader(ct(lines[0])), id)
	if err != nil {
		t.Fatalf("share 1 with its recipient's identity: %v", err)
	}
	if b, _ := io.ReadAll(r); string(b) != shares[0] {
		t.Errorf("share 1 decrypts to another value")
	}
	if _, err := age.Decrypt(bytes.NewReader(ct(lines[0])), other); err == nil {
		t.Errorf("share 1 decrypts with another identity")
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(ct(lines[1])), openpgp.EntityList{ent}, nil, nil)
	if err != nil {
		t.Fatalf("share 2 with its recipient's PGP key: %v", err)
	}
	if b, _ := io.ReadAll(md.UnverifiedBody); string(b) != shares[1] {
		t.Errorf("share 2 decrypts to another value")
	}
	if !strings.HasPrefix(lines[0], "share 1 for DSI (age "+id.Recipient().String()+"), age ") || !strings.HasPrefix(lines[1], "share 2 for pgp "+pgpFile+", pgp ") {
		t.Errorf("labels: %q / %q", lines[0][:60], lines[1][:60])
	}
	if _, err := sealShares([]recipient{{Age: id.Recipient().String()}}, shares); err == nil {
		t.Errorf("two shares sealed for one recipient")
	}
}
