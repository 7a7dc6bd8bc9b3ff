// Command vaulttokens fills the testenv's Vault with N tokens for the
// Vault inventory benchmark: orphan tokens with the default policy, as an
// estate's scripts and logins leave them. The root token is read from a
// file; no token is printed.
//
//	vaulttokens -addr https://127.0.0.1:18200 -ca ca.pem -token-file root-token -n 10000 [-parallel 32]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vaulttokens:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("vaulttokens", flag.ContinueOnError)
	addr := fs.String("addr", "https://127.0.0.1:18200", "Vault address")
	ca := fs.String("ca", "", "CA certificate (PEM)")
	tokenFile := fs.String("token-file", "", "file holding a token allowed to create orphan tokens")
	n := fs.Int("n", 10000, "tokens to create")
	parallel := fs.Int("parallel", 32, "creations in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tokenFile == "" {
		return errors.New("-token-file is required")
	}
	conf := api.DefaultConfig()
	conf.Address = *addr
	conf.MaxRetries = 2
	if *ca != "" {
		if err := conf.ConfigureTLS(&api.TLSConfig{CACert: *ca}); err != nil {
			return err
		}
	}
	c, err := api.NewClient(conf)
	if err != nil {
		return err
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	c.SetToken(strings.TrimSpace(string(tok)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	var next, failed atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < *parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				_, err := c.Auth().Token().CreateOrphanWithContext(ctx, &api.TokenCreateRequest{
					Policies: []string{"default"}, DisplayName: fmt.Sprintf("bench-%d", i%50), TTL: "4h",
				})
				if err != nil {
					failed.Add(1)
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "vaulttokens: %d tokens created in %.1f s (%d failed)\n", int64(*n)-failed.Load(), time.Since(start).Seconds(), failed.Load())
	if failed.Load() > 0 {
		return fmt.Errorf("%d creations failed, first: %w", failed.Load(), first)
	}
	return nil
}
