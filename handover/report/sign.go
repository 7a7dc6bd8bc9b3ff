package report

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/handoverhq/handover/handover/playbook"
)

// Signer makes detached OpenSSH signatures (SSHSIG, namespace Namespace)
// that `ssh-keygen -Y verify` accepts.
type Signer interface {
	// Sign returns the armored signature of data.
	Sign(ctx context.Context, data []byte) ([]byte, error)
	PublicKey() ssh.PublicKey
	// Identity is the principal written to allowed_signers.
	Identity() string
}

// DefaultIdentity is the principal used when neither the playbook nor the
// key's comment names one.
const DefaultIdentity = "handover"

// agentTimeout bounds a conversation with ssh-agent.
const agentTimeout = 30 * time.Second

// LoadSigner returns the signer the playbook's signing section describes:
// an unencrypted private key file (relative paths start at baseDir), or a
// key held by ssh-agent (SSH_AUTH_SOCK) selected by PublicKey.
// An error that one setting causes is a *SigningError naming it.
func LoadSigner(ctx context.Context, s playbook.SigningSettings, baseDir string) (Signer, error) {
	var wantFP string
	if s.PublicKey != "" {
		var err error
		if wantFP, err = parseKeySelector(s.PublicKey, baseDir); err != nil {
			return nil, &SigningError{Setting: "public_key", Err: err}
		}
	}
	switch {
	case s.Key != "" && s.Agent:
		return nil, errors.New("signing: use either a key file or ssh-agent, not both")
	case s.Key != "":
		return loadKeyFile(resolve(baseDir, s.Key), s.Identity, wantFP)
	case s.Agent:
		return loadAgentKey(ctx, s.Identity, wantFP)
	}
	return nil, errors.New("signing: needs a key file (signing.key) or ssh-agent (signing.agent: true)")
}

// SigningError is a signing section whose key cannot be used, because of
// one of its settings: "key", "public_key" or "agent".
type SigningError struct {
	Setting string
	Err     error
}

func (e *SigningError) Error() string { return e.Err.Error() }
func (e *SigningError) Unwrap() error { return e.Err }

// resolve makes a playbook's path usable: "~/" is the user's home, as a
// shell would expand it, and a relative path starts at baseDir.
func resolve(baseDir, p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) || baseDir == "" {
		return p
	}
	return filepath.Join(baseDir, p)
}

// parseKeySelector reads signing.public_key: a "SHA256:..." fingerprint, a
// public key in authorized_keys format, or a file holding one.
func parseKeySelector(v, baseDir string) (fingerprint string, err error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "SHA256:") {
		return v, nil
	}
	k, err := parsePublicKey(v, baseDir)
	if err != nil {
		return "", err
	}
	return ssh.FingerprintSHA256(k), nil
}

func loadKeyFile(file, identity, wantFP string) (Signer, error) {
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, &SigningError{"key", fmt.Errorf("signing key: %w", err)}
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, &SigningError{"key", fmt.Errorf("signing key %s is protected by a passphrase, which handover does not prompt for: load it into ssh-agent (ssh-add %s) and set signing.agent: true with signing.public_key", file, file)}
		}
		return nil, &SigningError{"key", fmt.Errorf("signing key %s is not a usable private key: %w", file, err)}
	}
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	if wantFP != "" && fp != wantFP {
		return nil, &SigningError{"public_key", fmt.Errorf("signing key %s is %s, but signing.public_key names %s", file, fp, wantFP)}
	}
	if identity == "" {
		// The private key's comment is not exposed by x/crypto; the
		// public half next to it carries the same comment.
		if b, err := os.ReadFile(file + ".pub"); err == nil {
			if k, comment, _, _, err := ssh.ParseAuthorizedKey(b); err == nil && ssh.FingerprintSHA256(k) == fp {
				identity = comment
			}
		}
	}
	return &keySigner{signer: signer, identity: defaultIdentity(identity)}, nil
}

func defaultIdentity(id string) string {
	id = strings.TrimSpace(id)
	if id == "" || strings.ContainsAny(id, " \t\",") {
		// A principal cannot hold blanks, quotes or commas in
		// allowed_signers; fall back rather than write a broken file.
		return DefaultIdentity
	}
	return id
}

// keySigner signs with a private key held in memory.
type keySigner struct {
	signer   ssh.Signer
	identity string
}

func (k *keySigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return signWith(k.signer, data)
}

func (k *keySigner) PublicKey() ssh.PublicKey { return k.signer.PublicKey() }
func (k *keySigner) Identity() string         { return k.identity }

func signWith(s ssh.Signer, data []byte) ([]byte, error) {
	sig, err := sshsig.SignWithRand(bytes.NewReader(data), rand.Reader, s, sshsig.HashSHA512, Namespace)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sshsig.Armor(sig), nil
}

// agentSigner signs with a key held by ssh-agent. It dials the agent for
// each signature, so it holds no connection between uses.
type agentSigner struct {
	sock     string
	pub      ssh.PublicKey
	identity string
}

func loadAgentKey(ctx context.Context, identity, wantFP string) (Signer, error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, &SigningError{"agent", errors.New("signing: signing.agent is set but SSH_AUTH_SOCK is not: no ssh-agent to ask")}
	}
	if wantFP == "" {
		return nil, &SigningError{"agent", errors.New("signing: with signing.agent, signing.public_key selects the agent's key")}
	}
	var found *agent.Key
	err := withAgent(ctx, sock, func(c agent.ExtendedAgent) error {
		keys, err := c.List()
		if err != nil {
			return fmt.Errorf("ssh-agent list keys: %w", err)
		}
		for _, k := range keys {
			if ssh.FingerprintSHA256(k) == wantFP {
				found = k
				return nil
			}
		}
		return &SigningError{"public_key", fmt.Errorf("ssh-agent at %s holds no key %s (ssh-add -l lists its keys)", sock, wantFP)}
	})
	var se *SigningError
	if err != nil && !errors.As(err, &se) {
		err = &SigningError{"agent", err}
	}
	if err != nil {
		return nil, err
	}
	pub, err := ssh.ParsePublicKey(found.Marshal())
	if err != nil {
		return nil, fmt.Errorf("ssh-agent key %s: %w", wantFP, err)
	}
	if identity == "" {
		identity = found.Comment
	}
	return &agentSigner{sock: sock, pub: pub, identity: defaultIdentity(identity)}, nil
}

func withAgent(ctx context.Context, sock string, f func(agent.ExtendedAgent) error) error {
	ctx, cancel := context.WithTimeout(ctx, agentTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("ssh-agent: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("ssh-agent: %w", err)
		}
	}
	// Closing the connection when ctx ends unblocks a pending read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	return f(agent.NewClient(conn))
}

func (a *agentSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	var out []byte
	err := withAgent(ctx, a.sock, func(c agent.ExtendedAgent) error {
		signers, err := c.Signers()
		if err != nil {
			return fmt.Errorf("ssh-agent signers: %w", err)
		}
		fp := ssh.FingerprintSHA256(a.pub)
		for _, s := range signers {
			if ssh.FingerprintSHA256(s.PublicKey()) == fp {
				out, err = signWith(s, data)
				return err
			}
		}
		return fmt.Errorf("ssh-agent no longer holds key %s", fp)
	})
	return out, err
}

func (a *agentSigner) PublicKey() ssh.PublicKey { return a.pub }
func (a *agentSigner) Identity() string         { return a.identity }

// AllowedSignersLine is the allowed_signers entry for a signer, as
// `ssh-keygen -Y verify -f` reads it.
func AllowedSignersLine(identity string, key ssh.PublicKey) string {
	return fmt.Sprintf("%s namespaces=%q %s", identity, Namespace, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
}
