package plan

// Manual is a declared item's switch-day step: no connector can make it,
// so the plan lists it for a person to do and attest in writing
// (`handover attest`). Apply never reads it.
type Manual struct {
	// Item is the declared item's id.
	Item   string `json:"item"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Owner  string `json:"owner"`
	Action string `json:"action"` // rotate, revoke-provider-account, transfer-ownership
	// Status is where the step stands when the plan is made:
	// awaiting-attestation, stale, done, waived.
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}
