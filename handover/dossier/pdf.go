package dossier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Browsers PrintPDF looks for on PATH, in order.
var browsers = []string{"chromium", "chromium-headless-shell", "google-chrome", "chrome"}

// PrintPDF prints an HTML letter to PDF with a headless Chromium found on
// PATH (`--print-to-pdf`), in a private temporary directory removed
// afterwards. The letters hold no secret.
func PrintPDF(ctx context.Context, html []byte) ([]byte, error) {
	var bin string
	for _, b := range browsers {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return nil, errors.New("PDF: no Chromium on PATH (install the chromium or chromium-headless-shell package), or use --format html and print it")
	}
	tmp, err := os.MkdirTemp("", "handover-letter-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	in, out := filepath.Join(tmp, "letter.html"), filepath.Join(tmp, "letter.pdf")
	if err := os.WriteFile(in, html, 0o600); err != nil {
		return nil, err
	}
	args := []string{"--headless", "--disable-gpu", "--no-pdf-header-footer", "--no-first-run",
		"--user-data-dir=" + filepath.Join(tmp, "profile"), "--print-to-pdf=" + out, "file://" + in}
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		args = append([]string{"--no-sandbox"}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("PDF: %s: %w\n%s", bin, err, lastLines(stderr.String(), 5))
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		return nil, fmt.Errorf("PDF: %s wrote no PDF\n%s", bin, lastLines(stderr.String(), 5))
	}
	return b, nil
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
