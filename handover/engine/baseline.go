package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/handoverhq/handover/handover/report"
)

// BaselineInfo says which signed report a check compared with, and how it
// verified.
type BaselineInfo struct {
	Report   string    `json:"report"` // path of report.json
	SHA256   string    `json:"sha256"`
	RunID    string    `json:"run_id"`
	Mode     string    `json:"mode"`
	Finished time.Time `json:"finished"`
	Identity string    `json:"signed_by"`
	Key      string    `json:"key_fingerprint"`
	// Trust is where the trusted key came from (the playbook's signing
	// section).
	Trust string `json:"trust"`
}

// ErrNoBaseline is returned when the report directory holds no signed
// report to compare with.
var ErrNoBaseline = errors.New("no signed report to compare with")

// Reports lists the report.json of every report directory of the playbook
// that holds a signature, newest first (run ids sort by time).
func (s *Session) Reports() ([]string, error) {
	dir := s.reportDir()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join(dir, e.Name(), report.JSONFile)
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(p + report.SigSuffix); err == nil {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// Baseline loads and verifies the report to compare with: path, or the
// newest signed report of the playbook's report directory that holds a
// dossier. Its signatures
// are checked against the playbook's signing key (every file's), its
// canonical form, and its journal's hash chain against the head it
// signed; a report that does not verify is an
// error, never a baseline (an older one is not tried instead).
func (s *Session) Baseline(ctx context.Context, path string) (*report.Report, *BaselineInfo, error) {
	pb := s.Playbook
	if pb.Signing.Key == "" && pb.Signing.PublicKey == "" {
		return nil, nil, fmt.Errorf("baseline: the playbook has no signing section, so a report's signature cannot be checked")
	}
	trust, err := report.TrustSigningKey(pb.Signing, pb.Dir, pb.File)
	if err != nil {
		return nil, nil, fmt.Errorf("baseline: %w", err)
	}
	// The dossier is report.json's: the renderings' signatures are
	// checked, not their content rendered again.
	trust = trust.At(s.engine.now()).WithoutRenderings()
	if path != "" {
		return s.verifyBaseline(ctx, path, trust)
	}
	all, err := s.Reports()
	if err != nil {
		return nil, nil, fmt.Errorf("baseline: %w", err)
	}
	// A report without a dossier (a resume settles rotations and reads no
	// target) is verified, then passed over for the one before it.
	for _, p := range all {
		r, info, err := s.verifyBaseline(ctx, p, trust)
		if err != nil || len(r.Dossier) > 0 {
			return r, info, err
		}
	}
	return nil, nil, fmt.Errorf("baseline: %w in %s: run `handover run` or `handover dossier update` first, or give --baseline REPORT.json", ErrNoBaseline, s.reportDir())
}

func (s *Session) verifyBaseline(ctx context.Context, path string, trust report.Trust) (*report.Report, *BaselineInfo, error) {
	v, err := report.Verify(ctx, path, trust)
	if err != nil {
		return nil, nil, fmt.Errorf("baseline: %w", err)
	}
	r := v.Report
	return r, &BaselineInfo{Report: path, SHA256: v.ReportSHA256, RunID: r.Run.ID, Mode: r.Run.Mode, Finished: r.Run.Finished,
		Identity: v.Identity, Key: v.Fingerprint, Trust: v.TrustSource}, nil
}

// Now is the engine's clock.
func (s *Session) Now() time.Time { return s.engine.now() }

// NewRunID names a run or a check made with this session's engine.
func (s *Session) NewRunID() string { return s.engine.NewRunID() }
