package frenchtest

import (
	"fmt"
	"html"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// englishOnly are words French never uses, nor the commands, paths and
// names a manual step keeps as they are: one of them in a French
// rendering is English left untranslated.
var englishOnly = []string{
	"the", "of", "is", "are", "was", "were", "be", "been", "by", "with", "which", "that", "its", "it", "and", "not",
	"every", "each", "then", "when", "once", "only", "has", "have", "had", "can", "cannot", "into", "after", "before",
	"this", "these", "those", "from", "whose", "who", "what", "where", "there", "their", "them", "they", "would",
	"could", "should", "must", "does", "if", "or", "for", "in", "to", "any", "without", "still",
	"through", "over", "under", "unless", "until", "while", "already", "also", "here", "because", "since",
	"nothing", "never", "running",
	"account", "provider", "provider's", "client's", "outgoing", "hand", "handed",
	"rights", "member", "password", "line", "file", "removed", "kept", "gone", "shared", "unencrypted",
}

// words are the words of s: runs of letters (and apostrophes) between
// spaces and punctuation, of two letters or more; a token with a digit, a
// slash, a dash or a dot (a path, an option, a command's name) is not one.
func words(s string) []string {
	var out []string
	for _, tok := range strings.Fields(s) {
		tok = strings.Trim(tok, `()[],;:.!?"'«»…`)
		if len(tok) < 2 || strings.IndexFunc(tok, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '\'') }) >= 0 {
			continue
		}
		out = append(out, tok)
	}
	return out
}

// hasWords reports whether a format's own text has a word.
func hasWords(format string) bool {
	return len(words(verbRE.ReplaceAllString(format, " "))) > 0
}

// EnglishWords are the words of s only English uses, in order, each once.
func EnglishWords(s string) []string {
	var out []string
	for _, tok := range words(s) {
		if slices.Contains(englishOnly, tok) && !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// clause splits a format's own text where a phrase of it may end: at its
// punctuation.
var clause = regexp.MustCompile(`[;:,()"]+|\s[—–]\s`)

// Fragments are the English runs of a format's own text: each clause
// (between two verbs or punctuation marks) that has two words or more,
// one of them English-only. A French rendering of the wording contains
// none of them, nor a part of it the French left out.
func Fragments(format string) []string {
	var out []string
	for _, chunk := range verbRE.Split(strings.ReplaceAll(format, "%%", "%"), -1) {
		for _, frag := range clause.Split(chunk, -1) {
			frag = strings.TrimSpace(frag)
			if len(frag) >= 8 && strings.Contains(frag, " ") && len(EnglishWords(frag)) > 0 && !slices.Contains(out, frag) {
				out = append(out, frag)
			}
		}
	}
	return out
}

// Fill gives each verb of format a sample value, one of the estate's
// (xq1, "xq2", 43...), and returns the text with the samples it holds.
func Fill(format string) (text string, samples []string) {
	n := 0
	text = verbRE.ReplaceAllStringFunc(format, func(verb string) string {
		if verb == "%%" {
			return "%"
		}
		n++
		switch verb[len(verb)-1] {
		case 'd', 'x':
			return fmt.Sprint(40 + n)
		case 'q':
			s := fmt.Sprintf("xq%d", n)
			samples = append(samples, s)
			return `"` + s + `"`
		}
		s := fmt.Sprintf("xq%d", n)
		samples = append(samples, s)
		return s
	})
	return text, samples
}

// fragmentRE finds a fragment as whole words.
func fragmentRE(frag string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^\pL])` + regexp.QuoteMeta(frag) + `(?:$|[^\pL])`)
}

// Leaks are the fragments found in text as whole words.
func Leaks(text string, fragments []string) []string {
	var out []string
	for _, f := range fragments {
		if strings.Contains(text, f) && fragmentRE(f).MatchString(text) {
			out = append(out, f)
		}
	}
	return out
}

// ToolWordings reads the wordings of the connectors (connectors/...), of
// the connector package (the reasons it words for them) and of the
// engine, from the module's root directory.
func ToolWordings(root string) ([]Wording, error) {
	dirs, err := Dirs(filepath.Join(root, "connectors"))
	if err != nil {
		return nil, err
	}
	dirs = append(dirs, filepath.Join(root, "handover", "connector"), filepath.Join(root, "handover", "engine"))
	return Wordings(dirs...)
}

// AllFragments are the English fragments of every wording, each once.
func AllFragments(ws []Wording) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range ws {
		for _, f := range Fragments(w.Format) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

var (
	bodyStart   = regexp.MustCompile(`<body[^>]*>`)
	scriptStyle = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>`)
	tag         = regexp.MustCompile(`<[^>]+>`)
)

// Text is what a rendering shows a reader: the Markdown as it is, the
// HTML's body without its tags, styles and scripts (one line per tag).
func Text(page []byte, format string) string {
	s := string(page)
	if format == "md" {
		return s
	}
	if loc := bodyStart.FindStringIndex(s); loc != nil {
		s = s[loc[0]:]
	}
	s = scriptStyle.ReplaceAllString(s, "")
	return html.UnescapeString(tag.ReplaceAllString(s, "\n"))
}

// Where is a leak in its context, for a failure's message.
func Where(text, leak string) string {
	i := fragmentRE(leak).FindStringIndex(text)
	if i == nil {
		return leak
	}
	return "…" + strings.ReplaceAll(text[max(0, i[0]-80):min(len(text), i[1]+40)], "\n", " ") + "…"
}

// OwnText is how many characters of a format's text are its own, its
// values aside: what the wording that reads a text of it accounts for.
func OwnText(format string) int {
	return len(verbRE.ReplaceAllStringFunc(format, func(v string) string {
		if v == "%%" {
			return "%"
		}
		return ""
	}))
}
