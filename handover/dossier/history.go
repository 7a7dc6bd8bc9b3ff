package dossier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

// HandoffsDir is where the state directory keeps one folder per export,
// import or receipt, each with its own hash-chained journal.
func HandoffsDir(stateDir string) string { return filepath.Join(stateDir, "handoffs") }

// JournalName is the journal's file name inside a handoff's folder.
const JournalName = "journal.jsonl"

// Recorder journals one handoff (an export, an import or a receipt).
type Recorder struct {
	Dir string
	j   *journal.Journal
}

// NewRecorder starts the journal of a handoff named id.
func NewRecorder(stateDir, id, operator, mode string, now func() time.Time, detail map[string]string) (*Recorder, error) {
	dir := filepath.Join(HandoffsDir(stateDir), id)
	j, err := journal.Create(filepath.Join(dir, JournalName), id, operator, now)
	if err != nil {
		return nil, err
	}
	d := map[string]string{"mode": mode}
	for k, v := range detail {
		d[k] = v
	}
	if _, err := j.Append(journal.Record{Kind: journal.RunStart, Detail: d}); err != nil {
		j.Close()
		return nil, err
	}
	return &Recorder{Dir: dir, j: j}, nil
}

// Append writes records durably.
func (r *Recorder) Append(recs ...journal.Record) error {
	_, err := r.j.AppendAll(recs)
	return err
}

// End journals the end and closes the journal.
func (r *Recorder) End(err error) error {
	rec := journal.Record{Kind: journal.RunEnd, Result: plan.Done}
	if err != nil {
		rec.Result, rec.Error = plan.Failed, err.Error()
	}
	_, aerr := r.j.Append(rec)
	return errors.Join(aerr, r.j.Close())
}

// ExportRecords are the journal records of an export before the bundle is
// written: the bundle's recipients and report, then one record per
// credential by store reference.
func ExportRecords(m *Manifest, out string) []journal.Record {
	var fps []string
	for _, r := range m.Recipients {
		fps = append(fps, r.Type+" "+r.Fingerprint)
	}
	recs := []journal.Record{{Kind: journal.Export, Object: out, Detail: map[string]string{
		"recipients": strings.Join(fps, ", "), "report_run": m.Report.Run, "report_sha256": m.Report.SHA256,
		"files": strconv.Itoa(len(m.Files)),
	}}}
	for _, f := range m.Files {
		if c := f.Credential; c != nil {
			recs = append(recs, journal.Record{Kind: journal.Export, Target: c.Target, System: c.System, Object: c.Account,
				Secret: c.Ref(), Detail: map[string]string{"state": string(c.State), "file": f.Name}})
		}
	}
	return recs
}

// ExportOutcome is the record of the bundle written, or not.
func ExportOutcome(b *Built, out string, err error) journal.Record {
	rec := journal.Record{Kind: journal.Outcome, Action: "export", Object: out, Result: plan.Done,
		Detail: map[string]string{"bundle_sha256": b.SHA256, "manifest_sha256": b.ManifestSHA256}}
	if err != nil {
		rec.Result, rec.Error = plan.Failed, err.Error()
	}
	return rec
}

// ReceiptRecord is the journal record of a receipt verified by the client.
func ReceiptRecord(r *Receipt, trusted string) journal.Record {
	imported := make([]string, 0, len(r.Imported))
	for _, i := range r.Imported {
		imported = append(imported, i.From)
	}
	return journal.Record{Kind: journal.Receipt, Object: r.Bundle, Result: plan.Done, Detail: map[string]string{
		"bundle_sha256": r.BundleSHA256, "manifest_sha256": r.ManifestSHA256, "signer": r.Signer,
		"signer_fingerprint": r.SignerFingerprint, "recipient": r.Recipient.Type + " " + r.Recipient.Fingerprint,
		"opened": r.Opened.UTC().Format(time.RFC3339), "report_run": r.Report.Run,
		"imported": strings.Join(imported, ", "), "trusted": trusted,
	}}
}

// KeepReceipt copies a verified receipt and its signature beside the
// journal that records it.
func (r *Recorder) KeepReceipt(b, sig []byte) error {
	if err := atomicfile.Create(filepath.Join(r.Dir, "receipt.json"), b, 0o644); err != nil {
		return err
	}
	return atomicfile.Create(filepath.Join(r.Dir, "receipt.json"+report.SigSuffix), sig, 0o644)
}

// History reads every handoff journal of a state directory, verifies its
// hash chain, and returns the exports and receipts it records, oldest
// first. A journal that does not verify is an error: the report must not
// list a history that was edited.
func History(stateDir string) ([]report.Handoff, error) {
	files, err := filepath.Glob(filepath.Join(HandoffsDir(stateDir), "*", JournalName))
	if err != nil {
		return nil, err
	}
	var out []report.Handoff
	for _, f := range files {
		recs, head, err := journal.VerifyFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, handoffs(recs, head)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// handoffs reads one journal's exports and receipts.
func handoffs(recs []journal.Record, head string) []report.Handoff {
	var out []report.Handoff
	var exp *report.Handoff
	for _, r := range recs {
		switch r.Kind {
		case journal.Export:
			if exp == nil {
				exp = &report.Handoff{Kind: "export", ID: r.Run, Time: r.Time, By: r.Operator, Journal: head, Result: string(plan.Failed), Error: "the export did not finish"}
				for _, fp := range strings.Split(r.Detail["recipients"], ", ") {
					if fp != "" {
						exp.Recipients = append(exp.Recipients, fp)
					}
				}
				exp.Report = r.Detail["report_run"]
				continue
			}
			if r.Secret != "" {
				exp.Credentials = append(exp.Credentials, r.Secret)
			}
		case journal.Outcome:
			if exp != nil && r.Action == "export" {
				exp.Result, exp.Error = string(r.Result), r.Error
				// A bundle that was not written has no hash to show.
				if r.Result == plan.Done {
					exp.BundleSHA256, exp.ManifestSHA256 = r.Detail["bundle_sha256"], r.Detail["manifest_sha256"]
				}
			}
		case journal.Receipt:
			h := report.Handoff{Kind: "receipt", ID: r.Object, Time: r.Time, By: r.Detail["signer"], Fingerprint: r.Detail["signer_fingerprint"],
				Report: r.Detail["report_run"], BundleSHA256: r.Detail["bundle_sha256"], ManifestSHA256: r.Detail["manifest_sha256"],
				Result: string(r.Result), Journal: head}
			if rc := r.Detail["recipient"]; rc != "" {
				h.Recipients = []string{rc}
			}
			if im := r.Detail["imported"]; im != "" {
				h.Imported = len(strings.Split(im, ", "))
			}
			if t, err := time.Parse(time.RFC3339, r.Detail["opened"]); err == nil {
				h.Time = t
			}
			out = append(out, h)
		}
	}
	if exp != nil {
		out = append([]report.Handoff{*exp}, out...)
	}
	return out
}

// LatestExport returns the last export recorded that wrote its bundle.
func LatestExport(stateDir string) (*report.Handoff, error) {
	hs, err := History(stateDir)
	if err != nil {
		return nil, err
	}
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Kind == "export" && hs[i].Result == string(plan.Done) {
			return &hs[i], nil
		}
	}
	return nil, os.ErrNotExist
}
