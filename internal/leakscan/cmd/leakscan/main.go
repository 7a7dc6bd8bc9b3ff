// Command leakscan scans the artefacts the integration tests kept (in
// HANDOVER_ARTEFACTS_DIR, see testenv.KeepArtefacts) for every secret of
// the test estate and every secret handover generated in the tests. It
// exits 1 on any hit, and when there is nothing to scan.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/internal/leakscan"
	"github.com/handoverhq/handover/testenv"
)

func main() {
	dir := flag.String("artefacts", os.Getenv(testenv.ArtefactsEnv), "directory of the tests' artefacts")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "leakscan:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	start := time.Now()
	if dir == "" {
		return fmt.Errorf("no artefacts directory: set %s or -artefacts", testenv.ArtefactsEnv)
	}
	env, err := testenv.Load()
	if err != nil {
		return err
	}
	secrets, err := leakscan.FromTestenv(env.Dir)
	if err != nil {
		return fmt.Errorf("testenv secrets: %w", err)
	}
	known := len(secrets)
	pass, err := os.ReadFile(env.Operator.PassphraseFile)
	if err != nil {
		return err
	}
	stored, unopened, err := leakscan.FromFileStores(dir, secret.New(strings.TrimRight(string(pass), "\n")))
	if err != nil {
		return fmt.Errorf("file stores: %w", err)
	}
	secrets = append(secrets, stored...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vs, err := leakscan.FromVault(ctx, env)
	if err != nil {
		return fmt.Errorf("vault secrets: %w", err)
	}
	secrets = append(secrets, vs...)
	sc := leakscan.New(secrets)
	hits, files, err := sc.Dir(dir)
	if err != nil {
		return err
	}
	fmt.Printf("leakscan: %d secrets (%d of the test estate, %d from %s's file stores, %d in Vault; %d stores not opened), %d forms, %d files scanned (%d ciphertext or program files skipped) in %s: %d hits\n",
		len(secrets), known, len(stored), dir, len(vs), len(unopened), sc.Needles(), files, sc.Skipped(), time.Since(start).Round(time.Millisecond), len(hits))
	for _, h := range hits {
		fmt.Println("  LEAK", h)
	}
	switch {
	case len(hits) > 0:
		return fmt.Errorf("%d secrets found in the tests' artefacts", len(hits))
	case files == 0:
		return fmt.Errorf("no artefact in %s: the tests kept nothing to scan", dir)
	}
	return nil
}
