package playbook

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"go.yaml.in/yaml/v3"
)

// Pos is a position in a playbook file.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Diagnostic is one problem in a playbook, at a position.
type Diagnostic struct {
	Pos Pos    `json:"pos"`
	Msg string `json:"message"`
}

func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Msg }

// Diagnostics is every problem found, in file order. It is an error when
// not empty.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders diagnostics by position.
func (ds Diagnostics) Sort() {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
}

// Decoder walks yaml.Nodes, collecting diagnostics instead of stopping at
// the first. Connectors decode their target settings with it.
type Decoder struct {
	file  string
	diags Diagnostics
	refs  []Ref
	// unreadable is set when the file is not a YAML document at all.
	unreadable bool
	// keys is every key each mapping decoded so far accepts, by what the
	// mapping is: the schema as the code knows it (see Keys).
	keys map[string]map[string]bool
}

// Keys returns, for each kind of mapping decoded so far ("playbook",
// "signing", "ssh target", ...), every key it accepts, whether the
// playbook used it or not. It lets a test hold the documentation to the
// code.
func (d *Decoder) Keys() map[string][]string {
	out := make(map[string][]string, len(d.keys))
	for what, ks := range d.keys {
		for k := range ks {
			out[what] = append(out[what], k)
		}
		slices.Sort(out[what])
	}
	return out
}

// Unreadable reports whether the file could not be read as YAML (a syntax
// error, or empty): nothing was decoded, so any check of what it holds
// would only add problems that are not there.
func (d *Decoder) Unreadable() bool { return d.unreadable }

// NewDecoder returns a Decoder whose diagnostics name file.
func NewDecoder(file string) *Decoder { return &Decoder{file: file} }

// Diagnostics returns what was collected so far, sorted.
func (d *Decoder) Diagnostics() Diagnostics {
	d.diags.Sort()
	// One problem said once, though several targets may find it (an
	// unknown agent name, for every ssh target).
	d.diags = slices.Compact(d.diags)
	return d.diags
}

// Refs returns every credential reference decoded so far.
func (d *Decoder) Refs() []Ref { return d.refs }

// Pos returns n's position.
func (d *Decoder) Pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: d.file}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// Errorf records a problem at n.
func (d *Decoder) Errorf(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: d.Pos(n), Msg: fmt.Sprintf(format, args...)})
}

// Field describes one key of a mapping.
type Field struct {
	Required bool
	Decode   func(*yaml.Node)
}

// Map decodes a mapping whose keys must all be in fields. Unknown keys,
// duplicates and missing required keys are reported. It returns false when
// n is not a mapping.
func (d *Decoder) Map(n *yaml.Node, what string, fields map[string]Field) bool {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping", what)
		return false
	}
	if d.keys == nil {
		d.keys = map[string]map[string]bool{}
	}
	if d.keys[what] == nil {
		d.keys[what] = map[string]bool{}
	}
	for name := range fields {
		d.keys[what][name] = true
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		if k.Tag == "!!merge" {
			d.Errorf(k, "merge keys (<<) are not supported")
			continue
		}
		f, ok := fields[k.Value]
		if !ok {
			d.Errorf(k, "unknown key %q in %s%s", k.Value, what, suggest(k.Value, fields))
			continue
		}
		if seen[k.Value] {
			d.Errorf(k, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		if f.Decode != nil {
			f.Decode(v)
		}
	}
	var missing []string
	for name, f := range fields {
		if f.Required && !seen[name] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		d.Errorf(n, "%s: missing required key %q", what, name)
	}
	return true
}

func suggest(key string, fields map[string]Field) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	return Suggest(key, names)
}

// Suggest returns ` (did you mean "NAME"?)` for the name nearest to key
// among names (at most two edits away), or "".
func Suggest(key string, names []string) string {
	best, bestDist := "", 3
	for _, name := range names {
		if dist := levenshtein.ComputeDistance(key, name); dist < bestDist || (dist == bestDist && name < best) {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (d *Decoder) scalar(n *yaml.Node, what string) (string, bool) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		d.Errorf(n, "%s must be a single value", what)
		return "", false
	}
	return n.Value, true
}

// String decodes a scalar.
func (d *Decoder) String(n *yaml.Node, what string) string {
	s, _ := d.scalar(n, what)
	if strings.HasPrefix(strings.TrimSpace(s), "${") {
		d.Errorf(n, "%s: references (${...}) are only allowed in credential fields", what)
	}
	return s
}

// NonEmpty decodes a scalar that must not be empty.
func (d *Decoder) NonEmpty(n *yaml.Node, what string) string {
	s := d.String(n, what)
	if strings.TrimSpace(s) == "" && n != nil && n.Kind == yaml.ScalarNode {
		d.Errorf(n, "%s must not be empty", what)
	}
	return s
}

// OneOf decodes a scalar that must be one of allowed.
func (d *Decoder) OneOf(n *yaml.Node, what string, allowed ...string) string {
	s, ok := d.scalar(n, what)
	if ok && !slices.Contains(allowed, s) {
		d.Errorf(n, "%s must be one of %s, not %q", what, strings.Join(allowed, ", "), s)
	}
	return s
}

// Int decodes an integer within [lo, hi].
func (d *Decoder) Int(n *yaml.Node, what string, lo, hi int) int {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	var v int
	if _, err := fmt.Sscanf(s, "%d", &v); err != nil || fmt.Sprint(v) != s {
		d.Errorf(n, "%s must be a whole number, not %q", what, s)
		return 0
	}
	if v < lo || v > hi {
		d.Errorf(n, "%s must be between %d and %d, not %d", what, lo, hi, v)
	}
	return v
}

// Bool decodes true/false.
func (d *Decoder) Bool(n *yaml.Node, what string) bool {
	s, ok := d.scalar(n, what)
	if !ok {
		return false
	}
	switch s {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	d.Errorf(n, "%s must be true or false, not %q", what, s)
	return false
}

// Duration decodes a Go duration, with "d" accepted for days.
func (d *Decoder) Duration(n *yaml.Node, what string) time.Duration {
	s, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.Errorf(n, "%s: %v", what, err)
	}
	return v
}

// ParseDuration is time.ParseDuration plus whole days ("90d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (examples: 30s, 5m, 90d)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return v, nil
}

// Date decodes a YYYY-MM-DD date.
func (d *Decoder) Date(n *yaml.Node, what string) time.Time {
	s, ok := d.scalar(n, what)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		d.Errorf(n, "%s must be a date like 2026-11-23, not %q", what, s)
	}
	return t
}

// Strings decodes a sequence of scalars, or a single scalar as a list of one.
func (d *Decoder) Strings(n *yaml.Node, what string) []string {
	n = resolveAlias(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		return []string{d.String(n, what)}
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s must be a list", what)
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, item := range n.Content {
		out = append(out, d.String(item, what+" item"))
	}
	return out
}

// Seq calls each for every item of a sequence.
func (d *Decoder) Seq(n *yaml.Node, what string, each func(*yaml.Node)) {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s must be a list", what)
		return
	}
	for _, item := range n.Content {
		each(resolveAlias(item))
	}
}

// ErrorAt records a problem at a known position.
func (d *Decoder) ErrorAt(p Pos, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: p, Msg: fmt.Sprintf(format, args...)})
}
