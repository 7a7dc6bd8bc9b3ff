package ssh

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScriptsLint checks every script of scripts/ with sh -n, and with
// shellcheck where it is installed: required when CI or
// HANDOVER_REQUIRE_SHELLCHECK is set.
func TestScriptsLint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scripts", "*.sh"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in scripts/ (%v)", err)
	}
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("HANDOVER_REQUIRE_SHELLCHECK") != "" {
			t.Fatalf("shellcheck is required (CI or HANDOVER_REQUIRE_SHELLCHECK is set): %v", err)
		}
		t.Log("shellcheck not found: the scripts are only checked with sh -n")
		shellcheck = ""
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if out, err := exec.Command("sh", "-n", f).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", f, err, out)
			}
			if shellcheck == "" {
				return
			}
			if out, err := exec.Command(shellcheck, "-s", "sh", f).CombinedOutput(); err != nil {
				t.Errorf("shellcheck -s sh %s: %v\n%s", f, err, out)
			}
		})
	}
}

// TestRemovePaths runs remove_agents' removal of paths with the local
// shells: a path is taken as it is (brackets and spaces included), a
// pattern expands only its * and ?, and the protected directories stay.
func TestRemovePaths(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"a[1]", "a1", "b c", "log-1", "log-2", `x\y1`, "x[y]2", "keep"} {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var b batch
			j := agentJob{paths: []string{dir + "/a[1]", dir + "/b c", dir + "/log-*", dir + `/x\y?`, dir + "/x[y]?", "/etc", dir + "/missing"}}
			b.set("paths_s0", strings.Join(mapStrings(removalPaths(j), globLine), "\n"))
			b.set("agents", "s0 s1")
			b.call("remove_paths")
			// Splitting works as before the list was read.
			b.body.WriteString(`set -- $agents; [ $# -eq 2 ] || echo "IFS not restored"` + "\n")
			b.agents = true
			script := b.script()
			cmd := exec.Command(sh, "-s")
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("script: %v\n%s", err, out)
			}
			left, _ := os.ReadDir(dir)
			var names []string
			for _, e := range left {
				names = append(names, e.Name())
			}
			if strings.Contains(string(out), "IFS not restored") {
				t.Error("IFS not restored")
			}
			if got := strings.Join(names, ","); got != "a1,keep" {
				t.Errorf("left %s, want a1,keep\n%s", got, out)
			}
			if _, err := os.Stat("/etc"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMatchProcessPatterns runs remove_agents' process name match with
// the local shells: only * and ? are wildcards, and IFS and globbing are
// as they were after it.
func TestMatchProcessPatterns(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) {
			var b batch
			b.set("procs_s0", strings.Join([]string{"TeamViewer*", "a|b", "x?z"}, "\n"))
			b.set("procs_s1", "")
			for _, name := range []string{"TeamViewer_Desktop", "a|b", "xyz", "a", "teamviewer", "xz"} {
				b.body.WriteString("if match s0 " + shellQuote(name) + "; then echo yes; else echo no; fi\n")
			}
			b.body.WriteString("if match s1 anything; then echo yes; else echo no; fi\n")
			b.body.WriteString(`set -- a b; for w in $*; do :; done; case $- in *f*) echo noglob ;; esac; echo "$#"` + "\n")
			b.agents = true
			cmd := exec.Command(sh, "-s")
			cmd.Stdin = strings.NewReader(b.script())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("script: %v\n%s", err, out)
			}
			if got, want := strings.Fields(string(out)), []string{"yes", "yes", "yes", "no", "no", "no", "no", "2"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
