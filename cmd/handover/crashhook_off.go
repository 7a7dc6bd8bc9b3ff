//go:build !handover_crashtest

package main

import "github.com/handoverhq/handover/handover/plan"

// crashHook is nil in the shipped binary: no environment variable can
// make it kill itself in the middle of a rotation. Test builds have the
// hook (crashhook.go).
func crashHook() func(string, plan.Change) { return nil }
