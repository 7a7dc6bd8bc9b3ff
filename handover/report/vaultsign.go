package report

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/playbook"
)

// VaultTransitSigner signs with an ed25519 key of Vault's transit engine
// (signing.vault_transit): the private key never leaves Vault. The
// signatures are the same OpenSSH SSHSIG as with a key file: SSHSIG's
// signed blob (namespace, hash of the data) is sent to transit/sign as raw
// bytes, which ed25519 signs as they are (Vault ignores the hash algorithm
// for ed25519; its pre-hashed ed25519 mode is not used). The report
// carries the public key, so `ssh-keygen -Y verify` checks it without
// Vault. wantFP, when not empty, is the fingerprint the key must have
// (signing.public_key).
func VaultTransitSigner(ctx context.Context, c *api.Client, sg playbook.SigningSettings, baseDir string) (Signer, error) {
	if sg.VaultTransit == nil {
		return nil, errors.New("signing: no vault_transit section")
	}
	var wantFP string
	if sg.PublicKey != "" {
		var err error
		if wantFP, err = parseKeySelector(sg.PublicKey, baseDir); err != nil {
			return nil, &SigningError{Setting: "public_key", Err: err}
		}
	}
	return vaultTransitSigner(ctx, c, sg.VaultTransit.Mount, sg.VaultTransit.Key, sg.Identity, wantFP)
}

func vaultTransitSigner(ctx context.Context, c *api.Client, mount, key, identity, wantFP string) (Signer, error) {
	path := strings.Trim(mount, "/") + "/keys/" + key
	s, err := c.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, &SigningError{"vault_transit", fmt.Errorf("signing key: vault %s: %w", path, err)}
	}
	if s == nil {
		return nil, &SigningError{"vault_transit", fmt.Errorf("signing key: vault %s: no such transit key", path)}
	}
	if typ, _ := s.Data["type"].(string); typ != "ed25519" {
		return nil, &SigningError{"vault_transit", fmt.Errorf("signing key: vault %s is of type %q; SSH signatures need an ed25519 key", path, typ)}
	}
	keys, _ := s.Data["keys"].(map[string]any)
	var versions []int
	for v := range keys {
		if n, err := strconv.Atoi(v); err == nil {
			versions = append(versions, n)
		}
	}
	if len(versions) == 0 {
		return nil, &SigningError{"vault_transit", fmt.Errorf("signing key: vault %s has no key version", path)}
	}
	sort.Ints(versions)
	latest := versions[len(versions)-1]
	kv, _ := keys[strconv.Itoa(latest)].(map[string]any)
	pubB64, _ := kv["public_key"].(string)
	raw, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, &SigningError{"vault_transit", fmt.Errorf("signing key: vault %s version %d: no ed25519 public key", path, latest)}
	}
	pub, err := ssh.NewPublicKey(ed25519.PublicKey(raw))
	if err != nil {
		return nil, err
	}
	if wantFP != "" && ssh.FingerprintSHA256(pub) != wantFP {
		return nil, &SigningError{"public_key", fmt.Errorf("vault transit key %s is %s, but signing.public_key names %s", path, ssh.FingerprintSHA256(pub), wantFP)}
	}
	return &transitSigner{c: c, mount: strings.Trim(mount, "/"), key: key, version: latest, pub: pub, identity: defaultIdentity(identity)}, nil
}

type transitSigner struct {
	c        *api.Client
	mount    string
	key      string
	version  int
	pub      ssh.PublicKey
	identity string
}

func (t *transitSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	return signWith(&transitSSH{t: t, ctx: ctx}, data)
}

func (t *transitSigner) PublicKey() ssh.PublicKey { return t.pub }
func (t *transitSigner) Identity() string         { return t.identity }

// transitSSH is the ssh.Signer SSHSIG signs with: one transit/sign call.
type transitSSH struct {
	t   *transitSigner
	ctx context.Context
}

func (s *transitSSH) PublicKey() ssh.PublicKey { return s.t.pub }

func (s *transitSSH) Sign(_ io.Reader, data []byte) (*ssh.Signature, error) {
	path := s.t.mount + "/sign/" + s.t.key
	r, err := s.t.c.Logical().WriteWithContext(s.ctx, path, map[string]any{
		"input":       base64.StdEncoding.EncodeToString(data),
		"key_version": s.t.version,
	})
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", path, err)
	}
	if r == nil {
		return nil, fmt.Errorf("vault %s: no signature", path)
	}
	sig, _ := r.Data["signature"].(string)
	// "vault:v<version>:<base64>"
	parts := strings.SplitN(sig, ":", 3)
	if len(parts) != 3 || parts[0] != "vault" {
		return nil, fmt.Errorf("vault %s: unexpected signature format", path)
	}
	blob, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(blob) != ed25519.SignatureSize {
		return nil, errors.New("vault " + path + ": not an ed25519 signature")
	}
	// Check it before use: a wrong key version or a pre-hashed mode would
	// otherwise give a report no one can verify.
	cpk, ok := s.t.pub.(ssh.CryptoPublicKey)
	if !ok || !ed25519.Verify(cpk.CryptoPublicKey().(ed25519.PublicKey), data, blob) {
		return nil, errors.New("vault " + path + ": the signature does not verify with the key's public half")
	}
	return &ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: blob}, nil
}
