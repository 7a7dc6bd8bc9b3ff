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

// handoffRow is one export or receipt as the report shows it.
type handoffRow struct {
	Time, What, By, Content, Bundle, Result string
	Keys, Credentials                       []string
}

func handoffRows(r *Report, w words) []handoffRow {
	var out []handoffRow
	for _, h := range r.Handoffs {
		row := handoffRow{Time: stamp(h.Time), By: h.By, Keys: h.Recipients, Credentials: h.Credentials, Bundle: h.BundleSHA256,
			Result: w.Maybe("res."+h.Result, h.Result)}
		switch h.Kind {
		case "receipt":
			row.What = w.T("hand.receipt")
			row.Content = w.F("hand.imported", h.Imported, h.Report)
			row.Keys = append([]string{h.Fingerprint}, h.Recipients...)
		default:
			row.What = w.T("hand.export")
			row.Content = w.F("hand.creds", len(h.Credentials), h.Report)
		}
		if h.Error != "" {
			row.Result += " — " + h.Error
		}
		out = append(out, row)
	}
	return out
}
