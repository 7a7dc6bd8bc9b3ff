package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/handoverhq/handover/testenv"
)

func init() {
	scriptCmds["tmpfs"] = tmpfsCmd
	scriptCmds["sealedvault"] = sealedVaultCmd
}

// tmpfs DIR SIZE mounts a real tmpfs of SIZE (mount(8)'s size=, e.g. 32k)
// on DIR for the rest of the script: a small file system to fill up. It
// needs root (CI runs as root) and fails the script otherwise.
func tmpfsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tmpfs DIR SIZE")
	}
	if os.Geteuid() != 0 {
		ts.Fatalf("tmpfs: mounting a small file system to fill up needs root (CI runs the tests as root); run this test as root")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+args[1]+",mode=0755"); err != nil {
		ts.Fatalf("tmpfs: mount on %s: %v", dir, err)
	}
	ts.Defer(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			ts.Logf("tmpfs: unmount %s: %v", dir, err)
		}
	})
}

// sealedvault starts a Vault of its own (the test estate's vaultserver
// binary and TLS certificate, on a free port, in memory), seals it, and
// sets SEALED_VAULT_ADDR, SEALED_VAULT_CA and SEALED_VAULT_TOKEN_FILE (its
// root token, which still authenticates nothing while it is sealed). The
// estate's own Vault is not touched; the server is stopped at the end of
// the script.
func sealedVaultCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: sealedvault")
	}
	env, err := testenv.Load()
	if err != nil {
		ts.Fatalf("sealedvault needs the testenv (for its Vault server binary and CA): %v", err)
	}
	if env.Vault == nil {
		ts.Fatalf("sealedvault: the testenv has no Vault: run `bin/testenv up -only vault`")
	}
	bin, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", env.Vault.PID))
	if err != nil || !strings.Contains(filepath.Base(bin), "vaultserver") {
		ts.Fatalf("sealedvault: cannot find the testenv's vaultserver binary from its process %d (%v): is the Vault up?", env.Vault.PID, err)
	}
	vdir := filepath.Join(env.Dir, "vault", "tls")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := l.Addr().String()
	l.Close()
	dir := ts.MkAbs("sealed-vault")
	ts.Check(os.MkdirAll(dir, 0o700))
	token, unseal := filepath.Join(dir, "root-token"), filepath.Join(dir, "unseal-key")
	ts.Check(os.WriteFile(token, []byte(fmt.Sprintf("throwaway-%d\n", time.Now().UnixNano())), 0o600))
	log, err := os.Create(filepath.Join(dir, "vault.log"))
	ts.Check(err)
	cmd := exec.Command(bin, "-addr", addr, "-tls-cert", filepath.Join(vdir, "cert.pem"), "-tls-key", filepath.Join(vdir, "key.pem"),
		"-root-token-file", token, "-unseal-key-file", unseal)
	cmd.Stdout, cmd.Stderr = log, log
	ts.Check(cmd.Start())
	ts.Defer(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
	})
	pem, err := os.ReadFile(env.CACert)
	ts.Check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr
	// Initialised (the unseal key written) and answering: then sealed.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(unseal); err == nil {
			if r, err := hc.Get(base + "/v1/sys/health"); err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "vault.log"))
			ts.Fatalf("sealedvault: the throwaway Vault on %s did not come up in 60 s:\n%s", addr, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tok, err := os.ReadFile(token)
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v1/sys/seal", nil)
	ts.Check(err)
	req.Header.Set("X-Vault-Token", strings.TrimSpace(string(tok)))
	r, err := hc.Do(req)
	ts.Check(err)
	r.Body.Close()
	if r.StatusCode/100 != 2 {
		ts.Fatalf("sealedvault: sealing the throwaway Vault: HTTP %d", r.StatusCode)
	}
	r, err = hc.Get(base + "/v1/sys/health")
	ts.Check(err)
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable { // Vault's answer when sealed
		ts.Fatalf("sealedvault: the throwaway Vault's health is HTTP %d after sealing, want 503 (sealed)", r.StatusCode)
	}
	ts.Setenv("SEALED_VAULT_ADDR", base)
	ts.Setenv("SEALED_VAULT_CA", env.CACert)
	ts.Setenv("SEALED_VAULT_TOKEN_FILE", token)
}
