package mail

import (
	"fmt"
	"strings"
)

// A Sieve script (RFC 5228) is read with a tokenizer and a parser of the
// grammar's commands, tests and blocks, never with a pattern over the
// whole text: a redirect in a comment or in a string is not an action, and
// the rewrite removes exactly one command's bytes. No Go Sieve library in
// the module proxy this project builds from was found sound enough
// (github.com/foxcpp/go-sieve is not served), hence this small parser.

type sieveTokKind int

const (
	tokIdent sieveTokKind = iota
	tokTag
	tokNumber
	tokString
	tokPunct // ; , [ ] ( ) { }
)

type sieveToken struct {
	kind       sieveTokKind
	text       string // identifier, tag (without ':'), number, punctuation, or the string's value
	start, end int    // byte offsets in the script
}

// tokenizeSieve splits a script into tokens, skipping comments and white
// space.
func tokenizeSieve(src string) ([]sieveToken, error) {
	var toks []sieveToken
	i := 0
	line := func(at int) int { return strings.Count(src[:at], "\n") + 1 }
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line(i))
			}
			i += 2 + end + 2
		case strings.IndexByte(";,[](){}", c) >= 0:
			toks = append(toks, sieveToken{kind: tokPunct, text: string(c), start: i, end: i + 1})
			i++
		case c == '"':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("line %d: unterminated string", line(start))
				}
				if src[i] == '\\' && i+1 < len(src) {
					b.WriteByte(src[i+1])
					i += 2
					continue
				}
				if src[i] == '"' {
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			toks = append(toks, sieveToken{kind: tokString, text: b.String(), start: start, end: i})
		case c == ':':
			start := i
			i++
			j := i
			for j < len(src) && isIdentByte(src[j], j == i) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("line %d: ':' without a tag name", line(start))
			}
			toks = append(toks, sieveToken{kind: tokTag, text: strings.ToLower(src[i:j]), start: start, end: j})
			i = j
		case c >= '0' && c <= '9':
			start := i
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			if i < len(src) && strings.IndexByte("KMGkmg", src[i]) >= 0 {
				i++
			}
			toks = append(toks, sieveToken{kind: tokNumber, text: src[start:i], start: start, end: i})
		case isIdentByte(c, true):
			start := i
			for i < len(src) && isIdentByte(src[i], i == start) {
				i++
			}
			word := src[start:i]
			if strings.EqualFold(word, "text") && i < len(src) && src[i] == ':' {
				// Multi-line string: "text:" to a line holding only ".".
				i++
				nl := strings.IndexByte(src[i:], '\n')
				if nl < 0 {
					return nil, fmt.Errorf("line %d: text: without a line end", line(start))
				}
				if rest := strings.TrimSpace(src[i : i+nl]); rest != "" && !strings.HasPrefix(rest, "#") {
					return nil, fmt.Errorf("line %d: text: must end its line", line(start))
				}
				i += nl + 1
				var b strings.Builder
				for {
					if i >= len(src) {
						return nil, fmt.Errorf("line %d: unterminated text: string", line(start))
					}
					nl := strings.IndexByte(src[i:], '\n')
					var l string
					if nl < 0 {
						l, i = src[i:], len(src)
					} else {
						l, i = src[i:i+nl], i+nl+1
					}
					if strings.TrimRight(l, "\r") == "." {
						break
					}
					if strings.HasPrefix(l, "..") {
						l = l[1:]
					}
					b.WriteString(l + "\n")
				}
				toks = append(toks, sieveToken{kind: tokString, text: b.String(), start: start, end: i})
				continue
			}
			toks = append(toks, sieveToken{kind: tokIdent, text: strings.ToLower(word), start: start, end: i})
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line(i), c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// sieveArg is one argument: a tag, a number, or a string list (a single
// string is a list of one).
type sieveArg struct {
	Tag     string
	Number  string
	Strings []string
	IsList  bool
}

// sieveTest is a test with its arguments and nested tests.
type sieveTest struct {
	Name  string
	Args  []sieveArg
	Tests []sieveTest
}

// sieveCommand is one command, with the byte span it takes in the script
// (from its identifier to its ';' or closing '}').
type sieveCommand struct {
	Name       string
	Args       []sieveArg
	Tests      []sieveTest
	Block      []sieveCommand
	Start, End int
}

type sieveParser struct {
	src  string
	toks []sieveToken
	pos  int
}

// parseSieve parses a whole script.
func parseSieve(src string) ([]sieveCommand, error) {
	toks, err := tokenizeSieve(src)
	if err != nil {
		return nil, err
	}
	p := &sieveParser{src: src, toks: toks}
	cmds, err := p.commands(false)
	if err != nil {
		return nil, err
	}
	return cmds, nil
}

func (p *sieveParser) errorf(format string, args ...any) error {
	at := len(p.src)
	if p.pos < len(p.toks) {
		at = p.toks[p.pos].start
	}
	return fmt.Errorf("line %d: %s", strings.Count(p.src[:at], "\n")+1, fmt.Sprintf(format, args...))
}

func (p *sieveParser) peek() (sieveToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return sieveToken{}, false
}

func (p *sieveParser) isPunct(s string) bool {
	t, ok := p.peek()
	return ok && t.kind == tokPunct && t.text == s
}

func (p *sieveParser) commands(inBlock bool) ([]sieveCommand, error) {
	var out []sieveCommand
	for {
		t, ok := p.peek()
		if !ok {
			if inBlock {
				return nil, p.errorf("missing '}'")
			}
			return out, nil
		}
		if inBlock && t.kind == tokPunct && t.text == "}" {
			return out, nil
		}
		if t.kind != tokIdent {
			return nil, p.errorf("expected a command, found %q", t.text)
		}
		p.pos++
		cmd := sieveCommand{Name: t.text, Start: t.start}
		args, tests, err := p.arguments()
		if err != nil {
			return nil, err
		}
		cmd.Args, cmd.Tests = args, tests
		end, ok := p.peek()
		switch {
		case ok && end.kind == tokPunct && end.text == ";":
			p.pos++
			cmd.End = end.end
		case ok && end.kind == tokPunct && end.text == "{":
			p.pos++
			block, err := p.commands(true)
			if err != nil {
				return nil, err
			}
			closing := p.toks[p.pos]
			p.pos++
			cmd.Block, cmd.End = block, closing.end
		default:
			return nil, p.errorf("command %s: expected ';' or a block", cmd.Name)
		}
		out = append(out, cmd)
	}
}

// arguments reads arguments then an optional test or test list.
func (p *sieveParser) arguments() ([]sieveArg, []sieveTest, error) {
	var args []sieveArg
	for {
		t, ok := p.peek()
		if !ok {
			return args, nil, nil
		}
		switch {
		case t.kind == tokTag:
			p.pos++
			args = append(args, sieveArg{Tag: t.text})
		case t.kind == tokNumber:
			p.pos++
			args = append(args, sieveArg{Number: t.text})
		case t.kind == tokString:
			p.pos++
			args = append(args, sieveArg{Strings: []string{t.text}})
		case t.kind == tokPunct && t.text == "[":
			p.pos++
			l := sieveArg{IsList: true}
			for {
				s, ok := p.peek()
				if !ok || s.kind != tokString {
					return nil, nil, p.errorf("expected a string in a string list")
				}
				p.pos++
				l.Strings = append(l.Strings, s.text)
				if p.isPunct(",") {
					p.pos++
					continue
				}
				if p.isPunct("]") {
					p.pos++
					break
				}
				return nil, nil, p.errorf("expected ',' or ']' in a string list")
			}
			args = append(args, l)
		case t.kind == tokIdent:
			test, err := p.test()
			if err != nil {
				return nil, nil, err
			}
			return args, []sieveTest{test}, nil
		case t.kind == tokPunct && t.text == "(":
			tests, err := p.testList()
			if err != nil {
				return nil, nil, err
			}
			return args, tests, nil
		default:
			return args, nil, nil
		}
	}
}

func (p *sieveParser) test() (sieveTest, error) {
	t, ok := p.peek()
	if !ok || t.kind != tokIdent {
		return sieveTest{}, p.errorf("expected a test")
	}
	p.pos++
	args, tests, err := p.arguments()
	return sieveTest{Name: t.text, Args: args, Tests: tests}, err
}

func (p *sieveParser) testList() ([]sieveTest, error) {
	p.pos++ // (
	var out []sieveTest
	for {
		t, err := p.test()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if p.isPunct(",") {
			p.pos++
			continue
		}
		if p.isPunct(")") {
			p.pos++
			return out, nil
		}
		return nil, p.errorf("expected ',' or ')' in a test list")
	}
}

// sieveAction is an action found in a script that sends mail somewhere:
// redirect, vacation, notify; or an include of another script.
type sieveAction struct {
	Kind      string   // redirect, vacation, notify, include
	Addresses []string // where it sends (redirect target, vacation :from/:addresses, notify method)
	Copy      bool     // redirect :copy (the mailbox keeps its copy)
	Include   string   // included script name
	Global    bool     // include :global
	// Conditional: the action sits inside an if/elsif/else block.
	Conditional bool
	Start, End  int
	Text        string // the command as written
}

// sieveActions lists the script's sending actions and includes, depth
// first.
func sieveActions(src string, cmds []sieveCommand) []sieveAction {
	var out []sieveAction
	var walk func(cs []sieveCommand, nested bool)
	walk = func(cs []sieveCommand, nested bool) {
		for _, c := range cs {
			a := sieveAction{Kind: c.Name, Conditional: nested, Start: c.Start, End: c.End, Text: src[c.Start:c.End]}
			switch c.Name {
			case "redirect":
				for _, arg := range c.Args {
					switch {
					case arg.Tag == "copy":
						a.Copy = true
					case arg.Strings != nil:
						a.Addresses = append(a.Addresses, arg.Strings...)
					}
				}
				out = append(out, a)
			case "vacation":
				for i, arg := range c.Args {
					if (arg.Tag == "from" || arg.Tag == "addresses") && i+1 < len(c.Args) {
						a.Addresses = append(a.Addresses, c.Args[i+1].Strings...)
					}
				}
				out = append(out, a)
			case "notify":
				// RFC 5435: the method is the last string argument.
				for i := len(c.Args) - 1; i >= 0; i-- {
					if c.Args[i].Strings != nil && (i == 0 || c.Args[i-1].Tag == "") {
						for _, m := range c.Args[i].Strings {
							a.Addresses = append(a.Addresses, strings.TrimPrefix(strings.SplitN(m, "?", 2)[0], "mailto:"))
						}
						break
					}
				}
				out = append(out, a)
			case "include":
				for _, arg := range c.Args {
					switch {
					case arg.Tag == "global":
						a.Global = true
					case arg.Strings != nil && len(arg.Strings) == 1:
						a.Include = arg.Strings[0]
					}
				}
				out = append(out, a)
			}
			walk(c.Block, nested || c.Name == "if" || c.Name == "elsif" || c.Name == "else")
		}
	}
	walk(cmds, false)
	return out
}

// removeSieveActions returns the script without the actions whose byte
// spans are given, each with the rest of its line when only blanks follow.
// Everything else is kept byte for byte.
func removeSieveActions(src string, spans [][2]int) string {
	var b strings.Builder
	last := 0
	for _, s := range spans {
		start, end := s[0], s[1]
		// The command's own indentation, when it starts its line.
		ls := start
		for ls > 0 && (src[ls-1] == ' ' || src[ls-1] == '\t') {
			ls--
		}
		if ls == 0 || src[ls-1] == '\n' {
			start = ls
			e := end
			for e < len(src) && (src[e] == ' ' || src[e] == '\t' || src[e] == '\r') {
				e++
			}
			if e < len(src) && src[e] == '\n' {
				end = e + 1
			} else if e == len(src) {
				end = e
			}
		}
		if start < last {
			continue
		}
		b.WriteString(src[last:start])
		last = end
	}
	b.WriteString(src[last:])
	return b.String()
}
