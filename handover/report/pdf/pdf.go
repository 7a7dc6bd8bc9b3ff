// Package pdf prints a rendered HTML report to PDF with the machine's
// headless Chromium (Debian's chromium or chromium-headless-shell), driven
// through the DevTools protocol. Nothing downloads a browser: when none is
// installed, Print says so.
package pdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browsers are the executables looked for on PATH, in order.
var Browsers = []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"}

// ErrNoBrowser is returned when no Chromium is installed.
var ErrNoBrowser = errors.New("no headless Chromium on PATH (install Debian's chromium-headless-shell or chromium)")

// Chromium returns the path of the installed Chromium.
func Chromium() (string, error) {
	if p := os.Getenv("HANDOVER_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range Browsers {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Browser starts a headless Chromium and returns a tab's context; cancel
// stops the browser.
func Browser(ctx context.Context, width, height int) (context.Context, context.CancelFunc, error) {
	path, err := Chromium()
	if err != nil {
		return nil, nil, err
	}
	// Chromium keeps its singleton socket under TMPDIR, and a socket's
	// path is at most 107 bytes: a long TMPDIR (a test's work directory,
	// a service's private one) makes it fail to start. Its temporary
	// files and profile go to a fresh private directory with a short path.
	tmp, err := os.MkdirTemp(shortTempRoot(), "hpdf")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Flag("headless", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(filepath.Join(tmp, "p")), chromedp.Env("TMPDIR="+tmp))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelT := chromedp.NewContext(actx)
	cancel := func() { cancelT(); cancelA(); os.RemoveAll(tmp) }
	if err := chromedp.Do(tctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("starting %s: %w", path, err)
	}
	return tctx, cancel, nil
}

// shortTempRoot is where the browser's private directory goes: the
// system's temporary directory when its path is short, else /tmp.
func shortTempRoot() string {
	if d := os.TempDir(); len(d) <= 40 {
		return d
	}
	return "/tmp"
}

// Print lays html out with its print stylesheet on A4 and returns the
// PDF. Every folded section is opened first, as printing from a browser
// does; the page footer numbers the pages.
func Print(ctx context.Context, html []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "handover-pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, html, 0o600); err != nil {
		return nil, err
	}
	tctx, cancel, err := Browser(ctx, 1400, 1000)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := chromedp.Do(tctx,
		chromedp.Navigate("file://"+file),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(function(d){d.open=true})`),
	); err != nil {
		return nil, fmt.Errorf("pdf: loading the report: %w", err)
	}
	out, err := chromedp.Run(tctx, chromedp.PrintToPDF(
		chromedp.PDFPaper(chromedp.PaperA4),
		chromedp.PDFPrintBackground(),
		func(p *page.PrintToPDFParams) {
			yes := true
			p.PreferCSSPageSize = &yes
			p.DisplayHeaderFooter = &yes
			p.HeaderTemplate = `<div></div>`
			p.FooterTemplate = `<div style="font-size:8px;width:100%;text-align:center;color:#5b6675"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`
			p.TransferMode = page.PrintToPDFTransferModeReturnAsStream
		},
	))
	if err != nil {
		return nil, fmt.Errorf("pdf: printing: %w", err)
	}
	return out, nil
}
