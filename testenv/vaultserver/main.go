// Command vaultserver is the testenv's Vault: what `vault server -dev` does,
// built from Vault's own packages so that the testenv needs no Vault binary
// and no licence. It runs a core on the in-memory physical backend with only
// the engines the estate uses (KV, transit, userpass, AppRole, LDAP; file and
// socket audit devices), initialises
// and unseals it with a single key share, creates the root token with the id
// read from a file, mounts KV version 2 at secret/, and serves Vault's HTTP
// API over TLS.
//
// Everything lives in memory: restarting the process gives a fresh Vault.
//
//	vaultserver -addr 127.0.0.1:18200 -tls-cert cert.pem -tls-key key.pem \
//	    -root-token-file root-token [-unseal-key-file unseal-key]
//
// The root token never appears on the command line: it is read from
// -root-token-file (one line, mode 0600). The unseal key is written to
// -unseal-key-file (mode 0600) so that a sealed server can be unsealed by hand.
package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	log "github.com/hashicorp/go-hclog"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/audit"
	"github.com/hashicorp/vault/builtin/credential/approle"
	"github.com/hashicorp/vault/builtin/credential/ldap"
	"github.com/hashicorp/vault/builtin/credential/userpass"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical/inmem"
	"github.com/hashicorp/vault/vault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vaultserver:", err)
		os.Exit(1)
	}
}

type options struct {
	addr          string
	certFile      string
	keyFile       string
	rootTokenFile string
	unsealKeyFile string
	logLevel      string
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("vaultserver", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:18200", "listen address")
	fs.StringVar(&o.certFile, "tls-cert", "", "server certificate (PEM)")
	fs.StringVar(&o.keyFile, "tls-key", "", "server key (PEM)")
	fs.StringVar(&o.rootTokenFile, "root-token-file", "", "file holding the root token id to create")
	fs.StringVar(&o.unsealKeyFile, "unseal-key-file", "", "file to write the unseal key to (base64, mode 0600)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log level (trace, debug, info, warn, error)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.certFile == "" || o.keyFile == "" || o.rootTokenFile == "" {
		return errors.New("-tls-cert, -tls-key and -root-token-file are required")
	}
	rootToken, err := readToken(o.rootTokenFile)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key pair: %w", err)
	}
	logger := log.New(&log.LoggerOptions{Name: "vault", Level: log.LevelFromString(o.logLevel), Output: os.Stderr})

	core, err := newCore(logger)
	if err != nil {
		return err
	}
	// Listen before initialising so that a port clash fails fast, but serve
	// only once the core is ready: readiness probes then see 200 or nothing.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	if err := setUp(ctx, core, rootToken, o.unsealKeyFile); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core: core,
			// The handler reads its limits and custom headers from the
			// listener config; a nil one disables parts of it.
			ListenerConfig: &configutil.Listener{
				Type:               "tcp",
				Address:            o.addr,
				MaxRequestDuration: vault.DefaultMaxRequestDuration,
			},
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          logger.StandardLogger(&log.StandardLoggerOptions{InferLevels: true}),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	logger.Info("serving", "addr", "https://"+o.addr)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	return errors.Join(err, core.Shutdown())
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("root token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("root token: %s is empty", path)
	}
	return tok, nil
}

func newCore(logger log.Logger) (*vault.Core, error) {
	backend, err := inmem.NewInmem(nil, logger.Named("storage"))
	if err != nil {
		return nil, fmt.Errorf("in-memory storage: %w", err)
	}
	core, err := vault.NewCore(&vault.CoreConfig{
		Physical:     backend,
		StorageType:  "inmem",
		DisableMlock: true,
		// sys/raw lets the tests read the barrier's storage (as root) to
		// prove that reading the estate changed nothing.
		EnableRaw: true,
		Logger:    logger,
		LogicalBackends: map[string]logical.Factory{
			"kv":      kv.Factory,
			"transit": transit.Factory,
		},
		// File and socket audit devices: the estate plants one that sends
		// to the outgoing provider.
		AuditBackends: map[string]audit.Factory{
			"file":   audit.NewFileBackend,
			"socket": audit.NewSocketBackend,
		},
		CredentialBackends: map[string]logical.Factory{
			"userpass": userpass.Factory,
			"approle":  approle.Factory,
			// LDAP auth backed by the client's directory (the estate
			// points it at the test slapd).
			"ldap": ldap.Factory,
		},
		// Every engine the estate uses is in the maps above; the catalog of
		// built-in plugins must still be non-nil.
		BuiltinRegistry: emptyRegistry{},
	})
	if err != nil {
		return nil, fmt.Errorf("vault core: %w", err)
	}
	return core, nil
}

// setUp does what `vault server -dev` does after the core exists.
func setUp(ctx context.Context, core *vault.Core, rootToken, unsealKeyFile string) error {
	ctx = namespace.ContextWithNamespace(ctx, namespace.RootNamespace)
	res, err := core.Initialize(ctx, &vault.InitParams{
		BarrierConfig: &vault.SealConfig{SecretShares: 1, SecretThreshold: 1, Name: "shamir"},
	})
	if err != nil {
		return fmt.Errorf("initialise: %w", err)
	}
	key := res.SecretShares[0]
	if unsealKeyFile != "" {
		if err := os.WriteFile(unsealKeyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return fmt.Errorf("unseal key: %w", err)
		}
	}
	unsealed, err := core.Unseal(append([]byte(nil), key...))
	if err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	if !unsealed {
		return errors.New("unseal: still sealed after the only key share")
	}
	if err := waitActive(ctx, core); err != nil {
		return err
	}
	resp, err := core.HandleRequest(ctx, &logical.Request{
		Operation:   logical.UpdateOperation,
		ClientToken: res.RootToken,
		Path:        "auth/token/create",
		Data: map[string]any{
			"id":                rootToken,
			"policies":          []string{"root"},
			"no_parent":         true,
			"no_default_policy": true,
		},
	})
	if err := respErr(resp, err); err != nil {
		return fmt.Errorf("create root token: %w", err)
	}
	// The generated root token is not needed any more: only the one from the
	// file stays valid.
	resp, err = core.HandleRequest(ctx, &logical.Request{
		Operation:   logical.UpdateOperation,
		ClientToken: res.RootToken,
		Path:        "auth/token/revoke-self",
	})
	if err := respErr(resp, err); err != nil {
		return fmt.Errorf("revoke the initial root token: %w", err)
	}
	resp, err = core.HandleRequest(ctx, &logical.Request{
		Operation:   logical.UpdateOperation,
		ClientToken: rootToken,
		Path:        "sys/mounts/secret",
		Data: map[string]any{
			"type":        "kv",
			"path":        "secret/",
			"description": "key/value secret storage",
			"options":     map[string]string{"version": "2"},
		},
	})
	if err := respErr(resp, err); err != nil {
		return fmt.Errorf("mount KV v2 at secret/: %w", err)
	}
	return nil
}

// waitActive waits for the unsealed core to become the active node.
func waitActive(ctx context.Context, core *vault.Core) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		active, _, _, err := core.Leader()
		if errors.Is(err, vault.ErrHANotEnabled) || (err == nil && active) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("leader status: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("core did not become active: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func respErr(resp *logical.Response, err error) error {
	if err != nil {
		return err
	}
	if resp != nil && resp.IsError() {
		return resp.Error()
	}
	return nil
}

// emptyRegistry is a catalog of built-in plugins that holds none.
type emptyRegistry struct{}

func (emptyRegistry) Contains(string, consts.PluginType) bool { return false }
func (emptyRegistry) Get(string, consts.PluginType) (func() (any, error), bool) {
	return nil, false
}
func (emptyRegistry) Keys(consts.PluginType) []string { return nil }
func (emptyRegistry) DeprecationStatus(string, consts.PluginType) (consts.DeprecationStatus, bool) {
	return consts.Unknown, false
}
func (emptyRegistry) IsBuiltinEntPlugin(string, consts.PluginType) bool { return false }
