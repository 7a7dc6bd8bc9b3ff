package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

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

// RunOnce runs a playbook written by WritePlaybook through the engine, as
// `handover run` does, and returns the result and the run's secret store:
// for a connector's own tests of what a run leaves on its target (a key
// that no longer logs in, a service that is gone), beside the suite.
func RunOnce(t *testing.T, reg *connector.Registry, playbook string) (*engine.Result, secret.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var lg logs
	sess, err := newEngine(reg, debugLogger(&lg)).Load(ctx, playbook)
	if err != nil {
		t.Fatalf("load %s: %v", playbook, err)
	}
	defer sess.Close()
	res, err := sess.Run(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, tail(lg.String(), 4000))
	}
	p, err := storePath(sess)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(p)
	if err != nil {
		t.Fatal(err)
	}
	return res, st
}
