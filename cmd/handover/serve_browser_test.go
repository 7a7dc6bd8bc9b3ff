package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/handoverhq/handover/handover/serve"
	"github.com/handoverhq/handover/testenv"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hooks is a real local HTTP server receiving serve's webhook.
type hooks struct {
	mu     sync.Mutex
	events []serve.Event
	bad    []string
}

func (h *hooks) list() []serve.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]serve.Event(nil), h.events...)
}

// browser starts Debian's headless Chromium through chromedp; the test
// fails when it is not installed (nothing downloads a browser).
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no chromium on PATH: install Debian's chromium or chromium-headless-shell (testenv/scripts/install-deps.sh does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Flag("headless", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first action starts the browser, whose life is that action's
	// context: no timeout on it, a watchdog instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(browserDeadline):
		cancel2()
		cancel()
		t.Fatalf("%s did not start within %s", path, browserDeadline)
	}
	return ctx
}

// browserDeadline bounds every browser action of the tests: none waits
// for ever.
const browserDeadline = 30 * time.Second

// pageState is what the browser shows now (its URL and the page's text),
// read within a deadline, for a failure's message.
func pageState(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url, err := chromedp.Run(sctx, chromedp.Location())
	if err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	text, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(`body`)))
	if err != nil {
		return url + " (its text could not be read: " + err.Error() + ")"
	}
	return url + "\n" + text
}

// TestServeDashboardInBrowser starts `handover serve` on a playbook of the
// test estate (two fleet hosts), lets its first
// scheduled check run (clean), plants drift on the hosts over SSH (a new
// sudo user, an agent installed again), waits for the next check, and
// drives headless Chromium to see the drift and acknowledge it. The
// webhook receives exactly one message (clean -> drift), signed; no page,
// record or output holds a secret; SIGTERM stops the server with status 0.
func TestServeDashboardInBrowser(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	ctx := browser(t)
	h1, h2 := env.Fleet.Hosts[0], env.Fleet.Hosts[1]
	t.Cleanup(func() { resetComponent(t, "fleet") })
	dir := t.TempDir()
	key := "hook-secret-for-the-test"
	keyFile := filepath.Join(dir, "hook.key")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	hk := &hooks{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(b)
		var ev serve.Event
		json.Unmarshal(b, &ev)
		hk.mu.Lock()
		if r.Header.Get(serve.SignatureHeader) != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			hk.bad = append(hk.bad, string(b))
		}
		hk.events = append(hk.events, ev)
		hk.mu.Unlock()
	}))
	defer rcv.Close()
	// The hosts only: the directory's drift is TestCheckDriftOnTestEstate's.
	// The schedule and the webhook are the playbook's (its watch section,
	// the HMAC key a file reference); no serve flag sets them.
	pb := freshnessPlaybookOf(t, env, dir, []testenv.Host{h1, h2}, false)
	pbText, _ := os.ReadFile(pb)
	pbText = append(pbText, fmt.Sprintf("watch:\n  interval: 5s\n  jitter: 0s\n  notify:\n    webhook:\n      url: %s\n      secret: ${file:%s}\n", rcv.URL, keyFile)...)
	os.WriteFile(pb, pbText, 0o600)
	if out, code, _ := handover(t, nil, "dossier", "update", "--yes", pb); code != 0 {
		t.Fatalf("dossier update: exit %d\n%s", code, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	var out lockedBuffer
	cmd := exec.Command(os.Args[0], "serve", "--listen", addr, pb)
	cmd.Env = append(os.Environ(), "HANDOVER_BE_MAIN=1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("waited %s for %s; serve said:\n%s", d, what, out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	name := "playbook"
	history := filepath.Join(dir, "state", "checks")
	records := func() int {
		m, _ := filepath.Glob(filepath.Join(history, "*.json"))
		return len(m)
	}
	waitFor("the first check, clean", 60*time.Second, func() bool { code, _ := get("/healthz"); return code == 200 })
	if _, body := get("/p/" + name); !strings.Contains(body, `id="nodrift"`) {
		t.Fatalf("first check not clean:\n%s", body)
	}

	onHost(t, env, h1, "useradd -m -s /bin/bash intrus && usermod -aG sudo intrus")
	onHost(t, env, h2, "install -d /usr/share/anydesk && printf '#!/bin/sh\\n' > /usr/bin/anydesk && chmod 755 /usr/bin/anydesk")
	waitFor("a check that sees the drift", 90*time.Second, func() bool {
		_, body := get("/p/" + name)
		return strings.Contains(body, `id="driftcount">2<`)
	})

	shot := func(file string) {
		sctx, cancel := context.WithTimeout(ctx, browserDeadline)
		defer cancel()
		if buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(t.ArtifactDir(), file), buf, 0o644)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, browserDeadline)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			shot("dashboard-failure.png")
			t.Fatalf("browser: text of %s: %v\nthe browser shows: %s", sel, err, pageState(ctx))
		}
		return s
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, browserDeadline)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			shot("dashboard-failure.png")
			t.Fatalf("browser: %s: %v\nthe browser shows: %s\nserve said:\n%s", what, err, pageState(ctx), out.String())
		}
	}
	step("the overview shows the drift",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#playbooks tr[data-playbook="`+name+`"] [data-status="drift"]`)))
	step("open the playbook",
		chromedp.Click(chromedp.CSS(`#playbooks a`)),
		chromedp.WaitVisible(chromedp.CSS(`#drift`)))
	rows := text(`#drift tbody`)
	step("acknowledge",
		chromedp.SendKeys(chromedp.CSS(`#who`), "Claire Martin (DSI)"),
		chromedp.SendKeys(chromedp.CSS(`#why`), "ticket 4242: the new admin is expected"),
		chromedp.Click(chromedp.CSS(`#ack`)),
		chromedp.WaitVisible(chromedp.CSS(`#acked`)))
	acked := text(`#acked`)
	shot("dashboard.png")
	for _, want := range []string{"intrus", "sudo group", "anydesk", h1.Name, h2.Name} {
		if !strings.Contains(rows, want) {
			shot("dashboard-failure.png")
			t.Errorf("the drift table does not show %q:\n%s", want, rows)
		}
	}
	if !strings.Contains(acked, "Claire Martin (DSI)") || !strings.Contains(acked, "ticket 4242") {
		t.Errorf("acknowledgement shown: %q", acked)
	}
	step("the page in French",
		chromedp.Navigate(base+"/p/"+name+"?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS(`#drift`)))
	if fr := text(`main`); !strings.Contains(fr, "Écarts actuels") || !strings.Contains(fr, "Pris en compte par") {
		t.Errorf("the French page:\n%s", fr)
	}

	// One more check after the acknowledgement: no new message.
	n := records()
	waitFor("one more check", 60*time.Second, func() bool { return records() > n })
	evs := hk.list()
	if len(evs) != 1 || evs[0].From != "clean" || evs[0].To != "drift" || evs[0].DriftItems != 2 {
		t.Errorf("webhook got %d message(s), want exactly one clean -> drift with 2 items: %+v", len(evs), evs)
	}
	if len(hk.bad) > 0 {
		t.Errorf("%d webhook message(s) with a wrong signature", len(hk.bad))
	}
	_, metrics := get("/metrics")
	if !strings.Contains(metrics, `handover_check_target_drift_items{playbook="`+pb+`",target="serveurs"} 2`) {
		t.Errorf("/metrics does not count the drift:\n%s", metrics)
	}

	// No secret in any page, the history, the journals or the output.
	var pages []string
	for _, p := range []string{"/", "/p/" + name, "/p/" + name + "?lang=fr", "/metrics", "/healthz"} {
		_, b := get(p)
		pages = append(pages, b)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		stopped = true
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("serve did not stop within 60 s of SIGTERM")
	}
	// Kept for the leak scan of `make test` too (the dashboard's pages,
	// serve's output, the webhook's events).
	testenv.KeepOutput(t, []string{"serve", "(dashboard pages, output, webhook events)"}, strings.Join(append(pages, out.String(), fmt.Sprint(evs)), "\n"), false)
	leakScan(t, env, dir, append(pages, out.String(), fmt.Sprint(evs))...)
}
