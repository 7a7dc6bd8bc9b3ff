package engine_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/engine"
)

// TestRunIDFromInjectedClockAndRandomness: the run id is drawn from the
// engine's clock and randomness, not from the process's, so two engines
// given the same ones name their runs alike.
func TestRunIDFromInjectedClockAndRandomness(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 3, 12, 9, 30, 0, 0, time.FixedZone("CET", 3600)) }
	seed := []byte{0x4f, 0x2a, 0x9c, 0x11, 0x22, 0x33}
	a := &engine.Engine{Now: now, Rand: bytes.NewReader(seed)}
	b := &engine.Engine{Now: now, Rand: bytes.NewReader(seed)}

	idA, idB := a.NewRunID(), b.NewRunID()
	if idA != idB {
		t.Errorf("same clock and randomness, different ids: %q and %q", idA, idB)
	}
	if want := "20260312T083000Z-4f2a9c"; idA != want {
		t.Errorf("id %q, want %q (UTC start time, then the first three random bytes)", idA, want)
	}
	if next := a.NewRunID(); next != "20260312T083000Z-112233" {
		t.Errorf("second id %q, want the next three random bytes", next)
	}
}
