package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/report"
)

func TestReportRenderCommand(t *testing.T) {
	f := writeFixture(t)
	out := filepath.Join(t.TempDir(), "report-en.md")
	code, stdout, stderr := runCLI(t, "report", "render", f.Files.JSON, "--format", "md", "--lang", "en", "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("with -o, stdout is %q", stdout)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(f.Files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		t.Fatal(err)
	}
	want, err := report.Render(r, "md", "en")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("report render -o wrote something else than report.Render")
	}

	// Rendering again in the report's own language gives the signed file.
	code, stdout, stderr = runCLI(t, "report", "render", "--format", "html", f.Files.JSON)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	signed, err := os.ReadFile(f.Files.HTML)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(signed) {
		t.Error("report render --format html differs from the signed report.html")
	}

	// Any file with a signature beside it is signed, wherever it is.
	outside := filepath.Join(t.TempDir(), "copy.html")
	for _, p := range []string{outside, outside + ".sig"} {
		if err := os.WriteFile(p, []byte("signed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"report", "render", f.Files.JSON, "--format", "docx"}, `--format must be html, md or pdf, not "docx"`},
		{[]string{"report", "render", f.Files.JSON, "--lang", "de"}, `--lang must be fr or en, not "de"`},
		{[]string{"report", "render", f.Files.JSON, "--colour", "red"}, "flag provided but not defined: -colour"},
		{[]string{"report", "render", f.Files.HTML}, "report.html line 1 column 2: invalid character '<'"},
		{[]string{"report", "render"}, "expected one REPORT.json argument"},
		{[]string{"report", "render", f.Files.JSON, "-o", f.Files.HTML}, "refusing to write " + f.Files.HTML + ": it is signed"},
		{[]string{"report", "render", f.Files.JSON, "--lang", "en", "-o", filepath.Join(f.Files.Dir, "report-en.html")}, "is a signed report's directory"},
		{[]string{"report", "render", f.Files.JSON, "-o", outside}, "refusing to write " + outside + ": it is signed"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitError || !strings.Contains(stderr, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, exitError, tc.err)
		}
	}
	// Nothing was overwritten or added: the report still verifies.
	if code, out, errs := runCLI(t, "verify", "--allowed-signers", f.Files.AllowedSigners, f.Files.JSON); code != exitOK {
		t.Errorf("after refused renderings, verify exits %d:\n%s%s", code, out, errs)
	}
	if b, _ := os.ReadFile(outside); string(b) != "signed\n" {
		t.Errorf("%s was overwritten", outside)
	}
}
