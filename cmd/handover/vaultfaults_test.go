package main

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// vaultProxy is an HTTPS reverse proxy in front of the test estate's real
// Vault that injects faults on command: 500 answers (for every request, or
// only for writes of credentials), or no answer at all (the connection
// closed, as an unreachable Vault). "500-writes" spares the system locks'
// entries: the write refused is the new credential's.
type vaultProxy struct {
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	mode   string // "", "500", "500-writes", "down"
}

func newVaultProxy(t *testing.T, env *testenv.Env) *vaultProxy {
	t.Helper()
	up, err := url.Parse(env.Vault.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := secret.VaultClient(secret.VaultConfig{Address: env.Vault.Addr, CACert: env.CACert})
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.Transport = c.CloneConfig().HttpClient.Transport
	p := &vaultProxy{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		write := r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch
		switch {
		case mode == "500", mode == "500-writes" && write && strings.Contains(r.URL.Path, "/data/") && !strings.Contains(r.URL.Path, "_handover_locks"):
			http.Error(w, `{"errors":["internal error"]}`, http.StatusInternalServerError)
			return
		case mode == "down":
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		rp.ServeHTTP(w, r)
	}))
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.caFile = filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *vaultProxy) set(mode string) {
	p.mu.Lock()
	p.mode = mode
	p.mu.Unlock()
	if mode == "down" {
		p.srv.CloseClientConnections()
	}
}

// TestVaultStoreFaultsMidRun: a real run rotating root on a real host,
// its credentials in the test estate's real Vault, meets a Vault that
// answers 500 to the write of the new credential; or, once the new
// password is set and proven (before it is made current), a Vault that
// answers 500, that stops answering, or that is sealed. Each time the run
// exits non-zero with an error naming the fault, no credential is lost
// (the handed-over password or a value stored in Vault logs in), and the
// next run, Vault healthy again, finishes the job.
func TestVaultStoreFaultsMidRun(t *testing.T) {
	env, h, _ := faultHost(t)
	testenv.RequireVault(t, false)
	// Exclusive: one case seals the real Vault (and unseals it after).
	testenv.LockComponent(t, "vault", true)
	bin := buildHandover(t, crashTestTag)
	root, err := secret.VaultClient(secret.VaultConfig{Address: env.Vault.Addr, CACert: env.CACert, Token: secret.New(testenv.ReadSecret(t, env.Vault.RootTokenFile))})
	if err != nil {
		t.Fatal(err)
	}
	unseal := func(t *testing.T) {
		if _, err := root.Sys().UnsealWithContext(context.Background(), testenv.ReadSecret(t, env.Vault.UnsealKeyFile)); err != nil {
			t.Fatalf("unseal: %v", err)
		}
	}
	for _, tc := range []struct {
		name, step, mode string
		want             []string
		slice            bool
	}{
		{"500-on-the-credential-write", "", "500-writes", []string{"500"}, true},
		{"500-before-current", "verify", "500", []string{"500"}, false},
		{"unreachable-before-current", "verify", "down", []string{"EOF", "unreachable", "connection reset"}, false},
		{"sealed-before-current", "verify", "sealed", []string{"sealed"}, false},
	} {
		if !inSlice(tc.slice) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := currentRootPassword(t, env, h, dir)
			p := newVaultProxy(t, env)
			prefix := "handover-test/faults/" + filepath.Base(dir)
			pb := vaultPlaybook(t, env, dir, p.srv.URL, prefix)
			b, _ := os.ReadFile(pb)
			if err := os.WriteFile(pb, []byte(strings.Replace(string(b), "ca_cert: "+env.CACert, "ca_cert: "+p.caFile, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			open := func(t *testing.T) secret.Store {
				st, err := secret.OpenVaultStore(context.Background(), secret.VaultConfig{Address: env.Vault.Addr, Prefix: prefix, CACert: env.CACert, Token: secret.New(testenv.ReadSecret(t, env.Vault.RootTokenFile))})
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			var out string
			var code int
			if tc.step == "" {
				p.set(tc.mode)
				out, code, _ = runBinary(t, bin, nil, "run", "--yes", pb)
			} else {
				_, finish := pausedRunAt(t, bin, tc.step, nil, "run", "--yes", pb)
				if tc.mode == "sealed" {
					if err := root.Sys().SealWithContext(context.Background()); err != nil {
						t.Fatalf("seal: %v", err)
					}
					t.Cleanup(func() { unseal(t) })
				} else {
					p.set(tc.mode)
				}
				out, code = finish()
			}
			t.Logf("the failed run said:\n%s", out)
			if code == 0 {
				t.Error("run with the store faulted: exit 0")
			}
			if !strings.Contains(out, "vault") || !containsAny(out, tc.want) {
				t.Errorf("the failed run's output names none of %q", tc.want)
			}
			if tc.mode == "sealed" {
				unseal(t)
			}
			p.set("")
			storedWorksIn(t, env, h, open(t), old)
			journalsIntact(t, dir)
			out, code, _ = handover(t, nil, "run", "--yes", pb)
			if code != 0 {
				t.Fatalf("next run, Vault healthy again: exit %d\n%s", code, out)
			}
			settledIn(t, env, h, dir, open(t), old)
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, w := range subs {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
