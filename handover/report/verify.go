package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/journal"
)

// Verification is what Verify checked and found.
type Verification struct {
	Dir string
	// TrustSource is where the trusted keys came from: the
	// allowed_signers file or playbook the verifier gave, or the
	// allowed_signers shipped with the report.
	TrustSource string
	// IntegrityOnly is true when the keys came with the report: the
	// files are proven unchanged since signed, not who signed them.
	IntegrityOnly bool
	// Trust says in plain words what the signatures prove, given where
	// the keys came from.
	Trust       string
	Identity    string
	Fingerprint string
	Files       []FileCheck
	// ReportSHA256 is report.json's digest, which the renderings embed.
	ReportSHA256   string
	JournalHead    string
	JournalRecords int
	// Shards is how many shard reports a merged report was checked
	// against (verifyShards).
	Shards int
	// Report is the parsed report, when report.json could be read.
	Report   *Report
	Problems []Problem
}

// FileCheck is one signed file.
type FileCheck struct {
	Name     string
	SHA256   string
	SignedOK bool
}

// OK reports whether everything verified.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Problem is one thing that does not verify: which file, where in it, and
// what is wrong.
type Problem struct {
	File  string
	Where string // "line 12", "record 7", "lines 40-61 (…)"
	What  string
}

func (p Problem) String() string {
	if p.Where == "" {
		return p.File + ": " + p.What
	}
	return p.File + " " + p.Where + ": " + p.What
}

// VerifyError lists every problem found.
type VerifyError struct {
	Report   string
	Problems []Problem
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s does not verify (%d problem", e.Report, len(e.Problems))
	if len(e.Problems) > 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p.String())
	}
	return b.String()
}

// Verify checks a written report: the signature of every file against
// the keys trust names (which prove who signed only when the verifier got
// them through another channel: Trust says so), the journal's hash chain
// and that its head and records are the ones report.json signed, and that
// report.html and report.md are exactly what Render makes of report.json.
// It returns a *VerifyError listing every problem, each located by file
// and line or record.
func Verify(ctx context.Context, reportJSON string, trust Trust) (*Verification, error) {
	dir := filepath.Dir(reportJSON)
	v := &Verification{Dir: dir, IntegrityOnly: trust.mode == trustShipped}
	if err := trust.load(dir); err != nil {
		return v, fmt.Errorf("verify: %w", err)
	}
	v.TrustSource = trust.source
	js, err := os.ReadFile(reportJSON)
	if err != nil {
		return v, fmt.Errorf("verify: %w", err)
	}
	v.ReportSHA256 = SHA256(js)
	now := trust.now
	if now.IsZero() {
		now = time.Now()
	}

	vr := &verifier{v: v, dir: dir, signers: trust.signers, now: now, data: map[string][]byte{}, sigs: map[string]*sshsig.Signature{}, sigOK: map[string]bool{}, sigBad: map[string]bool{}}
	jsonName := filepath.Base(reportJSON)
	r, perr := Unmarshal(js)
	v.Report = r
	if r != nil && r.Signature != nil {
		vr.identity = r.Signature.Identity
	}
	journalName := JournalFile
	if r != nil && r.Journal.File != "" && r.Journal.File == filepath.Base(r.Journal.File) {
		journalName = r.Journal.File
	}
	renderings := []string{HTMLFile, MarkdownFile}
	if r != nil {
		renderings = nil
		if r.Renders("html") {
			renderings = append(renderings, HTMLFile)
		}
		if r.Renders("md") {
			renderings = append(renderings, MarkdownFile)
		}
	}
	vr.names = append(append([]string{jsonName}, renderings...), journalName)
	vr.data[jsonName] = js
	if err := vr.signatures(ctx); err != nil {
		return v, err
	}
	v.Trust = trustText(v)

	if perr != nil {
		line := ""
		if m := lineCol.FindStringSubmatch(perr.Error()); m != nil {
			line = "line " + m[1]
		}
		vr.problem(jsonName, line, "cannot be read as a report: %s", strings.TrimPrefix(perr.Error(), lineCol.FindString(perr.Error())))
		return vr.done(jsonName)
	}
	canon, err := Marshal(r)
	if err != nil {
		return v, err
	}
	if !bytes.Equal(canon, js) {
		line, col, got, want := lineDiff(js, canon)
		vr.problem(jsonName, "line "+strconv.Itoa(line), "is not in canonical form (reformatted or edited by hand?): the first difference is at column %d (marked ▶): found %q, canonical %q", col, got, want)
	} else if vr.sigBad[jsonName] && vr.sigOK[HTMLFile] {
		vr.locate(jsonName, js, r)
	}
	vr.signer(r, jsonName)
	vr.journal(r, jsonName, journalName)
	vr.attestations(r, jsonName)
	vr.verifyShards(ctx, r, js, jsonName, trust)
	if !trust.skipRenderings {
		for _, f := range renderings {
			vr.rendering(r, js, jsonName, f)
		}
	}
	return vr.done(jsonName)
}

var lineCol = regexp.MustCompile(`^line (\d+) column \d+: `)

type verifier struct {
	v       *Verification
	dir     string
	names   []string
	signers []allowedSigner
	now     time.Time
	// identity is the signer report.json names, which the trusted
	// entry must allow ("" when report.json cannot say).
	identity string
	data     map[string][]byte
	sigs     map[string]*sshsig.Signature
	sigOK    map[string]bool
	sigBad   map[string]bool // the content does not match a valid signature
	entry    *allowedSigner
}

func (vr *verifier) problem(file, where, format string, args ...any) {
	vr.v.Problems = append(vr.v.Problems, Problem{File: file, Where: where, What: fmt.Sprintf(format, args...)})
}

func (vr *verifier) done(jsonName string) (*Verification, error) {
	if len(vr.v.Problems) == 0 {
		return vr.v, nil
	}
	return vr.v, &VerifyError{Report: filepath.Join(vr.dir, jsonName), Problems: vr.v.Problems}
}

func trustText(v *Verification) string {
	who := v.Identity
	if who == "" {
		who = "the signer"
	}
	if !v.IntegrityOnly {
		return fmt.Sprintf("signatures checked against %s, supplied by you: they prove the files are as %s (key %s) signed them, as far as you trust that source", v.TrustSource, who, v.Fingerprint)
	}
	return fmt.Sprintf("integrity only: signatures checked against the allowed_signers shipped with the report; this proves the files were not changed after key %s signed them, not who signed them (anyone can make a key and ship it with a report). To prove the signer is %s, verify with your own copy of their key (--allowed-signers FILE or --playbook FILE)", v.Fingerprint, who)
}

// signatures reads every file and its signature and checks them.
func (vr *verifier) signatures(ctx context.Context) error {
	// Files holds one entry per name, in order, whatever is missing: the
	// loop below indexes it like names.
	for _, name := range vr.names {
		fc := FileCheck{Name: name}
		if _, ok := vr.data[name]; !ok {
			b, err := os.ReadFile(filepath.Join(vr.dir, name))
			if err != nil {
				vr.problem(name, "", "missing: %s", missing(err))
			} else {
				vr.data[name] = b
			}
		}
		if b, ok := vr.data[name]; ok {
			fc.SHA256 = SHA256(b)
		}
		vr.v.Files = append(vr.v.Files, fc)
		sb, err := os.ReadFile(filepath.Join(vr.dir, name+SigSuffix))
		if err != nil {
			vr.problem(name+SigSuffix, "", "missing: the file is not signed (%s)", missing(err))
			continue
		}
		sig, err := sshsig.Unarmor(sb)
		if err != nil {
			vr.problem(name+SigSuffix, "", "not a readable SSH signature: %v", err)
			continue
		}
		vr.sigs[name] = sig
	}
	vr.extra()
	var fps []string
	for i, name := range vr.names {
		if err := ctx.Err(); err != nil {
			return err
		}
		sig, data := vr.sigs[name], vr.data[name]
		if sig == nil || data == nil {
			continue
		}
		if sig.Namespace != Namespace {
			vr.problem(name+SigSuffix, "", "signature namespace is %q, not %q", sig.Namespace, Namespace)
			continue
		}
		fp := ssh.FingerprintSHA256(sig.PublicKey)
		e, whys := accept(vr.signers, sig.PublicKey, vr.identity, Namespace, vr.now)
		if e == nil {
			if len(whys) == 0 {
				vr.problem(name+SigSuffix, "", "made by key %s, which %s does not list", fp, vr.v.TrustSource)
			} else {
				vr.problem(name+SigSuffix, "", "made by key %s, which %s does not accept here: %s", fp, vr.v.TrustSource, strings.Join(whys, "; "))
			}
			continue
		}
		if !slices.Contains(fps, fp) {
			fps = append(fps, fp)
		}
		if verifies(data, sig, sig.PublicKey) {
			vr.sigOK[name] = true
			vr.v.Files[i].SignedOK = true
			if vr.entry == nil {
				vr.entry = e
				vr.v.Fingerprint = fp
			}
			continue
		}
		swapped := false
		for _, other := range vr.names {
			if other != name && vr.data[other] != nil && verifies(vr.data[other], sig, sig.PublicKey) {
				vr.problem(name+SigSuffix, "", "is the signature of %s, not of %s: signature files were swapped or copied", other, name)
				swapped = true
				break
			}
		}
		if !swapped {
			vr.sigBad[name] = true
			vr.problem(name, "", "does not match its signature %s: the file was changed after it was signed", name+SigSuffix)
		}
	}
	if len(fps) > 1 {
		vr.problem(vr.names[0], "", "its files are signed by different keys (%s)", strings.Join(fps, ", "))
	}
	return nil
}

// missing says why a file could not be read, without repeating its path.
func missing(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file"
	}
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}

// extra reports every entry of the report directory that is not one of
// the report's files, their signatures or allowed_signers: a signed report
// is exactly its files, and anything beside them is unsigned.
func (vr *verifier) extra() {
	entries, err := os.ReadDir(vr.dir)
	if err != nil {
		vr.problem(vr.dir, "", "cannot list the report directory: %v", err)
		return
	}
	want := map[string]bool{AllowedSignersFile: true}
	if r := vr.v.Report; r != nil && len(r.Shards) > 0 {
		want[ShardsDir] = true // checked shard by shard (verifyShards)
	}
	for _, n := range vr.names {
		want[n], want[n+SigSuffix] = true, true
	}
	for _, e := range entries {
		if !want[e.Name()] {
			vr.problem(e.Name(), "", "is not part of the signed report (%s lists no such file): move it out of the report directory", vr.names[0])
		}
	}
}

func verifies(data []byte, sig *sshsig.Signature, key ssh.PublicKey) bool {
	return sshsig.Verify(bytes.NewReader(data), sig, key, sig.HashAlgorithm, Namespace) == nil
}

// signer checks the signer recorded inside report.json against the key
// that signed it and the principals allowed_signers gives that key.
func (vr *verifier) signer(r *Report, jsonName string) {
	s := r.Signature
	if s == nil {
		vr.problem(jsonName, "", "does not record who signed it (no \"signature\" member)")
		return
	}
	vr.v.Identity = s.Identity
	vr.v.Trust = trustText(vr.v)
	if vr.entry == nil {
		return
	}
	if fp := vr.v.Fingerprint; s.Fingerprint != fp {
		vr.problem(jsonName, "", "records signing key %s, but its signatures were made by %s", s.Fingerprint, fp)
	}
}

// journal checks the journal's chain, then that it is the journal the
// report signed: same head, same records.
func (vr *verifier) journal(r *Report, jsonName, journalName string) {
	recs, head, err := journal.VerifyFile(filepath.Join(vr.dir, journalName))
	vr.v.JournalRecords = len(recs)
	vr.v.JournalHead = head
	var ve *journal.VerifyError
	switch {
	case errors.As(err, &ve):
		vr.problem(journalName, "record "+strconv.Itoa(ve.Line), "%s", ve.Msg)
	case err != nil && vr.data[journalName] != nil:
		vr.problem(journalName, "", "%v", err)
	case err == nil && head != r.Journal.Head:
		vr.problem(journalName, "record "+strconv.Itoa(len(recs)), "the journal ends at hash %s, but report.json signed head %s (records were added or removed at the end)", short(head), short(r.Journal.Head))
	}
	if err != nil && vr.data[journalName] == nil {
		return
	}
	if err != nil {
		return // the chain error above locates the change
	}
	n := max(len(recs), len(r.Journal.Records))
	for i := range n {
		where := "record " + strconv.Itoa(i+1)
		switch {
		case i >= len(recs):
			vr.problem(journalName, where, "missing: report.json lists %d records, the journal has %d", len(r.Journal.Records), len(recs))
		case i >= len(r.Journal.Records):
			vr.problem(journalName, where, "not in report.json, which lists %d records", len(r.Journal.Records))
		case !sameRecord(recs[i], r.Journal.Records[i]):
			if vr.sigBad[jsonName] && vr.sigOK[journalName] {
				vr.problem(jsonName, "journal "+where, "differs from %s %s (signed, intact)", journalName, where)
			} else {
				vr.problem(journalName, where, "differs from %s that report.json signed", where)
			}
		default:
			continue
		}
		return // the first difference is the one that matters
	}
}

func sameRecord(a, b journal.Record) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

var embeddedSHA = map[string]*regexp.Regexp{
	HTMLFile:     regexp.MustCompile(`<meta name="handover-report-sha256" content="([0-9a-f]{64})">`),
	MarkdownFile: regexp.MustCompile("report\\.json SHA-256: `([0-9a-f]{64})`\n$"),
}

// rendering checks that a rendering names this report.json's digest and is
// byte for byte what Render makes of it.
func (vr *verifier) rendering(r *Report, js []byte, jsonName, name string) {
	got := vr.data[name]
	if got == nil {
		return
	}
	if vr.sigBad[jsonName] && vr.sigOK[name] {
		// The signed rendering is intact: report.json is what changed,
		// and locate has said where.
		return
	}
	if m := embeddedSHA[name].FindSubmatch(got); m == nil {
		vr.problem(name, "", "does not embed the SHA-256 of the report.json it was rendered from")
	} else if string(m[1]) != SHA256(js) {
		line, _ := position(got, embeddedSHA[name].FindSubmatchIndex(got)[2])
		vr.problem(name, "line "+strconv.Itoa(line), "was rendered from a report.json with SHA-256 %s, not this one (%s)", short(string(m[1])), short(SHA256(js)))
	}
	want, err := render(r, js, formatOf(name), r.Lang)
	if err != nil {
		vr.problem(name, "", "cannot be re-rendered from report.json: %v", err)
		return
	}
	if !bytes.Equal(got, want) {
		line, g, w := firstDiff(got, want)
		vr.problem(name, "line "+strconv.Itoa(line), "differs from the rendering of report.json: found %q, expected %q", g, w)
	}
}

func formatOf(name string) string {
	if strings.HasSuffix(name, ".md") {
		return "md"
	}
	return "html"
}

var htmlIndex = regexp.MustCompile(`<script type="application/json" id="handover-index">([^<]*)</script>`)

// locate finds which parts of a changed report.json differ from what was
// signed, using the index embedded in the (intact, signed) report.html,
// and names their lines.
func (vr *verifier) locate(jsonName string, js []byte, r *Report) {
	m := htmlIndex.FindSubmatch(vr.data[HTMLFile])
	if m == nil {
		return
	}
	var signed struct {
		Index []indexEntry `json:"index"`
	}
	if err := json.Unmarshal(m[1], &signed); err != nil {
		return
	}
	cur, err := spans(js)
	if err != nil {
		return
	}
	was := make(map[string]string, len(signed.Index))
	for _, e := range signed.Index {
		was[e.Path] = e.Sum
	}
	now := make(map[string]bool, len(cur))
	changed := map[string]bool{}
	for _, s := range cur {
		now[s.Path] = true
		if was[s.Path] != s.Sum {
			changed[s.Path] = true
		}
	}
	// Report the innermost changed parts only.
	inner := map[string]bool{}
	for p := range changed {
		for q := parent(p); q != ""; q = parent(q) {
			inner[q] = true
		}
	}
	found := false
	for _, s := range cur {
		if !changed[s.Path] || inner[s.Path] {
			continue
		}
		a, _ := position(js, s.Start)
		b, _ := position(js, s.End)
		where := "line " + strconv.Itoa(a)
		if b > a {
			where = fmt.Sprintf("lines %d-%d", a, b)
		}
		what := describe(s.Path, r)
		if _, ok := was[s.Path]; !ok {
			vr.problem(jsonName, where, "%s was added after signing", what)
		} else {
			vr.problem(jsonName, where, "%s differs from what was signed", what)
		}
		found = true
	}
	for _, e := range signed.Index {
		if !now[e.Path] {
			vr.problem(jsonName, "", "%s was removed after signing", e.Path)
			found = true
		}
	}
	if !found {
		vr.problem(jsonName+SigSuffix, "", "report.json's content matches the index of the signed, intact report.html: the signature file itself was damaged or replaced")
		return
	}
	// The signed rendering shows the signed value: quote the first
	// difference between it and a rendering of the changed report.
	if again, err := render(r, js, "html", r.Lang); err == nil {
		line, g, w := bodyDiff(vr.data[HTMLFile], again)
		vr.problem(HTMLFile, "line "+strconv.Itoa(line), "(signed, intact) shows %q where the changed report.json gives %q", g, w)
	}
}

// bodyDiff is firstDiff on two HTML renderings of different report.json
// files, past their head (whose digests differ anyway) and with the
// embedded digests masked, so it finds the first visible difference.
func bodyDiff(a, b []byte) (line int, got, want string) {
	ai := max(bytes.Index(a, []byte("<body>")), 0)
	bi := max(bytes.Index(b, []byte("<body>")), 0)
	mask := func(h []byte) []byte { return sha64.ReplaceAll(h, bytes.Repeat([]byte{'0'}, 64)) }
	line, got, want = firstDiff(mask(a[ai:]), mask(b[bi:]))
	return line + bytes.Count(a[:ai], []byte{'\n'}), got, want
}

var sha64 = regexp.MustCompile(`[0-9a-f]{64}`)

// parent strips the last member or index from a path.
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

var pathRE = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](?:\.systems\[(\d+)\])?$`)

// describe names a part of the report for a reader.
func describe(p string, r *Report) string {
	m := pathRE.FindStringSubmatch(p)
	if m == nil {
		return fmt.Sprintf("%q", p)
	}
	i, _ := strconv.Atoi(m[2])
	switch m[1] {
	case "dossier", "after":
		invs := r.Dossier
		if m[1] == "after" {
			invs = r.After
		}
		if i >= len(invs) {
			break
		}
		if m[3] != "" {
			j, _ := strconv.Atoi(m[3])
			if j < len(invs[i].Systems) {
				return fmt.Sprintf("%s (system %q of target %q)", p, invs[i].Systems[j].Name, invs[i].Target)
			}
			break
		}
		return fmt.Sprintf("%s (target %q)", p, invs[i].Target)
	case "actions":
		if i < len(r.Actions) {
			c := r.Actions[i].Change
			return fmt.Sprintf("%s (action %d: %s %s on %s/%s)", p, i+1, c.Action, c.Object, c.Target, c.System)
		}
	case "credentials":
		if i < len(r.Credentials) {
			c := r.Credentials[i]
			return fmt.Sprintf("%s (credential of %s on %s/%s)", p, c.Account, c.Target, c.System)
		}
	case "outgoing":
		if i < len(r.Outgoing) {
			o := r.Outgoing[i]
			return fmt.Sprintf("%s (provider access %s on %s/%s)", p, o.Finding.ID, o.Target, o.System)
		}
	}
	return p
}
