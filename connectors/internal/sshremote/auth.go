package sshremote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/handoverhq/handover/handover/secret"
)

// IsAuthFailure tells a rejected credential from any other failure.
func IsAuthFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

// PasswordAuth answers both password and keyboard-interactive prompts.
func PasswordAuth(pw secret.Secret) []ssh.AuthMethod {
	return []ssh.AuthMethod{
		ssh.PasswordCallback(func() (string, error) { return pw.Reveal(), nil }),
		ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i, q := range questions {
				if !echos[i] && strings.Contains(strings.ToLower(q), "password") {
					answers[i] = pw.Reveal()
				}
			}
			return answers, nil
		}),
	}
}

// AgentSigners returns the keys of the running ssh-agent.
func AgentSigners() ([]ssh.Signer, func(), error) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("auth.agent is set but SSH_AUTH_SOCK is not")
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh-agent %s: %w", sock, err)
	}
	signers, err := agent.NewClient(c).Signers()
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("ssh-agent %s: %w", sock, err)
	}
	return signers, func() { c.Close() }, nil
}
