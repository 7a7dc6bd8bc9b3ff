package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/handoverhq/handover/handover/secret"
)

// recipient is a key holder a new key share is encrypted to: an age
// recipient (age1…, or an SSH public key) or an OpenPGP public key file.
type recipient struct {
	Name string
	Age  string // age1… or "ssh-ed25519 …"
	PGP  string // path of an OpenPGP public key, armored or binary
}

// label is how the recipient reads in the plan and the stored bundle.
func (r recipient) label() string {
	kind, id := "age", r.Age
	if r.PGP != "" {
		kind, id = "pgp", r.PGP
	}
	if r.Name != "" {
		return r.Name + " (" + kind + " " + id + ")"
	}
	return kind + " " + id
}

// sealer encrypts one share to one recipient.
type sealer struct {
	kind, id string // "age" and the recipient, or "pgp" and the key's fingerprint
	seal     func(share []byte) ([]byte, error)
}

// parse checks the recipient's key and returns how to encrypt to it. It
// reads no secret: public keys only.
func (r recipient) parse() (sealer, error) {
	if r.PGP != "" {
		raw, err := os.ReadFile(r.PGP)
		if err != nil {
			return sealer{}, fmt.Errorf("pgp key %s: %w", r.PGP, err)
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(raw))
		if err != nil {
			el, err = openpgp.ReadKeyRing(bytes.NewReader(raw))
		}
		if err != nil {
			return sealer{}, fmt.Errorf("pgp key %s: %w", r.PGP, err)
		}
		if len(el) != 1 {
			return sealer{}, fmt.Errorf("pgp key %s holds %d keys: give one key per recipient", r.PGP, len(el))
		}
		fp := strings.ToUpper(hex.EncodeToString(el[0].PrimaryKey.Fingerprint))
		return sealer{kind: "pgp", id: fp, seal: sealWith(func(w io.Writer) (io.WriteCloser, error) {
			return openpgp.Encrypt(w, el, nil, nil, &packet.Config{})
		})}, nil
	}
	var rc age.Recipient
	var err error
	if strings.HasPrefix(r.Age, "ssh-") {
		rc, err = agessh.ParseRecipient(r.Age)
	} else {
		rc, err = age.ParseX25519Recipient(r.Age)
	}
	if err != nil {
		return sealer{}, fmt.Errorf("age recipient %q: %w", r.Age, err)
	}
	return sealer{kind: "age", id: r.Age, seal: sealWith(func(w io.Writer) (io.WriteCloser, error) {
		return age.Encrypt(w, rc)
	})}, nil
}

// sealWith is a seal function writing a share through an encrypting
// writer.
func sealWith(encrypt func(io.Writer) (io.WriteCloser, error)) func([]byte) ([]byte, error) {
	return func(share []byte) ([]byte, error) {
		var buf bytes.Buffer
		w, err := encrypt(&buf)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(share); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
}

// sharePrefix starts each line of an encrypted bundle.
const sharePrefix = "share "

// sealShares encrypts share i to recipient i. The bundle (what the
// secret store keeps, and what `handover secrets get` shows) has one line
// per share:
//
//	share 1 for Maire (age age1…), age age1…: BASE64
//
// BASE64 is the binary age file or OpenPGP message, as Vault's own
// pgp_keys output: `base64 -d | age -d -i KEY` or `base64 -d | gpg -d`
// gives the share back, in the form `vault operator unseal` takes.
func sealShares(recipients []recipient, shares []string) (secret.Secret, error) {
	if len(recipients) != len(shares) {
		return secret.Secret{}, fmt.Errorf("%d new shares for %d recipients", len(shares), len(recipients))
	}
	var b strings.Builder
	for i, r := range recipients {
		s, err := r.parse()
		if err != nil {
			return secret.Secret{}, err
		}
		ct, err := s.seal([]byte(shares[i]))
		if err != nil {
			return secret.Secret{}, fmt.Errorf("encrypt share %d to %s: %w", i+1, r.label(), err)
		}
		fmt.Fprintf(&b, "%s%d for %s, %s %s: %s\n", sharePrefix, i+1, r.label(), s.kind, s.id, base64.StdEncoding.EncodeToString(ct))
	}
	return secret.New(b.String()), nil
}

// sealed says whether a stored value is an encrypted bundle: handover
// cannot read the shares in it.
func sealed(v secret.Secret) bool {
	return strings.HasPrefix(v.Reveal(), sharePrefix)
}
