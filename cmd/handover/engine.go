package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/handoverhq/handover/connectors/builtin"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// jsonFlag switches logs to JSON lines for machines.
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "write logs as JSON lines (for machines) instead of text"}

// newEngine builds the engine the commands share: the built-in
// connectors, a terminal prompt when stdin is one, logs on stderr.
func newEngine(c *cli.Context, s *stdio) *engine.Engine {
	var h slog.Handler
	if c.Bool("json") {
		h = slog.NewJSONHandler(s.err, &slog.HandlerOptions{Level: slog.LevelInfo})
	} else {
		h = slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: slog.LevelWarn})
	}
	e := &engine.Engine{
		Registry: builtin.Registry(),
		Log:      slog.New(h),
		Version:  version,
	}
	if f, ok := s.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		e.Prompt = func(label string) (secret.Secret, error) {
			fmt.Fprintf(s.err, "%s: ", label)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(s.err)
			if err != nil {
				return secret.Secret{}, err
			}
			return secret.FromBytes(b), nil
		}
	}
	e.Crash = testHooks(pauseHook(), crashHook())
	return e
}

// load loads the command's PLAYBOOK argument, printing every diagnostic
// at once.
func load(ctx context.Context, c *cli.Context, s *stdio, e *engine.Engine) (*engine.Session, error) {
	path, err := playbookArg(c)
	if err != nil {
		return nil, err
	}
	sess, err := loadWith(ctx, s, e, path)
	if err != nil {
		return nil, err
	}
	if err := setDirs(c, sess); err != nil {
		sess.Close()
		return nil, withCode(exitError, err)
	}
	if pattern := c.String("limit"); pattern != "" {
		l, err := engine.ParseLimit(pattern)
		if err == nil {
			err = sess.SetLimit(l)
		}
		if err != nil {
			sess.Close()
			return nil, withCode(exitError, err)
		}
	}
	return sess, nil
}

// limitFlag narrows a command to some targets and systems.
var limitFlag = &cli.StringFlag{Name: "limit", Aliases: []string{"l"}, Usage: "only the targets, systems and groups matching `PATTERN` (Ansible's syntax: a,b  a:b  &a  !a  ~regex  *)"}

// stateDirFlag and reportDirFlag move a run's state and reports out of
// the playbook's directory: one playbook run in shards (docs/scale.md),
// each shard with a state directory of its own.
var (
	stateDirFlag  = &cli.StringFlag{Name: "state-dir", EnvVars: []string{"HANDOVER_STATE_DIR"}, Usage: "keep the journals, lock and plans in `DIR` instead of the playbook's state"}
	reportDirFlag = &cli.StringFlag{Name: "report-dir", EnvVars: []string{"HANDOVER_REPORT_DIR"}, Usage: "write each run's signed report under `DIR` instead of the playbook's report.dir"}
)

// setDirs applies --state-dir and --report-dir, when the command has
// them, to the loaded session (relative to the working directory, as a
// path on the command line is). Without --report-dir, the reports follow
// --state-dir unless the playbook names a report.dir.
func setDirs(c *cli.Context, sess *engine.Session) error {
	// A playbook without report.dir keeps its reports in its state
	// directory: so does a shard with a state directory of its own.
	pb := sess.Playbook
	if pb.Report.Dir == filepath.Join(pb.State, "reports") && c.String("report-dir") == "" {
		if d := c.String("state-dir"); d != "" {
			abs, err := filepath.Abs(d)
			if err != nil {
				return fmt.Errorf("--state-dir: %w", err)
			}
			pb.Report.Dir = filepath.Join(abs, "reports")
		}
	}
	for _, d := range []struct {
		flag string
		set  *string
	}{{"state-dir", &sess.Playbook.State}, {"report-dir", &sess.Playbook.Report.Dir}} {
		v := c.String(d.flag)
		if v == "" {
			continue
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			return fmt.Errorf("--%s: %w", d.flag, err)
		}
		*d.set = abs
	}
	return nil
}

func loadPath(c *cli.Context, s *stdio, path string) (*engine.Session, error) {
	return loadWith(c.Context, s, newEngine(c, s), path)
}

func loadWith(ctx context.Context, s *stdio, e *engine.Engine, path string) (*engine.Session, error) {
	sess, err := e.Load(ctx, path)
	if err != nil {
		var ds playbook.Diagnostics
		if errors.As(err, &ds) {
			printDiagnostics(s.err, ds)
			return nil, withCode(exitError, fmt.Errorf("%s: %d problem(s)", path, len(ds)))
		}
		return nil, withCode(exitError, err)
	}
	return sess, nil
}

func printDiagnostics(w io.Writer, ds playbook.Diagnostics) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}

// reportWriter signs with the signer (loaded before anything is changed)
// and writes every format.
func reportWriter(signer report.Signer, lang string) func(ctx context.Context, dir string, r *report.Report, journalFile string) ([]string, error) {
	return func(ctx context.Context, dir string, r *report.Report, journalFile string) ([]string, error) {
		if lang != "" {
			r.Lang = lang
		}
		// Encoding, rendering and signing a large estate's report is the
		// run's memory peak: short-lived copies of a report of megabytes.
		// Meanwhile the heap is kept within 64 MiB of what is live before
		// it (a soft limit: the collector runs when it is reached, rather
		// than when the heap has doubled), so that they are not all alive
		// at once.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(ms.HeapAlloc) + 64<<20))
		files, err := report.Write(ctx, dir, r, journalFile, signer)
		if err != nil {
			return nil, err
		}
		return files.All(), nil
	}
}

// isTerminal reports whether stdin or stderr is an interactive terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
