package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// keyPair is an SSH key kept as an OpenSSH private key file (0600) and
// its .pub.
type keyPair struct {
	path    string
	comment string
	pub     ssh.PublicKey
	signer  ssh.Signer
}

// authorizedLine is the key as it appears in authorized_keys, with
// optional leading options.
func (k keyPair) authorizedLine(options string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.pub))) + " " + k.comment
	if options != "" {
		line = options + " " + line
	}
	return line
}

func (k keyPair) fingerprint() string { return ssh.FingerprintSHA256(k.pub) }

// ensureKey loads the key at path or makes it: ed25519, or RSA-3072 when
// rsaKey is set. Keys persist across down/up so known_hosts and the keys
// handed to tests stay valid.
func ensureKey(path, comment string, rsaKey bool) (keyPair, error) {
	k := keyPair{path: path, comment: comment}
	if b, err := os.ReadFile(path); err == nil {
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return k, fmt.Errorf("%s: %w", path, err)
		}
		k.signer, k.pub = s, s.PublicKey()
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	var priv any
	if rsaKey {
		r, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return k, err
		}
		priv = r
	} else {
		_, e, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return k, err
		}
		priv = e
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return k, err
	}
	pemBytes := pem.EncodeToMemory(block)
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return k, err
	}
	k.signer, k.pub = s, s.PublicKey()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return k, err
	}
	if err := writeAtomic(path+".pub", []byte(k.authorizedLine("")+"\n"), 0o644); err != nil {
		return k, err
	}
	// The private key last: its presence means the pair is complete.
	return k, writeAtomic(path, pemBytes, 0o600)
}

// writeAtomic writes a file through a temporary name, so a reader never
// sees half of it.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// ensurePassword returns the password kept in path (0600), making a random
// one the first time, and its SHA-512 crypt hash for /etc/shadow, kept
// beside it so starting a host needs no hashing.
func ensurePassword(ctx context.Context, path string) (hash string, err error) {
	hashPath := path + ".hash"
	pw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 20)
		for i := range b {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(passwordAlphabet))))
			if err != nil {
				return "", err
			}
			b[i] = passwordAlphabet[n.Int64()]
		}
		pw = append(b, '\n')
		_ = os.Remove(hashPath)
		if err := writeAtomic(path, pw, 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if h, err := os.ReadFile(hashPath); err == nil && len(h) > 0 {
		return strings.TrimSpace(string(h)), nil
	}
	// The password goes to openssl on stdin, never on a command line.
	cmd := exec.CommandContext(ctx, "openssl", "passwd", "-6", "-stdin")
	cmd.Stdin = bytes.NewReader(pw)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("openssl passwd: %w", err)
	}
	hash = strings.TrimSpace(string(out))
	if !strings.HasPrefix(hash, "$6$") {
		return "", fmt.Errorf("openssl passwd: unexpected output")
	}
	return hash, writeAtomic(hashPath, []byte(hash+"\n"), 0o600)
}
