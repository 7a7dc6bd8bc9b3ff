package engine

import (
	"context"
	"fmt"

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
