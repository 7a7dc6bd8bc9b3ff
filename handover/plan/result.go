package plan

// Result is what became of a change, or of one journaled step of it. The
// set is closed: the journal, the report and the exit code read the same
// words, and Settled and OK are the only rules over them.
type Result string

// Results of a change, as the report's actions show them.
const (
	// Applied: the target took the change.
	Applied Result = "applied"
	// Failed: the target did not take the change, or it could not be proven.
	Failed Result = "failed"
	// Skipped: never started (an earlier change failed, or the run was
	// interrupted before it).
	Skipped Result = "skipped"
	// Aborted: stopped with its outcome unknown or unrecorded; the next
	// run's recovery settles it.
	Aborted Result = "aborted"
	// Recovered: an earlier run's change, which the target had taken,
	// completed by recovery.
	Recovered Result = "recovered"
	// RolledBack: an earlier run's change the target never took; its
	// pending credential is marked failed and the previous one stays.
	RolledBack Result = "rolled-back"
	// NeverApplied: an earlier run stopped before journaling its intent,
	// so the target was never touched.
	NeverApplied Result = "never-applied"
	// Discarded: an earlier run's pending credential does not log in and
	// there is no previous one to try (none was handed over): it is marked
	// failed, what the account's credential is stays unknown, and the
	// rotation is planned again. Nothing is claimed about the previous one.
	Discarded Result = "discarded"
	// Unresolved: neither the pending nor the previous credential could be
	// proven; the system is left alone until someone looks.
	Unresolved Result = "unresolved"
)

// Results of a journaled step.
const (
	// Rejected: the target refused a new credential (password policy); a
	// fresh one is tried.
	Rejected Result = "rejected"
	// Unknown: the change may or may not have happened.
	Unknown Result = "unknown"
	// Verified: every check of the step passed.
	Verified Result = "verified"
	// Unproven: a verification ran but did not prove every change.
	Unproven Result = "unproven"
	// OldRejected, OldAccepted, OldUntested: what trying the previous
	// credential showed.
	OldRejected Result = "old-rejected"
	OldAccepted Result = "old-accepted"
	OldUntested Result = "old-untested"
	// Done and Partial: a read-only step (inventory, plan) finished, for
	// every system or only some.
	Done    Result = "ok"
	Partial Result = "partial"
)

// Settled reports whether a change's effect on the target is known and
// final: nothing is left for a later run to finish.
func (r Result) Settled() bool {
	switch r {
	case Applied, Recovered, RolledBack, NeverApplied, Discarded:
		return true
	}
	return false
}

// OK reports whether the change the plan asked for holds on the target.
func (r Result) OK() bool { return r == Applied || r == Recovered }
