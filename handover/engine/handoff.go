package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/dossier"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// ReportsDir is where each run's signed report directory goes.
func (s *Session) ReportsDir() string { return s.reportDir() }

// LatestReport is the directory of the newest signed report of the
// playbook (run ids sort by time).
func (s *Session) LatestReport() (string, error) {
	ents, err := os.ReadDir(s.reportDir())
	if err != nil {
		return "", fmt.Errorf("no signed report yet (%w): run the handover first", err)
	}
	for i := len(ents) - 1; i >= 0; i-- {
		dir := filepath.Join(s.reportDir(), ents[i].Name())
		if _, err := os.Stat(filepath.Join(dir, report.JSONFile+report.SigSuffix)); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no signed report in %s: run the handover first", s.reportDir())
}

// ExportOptions say what to hand over, to whom, and where to write it.
type ExportOptions struct {
	Recipients []dossier.Recipient
	Selection  dossier.Selection
	// ReportDir is the signed report to include; "" for the latest.
	ReportDir string
	Output    string
	Force     bool
}

// ExportResult is what an export wrote and recorded.
type ExportResult struct {
	ID       string
	Output   string
	Built    *dossier.Built
	Journal  string
	Selected []secret.Version
}

// ExportDossier writes the encrypted bundle for the incoming provider and
// journals it in the state directory: who, when, to which recipients,
// which credential versions (never a value). The journal's records are
// written before the bundle; the outcome after. The state directory's
// lock keeps a run from changing credentials meanwhile.
func (s *Session) ExportDossier(ctx context.Context, o ExportOptions) (*ExportResult, error) {
	if o.Output == "" {
		return nil, errors.New("no output file: give -o BUNDLE.age")
	}
	if !o.Force {
		if _, err := os.Lstat(o.Output); err == nil {
			return nil, fmt.Errorf("%s exists: refusing to replace it (--force replaces it)", o.Output)
		}
	}
	if len(o.Recipients) == 0 {
		return nil, errors.New("no recipient: give --to RECIPIENT or --recipients-file FILE")
	}
	id := "export-" + s.engine.NewRunID()
	unlock, err := s.lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir := o.ReportDir
	if dir == "" {
		if dir, err = s.LatestReport(); err != nil {
			return nil, err
		}
	}
	st, err := s.Store(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w (nothing was exported)", err)
	}
	vs, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store %s at %s: %w (nothing was exported)", st.Kind(), st.Location(), err)
	}
	for _, t := range s.Playbook.Targets {
		o.Selection.Targets = append(o.Selection.Targets, t.Name)
	}
	picked, err := o.Selection.Pick(vs)
	if err != nil {
		return nil, err
	}
	creds, err := dossier.ReadCredentials(ctx, st, picked)
	if err != nil {
		return nil, fmt.Errorf("%w (nothing was exported)", err)
	}
	defer dossier.Destroy(creds)
	h := s.Playbook.Handover
	h.Operator = s.Operator()
	built, err := dossier.Build(ctx, dossier.Export{
		ID: id, Now: s.engine.now(), ExportedBy: h.Operator, Handover: h,
		Playbook:  report.PlaybookInfo{File: s.Playbook.File, Hash: s.Playbook.Hash},
		ReportDir: dir, Recipients: o.Recipients, Credentials: creds,
	})
	if err != nil {
		return nil, err
	}
	rec, err := dossier.NewRecorder(s.StateDir(), id, h.Operator, "export", s.engine.now, map[string]string{
		"playbook": s.Playbook.File, "playbook_sha256": s.Playbook.Hash, "tool_version": s.engine.Version,
		"store": st.Kind() + ":" + st.Location(),
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w (nothing was exported)", err)
	}
	res := &ExportResult{ID: id, Output: o.Output, Built: built, Journal: filepath.Join(rec.Dir, dossier.JournalName), Selected: picked}
	if err := rec.Append(dossier.ExportRecords(built.Manifest, o.Output)...); err != nil {
		rec.End(err)
		return nil, fmt.Errorf("journal: %w (nothing was exported)", err)
	}
	// The bundle is written whole or not at all: a temporary file, synced,
	// renamed into place.
	if o.Force {
		err = atomicfile.Write(o.Output, built.Ciphertext, 0o600)
	} else {
		err = atomicfile.Create(o.Output, built.Ciphertext, 0o600)
	}
	if err != nil {
		err = fmt.Errorf("bundle %s: %w (no bundle was written)", o.Output, err)
	}
	jerr := rec.Append(dossier.ExportOutcome(built, o.Output, err))
	eerr := rec.End(err)
	if err != nil {
		return nil, err
	}
	if jerr = errors.Join(jerr, eerr); jerr != nil {
		return res, fmt.Errorf("the bundle %s was written, but its journal %s could not be completed: %w", o.Output, res.Journal, jerr)
	}
	return res, nil
}

// RecordReceipt keeps a verified receipt in the state directory and
// journals it, so that the next report lists it. trusted names the
// allowed signers it was verified against.
func (s *Session) RecordReceipt(r *dossier.Receipt, b, sig []byte, trusted string) (string, error) {
	hs, err := dossier.History(s.StateDir())
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(hs, func(h report.Handoff) bool { return h.Kind == "export" && h.BundleSHA256 == r.BundleSHA256 }) {
		return "", fmt.Errorf("the receipt is for bundle %s (sha256 %.16s…), which this playbook's state does not record as exported", r.Bundle, r.BundleSHA256)
	}
	if slices.ContainsFunc(hs, func(h report.Handoff) bool {
		return h.Kind == "receipt" && h.BundleSHA256 == r.BundleSHA256 && h.Fingerprint == r.SignerFingerprint && h.Time.Equal(r.Opened.Truncate(time.Second))
	}) {
		return "", fmt.Errorf("this receipt is already recorded")
	}
	id := "receipt-" + s.engine.NewRunID()
	rec, err := dossier.NewRecorder(s.StateDir(), id, s.Operator(), "receipt", s.engine.now, map[string]string{"playbook": s.Playbook.File})
	if err != nil {
		return "", err
	}
	err = rec.KeepReceipt(b, sig)
	if err == nil {
		err = rec.Append(dossier.ReceiptRecord(r, trusted))
	}
	if eerr := rec.End(err); err == nil {
		err = eerr
	}
	return rec.Dir, err
}

// LoadStoreSettings opens a session on a store settings file (a
// playbook's secrets section on its own): the recipient's own store, into
// which a bundle's credentials are imported.
func (e *Engine) LoadStoreSettings(ctx context.Context, path string) (*Session, error) {
	pb, d, err := playbook.LoadStoreSettings(path)
	if err != nil {
		return nil, err
	}
	if ds := d.Diagnostics(); len(ds) > 0 {
		return nil, ds
	}
	abs, _ := filepath.Abs(pb.Dir)
	s := &Session{Playbook: pb, engine: e}
	s.Resolver = &playbook.Resolver{Dir: abs, Prompt: e.Prompt}
	s.Resolver.Vault = s.readVault
	return s, nil
}

// ImportDossier imports an opened bundle's credentials into the session's
// store, journaled in its state directory: the store is checked first (a
// sealed Vault or a locked file imports nothing), every value is stored
// as pending, then all are made current. Each imported version's
// metadata names the bundle and the reference it came from.
func (s *Session) ImportDossier(ctx context.Context, o *dossier.Opened) ([]dossier.Imported, string, error) {
	st, err := s.Store(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("import store: %w (nothing was imported)", err)
	}
	if err := st.Check(ctx); err != nil {
		return nil, "", fmt.Errorf("import store %s at %s cannot take the credentials: %w (nothing was imported)", st.Kind(), st.Location(), err)
	}
	id := "import-" + s.engine.NewRunID()
	rec, err := dossier.NewRecorder(s.StateDir(), id, s.Operator(), "import", s.engine.now, map[string]string{
		"bundle": o.Manifest.ID, "bundle_sha256": o.SHA256, "store": st.Kind() + ":" + st.Location(),
	})
	if err != nil {
		return nil, "", fmt.Errorf("journal: %w (nothing was imported)", err)
	}
	imported, err := dossier.Import(ctx, st, rec, o)
	if eerr := rec.End(err); err == nil && eerr != nil {
		err = eerr
	}
	return imported, filepath.Join(rec.Dir, dossier.JournalName), err
}

// handoffs lists the dossier's exports and receipts recorded in the state
// directory. Records that do not verify are not listed, and the report
// says so among its residual risks.
func (s *Session) handoffs(r *report.Report) []report.Handoff {
	hs, err := dossier.History(s.StateDir())
	if err != nil {
		s.engine.log().Warn("reading the dossier's handoff records", "error", err)
		r.Deviations.Residual = append(r.Deviations.Residual, "the records of the dossier's exports and receipts could not be read: "+err.Error())
		return nil
	}
	return hs
}
