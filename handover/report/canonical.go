package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Marshal encodes r canonically: two-space indentation, struct field
// order, sorted map keys, no HTML escaping, one trailing newline. These are
// the bytes of report.json and the signed payload; Unmarshal followed by
// Marshal gives them back exactly, which is how Verify proves a report.json
// is in canonical form.
func Marshal(r *Report) ([]byte, error) {
	// Encoded compact, then indented into a buffer sized for it once: the
	// encoder's own indentation keeps three growing copies of a report of
	// tens of megabytes alive at once. json.Indent is the encoder's own
	// indentation: the bytes are the same.
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("report: encode: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(compact.Len() + compact.Len()/2)
	if err := json.Indent(&buf, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("report: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes report.json strictly: unknown fields, trailing data and
// another format version are errors that name the line and column.
func Unmarshal(b []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.As(err, &te):
			off = te.Offset
		}
		line, col := position(b, int(off))
		return nil, fmt.Errorf("line %d column %d: %w", line, col, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := position(b, int(dec.InputOffset()))
		return nil, fmt.Errorf("line %d column %d: data after the report object", line, col)
	}
	if r.FormatVersion != FormatVersion && r.FormatVersion != format1 && r.FormatVersion != format2 {
		return nil, fmt.Errorf("format_version %d is not supported (this build reads %d to %d)", r.FormatVersion, format1, FormatVersion)
	}
	return &r, nil
}

// SHA256 is the hex digest the HTML and Markdown renderings embed.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int) (line, col int) {
	off = min(max(off, 0), len(b))
	line = 1 + bytes.Count(b[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// firstDiff returns the 1-based line where a and b first differ and, for
// a message, the text of each around that point.
func firstDiff(a, b []byte) (line int, got, want string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	line, _ = position(a, i)
	return line, around(a, i), around(b, i)
}

// lineDiff finds the first byte where a and b differ and returns its line
// and column in a, and that line of each, untrimmed (so that a change in
// blanks shows) and with ▶ before the first differing byte.
func lineDiff(a, b []byte) (line, col int, got, want string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	line, col = position(a, i)
	return line, col, marked(a, i), marked(b, i)
}

// marked is the line of b holding off, at most 40 bytes either side of
// off, with ▶ at off.
func marked(b []byte, off int) string {
	off = min(off, len(b))
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	end := len(b)
	if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
		end = off + i
	}
	lo, hi := max(start, off-40), min(end, off+40)
	for lo > start && !utf8.RuneStart(b[lo]) {
		lo--
	}
	for hi < end && !utf8.RuneStart(b[hi]) {
		hi++
	}
	s := string(b[lo:off]) + "▶" + string(b[off:hi])
	if lo > start {
		s = "…" + s
	}
	if hi < end {
		s += "…"
	}
	if off == len(b) {
		s += "(end of file)"
	}
	return s
}

// around quotes the part of b's line near off: at most 40 bytes before
// and 50 after, cut at rune boundaries.
func around(b []byte, off int) string {
	off = min(off, len(b))
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	end := len(b)
	if i := bytes.IndexByte(b[off:], '\n'); i >= 0 {
		end = off + i
	}
	lo, hi := max(start, off-40), min(end, off+50)
	for lo > start && !utf8.RuneStart(b[lo]) {
		lo--
	}
	for hi < end && !utf8.RuneStart(b[hi]) {
		hi++
	}
	s := strings.TrimSpace(string(b[lo:hi]))
	if lo > start {
		s = "…" + s
	}
	if hi < end {
		s += "…"
	}
	return s
}

// A span is one part of report.json that the index digests separately, so
// that a change can be located: every top-level member, every element of
// a top-level array (an action, a credential...) and every system of an
// inventory.
type span struct {
	Path       string
	Start, End int // byte offsets
	Sum        string
}

// indexEntry is a span as embedded in report.html: path and digest.
type indexEntry struct {
	Path string `json:"path"`
	Sum  string `json:"sha256"`
}

// spans walks canonical report JSON and digests its locatable parts.
func spans(b []byte) ([]span, error) {
	// A report that does not verify (names twice, bytes that are not
	// UTF-8) is still located, not refused here.
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var out []span
	if err := walk(dec, b, "", 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func walk(dec *jsontext.Decoder, b []byte, path string, depth int, out *[]span) error {
	start := int(dec.InputOffset())
	if !holdsIndexed(path, depth) {
		// Nothing below is digested on its own: the value is skipped
		// whole, which costs a fraction of reading it token by token.
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return digest(b, path, depth, start, int(dec.InputOffset()), out)
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '{':
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return err
			}
			child := k.String()
			if path != "" {
				child = path + "." + child
			}
			if err := walk(dec, b, child, depth+1, out); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.PeekKind() != ']'; i++ {
			if err := walk(dec, b, path+"["+strconv.Itoa(i)+"]", depth+1, out); err != nil {
				return err
			}
		}
	default:
		return digest(b, path, depth, start, int(dec.InputOffset()), out)
	}
	if _, err := dec.ReadToken(); err != nil { // the closing delimiter
		return err
	}
	return digest(b, path, depth, start, int(dec.InputOffset()), out)
}

// digest adds the span of the value at b[start:end] (less the separators
// before it) when it is indexed.
func digest(b []byte, path string, depth, start, end int, out *[]span) error {
	for start < end && strings.IndexByte(" \t\r\n,:", b[start]) >= 0 {
		start++
	}
	if indexed(path, depth) {
		sum := sha256.Sum256(b[start:end])
		*out = append(*out, span{Path: path, Start: start, End: end, Sum: hex.EncodeToString(sum[:8])})
	}
	return nil
}

// holdsIndexed says whether a value may hold indexed parts below it: the
// document, its members, their array elements (less the journal's), and
// an inventory's systems array.
func holdsIndexed(path string, depth int) bool {
	switch depth {
	case 0, 1:
		return true
	case 2:
		return strings.HasSuffix(path, "]") && !strings.HasPrefix(path, "journal")
	case 3:
		return strings.HasSuffix(path, ".systems")
	}
	return false
}

// indexed says which parts are digested: enough to point at one system or
// one action of a 200-host report, few enough to keep report.html small.
// Journal records are located against journal.jsonl instead.
func indexed(path string, depth int) bool {
	switch {
	case depth == 1:
		return true
	case depth == 2:
		return strings.HasSuffix(path, "]") && !strings.HasPrefix(path, "journal")
	case depth == 4:
		return strings.HasSuffix(path, "]") && strings.Contains(path, ".systems[")
	}
	return false
}

func indexOf(ss []span) []indexEntry {
	out := make([]indexEntry, len(ss))
	for i, s := range ss {
		out[i] = indexEntry{Path: s.Path, Sum: s.Sum}
	}
	return out
}
