package report

import "time"

// Handoff is one hand-over of the dossier: a bundle exported to the
// incoming provider, or the receipt it signed for one. Credentials are
// named by store reference, never by value.
type Handoff struct {
	// Kind is "export" or "receipt".
	Kind string    `json:"kind"`
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// By is the operator who exported, or the identity that signed the
	// receipt.
	By string `json:"by"`
	// Fingerprint is the receipt's signing key.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Recipients are the fingerprints the bundle was encrypted to, or the
	// one that opened it.
	Recipients     []string `json:"recipients,omitempty"`
	Report         string   `json:"report,omitempty"` // run id of the report inside
	BundleSHA256   string   `json:"bundle_sha256,omitempty"`
	ManifestSHA256 string   `json:"manifest_sha256,omitempty"`
	Credentials    []string `json:"credentials,omitempty"`
	Imported       int      `json:"imported,omitempty"`
	// Result is "done", or "failed" with Error for an export that wrote
	// no bundle.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// Journal is the head hash of the handoff's own journal.
	Journal string `json:"journal"`
}
