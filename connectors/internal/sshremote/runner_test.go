package sshremote

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSudoWrapperReadsTheMarker(t *testing.T) {
	if n := strings.Count(sudoWrapper, "'"+StdinMarker+"'"); n != 2 {
		t.Errorf("scripts/sudo-wrapper.sh compares with the marker %q %d times, want 2", StdinMarker, n)
	}
}

// TestScriptsLint checks the scripts with sh -n (and shellcheck, where
// installed).
func TestScriptsLint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scripts", "*.sh"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in scripts/ (%v)", err)
	}
	shellcheck, _ := exec.LookPath("shellcheck")
	if shellcheck == "" && (os.Getenv("CI") != "" || os.Getenv("HANDOVER_REQUIRE_SHELLCHECK") != "") {
		t.Fatal("shellcheck is required (CI or HANDOVER_REQUIRE_SHELLCHECK is set)")
	}
	for _, f := range files {
		if out, err := exec.Command("sh", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", f, err, out)
		}
		if shellcheck != "" {
			if out, err := exec.Command(shellcheck, "-s", "sh", f).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", f, err, out)
			}
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "": "''", "a b": "'a b'", "it's": `'it'\''s'`, "/etc/x.conf": "/etc/x.conf"} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
