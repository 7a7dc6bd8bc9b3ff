package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/report/reporttest"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"handover"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFixture(t *testing.T) *reporttest.Fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := reporttest.Write(ctx, t.TempDir(), reporttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVerifyCommand(t *testing.T) {
	f := writeFixture(t)
	tampered := writeFixture(t)
	b, err := os.ReadFile(tampered.Files.Journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(tampered.Files.Journal, []byte(strings.Join(append(lines[:2:2], lines[3:]...), "")), 0o644); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(t.TempDir(), "pb.yaml")
	if err := os.WriteFile(pb, []byte("signing:\n  key: "+f.Key+"\n  identity: "+f.Identity+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noMD := writeFixture(t)
	if err := os.Remove(noMD.Files.Markdown); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		out, err string
		notInOut string
	}{
		{"intact, no trust source", []string{"verify", f.Files.JSON}, exitError, "", "say whom you trust to have signed", "OK"},
		{"intact, integrity only", []string{"verify", "--integrity-only", f.Files.JSON}, exitOK, "OK (integrity only): " + f.Files.JSON, "", "OK: "},
		{"integrity only says what it does not prove", []string{"verify", f.Files.JSON, "--integrity-only"}, exitOK, "Who holds that key is NOT proven", "", ""},
		{"intact, given signers after the argument", []string{"verify", f.Files.JSON, "--allowed-signers", f.Files.AllowedSigners}, exitOK, "supplied by you", "", ""},
		{"intact, given signers before the argument", []string{"verify", "--allowed-signers", f.Files.AllowedSigners, f.Files.JSON}, exitOK, "OK: " + f.Files.JSON, "", ""},
		{"intact, the playbook's key", []string{"verify", "--playbook", pb, f.Files.JSON}, exitOK, "OK: " + f.Files.JSON, "", ""},
		{"two trust sources", []string{"verify", "--playbook", pb, "--integrity-only", f.Files.JSON}, exitError, "", "give one of", ""},
		{"journal line removed", []string{"verify", "--integrity-only", tampered.Files.JSON}, exitError, "journal.jsonl    sha256", "journal.jsonl record 3: sequence number is 4, expected 3", "OK"},
		{"another signer", []string{"verify", f.Files.JSON, "--allowed-signers", tampered.Files.AllowedSigners}, exitError, "", "which " + tampered.Files.AllowedSigners + " does not list", "OK"},
		{"re-signed by another key, checked with the playbook", []string{"verify", "--playbook", pb, tampered.Files.JSON}, exitError, "", "which " + pb + " (signing.key) does not list", "OK"},
		{"markdown removed", []string{"verify", "--playbook", pb, noMD.Files.JSON}, exitError, "", "report.md: missing", "OK"},
		{"no argument", []string{"verify"}, exitError, "", "expected one REPORT.json argument", ""},
		{"missing report", []string{"verify", "--integrity-only", f.Dir + "/nope.json"}, exitError, "", "no such file", ""},
		{"as JSON, intact", []string{"verify", "--playbook", pb, "-o", "-", f.Files.JSON}, exitOK, `"ok": true`, "", "OK: "},
		{"as JSON, tampered", []string{"verify", "--integrity-only", "-o", "-", tampered.Files.JSON}, exitError, `"where": "record 3"`, "", `"ok": true`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, out)
			}
			if !strings.Contains(errs, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, errs)
			}
			if tc.notInOut != "" && strings.Contains(out, tc.notInOut) {
				t.Errorf("stdout has %q:\n%s", tc.notInOut, out)
			}
		})
	}
}
