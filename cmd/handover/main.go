// Command handover makes an IT provider switch safe: it inventories the
// estate, rotates every admin credential, removes the outgoing provider's
// access and agents, proves each change and signs the report.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// Exit codes, as Terraform's -detailed-exitcode.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // changes pending or drift found
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode carries a command's exit status through urfave/cli.
type exitCode struct {
	code int
	err  error
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCode) Unwrap() error { return e.err }

// withCode returns err with an exit status.
func withCode(code int, err error) error { return &exitCode{code: code, err: err} }

// io is what commands write to and read from; main passes the process's.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &stdio{in: stdin, out: stdout, err: stderr}
	app := &cli.App{
		Name:      "handover",
		Usage:     "make an IT provider switch safe: inventory, rotate, revoke, prove",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, below.
		ExitErrHandler:       func(*cli.Context, error) {},
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		Commands: []*cli.Command{
			versionCommand(s),
			lintCommand(s),
			inventoryCommand(s),
			planCommand(s),
			runCommand(s),
			resumeCommand(s),
			checkCommand(s),
			secretsCommand(s),
			catalogCommand(s),
			verifyCommand(s),
			reportCommand(s),
			dossierCommand(s),
		},
	}
	err := app.RunContext(ctx, flagsFirst(app.Commands, args))
	if err == nil {
		return exitOK
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(stderr, "handover:", ec.err)
		}
		return ec.code
	}
	fmt.Fprintln(stderr, "handover:", err)
	return exitError
}

func versionCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(s.out, "handover %s\n", version)
			return nil
		},
	}
}

// playbookArg returns the single PLAYBOOK argument.
func playbookArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", withCode(exitError, fmt.Errorf("%s: expected one PLAYBOOK argument (see handover %s --help)", c.Command.Name, c.Command.Name))
	}
	return c.Args().First(), nil
}

// flagsFirst moves a command's flags before its arguments, so that
// `handover plan demo.yaml -o plan.json` works as well as the form
// urfave/cli parses natively (flags first).
func flagsFirst(cmds []*cli.Command, args []string) []string {
	find := func(list []*cli.Command, name string) *cli.Command {
		for _, c := range list {
			if c.HasName(name) {
				return c
			}
		}
		return nil
	}
	if len(args) < 2 {
		return args
	}
	cmd := find(cmds, args[1])
	if cmd == nil {
		return args
	}
	i := 2
	// Down to the subcommand named ("dossier receipt verify").
	for len(cmd.Subcommands) > 0 && len(args) > i {
		sub := find(cmd.Subcommands, args[i])
		if sub == nil {
			break
		}
		cmd, i = sub, i+1
	}
	known, isBool := map[string]bool{}, map[string]bool{}
	for _, f := range cmd.Flags {
		_, b := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			known[n], isBool[n] = true, b
		}
	}
	var flags, pos []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			pos = append(pos, rest[j:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if known[name] && !hasValue && !isBool[name] && j+1 < len(rest) {
			j++
			flags = append(flags, rest[j])
		}
	}
	out := append([]string{}, args[:i]...)
	out = append(out, flags...)
	return append(out, pos...)
}
