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
	"github.com/xrash/smetrics"
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
	app := newApp(&stdio{in: stdin, out: stdout, err: stderr})
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

// newApp is the command line: every command, flag and help text.
func newApp(s *stdio) *cli.App {
	app := &cli.App{
		Name:      "handover",
		Usage:     "make an IT provider switch safe: inventory, rotate, revoke, prove",
		Version:   version,
		Reader:    s.in,
		Writer:    s.out,
		ErrWriter: s.err,
		// Errors are printed once, below.
		ExitErrHandler: func(*cli.Context, error) {},
		// urfave/cli's help command exits 0 for an unknown topic; ours is
		// helpCommand.
		HideHelpCommand: true,
		// --version is ours, so that it prints what `version` prints.
		HideVersion: true,
		// Our own help command (helpCommand) keeps urfave/cli from adding its
		// --help flag: add it back.
		Flags:                []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version"}, cli.HelpFlag},
		EnableBashCompletion: true,
		Action: func(c *cli.Context) error {
			switch {
			case c.Bool("version"):
				printVersion(s.out)
				return nil
			case c.NArg() > 0:
				return unknownCommand(c, c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
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
			completionCommand(s),
			manCommand(s),
		},
	}
	app.Commands = append(app.Commands, helpCommand())
	for _, cmd := range app.Commands {
		if len(cmd.Subcommands) > 0 && cmd.Action == nil {
			cmd.Action = subcommandNotFound
		}
	}
	return app
}

func versionCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			printVersion(s.out)
			return nil
		},
	}
}

// subcommandNotFound is the action of a command that only groups others
// (secrets, report): its help, or an error for a name it does not have.
func subcommandNotFound(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	var names []string
	for _, sub := range c.Command.Subcommands {
		names = append(names, sub.Name)
	}
	return withCode(exitError, fmt.Errorf("%s: unknown command %q; it has: %s", c.Command.Name, c.Args().First(), strings.Join(names, ", ")))
}

// helpCommand is `handover help [COMMAND]`.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the commands, or one command's options",
		ArgsUsage: "[COMMAND]",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			args := append([]string{c.App.Name}, c.Args().Slice()...)
			for _, cmd := range c.App.Commands {
				if cmd.HasName(args[1]) {
					return c.App.RunContext(c.Context, append(args, "--help"))
				}
			}
			return unknownCommand(c, args[1])
		},
	}
}

func printVersion(w io.Writer) { fmt.Fprintf(w, "handover %s\n", version) }

// unknownCommand is the error for a command name handover does not have,
// with the nearest one when a typo is likely.
func unknownCommand(c *cli.Context, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	best, score := "", 0.0
	for _, cmd := range c.App.Commands {
		if cmd.Hidden {
			continue
		}
		if sc := smetrics.JaroWinkler(name, cmd.Name, 0.7, 4); sc > score {
			best, score = cmd.Name, sc
		}
	}
	if score >= 0.8 {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return withCode(exitError, fmt.Errorf("%s; `handover --help` lists the commands", msg))
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
	// The shell's completion request must stay the last argument.
	const complete = "--generate-bash-completion"
	if args[len(args)-1] == complete {
		return append(flagsFirst(cmds, args[:len(args)-1]), complete)
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
