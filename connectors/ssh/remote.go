package ssh

import (
	"io"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/connectors/internal/shacrypt"
	"github.com/handoverhq/handover/connectors/internal/sshremote"
	"github.com/handoverhq/handover/handover/secret"
)

// The connection, host-key and runner machinery is shared with the mail
// connector (connectors/internal/sshremote); these names keep this
// package's code reading as it did.
type (
	runner       = sshremote.Runner
	result       = sshremote.Result
	hostKeys     = sshremote.HostKeys
	dialer       = sshremote.Dialer
	bastion      = sshremote.Bastion
	jumpSettings = sshremote.Jump
	// HostKeyError is a host whose key does not match what is known.
	HostKeyError = sshremote.HostKeyError
)

const stdinMarker = sshremote.StdinMarker

func newHostKeys(file string, tofu bool, record func(host, addr string, key ssh.PublicKey)) (*hostKeys, error) {
	return sshremote.NewHostKeys(file, tofu, record)
}

func shellQuote(s string) string                     { return sshremote.ShellQuote(s) }
func shellJoin(argv []string) string                 { return sshremote.ShellJoin(argv) }
func firstLine(b []byte) string                      { return sshremote.FirstLine(b) }
func lastLines(b []byte, n int) string               { return sshremote.LastLines(b, n) }
func joinHostPort(h string, port int) string         { return sshremote.JoinHostPort(h, port) }
func isAuthFailure(err error) bool                   { return sshremote.IsAuthFailure(err) }
func passwordAuth(pw secret.Secret) []ssh.AuthMethod { return sshremote.PasswordAuth(pw) }
func agentSigners() ([]ssh.Signer, func(), error)    { return sshremote.AgentSigners() }

// SHA-512 crypt lives in connectors/internal/shacrypt, shared with the
// mail connector.
func newSHA512Crypt(pw []byte, rnd io.Reader) (string, error) { return shacrypt.New(pw, rnd) }
func sha512Crypt(pw []byte, setting string) (string, error)   { return shacrypt.Crypt(pw, setting) }
func sha512Matches(pw []byte, hash string) (match, ok bool)   { return shacrypt.Matches(pw, hash) }
func hashDigest(pw []byte, hash string) [32]byte              { return shacrypt.Digest(pw, hash) }
