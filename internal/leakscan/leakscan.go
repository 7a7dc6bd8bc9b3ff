// Package leakscan looks for secrets in the artefacts the integration
// tests leave behind (journals, reports, plans, logs, check output,
// dashboard pages, the output of every CLI invocation): every secret the
// test estate knows and every secret handover generated during the tests,
// each in the forms a leak takes on its way out (raw, JSON-escaped,
// HTML-escaped, URL-encoded, hex, base64 at any alignment).
//
// A hit names the file, the offset, the form and where the secret came
// from, never the secret itself.
package leakscan

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// MinLen is the shortest value looked for: shorter ones would match
// innocent text.
const MinLen = 8

// Secret is one value to look for and where it came from.
type Secret struct {
	Value  string
	Source string // "env.json fleet.hosts[0].root_password_file", "store /x/secrets.age serveurs/h/root#2"
}

// Form is one encoding of a secret, as it would appear in a file.
type Form struct {
	Name   string
	Needle []byte
}

// Forms returns the distinct encodings of v worth looking for.
func Forms(v string) []Form {
	var out []Form
	seen := map[string]bool{}
	add := func(name, s string) {
		if len(s) < MinLen || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, Form{Name: name, Needle: []byte(s)})
	}
	add("raw", v)
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	add("json", strings.TrimSuffix(strings.TrimSuffix(js.String(), "\n"), `"`)[1:])
	jh, _ := json.Marshal(v) // Go's default: <, > and & as \u003c...
	add("json", string(jh[1:len(jh)-1]))
	add("html", html.EscapeString(v))
	add("html", strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(v))
	add("url", url.QueryEscape(v))
	add("url", url.PathEscape(v))
	add("hex", hex.EncodeToString([]byte(v)))
	add("hex", strings.ToUpper(hex.EncodeToString([]byte(v))))
	// base64 of a secret inside a longer encoded text depends on where it
	// starts modulo 3: for each alignment, the characters that depend on
	// the secret's bytes alone.
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := 0; shift < 3; shift++ {
			b := append(make([]byte, shift), v...)
			s := e.WithPadding(base64.NoPadding).EncodeToString(b)
			// Drop the characters mixing in the padding bytes before, and
			// the last group, which mixes in whatever follows.
			start := (shift*8 + 5) / 6
			end := (len(b) / 3) * 4
			if shift == 0 {
				start = 0
			}
			if end > start {
				add("base64", s[start:end])
			}
		}
	}
	return out
}

// Hit is one secret found in one file.
type Hit struct {
	File   string
	Offset int
	Form   string
	Source string
}

func (h Hit) String() string {
	return fmt.Sprintf("%s: offset %d: a secret (%s) in %s form", h.File, h.Offset, h.Source, h.Form)
}

// Scanner holds the secrets' forms.
type Scanner struct {
	forms   []Form
	sources []string
	index   map[uint64][]int // forms by their first 8 bytes
	// Ignored says which files are not scanned: ciphertext (the stores,
	// dossier bundles), and the files a test named in an IgnoreFile.
	skipped int
}

// New prepares a scanner for secrets (short and duplicate values are
// dropped).
func New(secrets []Secret) *Scanner {
	s := &Scanner{}
	seen := map[string]bool{}
	for _, sec := range secrets {
		v := sec.Value
		if strings.TrimSpace(v) != "" && utf8.ValidString(v) {
			v = strings.TrimSpace(v)
		}
		if len(v) < MinLen || seen[v] {
			continue
		}
		seen[v] = true
		for _, f := range Forms(v) {
			s.forms = append(s.forms, f)
			s.sources = append(s.sources, sec.Source)
		}
	}
	return s
}

// Needles is how many encoded forms the scanner looks for.
func (s *Scanner) Needles() int { return len(s.forms) }

// Bytes scans one artefact's content. A text with PEM blocks is also
// scanned with its lines joined, so that a key's base64 is found across
// line breaks.
func (s *Scanner) Bytes(name string, b []byte) []Hit {
	hits := s.bytes(name, b)
	if len(hits) == 0 && bytes.Contains(b, []byte("-----BEGIN ")) {
		hits = s.bytes(name+" (lines joined)", bytes.ReplaceAll(b, []byte("\n"), nil))
	}
	return hits
}

// bytes finds the first occurrence of each form in b, in one pass: every
// form is at least MinLen bytes, so the 8 bytes at each offset of b are
// looked up among the forms' first 8 bytes.
func (s *Scanner) bytes(name string, b []byte) []Hit {
	if s.index == nil {
		s.index = map[uint64][]int{}
		for i, f := range s.forms {
			k := binary.LittleEndian.Uint64(f.Needle[:8])
			s.index[k] = append(s.index[k], i)
		}
	}
	var hits []Hit
	found := map[int]bool{}
	for j := 0; j+8 <= len(b); j++ {
		cands, ok := s.index[binary.LittleEndian.Uint64(b[j:j+8])]
		if !ok {
			continue
		}
		for _, i := range cands {
			if !found[i] && bytes.HasPrefix(b[j:], s.forms[i].Needle) {
				found[i] = true
				hits = append(hits, Hit{File: name, Offset: j, Form: s.forms[i].Name, Source: s.sources[i]})
			}
		}
	}
	return hits
}

// IgnoreFile, in a directory of artefacts, lists (one a line, relative to
// that directory, shell patterns allowed) files that hold a secret on
// purpose: the output of `secrets get --reveal`, a credential a test
// wrote for a tool. They are not scanned.
const IgnoreFile = "leakscan.ignore"

// Dir scans every regular file under root. It returns the hits and how
// many files it read.
func (s *Scanner) Dir(root string) ([]Hit, int, error) {
	var hits []Hit
	files := 0
	ignores := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if b, err := os.ReadFile(filepath.Join(p, IgnoreFile)); err == nil {
				ignores[p] = strings.Fields(string(b))
			}
			return nil
		}
		if !d.Type().IsRegular() || d.Name() == IgnoreFile || ignored(ignores, p) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if isCiphertext(b) || bytes.HasPrefix(b, []byte("\x7fELF")) {
			s.skipped++
			return nil
		}
		files++
		hits = append(hits, s.Bytes(p, b)...)
		return nil
	})
	sort.Slice(hits, func(i, j int) bool { return hits[i].File < hits[j].File })
	return hits, files, err
}

// Skipped is how many files were ciphertext (age files) or programs.
func (s *Scanner) Skipped() int { return s.skipped }

func ignored(ignores map[string][]string, p string) bool {
	for dir, pats := range ignores {
		rel, err := filepath.Rel(dir, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, pat := range pats {
			if ok, _ := filepath.Match(pat, rel); ok {
				return true
			}
		}
	}
	return false
}

// isCiphertext: an age file (a store, a dossier bundle) holds no readable
// secret; its plaintext is read by Stores instead.
func isCiphertext(b []byte) bool {
	return bytes.HasPrefix(b, []byte("age-encryption.org/")) || bytes.HasPrefix(b, []byte("handover-secret-store/")) ||
		bytes.HasPrefix(b, []byte("-----BEGIN AGE ENCRYPTED FILE-----"))
}
