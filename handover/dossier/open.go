package dossier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// Opened is a bundle decrypted and checked.
type Opened struct {
	SHA256         string // of the encrypted bundle
	Manifest       *Manifest
	ManifestSHA256 string
	// Verification is the report's, against the trust given.
	Verification *report.Verification
	Credentials  []Credential
	Identity     Recipient
}

// Destroy wipes the credentials' values.
func (o *Opened) Destroy() { Destroy(o.Credentials) }

// Open decrypts a bundle with id, checks every file against the manifest
// (no file missing, changed or added), and verifies the report's
// signatures and journal against trust, with the same rules as `handover
// verify`. On any error nothing of the bundle is returned.
func Open(ctx context.Context, ciphertext []byte, id *Identity, trust report.Trust) (*Opened, error) {
	files, order, err := readBundle(ctx, ciphertext, id.ids)
	if err != nil {
		return nil, err
	}
	defer wipeAll(files)
	if len(order) == 0 || order[0] != ManifestFile {
		return nil, fmt.Errorf("%w: %s is not its first file", ErrManifest, ManifestFile)
	}
	mb := files[ManifestFile]
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, ManifestFile, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%w: format %q, this build reads %q", ErrManifest, m.Format, Format)
	}
	if err := checkManifest(&m, files); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(m.Recipients, func(r Recipient) bool { return r.Fingerprint == id.Recipient.Fingerprint }) {
		return nil, fmt.Errorf("%w: the identity %s opened it but the manifest does not list it among the recipients", ErrManifest, id.Recipient.Fingerprint)
	}
	v, err := verifyReport(ctx, files, &m, trust)
	if err != nil {
		return nil, err
	}
	o := &Opened{SHA256: report.SHA256(ciphertext), Manifest: &m, ManifestSHA256: report.SHA256(mb), Verification: v, Identity: id.Recipient}
	for _, f := range m.Files {
		if f.Kind != KindCredential {
			continue
		}
		var cf credentialFile
		if err := json.Unmarshal(files[f.Name], &cf); err != nil {
			o.Destroy()
			return nil, fmt.Errorf("%w: %s is not a credential", ErrManifest, f.Name)
		}
		if f.Credential == nil || cf.CredentialInfo != *f.Credential || cf.Value == "" {
			o.Destroy()
			return nil, fmt.Errorf("%w: %s does not hold the credential the manifest names", ErrManifest, f.Name)
		}
		o.Credentials = append(o.Credentials, Credential{Info: cf.CredentialInfo, Value: secret.New(cf.Value)})
		cf.Value = ""
	}
	return o, nil
}

// checkManifest compares the files with the manifest's list.
func checkManifest(m *Manifest, files map[string][]byte) error {
	var problems []string
	listed := map[string]bool{ManifestFile: true}
	for _, f := range m.Files {
		if listed[f.Name] {
			problems = append(problems, f.Name+" is listed twice")
			continue
		}
		listed[f.Name] = true
		b, ok := files[f.Name]
		switch {
		case !ok:
			problems = append(problems, f.Name+" is missing")
		case report.SHA256(b) != f.SHA256 || len(b) != f.Size:
			problems = append(problems, f.Name+" does not match its SHA-256")
		case f.Kind == KindCredential && (f.Credential == nil || !strings.HasPrefix(f.Name, CredentialDir)):
			problems = append(problems, f.Name+" is a credential without its description")
		case f.Kind != KindCredential && !strings.HasPrefix(f.Name, ReportDir):
			problems = append(problems, f.Name+" is outside report/")
		}
	}
	for name := range files {
		if !listed[name] {
			problems = append(problems, name+" is not in the manifest")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%w: %s", ErrManifest, strings.Join(problems, "; "))
	}
	return nil
}

// verifyReport verifies the bundle's report as `handover verify` does.
// report.Verify reads a directory: the report's files (which hold no
// secret) are put in a private temporary one for it, and removed.
func verifyReport(ctx context.Context, files map[string][]byte, m *Manifest, trust report.Trust) (*report.Verification, error) {
	tmp, err := os.MkdirTemp("", "handover-dossier-report-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, f := range m.Files {
		if f.Kind == KindCredential {
			continue
		}
		if err := os.WriteFile(filepath.Join(tmp, strings.TrimPrefix(f.Name, ReportDir)), files[f.Name], 0o600); err != nil {
			return nil, err
		}
	}
	js := filepath.Join(tmp, report.JSONFile)
	v, err := report.Verify(ctx, js, trust)
	if err != nil {
		return v, fmt.Errorf("the bundle's report does not verify: %w", err)
	}
	if v.ReportSHA256 != m.Report.SHA256 {
		return v, fmt.Errorf("%w: report.json is not the report the manifest names", ErrManifest)
	}
	if v.IntegrityOnly {
		return v, fmt.Errorf("the bundle's report was checked for integrity only: say whom you trust to have signed it")
	}
	return v, nil
}
