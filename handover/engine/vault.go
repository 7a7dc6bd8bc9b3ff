package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/handoverhq/handover/handover/secret"
)

// vaultConfig is the playbook's secrets.vault section with paths resolved
// and the token read. What the section leaves empty comes from the
// environment as with the Vault CLI (VAULT_ADDR, VAULT_CACERT, VAULT_TOKEN,
// ~/.vault-token): secret.VaultConfig's rules.
func vaultConfig(ctx context.Context, s *Session) (secret.VaultConfig, error) {
	v := s.Playbook.Secrets.Vault
	cfg := secret.VaultConfig{Address: v.Address, Mount: v.Mount, Prefix: v.Prefix}
	if v.CACert != "" {
		cfg.CACert = s.path(v.CACert)
	}
	if !v.Token.IsZero() {
		// Reading the token from Vault would need the token.
		if v.Token.Kind == "vault" {
			return secret.VaultConfig{}, errors.New("secrets.vault.token cannot be a ${vault:...} reference")
		}
		tok, err := s.Resolver.Resolve(ctx, v.Token)
		if err != nil {
			return secret.VaultConfig{}, fmt.Errorf("secrets.vault.token: %w", err)
		}
		cfg.Token = tok
	}
	return cfg, nil
}

// openVaultStore opens the Vault store the playbook names. Reaching Vault
// is Check's job, run before anything changes.
func openVaultStore(ctx context.Context, s *Session) (secret.Store, error) {
	cfg, err := vaultConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	st, err := secret.OpenVaultStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// readVaultRef reads a ${vault:path#key} reference with the same settings
// as the store: secrets.vault when the playbook has it, else the
// environment.
func readVaultRef(ctx context.Context, s *Session, path, key string) (secret.Secret, error) {
	cfg, err := vaultConfig(ctx, s)
	if err != nil {
		return secret.Secret{}, err
	}
	defer cfg.Token.Destroy()
	return secret.ReadVaultKV(ctx, cfg, path, key)
}
