package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"go.yaml.in/yaml/v3"
	"mvdan.cc/sh/v3/syntax"

	"github.com/handoverhq/handover/connectors/builtin"
	"github.com/handoverhq/handover/connectors/ssh"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// codeBlock is a code block of a Markdown file, as written.
type codeBlock struct {
	file string
	line int // of its first line of code
	info string
	text string
}

// docBlocks returns every code block (fenced or indented) of README.md
// and docs/.
func docBlocks(t *testing.T) []codeBlock {
	t.Helper()
	root := filepath.Join("..", "..")
	files := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []codeBlock
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc := goldmark.New().Parser().Parse(text.NewReader(src))
		err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if !entering {
				return ast.WalkContinue, nil
			}
			var info string
			switch b := n.(type) {
			case *ast.FencedCodeBlock:
				info = string(b.Language(src))
			case *ast.CodeBlock:
			default:
				return ast.WalkContinue, nil
			}
			lines := n.Lines()
			if lines.Len() == 0 {
				return ast.WalkSkipChildren, nil
			}
			var buf bytes.Buffer
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				buf.Write(seg.Value(src))
			}
			rel, _ := filepath.Rel(root, f)
			out = append(out, codeBlock{
				file: rel,
				line: bytes.Count(src[:lines.At(0).Start], []byte("\n")) + 1,
				info: info,
				text: buf.String(),
			})
			return ast.WalkSkipChildren, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// docCommand is one `handover …` command line shown in the docs.
type docCommand struct {
	where    string
	args     []string
	synopsis bool // a usage line: [OPTIONS], a|b, (…): only its command names are checked
}

// synopsisLine tells a usage line (handover plan [OPTIONS] PLAYBOOK) from
// a command to type.
var synopsisLine = regexp.MustCompile(`\[|\(|[^ ]\|[^ ]|…|\.\.\.`)

// docCommands finds the handover command lines in the docs' code blocks:
// console blocks ("$ handover …", with their output) line by line, shell
// blocks parsed as shell, so that pipes, redirections, comments and
// continuation lines are read as a shell reads them.
func docCommands(t *testing.T) []docCommand {
	t.Helper()
	var out []docCommand
	for _, b := range docBlocks(t) {
		if b.info != "" && b.info != "sh" && b.info != "shell" && b.info != "bash" && b.info != "console" && b.info != "text" {
			continue
		}
		lines := strings.Split(b.text, "\n")
		console := false
		for _, l := range lines {
			if strings.HasPrefix(l, "$ ") {
				console = true
			}
		}
		for i := 0; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			where := fmt.Sprintf("%s:%d", b.file, b.line+i)
			if console {
				if !strings.HasPrefix(l, "$ ") {
					continue
				}
				l = strings.TrimPrefix(l, "$ ")
			}
			for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
				i++
				l = strings.TrimSuffix(l, `\`) + " " + strings.TrimSpace(lines[i])
			}
			if !strings.Contains(l, "handover ") {
				continue
			}
			if cmd, ok := strings.CutPrefix(l, "handover "); ok && synopsisLine.MatchString(strings.SplitN(cmd, "#", 2)[0]) {
				var names []string
				for _, w := range strings.Fields(cmd) {
					if !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(w) {
						break
					}
					names = append(names, w)
				}
				out = append(out, docCommand{where: where, args: names, synopsis: true})
				continue
			}
			file, err := syntax.NewParser().Parse(strings.NewReader(l), where)
			if err != nil {
				if strings.HasPrefix(l, "handover ") {
					t.Errorf("%s: a handover command that is not valid shell: %v\n\t%s", where, err, l)
				}
				continue
			}
			syntax.Walk(file, func(n syntax.Node) bool {
				call, ok := n.(*syntax.CallExpr)
				if !ok || len(call.Args) == 0 || call.Args[0].Lit() != "handover" {
					return true
				}
				var args []string
				for _, w := range call.Args[1:] {
					args = append(args, wordValue(w))
				}
				out = append(out, docCommand{where: where, args: args})
				return true
			})
		}
	}
	return out
}

// wordValue is a shell word's value where it is a literal or quoted text,
// else a placeholder (it holds an expansion: $(...), "${x}").
func wordValue(w *syntax.Word) string {
	var sb strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			sb.WriteString(p.Value)
		case *syntax.SglQuoted:
			sb.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if lit, ok := q.(*syntax.Lit); ok {
					sb.WriteString(lit.Value)
				} else {
					sb.WriteString("X")
				}
			}
		default:
			sb.WriteString("X")
		}
	}
	return sb.String()
}

// parseOnly returns the CLI with every command's action replaced by a
// check of its argument count, so that a command line is parsed as the
// binary parses it, and nothing runs.
func parseOnly() *cli.App {
	app := newApp(&stdio{in: strings.NewReader(""), out: io.Discard, err: io.Discard})
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if len(c.Subcommands) > 0 {
				walk(c.Subcommands)
				continue
			}
			c.Before = nil
			min, max := argCounts(c.ArgsUsage)
			c.Action = func(c *cli.Context) error {
				if n := c.NArg(); n < min || (max >= 0 && n > max) {
					return fmt.Errorf("%s takes %s, got %d argument(s): %q", c.Command.FullName(), c.Command.ArgsUsage, n, c.Args().Slice())
				}
				return nil
			}
		}
	}
	walk(app.Commands)
	return app
}

// argCounts reads a command's ArgsUsage ("PLAYBOOK PATH", "[COMMAND]",
// "SHELL", "REPORT.json"): how many arguments it needs and takes (-1: any).
func argCounts(usage string) (min, max int) {
	for _, w := range strings.Fields(usage) {
		switch {
		case strings.Contains(w, "..."):
			return min, -1
		case strings.HasPrefix(w, "["):
			max++
		default:
			min++
			max++
		}
	}
	return min, max
}

// TestDocsCommandsParse: every `handover …` command line the docs show is
// one the binary accepts: its commands exist, its flags exist and take the
// values given, and it has the arguments the command needs. Usage lines
// ("handover plan [OPTIONS] PLAYBOOK") name existing commands.
func TestDocsCommandsParse(t *testing.T) {
	cmds := docCommands(t)
	if len(cmds) < 30 {
		t.Fatalf("found %d handover command lines in the docs; the extraction is broken", len(cmds))
	}
	for _, dc := range cmds {
		app := parseOnly()
		if dc.synopsis {
			// Each lower-case word names a command, then a subcommand
			// while the command has some.
			list := app.Commands
			for _, name := range dc.args {
				if len(list) == 0 {
					break
				}
				var found *cli.Command
				for _, c := range list {
					if c.HasName(name) {
						found = c
					}
				}
				if found == nil {
					t.Errorf("%s: usage line names no command %q", dc.where, name)
					break
				}
				list = found.Subcommands
			}
			continue
		}
		args := flagsFirst(app.Commands, append([]string{"handover"}, dc.args...))
		if err := app.RunContext(context.Background(), args); err != nil {
			t.Errorf("%s: handover %s: %v", dc.where, strings.Join(dc.args, " "), err)
		}
	}
}

// skeleton is the least playbook a fragment of the docs is set into: the
// fragment's own top-level keys replace these.
const skeleton = `version: 1
handover: {client: {name: C}, outgoing: {name: P}}
outgoing: {names: [P]}
targets: [{name: t, type: ssh, hosts: [h], auth: {agent: true}, trust_on_first_use: true}]
`

// asPlaybook makes a docs YAML block a whole playbook: as it is when it
// has the required keys, else set into the skeleton (a list or a mapping
// with `type` is a target, else top-level keys).
func asPlaybook(t *testing.T, snippet string) []byte {
	t.Helper()
	var frag yaml.Node
	if err := yaml.Unmarshal([]byte(snippet), &frag); err != nil || len(frag.Content) == 0 {
		return []byte(snippet) // the parser says what is wrong
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(skeleton), &doc); err != nil {
		t.Fatal(err)
	}
	root, f := doc.Content[0], frag.Content[0]
	set := func(key string, v *yaml.Node) {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				root.Content[i+1] = v
				return
			}
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	}
	switch {
	case f.Kind == yaml.SequenceNode:
		set("targets", f)
	case f.Kind == yaml.MappingNode && hasKey(f, "type") && !hasKey(f, "targets"):
		set("targets", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{f}})
	case f.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(f.Content); i += 2 {
			set(f.Content[i].Value, f.Content[i+1])
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// decodeAll decodes a playbook as `handover lint` does up to the point
// where it would read files and resolve references: the playbook's keys,
// then each target's with its connector. It returns the diagnostics and
// the keys the code accepts, by kind of mapping.
func decodeAll(file string, data []byte) (playbook.Diagnostics, map[string][]string) {
	pb, d := playbook.Parse(file, data)
	reg := builtin.Registry()
	env := connector.Env{Outgoing: connector.NewOutgoing(pb.Outgoing), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	for _, tg := range pb.Targets {
		if c, ok := reg.Lookup(tg.Type); ok {
			if impl := c.Configure(d, tg, env); impl != nil {
				impl.Close()
			}
		}
	}
	return d.Diagnostics(), d.Keys()
}

// schemaProblem tells a problem with the playbook's shape (a key, a type,
// a value) from one with the machine it is read on (a file that is not
// there): a docs fragment names files of the reader's estate.
var environmentProblem = regexp.MustCompile(`no such file|cannot read|not found|no way to check its host key|does not exist|permission denied`)

// TestDocsPlaybookSnippets: every YAML block of the docs decodes without a
// problem of shape: no unknown key, no wrong type or value. A block that
// shows an error on purpose is preceded by a comment naming the message:
//
//	<!-- playbook-error: unknown key "pasword" -->
func TestDocsPlaybookSnippets(t *testing.T) {
	n := 0
	for _, b := range docBlocks(t) {
		if b.info != "yaml" || notAPlaybook(t, b) {
			continue
		}
		n++
		where := fmt.Sprintf("%s:%d", b.file, b.line)
		var ds playbook.Diagnostics
		if isCatalogue(b.text) {
			_, ds = ssh.ParseCatalog(where, []byte(b.text))
		} else {
			ds, _ = decodeAll(where, asPlaybook(t, b.text))
		}
		want := expectedError(t, b)
		var got []string
		for _, d := range ds {
			if !environmentProblem.MatchString(d.Msg) {
				got = append(got, d.Msg)
			}
		}
		switch {
		case want == "" && len(got) > 0:
			t.Errorf("%s: a docs playbook snippet does not decode:\n\t%s\n%s", where, strings.Join(got, "\n\t"), b.text)
		case want != "" && !strings.Contains(strings.Join(got, "\n"), want):
			t.Errorf("%s: the snippet is marked as an error example %q, but decoding it says:\n\t%s", where, want, strings.Join(got, "\n\t"))
		}
	}
	if n < 15 {
		t.Fatalf("found %d YAML blocks in the docs; the extraction is broken", n)
	}
}

// isCatalogue tells an agent catalogue (docs/connectors/ssh.md) from a
// playbook: its only top-level key is agents.
func isCatalogue(snippet string) bool {
	var m map[string]any
	if yaml.Unmarshal([]byte(snippet), &m) != nil {
		return false
	}
	_, ok := m["agents"]
	return ok && len(m) == 1
}

// expectedError reads the <!-- playbook-error: MESSAGE --> comment right
// before a block.
func expectedError(t *testing.T, b codeBlock) string {
	return marker(t, b, "<!-- playbook-error:")
}

// notAPlaybook tells a YAML block that is something else (a Kubernetes
// manifest, alerting rules), marked by <!-- not a playbook: WHAT -->
// right before it.
func notAPlaybook(t *testing.T, b codeBlock) bool {
	return marker(t, b, "<!-- not a playbook:") != ""
}

// marker returns the text of the HTML comment starting with prefix in the
// lines right before a block.
func marker(t *testing.T, b codeBlock, prefix string) string {
	src, err := os.ReadFile(filepath.Join("..", "..", b.file))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	for i := b.line - 3; i >= 0 && i >= b.line-5; i-- {
		if m, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), prefix); ok {
			return strings.TrimSpace(strings.TrimSuffix(m, "-->"))
		}
		if strings.TrimSpace(lines[i]) != "" {
			break
		}
	}
	return ""
}

// schemaKeys decodes every example playbook and docs snippet and returns
// the keys the code accepts, by the docs page that must describe them:
// docs/playbook.md for the playbook's own, docs/connectors/TYPE.md for a
// connector's target settings.
func schemaKeys(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	add := func(doc string, keys map[string][]string) {
		if out[doc] == nil {
			out[doc] = map[string]bool{}
		}
		for _, ks := range keys {
			for _, k := range ks {
				out[doc][k] = true
			}
		}
	}
	var sources [][]byte
	examples, _ := filepath.Glob(filepath.Join("..", "..", "playbooks", "*.yaml"))
	for _, f := range examples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, b)
	}
	for _, b := range docBlocks(t) {
		if b.info == "yaml" && !isCatalogue(b.text) && !notAPlaybook(t, b) {
			sources = append(sources, asPlaybook(t, b.text))
		}
	}
	reg := builtin.Registry()
	for i, src := range sources {
		pb, d := playbook.Parse(fmt.Sprint("source", i), src)
		add("docs/playbook.md", d.Keys())
		for _, tg := range pb.Targets {
			c, ok := reg.Lookup(tg.Type)
			if !ok {
				continue
			}
			td := playbook.NewDecoder("target")
			env := connector.Env{Outgoing: connector.NewOutgoing(pb.Outgoing), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
			if impl := c.Configure(td, tg, env); impl != nil {
				impl.Close()
			}
			add("docs/connectors/"+tg.Type+".md", td.Keys())
		}
	}
	return out
}

// documentedKeys returns the first-column keys of a page's "Key" tables,
// each dotted path split into its keys.
func documentedKeys(t *testing.T, page string) map[string]int {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", page))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	inKeyTable := false
	for i, l := range strings.Split(string(src), "\n") {
		switch {
		case !strings.HasPrefix(l, "|"):
			inKeyTable = false
		case strings.HasPrefix(strings.ToLower(strings.TrimSpace(strings.TrimPrefix(l, "|"))), "key |"):
			inKeyTable = true
		case inKeyTable && !strings.HasPrefix(l, "|---"):
			cell := strings.SplitN(strings.TrimPrefix(l, "|"), "|", 2)[0]
			for _, m := range regexp.MustCompile("`([a-z_.]+)`").FindAllStringSubmatch(cell, -1) {
				for _, k := range strings.Split(m[1], ".") {
					out[k] = i + 1
				}
			}
		}
	}
	return out
}

// TestDocsSchemaKeys: every key the code accepts is described on its docs
// page, and every key a page's tables describe is one the code accepts.
func TestDocsSchemaKeys(t *testing.T) {
	keys := schemaKeys(t)
	if len(keys["docs/playbook.md"]) < 30 || len(keys["docs/connectors/ssh.md"]) < 15 {
		t.Fatalf("schema keys found: %v; the decoding is broken", keys)
	}
	for page, ks := range keys {
		src, err := os.ReadFile(filepath.Join("..", "..", page))
		if err != nil {
			t.Errorf("the connector's settings have no page: %v", err)
			continue
		}
		for k := range ks {
			mention := regexp.MustCompile("`[^`\n]*\\b" + regexp.QuoteMeta(k) + "\\b[^`\n]*`")
			if !mention.Match(src) {
				t.Errorf("%s: the key %q, which the code accepts, is not described", page, k)
			}
		}
		all := map[string]bool{}
		for _, ks := range keys {
			for k := range ks {
				all[k] = true
			}
		}
		for k, line := range documentedKeys(t, page) {
			if !ks[k] && !all[k] && !playbook.IsCommonTargetKey(k) {
				t.Errorf("%s:%d: the docs describe a key %q that no playbook accepts", page, line, k)
			}
		}
	}
}
