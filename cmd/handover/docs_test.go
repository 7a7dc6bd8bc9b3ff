package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"mvdan.cc/sh/v3/syntax"
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
