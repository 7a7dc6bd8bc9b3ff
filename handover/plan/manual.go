package plan

// Manual is a switch-day step no connector can make, so the plan lists it
// for a person to do and attest in writing (`handover attest`): a
// declared item's, or one a connector asks for on a target it reads (a
// rekey when the key shares handed over are fewer than a quorum). Apply
// never reads it.
type Manual struct {
	// Item is the declared item's id; for a connector's step, the id a
	// declared item takes to be attested (TARGET.STEP).
	Item string `json:"item"`
	// Target is the target whose connector asks for the step; empty for a
	// declared item's.
	Target string `json:"target,omitempty"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Owner  string `json:"owner"`
	Action string `json:"action"` // rotate, revoke-provider-account, transfer-ownership
	// Status is where the step stands when the plan is made:
	// awaiting-attestation, stale, done, waived.
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}
