package dossier

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
)

// Letters are the two documents the parties sign on paper: the outgoing
// provider's commitment, and the procès-verbal de remise du dossier. Each
// names the signed report by its SHA-256 and the bundle by its own, so
// that the signed paper and the signed files refer to each other.
const (
	Commitment = "commitment"
	Remise     = "remise"
)

// LetterInput is what the letters are made of: the signed report, the
// export of the bundle they record, and the contractual delay for
// returning or destroying copies.
type LetterInput struct {
	Report       *report.Report
	ReportSHA256 string
	// ReportFiles are the signed report's files and their SHA-256, as the
	// bundle holds them.
	ReportFiles []File
	// Export is the bundle handed over (nil: the procès-verbal says no
	// bundle was recorded).
	Export *report.Handoff
	// Receipts for that bundle, if the client recorded any.
	Receipts []report.Handoff
	// ReturnWithin is the contractual delay, as the contract words it
	// ("30 jours", "30 days"); empty: "the contractual delay".
	ReturnWithin string
	Lang         string
	Now          time.Time
}

// ReportFileList reads the SHA-256 of a signed report directory's files.
func ReportFileList(dir string) ([]File, error) {
	_, files, err := reportFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, f := range files {
		out = append(out, File{Name: ReportDir + f.name, Kind: f.kind, Size: len(f.data), SHA256: report.SHA256(f.data)})
	}
	return out, nil
}

type letterView struct {
	T            map[string]string
	Lang         string
	In           LetterInput
	Date         string
	HandoverDate string
	Contract     string
	Removed      []letterRow
	Rotated      []letterRow
	Deviations   []string
	Signatures   []string
	Delay        string
}

type letterRow struct{ Target, System, What, Object, Date string }

// RenderLetter renders one letter as "html" or "md".
func RenderLetter(kind, format string, in LetterInput) ([]byte, error) {
	t, ok := letterWords[in.Lang]
	if !ok {
		return nil, fmt.Errorf("letters: language %q: fr or en", in.Lang)
	}
	v := &letterView{T: t, Lang: in.Lang, In: in, Date: longDay(in.Now, in.Lang), Contract: in.Report.Handover.Contract}
	if v.Contract == "" {
		v.Contract = t["no_contract"]
	}
	v.HandoverDate = longDay(in.Report.Handover.Date, in.Lang)
	v.Delay = in.ReturnWithin
	if v.Delay == "" {
		v.Delay = t["delay_default"]
	}
	finished := map[string]time.Time{}
	for _, a := range in.Report.Actions {
		finished[a.Change.ID] = a.Finished
		if a.Change.Action == plan.RotatePassword && a.Result == plan.Applied && a.Verified {
			v.Rotated = append(v.Rotated, letterRow{Target: a.Change.Target, System: a.Change.System, Object: a.Change.Object, Date: longDay(a.Finished, in.Lang)})
		}
	}
	for _, o := range in.Report.Outgoing {
		if !o.Fate.Handled() {
			continue
		}
		v.Removed = append(v.Removed, letterRow{Target: o.Target, System: o.System, What: o.Finding.Summary, Object: o.Finding.Kind + " · " + o.Finding.Object,
			Date: longDay(finished[o.Change], in.Lang)})
	}
	d := in.Report.Deviations
	for _, f := range d.Failures {
		v.Deviations = append(v.Deviations, strings.TrimSpace(f.Target+"/"+f.System+" "+f.Change+": "+f.Error))
	}
	for _, w := range d.Waivers {
		v.Deviations = append(v.Deviations, fmt.Sprintf("%s/%s %s %s — %s (%s)", w.Change.Target, w.Change.System, w.Change.Action, w.Change.Object, w.Justification, w.Approver))
	}
	v.Deviations = append(v.Deviations, d.Residual...)
	for _, o := range in.Report.Outgoing {
		if !o.Fate.Handled() && o.Fate != report.FateWaived {
			v.Deviations = append(v.Deviations, fmt.Sprintf("%s/%s %s: %s", o.Target, o.System, o.Finding.Summary, o.Fate))
		}
	}
	var src string
	switch {
	case kind == Commitment && format == "html":
		src = htmlHead + commitmentHTML + htmlFoot
	case kind == Remise && format == "html":
		src = htmlHead + remiseHTML + htmlFoot
	case kind == Commitment && format == "md":
		src = commitmentMD
	case kind == Remise && format == "md":
		src = remiseMD
	default:
		return nil, fmt.Errorf("letters: no %s letter in %q (html or md)", kind, format)
	}
	var buf bytes.Buffer
	var err error
	if format == "html" {
		err = template.Must(template.New(kind).Parse(src)).Execute(&buf, v)
	} else {
		// Markdown is plain text: text/template semantics through
		// html/template would escape it.
		err = textTemplate(kind, src, &buf, v)
	}
	if err != nil {
		return nil, fmt.Errorf("letters: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteLetters renders both letters (in render: html or md) and writes
// them, through write, into dir as commitment-LANG.EXT and remise-LANG.EXT
// (EXT: ext, "pdf" when write prints the HTML). It returns the files
// written.
func WriteLetters(dir, ext string, in LetterInput, write func(path string, b []byte) error, render string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, kind := range []string{Commitment, Remise} {
		b, err := RenderLetter(kind, render, in)
		if err != nil {
			return out, err
		}
		p := filepath.Join(dir, kind+"-"+in.Lang+"."+ext)
		if err := write(p, b); err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

var monthsFR = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

func longDay(t time.Time, lang string) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	if lang == "fr" {
		d := fmt.Sprint(t.Day())
		if t.Day() == 1 {
			d = "1er"
		}
		return fmt.Sprintf("%s %s %d", d, monthsFR[t.Month()-1], t.Year())
	}
	return t.Format("2 January 2006")
}
