//go:build !handover_crashtest

package main

import "github.com/handoverhq/handover/handover/plan"

// pauseHook is nil in the shipped binary (see pausehook.go).
func pauseHook() func(string, plan.Change) { return nil }

// testHooks chains the test builds' hooks (nil in the shipped binary).
func testHooks(hooks ...func(string, plan.Change)) func(string, plan.Change) {
	return chainHooks(hooks)
}
