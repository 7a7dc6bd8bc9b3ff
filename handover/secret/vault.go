package secret

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/vault/api"
	"golang.org/x/sync/errgroup"
)

// VaultConfig says how to reach the Vault KV version 2 engine that keeps
// the credentials. Empty fields come from the environment as with the
// Vault CLI: VAULT_ADDR, VAULT_CACERT (and the other VAULT_* TLS
// variables), VAULT_TOKEN, then ~/.vault-token.
type VaultConfig struct {
	Address string // https://vault.example:8200
	Mount   string // the KV v2 mount; "secret" when empty
	Prefix  string // folder under the mount holding handover's secrets
	CACert  string // PEM file of the CA that signed Vault's certificate
	Token   Secret
}

// Errors Check tells apart, so that the operator knows what to fix.
var (
	ErrVaultUnreachable = errors.New("vault is unreachable")
	ErrVaultTLS         = errors.New("vault's TLS certificate is not trusted")
	ErrVaultSealed      = errors.New("vault is sealed")
	ErrVaultToken       = errors.New("vault rejected the token")
	ErrVaultPermission  = errors.New("the vault token lacks a capability")
)

// Each store version of a path is one KV version of the secret
// <prefix>/<path>. Its data holds the value and the version's metadata:
//
//	{"value": "...", "meta": {"k": "v"}}
//
// ("value_base64" instead of "value" when the value is not UTF-8). The
// state of each version is kept in the secret's custom_metadata, one key
// per version that is not pending:
//
//	handover-state-3: current
//	handover-state-2: failed
//	handover-state-1: superseded
//
// A version without a key is pending. KV allows 64 custom_metadata keys, so
// every secret handover writes keeps at most vaultMaxVersions versions (KV
// deletes older ones itself, and handover drops their keys): its state keys
// always fit, with room left for a few keys of the operator's own.
const (
	vaultMaxVersions = 60
	vaultStateKey    = "handover-state-"
	vaultValueKey    = "value"
	vaultValue64Key  = "value_base64"
	vaultMetaKey     = "meta"
	// vaultCASAttempts bounds the retries of a write that lost a
	// check-and-set race to another writer.
	vaultCASAttempts = 20
	vaultTimeout     = 30 * time.Second
	vaultConcurrency = 8
)

// VaultStore keeps credentials in a Vault KV version 2 engine.
//
// New versions are written with check-and-set, so two runs writing the same
// path at once each get a version of their own, never one overwriting the
// other. State changes rewrite custom_metadata, which KV cannot
// check-and-set: they are serialised within the process; two processes
// changing the states of one path at the same instant could lose one of
// the changes (the rotation protocol never does that: one run owns a
// credential).
//
// A store refuses a new version of a path that would make KV delete the
// path's current version (after vaultMaxVersions-1 versions that never
// became current): the current credential is never lost to pruning.
type VaultStore struct {
	client *api.Client
	kv     *api.KVv2
	addr   string
	mount  string
	prefix string

	// mu serialises read-modify-write of custom_metadata in this process.
	mu sync.Mutex
}

var _ Store = (*VaultStore)(nil)

// OpenVaultStore connects to Vault. It does not contact it: Check does.
func OpenVaultStore(ctx context.Context, cfg VaultConfig) (*VaultStore, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, err := vaultClient(cfg)
	if err != nil {
		return nil, err
	}
	mount := strings.Trim(cfg.Mount, "/")
	if mount == "" {
		mount = "secret"
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := ValidPath(prefix); err != nil {
			return nil, fmt.Errorf("vault prefix: %w", err)
		}
	}
	return &VaultStore{
		client: client,
		kv:     client.KVv2(mount),
		addr:   client.Address(),
		mount:  mount,
		prefix: prefix,
	}, nil
}

// VaultClient returns an API client for cfg, built as the store's is (the
// environment's settings, then cfg's): for other uses of the same Vault,
// such as signing reports with its transit engine.
func VaultClient(cfg VaultConfig) (*api.Client, error) { return vaultClient(cfg) }

// vaultClient builds a client the way the Vault CLI does, then applies the
// explicit settings over the environment's.
func vaultClient(cfg VaultConfig) (*api.Client, error) {
	conf := api.DefaultConfig() // reads VAULT_ADDR, VAULT_CACERT, ...
	if conf.Error != nil {
		return nil, fmt.Errorf("vault client settings from the environment: %w", conf.Error)
	}
	conf.Timeout = vaultTimeout
	if cfg.Address != "" {
		conf.Address = cfg.Address
	}
	if cfg.CACert != "" {
		if err := conf.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("vault CA certificate %s: %w", cfg.CACert, err)
		}
	}
	client, err := api.NewClient(conf) // reads VAULT_TOKEN
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	switch {
	case !cfg.Token.IsZero():
		client.SetToken(cfg.Token.Reveal())
	case client.Token() == "":
		tok, err := tokenFile()
		if err != nil {
			return nil, err
		}
		client.SetToken(tok)
	}
	return client, nil
}

// tokenFile reads ~/.vault-token, where `vault login` leaves the token. A
// missing file is not an error: Check reports the missing token.
func tokenFile() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", nil
	}
	b, err := os.ReadFile(filepath.Join(home, ".vault-token"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("vault token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (*VaultStore) Kind() string { return "vault" }

// Token returns the store's address and its token's accessor (a token
// lookup-self), so that a Vault target on the same server never revokes
// the token handover writes with.
func (s *VaultStore) Token(ctx context.Context) (addr, accessor string, err error) {
	self, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return s.addr, "", vaultError(s.addr, "token lookup-self", err)
	}
	accessor, _ = self.Data["accessor"].(string)
	return s.addr, accessor, nil
}

// Location is the address of the KV data under the prefix.
func (s *VaultStore) Location() string {
	return strings.TrimSuffix(s.addr+"/v1/"+s.mount+"/data/"+s.prefix, "/")
}

// Check proves that Vault answers over trusted TLS, is unsealed, that the
// mount is KV version 2, and that the token is valid and may create,
// update, read and list under the prefix.
func (s *VaultStore) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := vaultHealth(ctx, s.client); err != nil {
		return err
	}
	if s.client.Token() == "" {
		return fmt.Errorf("vault at %s: no token (set secrets.vault.token, VAULT_TOKEN or run `vault login`): %w", s.addr, ErrVaultToken)
	}
	// lookup-self and capabilities-self are granted by Vault's default
	// policy.
	if _, err := s.client.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return vaultError(s.addr, "token lookup (auth/token/lookup-self)", err)
	}
	version, _, err := kvMount(ctx, s.client, s.mount+"/")
	if err != nil {
		return err
	}
	if version != 2 {
		return fmt.Errorf("vault at %s: mount %s/ is not KV version 2", s.addr, s.mount)
	}
	// A path under the prefix: capabilities are evaluated on concrete paths.
	probe := s.key("handover-check")
	for _, need := range []struct {
		path string
		caps []string
	}{
		{s.mount + "/data/" + probe, []string{"create", "update", "read"}},
		{s.mount + "/metadata/" + probe, []string{"read", "update", "list"}},
	} {
		caps, err := s.client.Sys().CapabilitiesSelfWithContext(ctx, need.path)
		if err != nil {
			return vaultError(s.addr, "capabilities of the token", err)
		}
		if slices.Contains(caps, "root") {
			continue
		}
		var missing []string
		for _, c := range need.caps {
			if !slices.Contains(caps, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("vault at %s: %w: %s on %s (it has: %s)", s.addr, ErrVaultPermission, strings.Join(missing, ", "), need.path, strings.Join(caps, ", "))
		}
	}
	return nil
}

// vaultHealth reads sys/health, which needs no token.
func vaultHealth(ctx context.Context, c *api.Client) error {
	h, err := c.Sys().HealthWithContext(ctx)
	if err != nil {
		return vaultError(c.Address(), "health", err)
	}
	switch {
	case !h.Initialized:
		return fmt.Errorf("vault at %s is not initialised", c.Address())
	case h.Sealed:
		return fmt.Errorf("vault at %s is sealed: unseal it (`vault operator unseal`) before the run: %w", c.Address(), ErrVaultSealed)
	}
	return nil
}

// vaultError says which of the usual causes a failed request has.
func vaultError(addr, what string, err error) error {
	// The URL of a transport error repeats the address and the query.
	detail := err
	if uerr, ok := errors.AsType[*url.Error](err); ok {
		detail = uerr.Err
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		recordHdr tls.RecordHeaderError
		netErr    *net.OpError
		dnsErr    *net.DNSError
		resp      *api.ResponseError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return fmt.Errorf("vault at %s: %s: %w (check secrets.vault.ca_cert or VAULT_CACERT): %v", addr, what, ErrVaultTLS, detail)
	case errors.As(err, &recordHdr):
		return fmt.Errorf("vault at %s: %s: the server does not speak TLS (use the right scheme in the address): %w: %v", addr, what, ErrVaultTLS, detail)
	case errors.As(err, &resp):
		switch resp.StatusCode {
		case http.StatusForbidden:
			// Vault adds "invalid token" when the token itself is refused;
			// "permission denied" alone is a valid token that lacks a policy.
			if slices.ContainsFunc(resp.Errors, func(e string) bool { return strings.Contains(e, "invalid token") }) {
				return fmt.Errorf("vault at %s: %s: %w (invalid, expired or revoked)", addr, what, ErrVaultToken)
			}
			return fmt.Errorf("vault at %s: %s: %w: %v", addr, what, ErrVaultPermission, err)
		case http.StatusServiceUnavailable:
			if slices.ContainsFunc(resp.Errors, func(e string) bool { return strings.Contains(e, "sealed") }) {
				return fmt.Errorf("vault at %s: %s: %w", addr, what, ErrVaultSealed)
			}
		}
		return fmt.Errorf("vault at %s: %s: %w", addr, what, err)
	case errors.As(err, &netErr), errors.As(err, &dnsErr):
		return fmt.Errorf("vault at %s: %s: %w: %v", addr, what, ErrVaultUnreachable, detail)
	}
	return fmt.Errorf("vault at %s: %s: %w", addr, what, err)
}

// key is the KV path of a store path.
func (s *VaultStore) key(path string) string {
	if s.prefix == "" {
		return path
	}
	return s.prefix + "/" + path
}

// vaultSecret is what the store knows of one path: the KV metadata.
type vaultSecret struct {
	current  int // KV's latest version number
	versions map[int]time.Time
	custom   map[string]string
	maxVers  int
	cas      bool
}

// metadata reads the metadata of path; ok is false if the path has none.
func (s *VaultStore) metadata(ctx context.Context, path string) (vs vaultSecret, ok bool, err error) {
	md, err := s.kv.GetMetadata(ctx, s.key(path))
	if errors.Is(err, api.ErrSecretNotFound) {
		return vaultSecret{}, false, nil
	}
	if err != nil {
		return vaultSecret{}, false, vaultError(s.addr, "metadata of "+path, err)
	}
	vs = vaultSecret{
		current:  md.CurrentVersion,
		versions: map[int]time.Time{},
		custom:   map[string]string{},
		maxVers:  md.MaxVersions,
		cas:      md.CASRequired,
	}
	for _, v := range md.Versions {
		// Versions deleted or destroyed by hand are gone for the store too.
		if v.Destroyed || !v.DeletionTime.IsZero() {
			continue
		}
		vs.versions[v.Version] = v.CreatedTime.UTC()
	}
	for k, v := range md.CustomMetadata {
		if str, ok := v.(string); ok {
			vs.custom[k] = str
		}
	}
	return vs, true, nil
}

// state is the state of a live version.
func (vs vaultSecret) state(version int) State {
	if st, ok := vs.custom[vaultStateKey+strconv.Itoa(version)]; ok {
		return State(st)
	}
	return Pending
}

// currentVersion is the version in state current, or 0.
func (vs vaultSecret) currentVersion() int {
	for v := range vs.versions {
		if vs.state(v) == Current {
			return v
		}
	}
	return 0
}

func (vs vaultSecret) version(path string, v int) Version {
	return Version{Path: path, Version: v, State: vs.state(v), Created: vs.versions[v]}
}

func (s *VaultStore) PutPending(ctx context.Context, path string, value Secret, meta map[string]string) (Version, error) {
	if err := validPut(path, value, meta); err != nil {
		return Version{}, err
	}
	data := map[string]any{}
	if b := value.RevealBytes(); utf8.Valid(b) {
		data[vaultValueKey] = string(b)
		clear(b)
	} else {
		data[vaultValue64Key] = base64.StdEncoding.EncodeToString(b)
		clear(b)
	}
	if len(meta) > 0 {
		data[vaultMetaKey] = maps.Clone(meta)
	}
	wait := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Version{}, err
		}
		v, err := s.putOnce(ctx, path, data)
		if !errors.Is(err, errCASMismatch) {
			if err != nil {
				return Version{}, err
			}
			v.Meta = maps.Clone(meta)
			return v, nil
		}
		if attempt == vaultCASAttempts {
			return Version{}, fmt.Errorf("secret %s: other writers kept winning the check-and-set race (%d attempts)", path, attempt)
		}
		// Another writer got this version number: read again and retry.
		select {
		case <-ctx.Done():
			return Version{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

var errCASMismatch = errors.New("check-and-set lost")

// putOnce writes the next version of path if no other writer got there
// first (errCASMismatch then).
func (s *VaultStore) putOnce(ctx context.Context, path string, data map[string]any) (Version, error) {
	vs, ok, err := s.metadata(ctx, path)
	if err != nil {
		return Version{}, err
	}
	next := vs.current + 1
	if cur := vs.currentVersion(); cur != 0 && cur <= next-vaultMaxVersions {
		return Version{}, fmt.Errorf("secret %s: a new version would make Vault delete current version %d (KV keeps %d): mark the failed versions, or rotate by hand", path, cur, vaultMaxVersions)
	}
	if !ok || vs.maxVers != vaultMaxVersions || !vs.cas {
		// Only these fields are sent: custom_metadata stays as it is.
		_, err := s.client.Logical().WriteWithContext(ctx, s.mount+"/metadata/"+s.key(path), map[string]any{
			"max_versions": vaultMaxVersions,
			"cas_required": true,
		})
		if err != nil {
			return Version{}, vaultError(s.addr, "metadata of "+path, err)
		}
	}
	// cas=0 writes only if the secret has no version yet.
	resp, err := s.kv.Put(ctx, s.key(path), data, api.WithCheckAndSet(vs.current))
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest &&
			slices.ContainsFunc(re.Errors, func(e string) bool { return strings.Contains(e, "check-and-set") }) {
			return Version{}, errCASMismatch
		}
		return Version{}, vaultError(s.addr, "write "+path, err)
	}
	if resp.VersionMetadata == nil || resp.VersionMetadata.Version != next {
		got := 0
		if resp.VersionMetadata != nil {
			got = resp.VersionMetadata.Version
		}
		return Version{}, fmt.Errorf("secret %s: vault wrote version %d, expected %d", path, got, next)
	}
	return Version{Path: path, Version: next, State: Pending, Created: resp.VersionMetadata.CreatedTime.UTC()}, nil
}

func (s *VaultStore) SetState(ctx context.Context, path string, version int, state State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidPath(path); err != nil {
		return err
	}
	if version <= 0 {
		return fmt.Errorf("secret %s: version %d: a state change names a version", path, version)
	}
	if err := CheckTransition(state, state); err != nil { // rejects unknown states
		return fmt.Errorf("secret %s#%d: %w", path, version, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, ok, err := s.metadata(ctx, path)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("secret %s: %w", path, ErrNotFound)
	}
	if _, live := vs.versions[version]; !live {
		return fmt.Errorf("secret %s#%d: %w", path, version, ErrNotFound)
	}
	from := vs.state(version)
	if err := CheckTransition(from, state); err != nil {
		return fmt.Errorf("secret %s#%d: %w", path, version, err)
	}
	if from == state {
		return nil
	}
	custom := map[string]any{}
	for k, v := range vs.custom {
		n, ours := strings.CutPrefix(k, vaultStateKey)
		if !ours {
			custom[k] = v // the operator's own keys stay
			continue
		}
		ver, err := strconv.Atoi(n)
		if _, live := vs.versions[ver]; err != nil || !live {
			continue // the state of a version KV no longer has
		}
		if state == Current && State(v) == Current {
			v = string(Superseded)
		}
		custom[k] = v
	}
	custom[vaultStateKey+strconv.Itoa(version)] = string(state)
	_, err = s.client.Logical().WriteWithContext(ctx, s.mount+"/metadata/"+s.key(path), map[string]any{
		"custom_metadata": custom,
	})
	if err != nil {
		return vaultError(s.addr, "state of "+path, err)
	}
	return nil
}

func (s *VaultStore) Get(ctx context.Context, path string, version int) (Secret, Version, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, Version{}, err
	}
	if err := ValidPath(path); err != nil {
		return Secret{}, Version{}, err
	}
	vs, ok, err := s.metadata(ctx, path)
	if err != nil {
		return Secret{}, Version{}, err
	}
	if !ok {
		return Secret{}, Version{}, fmt.Errorf("secret %s: %w", path, ErrNotFound)
	}
	if version == 0 {
		if version = vs.currentVersion(); version == 0 {
			return Secret{}, Version{}, fmt.Errorf("secret %s has no current version: %w", path, ErrNotFound)
		}
	}
	if _, live := vs.versions[version]; !live {
		return Secret{}, Version{}, fmt.Errorf("secret %s#%d: %w", path, version, ErrNotFound)
	}
	val, meta, err := s.readVersion(ctx, path, version)
	if err != nil {
		return Secret{}, Version{}, err
	}
	v := vs.version(path, version)
	v.Meta = meta
	return val, v, nil
}

// readVersion reads the value and metadata of one KV version.
func (s *VaultStore) readVersion(ctx context.Context, path string, version int) (Secret, map[string]string, error) {
	kvs, err := s.kv.GetVersion(ctx, s.key(path), version)
	if errors.Is(err, api.ErrSecretNotFound) {
		return Secret{}, nil, fmt.Errorf("secret %s#%d: %w", path, version, ErrNotFound)
	}
	if err != nil {
		return Secret{}, nil, vaultError(s.addr, fmt.Sprintf("read %s#%d", path, version), err)
	}
	var val Secret
	switch v := kvs.Data[vaultValueKey].(type) {
	case string:
		val = New(v)
	default:
		enc, ok := kvs.Data[vaultValue64Key].(string)
		if !ok {
			return Secret{}, nil, fmt.Errorf("secret %s#%d: not written by handover (no %q key)", path, version, vaultValueKey)
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return Secret{}, nil, fmt.Errorf("secret %s#%d: %s is not base64", path, version, vaultValue64Key)
		}
		val = FromBytes(b)
	}
	var meta map[string]string
	if m, ok := kvs.Data[vaultMetaKey].(map[string]any); ok && len(m) > 0 {
		meta = make(map[string]string, len(m))
		for k, v := range m {
			if str, ok := v.(string); ok {
				meta[k] = str
			}
		}
	}
	return val, meta, nil
}

// List walks the prefix. Each version's metadata lives in its data, so
// List reads every version (and wipes the values at once).
func (s *VaultStore) List(ctx context.Context) ([]Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	paths, err := s.listPaths(ctx, "")
	if err != nil {
		return nil, err
	}
	paths = slices.DeleteFunc(paths, func(p string) bool { return strings.HasPrefix(p, vaultLocks+"/") })
	slices.Sort(paths)
	perPath := make([][]Version, len(paths))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(vaultConcurrency)
	for i, p := range paths {
		g.Go(func() error {
			vs, ok, err := s.metadata(gctx, p)
			if err != nil || !ok {
				return err
			}
			for _, n := range slices.Sorted(maps.Keys(vs.versions)) {
				val, meta, err := s.readVersion(gctx, p, n)
				if errors.Is(err, ErrNotFound) {
					continue // deleted between the two reads
				}
				if err != nil {
					return err
				}
				val.Destroy()
				v := vs.version(p, n)
				v.Meta = meta
				perPath[i] = append(perPath[i], v)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Version
	for _, vs := range perPath {
		out = append(out, vs...)
	}
	return out, nil
}

// listPaths returns the store paths under dir (relative to the prefix,
// "" or ending in "/").
func (s *VaultStore) listPaths(ctx context.Context, dir string) ([]string, error) {
	resp, err := s.client.Logical().ListWithContext(ctx, s.mount+"/metadata/"+s.key(dir))
	if err != nil {
		return nil, vaultError(s.addr, "list "+s.key(dir), err)
	}
	if resp == nil || resp.Data == nil {
		return nil, nil
	}
	keys, _ := resp.Data["keys"].([]any)
	var out []string
	for _, k := range keys {
		name, ok := k.(string)
		if !ok {
			continue
		}
		if strings.HasSuffix(name, "/") {
			sub, err := s.listPaths(ctx, dir+name)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		out = append(out, dir+name)
	}
	return out, nil
}

// ReadVaultKV reads key of the KV secret at path (mount included, e.g.
// "secret/infra/wifi"), for playbook references ${vault:secret/infra/wifi#key}.
// KV versions 1 and 2 are told apart by asking Vault for the mount, as the
// Vault CLI does.
func ReadVaultKV(ctx context.Context, cfg VaultConfig, path, key string) (Secret, error) {
	client, err := vaultClient(cfg)
	if err != nil {
		return Secret{}, err
	}
	// One client per reference: do not leave its connections open.
	defer client.CloneConfig().HttpClient.CloseIdleConnections()
	path = strings.Trim(path, "/")
	version, mount, err := kvMount(ctx, client, path)
	if err != nil {
		return Secret{}, err
	}
	read := path
	if version == 2 {
		read = mount + "data/" + strings.TrimPrefix(path, mount)
	}
	resp, err := client.Logical().ReadWithContext(ctx, read)
	if err != nil {
		return Secret{}, vaultError(client.Address(), "read "+path, err)
	}
	if resp == nil || resp.Data == nil {
		return Secret{}, fmt.Errorf("vault secret %s: %w", path, ErrNotFound)
	}
	data := resp.Data
	if version == 2 {
		data, _ = resp.Data["data"].(map[string]any)
		if data == nil { // the latest version is deleted
			return Secret{}, fmt.Errorf("vault secret %s: %w", path, ErrNotFound)
		}
	}
	v, ok := data[key]
	if !ok {
		return Secret{}, fmt.Errorf("vault secret %s has no key %q: %w", path, key, ErrNotFound)
	}
	str, ok := v.(string)
	if !ok {
		return Secret{}, fmt.Errorf("vault secret %s: key %q is not a string", path, key)
	}
	if str == "" {
		return Secret{}, fmt.Errorf("vault secret %s: key %q is empty", path, key)
	}
	return New(str), nil
}

// kvMount returns the KV version and the mount ("secret/") of path.
func kvMount(ctx context.Context, c *api.Client, path string) (version int, mount string, err error) {
	resp, err := c.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+path)
	if err != nil {
		return 0, "", vaultError(c.Address(), "mount of "+path, err)
	}
	if resp == nil || resp.Data == nil {
		return 0, "", fmt.Errorf("vault at %s: no secrets engine is mounted at %s", c.Address(), path)
	}
	if t, _ := resp.Data["type"].(string); t != "kv" && t != "generic" {
		return 0, "", fmt.Errorf("vault at %s: %s is in a %q engine, not KV", c.Address(), path, t)
	}
	mount, _ = resp.Data["path"].(string)
	version = 1
	if opts, ok := resp.Data["options"].(map[string]any); ok {
		if v, _ := opts["version"].(string); v == "2" {
			version = 2
		}
	}
	return version, mount, nil
}
