package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/secret"
)

// storePassphrase unlocks the suite's file stores. The suite, not the
// playbook, opens them: the protocol is under test, not the passphrase.
const storePassphrase = "connectortest store passphrase, not a secret"

// openStore opens a suite playbook's file store with a cheap key
// derivation.
func openStore(path string) (*secret.FileStore, error) {
	return secret.OpenFileStore(path, secret.FileUnlock{Passphrase: secret.New(storePassphrase), ScryptWorkFactor: 10})
}

func storePath(s *engine.Session) (string, error) {
	cfg := s.Playbook.Secrets
	if cfg.Store != "file" || cfg.File.Path == "" {
		return "", fmt.Errorf("the playbook's secret store is %q: the suite needs secrets.file (see connectortest.Header)", cfg.Store)
	}
	return s.Resolver.Path(cfg.File.Path), nil
}

// logs keeps everything the engine and the connector log, at debug level,
// for the search for leaked secrets.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newEngine is the engine every run of the suite uses, the crash helper's
// included.
func newEngine(reg *connector.Registry, log *slog.Logger) *engine.Engine {
	return &engine.Engine{
		Registry: reg,
		Log:      log,
		OpenStore: func(_ context.Context, s *engine.Session) (secret.Store, error) {
			p, err := storePath(s)
			if err != nil {
				return nil, err
			}
			return openStore(p)
		},
		Version: "connectortest",
	}
}

func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
