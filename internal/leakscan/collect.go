package leakscan

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

var (
	// Keys of env.json naming a file that holds one secret value. Role IDs
	// are not secret (Vault shows them to who reads the role).
	secretFileKey = regexp.MustCompile(`(password|passphrase|token|secret_id|unseal_key)_file$`)
	secretDirKey  = regexp.MustCompile(`password_dir$`)
	// Keys naming a private key: each line of its body is looked for.
	privateKeyKey = regexp.MustCompile(`^(operator_key|client_key|provider_ca_key|provider_keys|signing_key)$`)
)

// FromTestenv collects every secret the test estate knows: the files
// env.json names, and the planted passwords that live in the testenv's
// code.
func FromTestenv(envDir string) ([]Secret, error) {
	b, err := os.ReadFile(testenv.EnvFile(envDir))
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	out := []Secret{
		{testenv.ProviderBackupPassword, "testenv planted ProviderBackupPassword"},
		{testenv.ShareMountPassword, "testenv planted ShareMountPassword"},
	}
	var walk func(where, key string, v any) error
	walk = func(where, key string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if err := walk(where+"."+k, k, x); err != nil {
					return err
				}
			}
		case []any:
			for i, x := range v {
				if err := walk(where+"["+strconv.Itoa(i)+"]", key, x); err != nil {
					return err
				}
			}
		case string:
			switch {
			case secretFileKey.MatchString(key):
				if s, err := os.ReadFile(v); err == nil {
					out = append(out, Secret{strings.TrimRight(string(s), "\r\n"), "env.json " + where[1:]})
				}
			case secretDirKey.MatchString(key):
				ents, _ := os.ReadDir(v)
				for _, e := range ents {
					if s, err := os.ReadFile(filepath.Join(v, e.Name())); err == nil && e.Type().IsRegular() {
						out = append(out, Secret{strings.TrimRight(string(s), "\r\n"), "env.json " + where[1:] + "/" + e.Name()})
					}
				}
			case privateKeyKey.MatchString(key):
				if s, err := os.ReadFile(v); err == nil {
					out = append(out, keyLines(s, "env.json "+where[1:])...)
				}
			}
		}
		return nil
	}
	if err := walk("", "", doc); err != nil {
		return nil, err
	}
	return out, nil
}

// keyLines returns what is secret in a private key file: the key's
// private scalar (an ed25519 seed, an RSA or ECDSA exponent), whose every
// encoding a copy of the key holds, and an age identity's line.
func keyLines(b []byte, source string) []Secret {
	var out []Secret
	for _, l := range bytes.Split(b, []byte("\n")) {
		if l = bytes.TrimSpace(l); bytes.HasPrefix(l, []byte("AGE-SECRET-KEY-")) {
			out = append(out, Secret{string(l), source + " (age identity)"})
		}
	}
	k, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		return out
	}
	var priv []byte
	switch k := k.(type) {
	case *ed25519.PrivateKey:
		priv = k.Seed()
	case ed25519.PrivateKey:
		priv = k.Seed()
	case *rsa.PrivateKey:
		priv = k.D.Bytes()
	case *ecdsa.PrivateKey:
		priv = k.D.Bytes()
	}
	if len(priv) > 0 {
		out = append(out, Secret{string(priv), source + " (private key)"})
	}
	return out
}

// FromFileStores reads every version of every file store under root that
// opens with the passphrase (the stores the tests made with the testenv
// operator's passphrase). It returns the secrets and the stores it could
// not open (another passphrase, an identity).
func FromFileStores(root string, passphrase secret.Secret) (secrets []Secret, unopened []string, err error) {
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		head := make([]byte, 64)
		n, _ := f.Read(head)
		f.Close()
		if !bytes.HasPrefix(head[:n], []byte("handover-secret-store/")) {
			return nil
		}
		// A copy: opening a store may rewrite it.
		tmp, err := os.MkdirTemp("", "leakscan-store")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		cp := filepath.Join(tmp, "store.age")
		if err := os.WriteFile(cp, b, 0o600); err != nil {
			return err
		}
		st, err := secret.OpenFileStore(cp, secret.FileUnlock{Passphrase: passphrase})
		if err != nil {
			unopened = append(unopened, p)
			return nil
		}
		s, err := storeSecrets(context.Background(), st, "store "+p)
		if err != nil {
			return fmt.Errorf("store %s: %w", p, err)
		}
		secrets = append(secrets, s...)
		return nil
	})
	return secrets, unopened, err
}

func storeSecrets(ctx context.Context, st secret.Store, source string) ([]Secret, error) {
	vs, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Secret
	for _, v := range vs {
		val, _, err := st.Get(ctx, v.Path, v.Version)
		if err != nil {
			continue
		}
		text := val.Reveal()
		out = append(out, Secret{text, fmt.Sprintf("%s %s#%d", source, v.Path, v.Version)})
		if strings.Contains(text, "PRIVATE KEY") {
			out = append(out, keyLines([]byte(text), fmt.Sprintf("%s %s#%d", source, v.Path, v.Version))...)
		}
	}
	return out, nil
}

// FromVault reads every string of every version of every secret in the
// test estate's Vault KV mount: the client's planted secrets and what
// handover's Vault store wrote there.
func FromVault(ctx context.Context, env *testenv.Env) ([]Secret, error) {
	if env.Vault == nil {
		return nil, nil
	}
	tok, err := os.ReadFile(env.Vault.RootTokenFile)
	if err != nil {
		return nil, err
	}
	cfg := api.DefaultConfig()
	cfg.Address = env.Vault.Addr
	if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: env.CACert}); err != nil {
		return nil, err
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(strings.TrimSpace(string(tok)))
	mount := env.Vault.KVMount
	if mount == "" {
		mount = "secret"
	}
	var out []Secret
	var walk func(dir string) error
	walk = func(dir string) error {
		l, err := c.Logical().ListWithContext(ctx, path.Join(mount, "metadata", dir))
		if err != nil || l == nil {
			return err
		}
		keys, _ := l.Data["keys"].([]any)
		for _, k := range keys {
			name, _ := k.(string)
			if strings.HasSuffix(name, "/") {
				if err := walk(path.Join(dir, name)); err != nil {
					return err
				}
				continue
			}
			p := path.Join(dir, name)
			md, err := c.Logical().ReadWithContext(ctx, path.Join(mount, "metadata", p))
			if err != nil || md == nil {
				continue
			}
			versions, _ := md.Data["versions"].(map[string]any)
			for v := range versions {
				d, err := c.Logical().ReadWithDataWithContext(ctx, path.Join(mount, "data", p), map[string][]string{"version": {v}})
				if err != nil || d == nil {
					continue
				}
				data, _ := d.Data["data"].(map[string]any)
				for field, x := range data {
					if s, ok := x.(string); ok {
						out = append(out, Secret{s, fmt.Sprintf("vault %s/%s#%s .%s", mount, p, v, field)})
					}
				}
			}
		}
		return nil
	}
	return out, walk("")
}

// FromKeyFile returns what is secret in a private key file.
func FromKeyFile(path string) ([]Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return keyLines(b, path), nil
}
