package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// crashTestTag compiles the HANDOVER_CRASH_AT hook in (crashhook.go).
const crashTestTag = "handover_crashtest"

// buildHandover builds this command into a fresh directory, with the
// given build tags, and returns the binary's path.
func buildHandover(t *testing.T, tags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "handover")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// TestShippedBinaryHasNoCrashHook: the binary `make build` ships cannot
// be made to kill itself in the middle of a rotation; only a test build
// knows HANDOVER_CRASH_AT and HANDOVER_CRASH_IN. The test build is the proof the search would
// find the name if it were there.
func TestShippedBinaryHasNoCrashHook(t *testing.T) {
	tests := []struct {
		name     string
		tags     []string
		wantHook bool
	}{
		{"shipped", nil, false},
		{"test build", []string{crashTestTag}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(buildHandover(t, tt.tags...))
			if err != nil {
				t.Fatal(err)
			}
			// Every hook: the kills at a step of the run and in flight
			// inside a target call (handover/crashpoint), and the fault
			// tests' pause and change time limit (pausehook.go).
			for _, hook := range []string{"HANDOVER_CRASH_AT", "HANDOVER_CRASH_IN", "HANDOVER_PAUSE_AT", "HANDOVER_CHANGE_TIMEOUT"} {
				if got := bytes.Contains(b, []byte(hook)); got != tt.wantHook {
					t.Errorf("the %s binary holds %s: %v, want %v", tt.name, hook, got, tt.wantHook)
				}
			}
		})
	}
}
