package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The testenv command, built from this tree once per test process: a
// bin/testenv left from an older tree would plant an older estate.
var cli struct {
	once sync.Once
	path string
	root string
	err  error
}

// Reset brings the named components of the test estate (a comma-separated
// list, as `testenv reset -only` takes it) back to their planted state,
// through the testenv command built from this tree. A reset that does not
// finish in ten minutes fails the test rather than hang it: other test
// packages' testenv commands may hold the state directory's lock for a
// while.
func Reset(t testing.TB, only string) {
	t.Helper()
	path, root, err := command()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "reset", "-only", only, "-dir", Dir())
	// From the repository root: the vault component builds its server
	// from testenv/vaultserver there.
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HANDOVER_TESTENV_DIR="+Dir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv reset -only %s: %v\n%s", only, err, out)
	}
}

// command builds the testenv command on first use and returns its path
// and the repository's root.
func command() (path, root string, err error) {
	cli.once.Do(func() {
		cli.root, cli.err = repoRoot()
		if cli.err != nil {
			return
		}
		cli.path = filepath.Join(os.TempDir(), fmt.Sprintf("handover-testenv-cli-%d", os.Getpid()))
		build := exec.Command("go", "build", "-o", cli.path, "./testenv/cmd/testenv")
		build.Dir = cli.root
		if out, err := build.CombinedOutput(); err != nil {
			cli.err = fmt.Errorf("build the testenv command: %v\n%s", err, out)
		}
	})
	return cli.path, cli.root, cli.err
}

// repoRoot is the directory holding the module's go.mod, above the test's
// working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}
