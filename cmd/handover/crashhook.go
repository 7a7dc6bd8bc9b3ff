//go:build handover_crashtest

package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/handoverhq/handover/handover/plan"
)

// crashEnv names the fault-injection hook, compiled only into test builds
// (go build -tags handover_crashtest): HANDOVER_CRASH_AT=STEP[:N] SIGKILLs
// the process at the Nth time (default first) the rotation protocol
// reaches STEP. The recovery tests use it to kill a real run at each step;
// it is documented in docs/engine.md.
const crashEnv = "HANDOVER_CRASH_AT"

func crashHook() func(string, plan.Change) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return nil
	}
	step, nth, _ := strings.Cut(spec, ":")
	want := 1
	if nth != "" {
		fmt.Sscanf(nth, "%d", &want)
	}
	seen := 0
	return func(s string, _ plan.Change) {
		if s != step {
			return
		}
		seen++
		if seen == want {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}
