// Package report owns the handover report: the dossier technique and the
// proof of every action, as canonical JSON (the signed payload), HTML and
// Markdown, with detached OpenSSH signatures that stock tools can check.
package report

import (
	"slices"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
)

// FormatVersion is the version of report.json's schema (docs/report.md).
// Version 2 gives every check its kind; version 3 adds the declared items,
// their attestations and the completeness figure, the cloud services
// section, and the provenance of the schéma's links. Reports of versions 1
// and 2 are still read, verified and rendered as they were signed
// (format1.go, format2).
const FormatVersion = 3

// format2 is the version before the dossier's declared items and cloud
// services: its renderings, signed, must come out of Render byte for byte,
// so what version 3 added is rendered for version 3 on only.
const format2 = 2

// Namespace is the SSHSIG namespace of report signatures.
const Namespace = "handover-report"

// Report is everything the engine hands over to the report. It is built
// from an allow-list of fields: nothing in it can hold a secret value.
type Report struct {
	FormatVersion int    `json:"format_version"`
	Tool          Tool   `json:"tool"`
	Lang          string `json:"lang"`
	// Formats are the files written: "json" always, "html" and "md" as
	// the playbook's report.formats asks. Empty means all three.
	Formats  []string          `json:"formats,omitempty"`
	Handover playbook.Handover `json:"handover"`
	Playbook PlaybookInfo      `json:"playbook"`
	Run      Run               `json:"run"`
	// Previous is the signed report a dossier update replaces as the
	// baseline of freshness checks, named by its report.json's digest.
	Previous *Previous `json:"previous,omitempty"`
	Summary  Summary   `json:"summary"`
	// Dossier is the inventory of every target, taken before the changes.
	Dossier []connector.Inventory `json:"dossier"`
	// After is the re-inventory taken after the changes, where one was made.
	After []connector.Inventory `json:"after,omitempty"`
	// Presentation is how the run's connectors said their systems read
	// (labels, colours, cards): data, so rendering needs no connector.
	Presentation *Presentation `json:"presentation,omitempty"`
	// Credentials says where each admin credential's current value is
	// stored (never the value).
	Credentials []Credential `json:"credentials"`
	Actions     []Action     `json:"actions"`
	// Outgoing lists the provider's access found and what became of it.
	Outgoing   []ProviderAccess `json:"outgoing"`
	Deviations Deviations       `json:"deviations"`
	// Declared are the playbook's declared items and where each stands;
	// Attestations the journal their written attestations come from;
	// Completeness the figure on the first screen (declared.go).
	Declared     []DeclaredItem `json:"declared,omitempty"`
	Attestations *Attestations  `json:"attestations,omitempty"`
	Completeness *Completeness  `json:"completeness,omitempty"`
	// Handoffs are the dossier bundles exported and the receipts received
	// for them, as the state directory's records hold them (handoff.go).
	Handoffs []Handoff `json:"handoffs,omitempty"`
	// Shards are the signed reports a merged report (Run.Mode "merge")
	// was made from, each kept under its Dir (merge.go).
	Shards  []Shard `json:"shards,omitempty"`
	Journal Journal `json:"journal"`
	// Signature is set by Write from the signing key.
	Signature *Signature `json:"signature,omitempty"`
}

// Renders reports whether the format ext ("html", "md") is written.
func (r *Report) Renders(ext string) bool {
	return len(r.Formats) == 0 || slices.Contains(r.Formats, ext)
}

type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type PlaybookInfo struct {
	File string `json:"file"`
	Hash string `json:"sha256"`
}

// Previous names the report a dossier update follows.
type Previous struct {
	RunID  string `json:"run_id"`
	SHA256 string `json:"sha256"`
	// Accepted is how many drift items the update accepted as the new
	// truth (each is journaled).
	Accepted int `json:"accepted_drift"`
}

// Run identifies the run and its overall result.
type Run struct {
	ID       string    `json:"id"`
	Mode     string    `json:"mode"` // run, resume, dossier-update
	Operator string    `json:"operator"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Result   RunResult `json:"result"`
}

// RunResult is the run's overall result.
type RunResult string

const (
	// RunSuccess: every change was applied and proven.
	RunSuccess RunResult = "success"
	// RunPartial: some changes failed, or some systems were not covered.
	RunPartial RunResult = "partial"
	// RunFailed: nothing could be applied.
	RunFailed RunResult = "failed"
	// RunNoChanges: there was nothing to do.
	RunNoChanges RunResult = "no-changes"
)

// Summary counts per target.
type Summary struct {
	Targets []TargetSummary `json:"targets"`
}

type TargetSummary struct {
	Target   string `json:"target"`
	Type     string `json:"type"`
	Systems  int    `json:"systems"`
	Reached  int    `json:"reached"`
	Findings int    `json:"provider_findings"`
	Planned  int    `json:"planned"`
	Applied  int    `json:"applied"`
	Verified int    `json:"verified"`
	Failed   int    `json:"failed"`
	Waived   int    `json:"waived"`
}

// Credential is where an account's current credential is kept.
type Credential struct {
	Target  string    `json:"target"`
	System  string    `json:"system"`
	Account string    `json:"account"`
	Store   string    `json:"store"`    // "vault", "file"
	Where   string    `json:"location"` // store address or file
	Path    string    `json:"path"`
	Version int       `json:"version"`
	Changed time.Time `json:"changed"`
}

// Action is one change and its proof.
type Action struct {
	Change   plan.Change `json:"change"`
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	// Result: applied, failed, skipped, recovered, rolled-back.
	Result   plan.Result `json:"result"`
	Error    string      `json:"error,omitempty"`
	Attempts int         `json:"attempts,omitempty"`
	// Secret is the store reference of the new credential, if any.
	Secret       string            `json:"secret,omitempty"`
	Verification []connector.Check `json:"verification,omitempty"`
	Verified     bool              `json:"verified"`
}

// ProviderAccess is one of the outgoing provider's footholds.
type ProviderAccess struct {
	Target  string            `json:"target"`
	System  string            `json:"system"`
	Finding connector.Finding `json:"finding"`
	Fate    Fate              `json:"fate"`
	Change  string            `json:"change,omitempty"`
}

// Fate is what became of one of the provider's footholds.
type Fate string

const (
	FateRemoved   Fate = "removed"
	FateLocked    Fate = "locked"
	FateWaived    Fate = "waived"
	FateFailed    Fate = "failed"
	FateRemaining Fate = "remaining"
)

// Handled reports whether the foothold is gone (removed, or its account
// locked).
func (f Fate) Handled() bool { return f == FateRemoved || f == FateLocked }

// Deviations are what did not go to plan, or was knowingly left.
type Deviations struct {
	Failures []Failure     `json:"failures,omitempty"`
	Waivers  []plan.Waived `json:"waivers,omitempty"`
	// Residual are risks left for someone to handle by hand.
	Residual []string `json:"residual,omitempty"`
}

type Failure struct {
	Target string `json:"target"`
	System string `json:"system,omitempty"`
	Change string `json:"change,omitempty"`
	Error  string `json:"error"`
}

// Journal is the run's journal, whose head hash the signature covers.
type Journal struct {
	File    string           `json:"file"` // base name, next to the report
	Head    string           `json:"head"`
	Records []journal.Record `json:"records"`
}

// Signature says who signed the report, as recorded inside the signed
// payload: Write fills it from the Signer, Verify checks it against the key
// that actually made the signatures.
type Signature struct {
	Identity string `json:"identity"`
	// Key is the public key in authorized_keys format.
	Key         string `json:"key"`
	Fingerprint string `json:"fingerprint"`
}
