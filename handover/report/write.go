package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/journal"
)

// Names of the files Write puts in a report directory.
const (
	JSONFile           = "report.json"
	HTMLFile           = "report.html"
	MarkdownFile       = "report.md"
	JournalFile        = "journal.jsonl"
	AllowedSignersFile = "allowed_signers"
	// SigSuffix is appended to a file's name for its detached signature.
	SigSuffix = ".sig"
)

// Files are the paths Write created.
type Files struct {
	Dir            string
	JSON           string
	HTML           string
	Markdown       string
	Journal        string
	AllowedSigners string
	// Signatures holds each signed file's detached signature, in the
	// order JSON, HTML, Markdown, Journal.
	Signatures []string
}

// All lists every file, in the order they were written.
func (f Files) All() []string {
	var out []string
	for _, p := range []string{f.JSON, f.HTML, f.Markdown, f.Journal} {
		if p != "" {
			out = append(out, p)
		}
	}
	out = append(out, f.Signatures...)
	return append(out, f.AllowedSigners)
}

// Write renders, signs and stores a report in dir: report.json (the
// canonical, signed payload), report.html and report.md rendered from it, a
// copy of the run's journal whose head must be r.Journal.Head, a detached
// signature for each, and allowed_signers for the key. A signed report is
// never overwritten: Write refuses a dir that already holds report.json.
func Write(ctx context.Context, dir string, r *Report, journalFile string, s Signer) (Files, error) {
	if r == nil || s == nil {
		return Files{}, errors.New("report: Write needs a report and a signer")
	}
	// The journal is checked while the report is encoded and rendered.
	var jb []byte
	var jerr error
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		jb, jerr = checkJournal(journalFile, r.Journal)
	}()
	defer func() { <-checked }()
	signed := *r
	if signed.FormatVersion == 0 {
		signed.FormatVersion = FormatVersion
	}
	if signed.Lang == "" {
		signed.Lang = DefaultLang
	}
	signed.Journal.File = JournalFile
	pub := s.PublicKey()
	signed.Signature = &Signature{
		Identity:    s.Identity(),
		Key:         keyString(pub),
		Fingerprint: ssh.FingerprintSHA256(pub),
	}
	js, err := Marshal(&signed)
	if err != nil {
		return Files{}, err
	}
	html, md, err := renderAll(&signed, js)
	if err != nil {
		return Files{}, err
	}
	if <-checked; jerr != nil {
		return Files{}, jerr
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("report dir: %w", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, JSONFile)); err == nil {
		return Files{}, fmt.Errorf("report dir %s already holds a signed report; a report is never overwritten", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Files{}, fmt.Errorf("report dir: %w", err)
	}

	f := Files{
		Dir:            dir,
		JSON:           filepath.Join(dir, JSONFile),
		HTML:           filepath.Join(dir, HTMLFile),
		Markdown:       filepath.Join(dir, MarkdownFile),
		Journal:        filepath.Join(dir, JournalFile),
		AllowedSigners: filepath.Join(dir, AllowedSignersFile),
	}
	// The signed files go first and report.json last, so a directory
	// holding report.json is complete. report.json is placed only where
	// none is, even one written since the check above.
	type content struct {
		path string
		data []byte
	}
	var contents []content
	if !signed.Renders("html") {
		f.HTML = ""
	} else {
		contents = append(contents, content{f.HTML, html})
	}
	if !signed.Renders("md") {
		f.Markdown = ""
	} else {
		contents = append(contents, content{f.Markdown, md})
	}
	contents = append(contents, content{f.Journal, jb}, content{f.JSON, js})
	sigs := map[string][]byte{}
	for _, c := range contents {
		sig, err := s.Sign(ctx, c.data)
		if err != nil {
			return Files{}, fmt.Errorf("sign %s: %w", filepath.Base(c.path), err)
		}
		sigs[c.path] = sig
	}
	line := AllowedSignersLine(signed.Signature.Identity, pub) + "\n"
	if err := atomicfile.Write(f.AllowedSigners, []byte(line), 0o644); err != nil {
		return Files{}, err
	}
	for _, c := range contents {
		if err := atomicfile.Write(c.path+SigSuffix, sigs[c.path], 0o644); err != nil {
			return Files{}, err
		}
		place := atomicfile.Write
		if c.path == f.JSON {
			place = atomicfile.Create
		}
		if err := place(c.path, c.data, 0o644); errors.Is(err, fs.ErrExist) {
			return Files{}, fmt.Errorf("report dir %s got a signed report while this one was written; a report is never overwritten", dir)
		} else if err != nil {
			return Files{}, err
		}
	}
	for _, p := range []string{f.JSON, f.HTML, f.Markdown, f.Journal} {
		if p != "" {
			f.Signatures = append(f.Signatures, p+SigSuffix)
		}
	}
	return f, nil
}

func keyString(k ssh.PublicKey) string {
	b := ssh.MarshalAuthorizedKey(k)
	return string(b[:len(b)-1])
}

// checkJournal verifies the run's journal file and that it is the one the
// report describes, and returns its bytes.
func checkJournal(path string, j Journal) ([]byte, error) {
	recs, head, err := journal.VerifyFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if head != j.Head {
		return nil, fmt.Errorf("journal %s ends at %s but the report's journal head is %s", path, short(head), short(j.Head))
	}
	if len(recs) != len(j.Records) {
		return nil, fmt.Errorf("journal %s has %d records but the report lists %d", path, len(recs), len(j.Records))
	}
	for i := range recs {
		if recs[i].Hash != j.Records[i].Hash {
			return nil, fmt.Errorf("journal %s record %d differs from the report's record %d", path, i+1, i+1)
		}
	}
	// Copy the very bytes that verify: the file could be appended to
	// between the check above and this read.
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	again, err := journal.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if h, err := journal.Verify(again); err != nil || h != head {
		return nil, fmt.Errorf("journal %s changed while the report was being written", path)
	}
	return b, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
