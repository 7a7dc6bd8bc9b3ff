package dossier

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// Recipient is one party a bundle is encrypted to: an age X25519 (or
// hybrid post-quantum) recipient, or an SSH ed25519 or RSA public key, as
// age accepts them.
type Recipient struct {
	// Type is "age-x25519", "age-hybrid", "ssh-ed25519" or "ssh-rsa".
	Type string `json:"type"`
	// Fingerprint names the key: the age recipient itself (it is public),
	// or the SSH key's SHA256 fingerprint.
	Fingerprint string `json:"fingerprint"`
	// Comment is the SSH key's comment, if any.
	Comment string `json:"comment,omitempty"`

	r age.Recipient
}

// ParseRecipient parses one recipient as `age -r` does.
func ParseRecipient(s string) (Recipient, error) {
	s = strings.TrimSpace(s)
	short := s
	if len(short) > 40 {
		short = short[:40] + "…"
	}
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("recipient %q: not a valid age post-quantum recipient: %w", short, err)
		}
		return Recipient{Type: "age-hybrid", Fingerprint: s, r: r}, nil
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("recipient %q: not a valid age X25519 recipient (age plugins are not supported): %w", short, err)
		}
		return Recipient{Type: "age-x25519", Fingerprint: s, r: r}, nil
	case strings.HasPrefix(s, "ssh-ed25519 "), strings.HasPrefix(s, "ssh-rsa "):
		pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
		if err != nil {
			return Recipient{}, fmt.Errorf("recipient %q: not a valid SSH public key: %w", short, err)
		}
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return Recipient{}, fmt.Errorf("recipient %s: %w", ssh.FingerprintSHA256(pub), err)
		}
		return Recipient{Type: pub.Type(), Fingerprint: ssh.FingerprintSHA256(pub), Comment: comment, r: r}, nil
	case strings.HasPrefix(s, "ssh-"), strings.HasPrefix(s, "ecdsa-"), strings.HasPrefix(s, "sk-"):
		typ, _, _ := strings.Cut(s, " ")
		return Recipient{}, fmt.Errorf("recipient of type %s: unsupported (age encrypts to SSH ed25519 and RSA keys only; ask for one of those or an age key)", typ)
	}
	return Recipient{}, fmt.Errorf("recipient %q: unknown kind (expected an age1… recipient, or an ssh-ed25519 or ssh-rsa public key)", short)
}

// ParseRecipientsFile parses a recipients file as `age -R` does: one
// recipient a line, blank lines and lines starting with # ignored.
func ParseRecipientsFile(path string) ([]Recipient, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("recipients file: %w", err)
	}
	var out []Recipient
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := ParseRecipient(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no recipient", path)
	}
	return out, nil
}

// Identity is a key that opens a bundle: every identity of an age
// identity file, or one SSH private key.
type Identity struct {
	// Recipient is the public side, as the bundle's manifest names it.
	Recipient Recipient
	ids       []age.Identity
	// Signer is the SSH key itself, when the identity is one: it can sign
	// the receipt.
	Signer ssh.Signer
}

// ErrEncryptedKey is returned for a passphrase-protected SSH key.
var ErrEncryptedKey = errors.New("the SSH key is protected by a passphrase, which handover does not ask for: use an age identity, or an unprotected copy of the key kept offline")

// LoadIdentity reads an age identity file (age-keygen's) or an SSH
// private key (ed25519 or RSA).
func LoadIdentity(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer clear(b)
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			var pp *ssh.PassphraseMissingError
			if errors.As(err, &pp) {
				return nil, fmt.Errorf("identity %s: %w", path, ErrEncryptedKey)
			}
			return nil, fmt.Errorf("identity %s: not a usable SSH private key: %w", path, err)
		}
		id, err := agessh.ParseIdentity(b)
		if err != nil {
			return nil, fmt.Errorf("identity %s: %w", path, err)
		}
		pub := signer.PublicKey()
		r := Recipient{Type: pub.Type(), Fingerprint: ssh.FingerprintSHA256(pub)}
		return &Identity{Recipient: r, ids: []age.Identity{id}, Signer: signer}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("identity %s: not an age identity file or SSH private key: %w", path, err)
	}
	out := &Identity{ids: ids}
	switch id := ids[0].(type) {
	case *age.X25519Identity:
		out.Recipient = Recipient{Type: "age-x25519", Fingerprint: id.Recipient().String()}
	case *age.HybridIdentity:
		out.Recipient = Recipient{Type: "age-hybrid", Fingerprint: id.Recipient().String()}
	default:
		return nil, fmt.Errorf("identity %s: unsupported identity type %T", path, id)
	}
	return out, nil
}
