// Package engine orchestrates a handover: load and lint a playbook,
// inventory every target, compute the plan, apply it under the write-ahead
// journal, verify each change, recover unfinished ones, and hand the
// results to the report. Work fans out across targets and systems with
// bounded concurrency; one failing target does not stop the others.
package engine

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// Engine holds what is injected: the connector registry, the clock, the
// randomness, the log and the terminal prompt.
type Engine struct {
	Registry *connector.Registry
	Log      *slog.Logger
	Now      func() time.Time
	Rand     io.Reader
	// Prompt asks for a secret on a terminal; nil when there is none.
	Prompt func(label string) (secret.Secret, error)
	// OpenStore opens the playbook's secret store. Tests inject one.
	OpenStore func(ctx context.Context, s *Session) (secret.Store, error)
	Version   string
	// Progress receives per-system state changes (for a TTY display).
	Progress func(ProgressEvent)
	// Crash, when set, is called at each step of the rotation protocol
	// (Step* constants). Fault-injection tests kill the process there.
	Crash func(step string, ch plan.Change)
	// WriteReport renders, signs and writes the report into dir and
	// returns the files written. nil writes report.json only, unsigned.
	WriteReport func(ctx context.Context, dir string, r *report.Report, journalFile string) ([]string, error)
}

// ProgressEvent is a state change of one system during a run.
type ProgressEvent struct {
	Target, System string
	State          ProgressState
	Detail         string
}

// ProgressState is where a target's inventory or a system's changes are.
type ProgressState string

const (
	Pending ProgressState = "pending"
	Running ProgressState = "running"
	Done    ProgressState = "done"
	Failing ProgressState = "failed"
)

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) rand() io.Reader {
	if e.Rand != nil {
		return e.Rand
	}
	return rand.Reader
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (e *Engine) progress(target, system string, state ProgressState, detail string) {
	if e.Progress != nil {
		e.Progress(ProgressEvent{Target: target, System: system, State: state, Detail: detail})
	}
}

// Session is a loaded playbook with its targets configured.
type Session struct {
	Playbook *playbook.Playbook
	Resolver *playbook.Resolver
	Targets  []*Target
	Refs     []playbook.Ref
	// Limit, when set (SetLimit), is the --limit the session was narrowed
	// to: what it reads, plans, changes and reports is only that.
	Limit *Limit

	engine  *Engine
	store   secret.Store
	journal *journal.Journal

	mu     sync.Mutex
	events []journal.Record // recorded before the journal existed
}

// Target is a configured target.
type Target struct {
	Spec      playbook.Target
	Connector connector.Connector
	Impl      connector.Target
}

// Load parses a playbook and configures every target. All problems come
// back at once as playbook.Diagnostics.
func (e *Engine) Load(ctx context.Context, path string) (*Session, error) {
	s, d, err := e.load(path)
	if err != nil {
		return nil, err
	}
	if ds := d.Diagnostics(); len(ds) > 0 {
		s.Close()
		return nil, ds
	}
	return s, nil
}

// LintFile loads a playbook and makes every check of Lint, whatever the
// problems found while loading, so that all of them come back at once.
// The session is returned when there is no problem; the caller closes it.
func (e *Engine) LintFile(ctx context.Context, path string) (*Session, error) {
	s, d, err := e.load(path)
	if err != nil {
		return nil, err
	}
	if d.Unreadable() {
		s.Close()
		return nil, d.Diagnostics()
	}
	ds := append(d.Diagnostics(), s.Lint(ctx)...)
	ds.Sort()
	ds = slices.Compact(ds)
	if len(ds) > 0 {
		s.Close()
		return nil, ds
	}
	return s, nil
}

// load parses a playbook and configures every target it can. The
// session is returned with the decoder's diagnostics, which the caller
// checks; an unreadable file is returned as read, with no other check.
func (e *Engine) load(path string) (*Session, *playbook.Decoder, error) {
	pb, d, err := playbook.Load(path)
	if err != nil {
		return nil, nil, err
	}
	s := &Session{Playbook: pb, engine: e}
	if d.Unreadable() {
		return s, d, nil
	}
	abs, _ := filepath.Abs(pb.Dir)
	s.Resolver = &playbook.Resolver{Dir: abs, Prompt: e.Prompt}
	s.Resolver.Vault = s.readVault
	env := connector.Env{
		Outgoing: connector.NewOutgoing(pb.Outgoing),
		Resolver: s.Resolver,
		Secrets:  storeReader{s},
		Recorder: recorder{s},
		Log:      e.log(),
		Now:      e.now,
	}
	for _, t := range pb.Targets {
		if t.Type == "" {
			continue
		}
		c, ok := e.Registry.Lookup(t.Type)
		if !ok {
			d.ErrorAt(t.Pos, "target %q: unknown type %q (known: %s)", t.Name, t.Type, strings.Join(e.Registry.Types(), ", "))
			continue
		}
		env.Named = namedAccounts(pb.Policy, t.Name)
		impl := c.Configure(d, t, env)
		if impl != nil {
			s.Targets = append(s.Targets, &Target{Spec: t, Connector: c, Impl: impl})
		}
	}
	if sc := pb.Secrets; sc.Store == "file" && sc.File.Path == "" {
		d.ErrorAt(playbook.Pos{File: pb.File, Line: 1, Col: 1}, "no secret store: add secrets.file (path and passphrase or identity) or secrets.vault, where the new credentials will be kept")
	}
	for _, w := range pb.Waivers {
		if !hasTarget(pb, w.Target) {
			d.ErrorAt(w.Pos, "waiver names target %q, which the playbook does not define", w.Target)
		}
	}
	s.Refs = d.Refs()
	return s, d, nil
}

func hasTarget(pb *playbook.Playbook, name string) bool {
	for _, t := range pb.Targets {
		if t.Name == name {
			return true
		}
	}
	return false
}

// Close releases every target's connections and the journal.
func (s *Session) Close() error {
	var errs []error
	for _, t := range s.Targets {
		if err := t.Impl.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.journal != nil {
		errs = append(errs, s.journal.Close())
	}
	return errors.Join(errs...)
}

// StateDir is the absolute state directory.
func (s *Session) StateDir() string { return s.path(s.Playbook.State) }

func (s *Session) path(p string) string { return s.Resolver.Path(p) }

// Store opens the secret store once.
func (s *Session) Store(ctx context.Context) (secret.Store, error) {
	if s.store != nil {
		return s.store, nil
	}
	open := s.engine.OpenStore
	if open == nil {
		open = openStore
	}
	st, err := open(ctx, s)
	if err != nil {
		return nil, err
	}
	s.store = st
	return st, nil
}

// Lint resolves every credential reference without printing a value, and
// reports what cannot be resolved at the reference's position. Prompt
// references are not asked for.
func (s *Session) Lint(ctx context.Context) playbook.Diagnostics {
	var ds playbook.Diagnostics
	for _, r := range s.Refs {
		if r.Kind == "prompt" {
			continue
		}
		v, err := s.Resolver.Resolve(ctx, r)
		if err != nil {
			ds = append(ds, playbook.Diagnostic{Pos: r.Pos, Msg: err.Error()})
			continue
		}
		v.Destroy()
	}
	if sg := s.Playbook.Signing; sg.Key == "" && !sg.Agent {
		ds = append(ds, playbook.Diagnostic{Pos: playbook.Pos{File: s.Playbook.File, Line: 1, Col: 1},
			Msg: "no signing key: add signing (key or agent, and identity) so the handover report can be signed"})
	}
	if sg := s.Playbook.Signing; sg.Key != "" || sg.Agent {
		// Loaded as the run will load it, so that a key the run could
		// not sign with shows now, not after every change is made.
		if _, err := s.Signer(ctx); err != nil {
			var sds playbook.Diagnostics
			errors.As(err, &sds)
			ds = append(ds, sds...)
		}
	}
	if id := s.Playbook.Secrets.File.Identity; id != "" {
		if _, err := os.Stat(s.path(id)); err != nil {
			ds = append(ds, playbook.Diagnostic{Pos: s.Playbook.Signing.Pos, Msg: fmt.Sprintf("secrets.file.identity: %v", err)})
		}
	}
	ds.Sort()
	return ds
}

// Signer loads the signing key the playbook names. When it cannot be
// used, the error is playbook.Diagnostics at the setting at fault: a
// passphrase-protected or unreadable key file, a public_key that is not
// the key's, agent: true without an agent or without that key.
func (s *Session) Signer(ctx context.Context) (report.Signer, error) {
	sg := s.Playbook.Signing
	signer, err := report.LoadSigner(ctx, sg, s.Resolver.Dir)
	if err == nil {
		return signer, nil
	}
	pos := sg.Pos
	if se := (*report.SigningError)(nil); errors.As(err, &se) {
		switch se.Setting {
		case "key":
			pos = cmp.Or(sg.KeyPos, pos)
		case "public_key":
			pos = cmp.Or(sg.PublicKeyPos, pos)
		case "agent":
			pos = cmp.Or(sg.AgentPos, pos)
		}
	}
	if pos.Line == 0 {
		pos = playbook.Pos{File: s.Playbook.File, Line: 1, Col: 1}
	}
	return nil, playbook.Diagnostics{{Pos: pos, Msg: err.Error()}}
}

// Operator names who runs the handover: the playbook's operator, else
// user@host.
func (s *Session) Operator() string {
	if op := s.Playbook.Handover.Operator; op != "" {
		return op
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// storeReader gives connectors read access to the store.
type storeReader struct{ s *Session }

func (r storeReader) Current(ctx context.Context, path string) (secret.Secret, bool, error) {
	if r.s.store == nil {
		return secret.Secret{}, false, nil
	}
	v, meta, err := r.s.store.Get(ctx, path, 0)
	if errors.Is(err, secret.ErrNotFound) {
		return secret.Secret{}, false, nil
	}
	if err != nil {
		return secret.Secret{}, false, err
	}
	if meta.State != secret.Current {
		return secret.Secret{}, false, nil
	}
	return v, true, nil
}

// recorder puts connector events in the journal (or keeps them until the
// journal exists).
type recorder struct{ s *Session }

func (r recorder) Record(kind, system string, detail map[string]string) {
	d := maps.Clone(detail)
	if d == nil {
		d = map[string]string{}
	}
	d["event"] = kind
	rec := journal.Record{Kind: journal.Event, System: system, Detail: d}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.journal != nil {
		if _, err := r.s.journal.Append(rec); err == nil {
			return
		}
	}
	r.s.events = append(r.s.events, rec)
}
