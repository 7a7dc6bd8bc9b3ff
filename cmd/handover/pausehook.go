//go:build handover_crashtest

package main

import (
	"os"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
)

// pauseEnv, in test builds only (as HANDOVER_CRASH_AT):
// HANDOVER_PAUSE_AT=STEP:FILE makes the first rotation that reaches STEP
// create FILE and wait until FILE is removed, so that a test can act while
// a real run is in the middle of a change (the concurrency tests).
const pauseEnv = "HANDOVER_PAUSE_AT"

// HANDOVER_CHANGE_TIMEOUT=DURATION shortens the time limit of one change
// (2 minutes), so that a test proves a target answering too late quickly.
func init() {
	if d, err := time.ParseDuration(os.Getenv("HANDOVER_CHANGE_TIMEOUT")); err == nil {
		engine.SetChangeTimeout(d)
	}
}

func pauseHook() func(string, plan.Change) {
	step, file, ok := strings.Cut(os.Getenv(pauseEnv), ":")
	if !ok || file == "" {
		return nil
	}
	done := false
	return func(s string, _ plan.Change) {
		if s != step || done {
			return
		}
		done = true
		if err := os.WriteFile(file, []byte(strings.TrimSpace(s)+"\n"), 0o600); err != nil {
			return
		}
		for {
			if _, err := os.Stat(file); os.IsNotExist(err) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// testHooks chains the test builds' hooks.
func testHooks(hooks ...func(string, plan.Change)) func(string, plan.Change) {
	return chainHooks(hooks)
}
