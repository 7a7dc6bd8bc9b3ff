package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/handoverhq/handover/testenv"
)

func TestMain(m *testing.M) {
	// The integration tests run the CLI as a separate process (so that it
	// can be SIGKILLed) by re-executing this test binary.
	if os.Getenv("HANDOVER_BE_MAIN") == "1" {
		// As main does: SIGINT and SIGTERM end the context.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, append([]string{"handover"}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	testscript.Main(m, map[string]func(){
		"handover": func() { os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI end to end from testdata/script/*.txtar: lint
// diagnostics, exit codes, and that no secret value reaches any output,
// plan, journal or report (against the test estate, for the scripts that
// call testenv).
func TestScripts(t *testing.T) {
	p := testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                scriptCmds,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") == "1",
	}
	// The scripts' work directories are kept for the leak scan.
	if dir := os.Getenv(testenv.ArtefactsEnv); dir != "" {
		p.WorkdirRoot = filepath.Join(dir, "scripts")
		if err := os.MkdirAll(p.WorkdirRoot, 0o700); err != nil {
			t.Fatal(err)
		}
		p.TestWork = true
	}
	testscript.Run(t, p)
}
