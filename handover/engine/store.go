package engine

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/handoverhq/handover/handover/secret"
)

// openStore opens the store the playbook names.
func openStore(ctx context.Context, s *Session) (secret.Store, error) {
	cfg := s.Playbook.Secrets
	switch cfg.Store {
	case "file":
		unlock := secret.FileUnlock{}
		if cfg.File.Identity != "" {
			unlock.IdentityFile = s.path(cfg.File.Identity)
		} else {
			p, err := s.Resolver.Resolve(ctx, cfg.File.Passphrase)
			if err != nil {
				return nil, fmt.Errorf("secret store passphrase: %w", err)
			}
			unlock.Passphrase = p
		}
		st, err := secret.OpenFileStore(s.path(cfg.File.Path), unlock)
		// The passphrase's scrypt took tens of MiB that nothing uses any
		// more: give them back now rather than carry them through the run.
		debug.FreeOSMemory()
		if err != nil {
			return nil, err
		}
		return st, nil
	case "vault":
		return openVaultStore(ctx, s)
	}
	return nil, fmt.Errorf("unknown secret store %q", cfg.Store)
}

// readVault resolves ${vault:path#key} references.
func (s *Session) readVault(ctx context.Context, path, key string) (secret.Secret, error) {
	return readVaultRef(ctx, s, path, key)
}
