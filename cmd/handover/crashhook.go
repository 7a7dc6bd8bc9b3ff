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
// (go build -tags handover_crashtest): HANDOVER_CRASH_AT=STEP[@ACTION][:N]
// SIGKILLs the process the Nth time (default first) the run reaches STEP
// for a change of ACTION (any when left out; "last": a change made last,
// the rotation of the connector's own login). The recovery tests use it to
// kill a real run at each step; it is documented in docs/engine.md. The
// in-flight kill inside a target call is HANDOVER_CRASH_IN (package
// crashpoint).
const crashEnv = "HANDOVER_CRASH_AT"

func crashHook() func(string, plan.Change) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return nil
	}
	head, nth, _ := strings.Cut(spec, ":")
	step, action, _ := strings.Cut(head, "@")
	want := 1
	if nth != "" {
		if _, err := fmt.Sscanf(nth, "%d", &want); err != nil || want < 1 {
			panic(fmt.Sprintf("%s=%s: %q is not a count", crashEnv, spec, nth))
		}
	}
	seen := 0
	return func(s string, ch plan.Change) {
		if s != step || (action != "" && string(ch.Action) != action && (action != "last" || !ch.Last)) {
			return
		}
		seen++
		if seen == want {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}
