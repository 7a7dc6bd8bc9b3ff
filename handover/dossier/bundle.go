// Package dossier owns the handover of the dossier to the incoming
// provider: the bundle (one age-encrypted file holding the signed report,
// its journal and signatures, the current credentials of the selected
// targets and a manifest of them all), opening and checking it on the
// receiving side, the signed receipt, the record of exports and receipts
// kept in the client's state directory, and the letters the parties sign.
//
// A bundle's cleartext exists in memory only: it is built as a tar stream
// written straight into age's encryptor, and read back the same way.
package dossier

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// Format names the bundle's layout, recorded in its manifest.
const Format = "handover-dossier/1"

// Names inside a bundle.
const (
	ManifestFile  = "manifest.json"
	ReportDir     = "report/"
	CredentialDir = "credentials/"
)

// Kinds of the files of a bundle.
const (
	KindReport     = "report"     // report.json
	KindRendering  = "rendering"  // report.html, report.md
	KindJournal    = "journal"    // journal.jsonl
	KindSignature  = "signature"  // *.sig
	KindSigners    = "signers"    // allowed_signers shipped with the report
	KindCredential = "credential" // one credential, as JSON
)

// Manifest lists what a bundle holds. It holds no secret value: a
// credential is named by store path and version, and its file by SHA-256.
type Manifest struct {
	Format     string              `json:"format"`
	ID         string              `json:"id"`
	Created    time.Time           `json:"created"`
	ExportedBy string              `json:"exported_by"`
	Handover   playbook.Handover   `json:"handover"`
	Playbook   report.PlaybookInfo `json:"playbook"`
	Report     ReportInfo          `json:"report"`
	Recipients []Recipient         `json:"recipients"`
	Files      []File              `json:"files"`
}

// ReportInfo identifies the signed report a bundle carries.
type ReportInfo struct {
	Run         string `json:"run"`
	SHA256      string `json:"sha256"` // of report.json
	Signer      string `json:"signer"`
	Fingerprint string `json:"fingerprint"`
}

// File is one file of a bundle.
type File struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	// Credential describes a credential file (never its value).
	Credential *CredentialInfo `json:"credential,omitempty"`
}

// CredentialInfo is where a credential came from.
type CredentialInfo struct {
	Target  string       `json:"target"`
	System  string       `json:"system"`
	Account string       `json:"account"`
	Store   string       `json:"store"`
	Path    string       `json:"path"`
	Version int          `json:"version"`
	State   secret.State `json:"state"`
	Created time.Time    `json:"created"`
}

// Ref is the credential's store reference, as journals name it.
func (c CredentialInfo) Ref() string {
	return secret.Ref{Store: c.Store, Path: c.Path, Version: c.Version}.String()
}

// credentialFile is a credential file's content. It exists only inside
// the encrypted stream and in memory.
type credentialFile struct {
	CredentialInfo
	Value string `json:"value"`
}

// Credential is a credential taken from a store or a bundle, with its value.
type Credential struct {
	Info  CredentialInfo
	Value secret.Secret
}

// Selector picks credentials: a target, or a target's system.
type Selector struct{ Target, System string }

// ParseSelector parses TARGET or TARGET/SYSTEM.
func ParseSelector(s string) (Selector, error) {
	t, sys, _ := strings.Cut(s, "/")
	if t == "" || strings.HasSuffix(s, "/") {
		return Selector{}, fmt.Errorf("--select %q: expected TARGET or TARGET/SYSTEM", s)
	}
	return Selector{Target: t, System: sys}, nil
}

func (sel Selector) String() string {
	if sel.System == "" {
		return sel.Target
	}
	return sel.Target + "/" + sel.System
}

func (sel Selector) matches(v secret.Version) bool {
	return v.Meta["target"] == sel.Target && (sel.System == "" || v.Meta["system"] == sel.System)
}

// Selection says which credentials go into a bundle.
type Selection struct {
	// Targets are the playbook's targets: credentials of others sharing
	// the store are never exported.
	Targets []string
	// Select narrows to these targets or systems; empty: every target.
	Select []Selector
	// Pending and Previous add the pending and superseded versions, which
	// are left out unless asked for.
	Pending, Previous bool
}

// Pick returns the store versions the selection takes, or an error naming
// what matched nothing.
func (s Selection) Pick(vs []secret.Version) ([]secret.Version, error) {
	for _, sel := range s.Select {
		if !slices.Contains(s.Targets, sel.Target) {
			return nil, fmt.Errorf("--select %s: the playbook has no target %q (targets: %s)", sel, sel.Target, strings.Join(s.Targets, ", "))
		}
	}
	used := make([]bool, len(s.Select))
	var out []secret.Version
	for _, v := range vs {
		if !slices.Contains(s.Targets, v.Meta["target"]) {
			continue
		}
		switch v.State {
		case secret.Current:
		case secret.Pending:
			if !s.Pending {
				continue
			}
		case secret.Superseded:
			if !s.Previous {
				continue
			}
		default:
			continue
		}
		take := len(s.Select) == 0
		for i, sel := range s.Select {
			if sel.matches(v) {
				used[i], take = true, true
			}
		}
		if take {
			out = append(out, v)
		}
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("--select %s matches no stored credential%s", s.Select[i], s.states())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the store holds no credential%s of this playbook's targets: run the handover first", s.states())
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Version > out[j].Version
	})
	return out, nil
}

func (s Selection) states() string {
	states := []string{"current"}
	if s.Pending {
		states = append(states, "pending")
	}
	if s.Previous {
		states = append(states, "previous")
	}
	return " (" + strings.Join(states, ", ") + ")"
}

// ReadCredentials reads the values of the picked versions from the store.
// The caller destroys them.
func ReadCredentials(ctx context.Context, st secret.Store, vs []secret.Version) ([]Credential, error) {
	var out []Credential
	for _, v := range vs {
		val, meta, err := st.Get(ctx, v.Path, v.Version)
		if err != nil {
			Destroy(out)
			return nil, fmt.Errorf("secret store: %s#%d: %w", v.Path, v.Version, err)
		}
		out = append(out, Credential{Value: val, Info: CredentialInfo{
			Target: meta.Meta["target"], System: meta.Meta["system"], Account: meta.Meta["object"],
			Store: st.Kind(), Path: meta.Path, Version: meta.Version, State: meta.State, Created: meta.Created,
		}})
	}
	return out, nil
}

// Destroy wipes the credentials' values.
func Destroy(cs []Credential) {
	for _, c := range cs {
		c.Value.Destroy()
	}
}

// Export is what goes into a bundle.
type Export struct {
	ID         string
	Now        time.Time
	ExportedBy string
	Handover   playbook.Handover
	Playbook   report.PlaybookInfo
	// ReportDir is the signed report's directory.
	ReportDir   string
	Recipients  []Recipient
	Credentials []Credential
}

// Built is an encrypted bundle, still in memory, and its manifest.
type Built struct {
	Ciphertext     []byte
	SHA256         string
	Manifest       *Manifest
	ManifestSHA256 string
}

// Build makes the bundle: the report directory's files, one file per
// credential and the manifest, as a tar stream encrypted to every
// recipient as it is written. Nothing is written to disk.
func Build(ctx context.Context, x Export) (*Built, error) {
	if len(x.Recipients) == 0 {
		return nil, errors.New("no recipient: give --to or --recipients-file")
	}
	rep, files, err := reportFiles(x.ReportDir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Format: Format, ID: x.ID, Created: x.Now.UTC(), ExportedBy: x.ExportedBy,
		Handover: x.Handover, Playbook: x.Playbook, Report: rep, Recipients: x.Recipients,
	}
	type entry struct {
		name string
		data []byte
	}
	var entries []entry
	for _, f := range files {
		m.Files = append(m.Files, File{Name: ReportDir + f.name, Kind: f.kind, Size: len(f.data), SHA256: report.SHA256(f.data)})
		entries = append(entries, entry{ReportDir + f.name, f.data})
	}
	defer func() {
		for _, e := range entries {
			if strings.HasPrefix(e.name, CredentialDir) {
				clear(e.data)
			}
		}
	}()
	for i, c := range x.Credentials {
		b, err := json.MarshalIndent(credentialFile{CredentialInfo: c.Info, Value: c.Value.Reveal()}, "", "  ")
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s%03d.json", CredentialDir, i+1)
		info := c.Info
		m.Files = append(m.Files, File{Name: name, Kind: KindCredential, Size: len(b), SHA256: report.SHA256(b), Credential: &info})
		entries = append(entries, entry{name, b})
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	mb = append(mb, '\n')
	var ct bytes.Buffer
	var rs []age.Recipient
	for _, r := range x.Recipients {
		rs = append(rs, r.r)
	}
	w, err := age.Encrypt(&ct, rs...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	tw := tar.NewWriter(w)
	for _, e := range append([]entry{{ManifestFile, mb}}, entries...) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.data)), ModTime: m.Created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return &Built{Ciphertext: ct.Bytes(), SHA256: report.SHA256(ct.Bytes()), Manifest: m, ManifestSHA256: report.SHA256(mb)}, nil
}

type namedFile struct {
	name, kind string
	data       []byte
}

// reportFiles reads a signed report's directory: report.json and its
// renderings, the journal, every signature and the shipped signers.
// Nothing else is taken, so a stray file cannot ride along.
func reportFiles(dir string) (ReportInfo, []namedFile, error) {
	js, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		return ReportInfo{}, nil, fmt.Errorf("report: %w", err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		return ReportInfo{}, nil, fmt.Errorf("report %s: %w", dir, err)
	}
	if r.Signature == nil {
		return ReportInfo{}, nil, fmt.Errorf("report %s is not signed", dir)
	}
	info := ReportInfo{Run: r.Run.ID, SHA256: report.SHA256(js), Signer: r.Signature.Identity, Fingerprint: r.Signature.Fingerprint}
	journalName := report.JournalFile
	if r.Journal.File != "" && r.Journal.File == path.Base(r.Journal.File) {
		journalName = r.Journal.File
	}
	want := []struct{ name, kind string }{{report.JSONFile, KindReport}}
	if r.Renders("html") {
		want = append(want, struct{ name, kind string }{report.HTMLFile, KindRendering})
	}
	if r.Renders("md") {
		want = append(want, struct{ name, kind string }{report.MarkdownFile, KindRendering})
	}
	want = append(want, struct{ name, kind string }{journalName, KindJournal})
	var out []namedFile
	for _, w := range want {
		for _, f := range []namedFile{{w.name, w.kind, nil}, {w.name + report.SigSuffix, KindSignature, nil}} {
			b, err := os.ReadFile(filepath.Join(dir, f.name))
			if err != nil {
				return ReportInfo{}, nil, fmt.Errorf("report %s: %w", dir, err)
			}
			f.data = b
			out = append(out, f)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, report.AllowedSignersFile)); err == nil {
		out = append(out, namedFile{report.AllowedSignersFile, KindSigners, b})
	}
	return info, out, nil
}

// maxEntry bounds one file read from a bundle (a report of a large estate
// is megabytes; nothing legitimate comes near this).
const maxEntry = 512 << 20

// readBundle decrypts and reads a bundle's files into memory.
func readBundle(ctx context.Context, ciphertext []byte, ids []age.Identity) (map[string][]byte, []string, error) {
	r, err := age.Decrypt(bytes.NewReader(ciphertext), ids...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, nil, ErrWrongIdentity
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	files := map[string][]byte{}
	var order []string
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			wipeAll(files)
			return nil, nil, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg || name != path.Clean(name) || path.IsAbs(name) || strings.HasPrefix(name, "..") || hdr.Size > maxEntry {
			wipeAll(files)
			return nil, nil, fmt.Errorf("%w: unexpected entry %q", ErrDamaged, name)
		}
		if _, dup := files[name]; dup {
			wipeAll(files)
			return nil, nil, fmt.Errorf("%w: %s appears twice", ErrDamaged, name)
		}
		b := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, b); err != nil {
			wipeAll(files)
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrDamaged, name, err)
		}
		files[name] = b
		order = append(order, name)
	}
	return files, order, nil
}

func wipeAll(files map[string][]byte) {
	for name, b := range files {
		if strings.HasPrefix(name, CredentialDir) {
			clear(b)
		}
	}
}

// Errors Open tells apart.
var (
	ErrWrongIdentity = errors.New("the bundle is not encrypted to this identity")
	ErrDamaged       = errors.New("the bundle is damaged or was altered (age's authentication failed)")
	ErrManifest      = errors.New("the bundle does not match its manifest")
)

// SHA256Hex is the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
