package serve_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/robfig/cron/v3"

	"github.com/handoverhq/handover/handover/freshness"
	"github.com/handoverhq/handover/handover/serve"
)

// TestAcknowledgeInBrowser drives Debian's headless Chromium through the
// acknowledge form (fake checks: the test estate's is in cmd/handover).
func TestAcknowledgeInBrowser(t *testing.T) {
	var path string
	for _, name := range []string{"chromium-headless-shell", "chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no chromium on PATH: install Debian's chromium (testenv/scripts/install-deps.sh does)")
	}
	dir := t.TempDir()
	p := &serve.Playbook{Name: "pb", File: "pb.yaml", History: freshness.History{Dir: filepath.Join(dir, "checks")}, AckDir: filepath.Join(dir, "acks"), Check: script(driftA)}
	srv, _ := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour)})
	srv.CheckNow(context.Background(), p)
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser, whose life is that action's
	// context: no timeout on it, a watchdog instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("%s did not start within 30 s", path)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(sctx,
		chromedp.Navigate(ts.URL+"/p/pb"),
		chromedp.WaitVisible(chromedp.CSS(`#drift`)),
		chromedp.SendKeys(chromedp.CSS(`#who`), "Claire"),
		chromedp.SendKeys(chromedp.CSS(`#why`), "expected"),
		chromedp.Click(chromedp.CSS(`#ack`)),
		chromedp.WaitVisible(chromedp.CSS(`#acked`)))
	if err != nil {
		// Each read of the failed page within its own deadline too.
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		defer fcancel()
		if buf, e := chromedp.Run(fctx, chromedp.FullScreenshot(100)); e == nil {
			os.WriteFile(filepath.Join(t.ArtifactDir(), "ack-failure.png"), buf, 0o644)
		}
		hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
		defer hcancel()
		html, _ := chromedp.Run(hctx, chromedp.OuterHTML(chromedp.CSS(`html`)))
		t.Fatalf("acknowledge in the browser: %v\n%s", err, html)
	}
	text, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(`#acked`)))
	if err != nil || !strings.Contains(text, "Claire") || !strings.Contains(text, "expected") {
		t.Errorf("acknowledged: %q %v", text, err)
	}
}
