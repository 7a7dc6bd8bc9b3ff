package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func lintCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "check a playbook without contacting any target",
		ArgsUsage: "PLAYBOOK",
		Description: "Parses the playbook, reports every problem at once as file:line:col: message,\n" +
			"checks each target's connector settings and resolves every credential\n" +
			"reference (${env:…}, ${file:…}, ${vault:…}) without printing a value.",
		Action: func(c *cli.Context) error {
			sess, err := load(c.Context, c, s, newEngine(c, s))
			if err != nil {
				return err
			}
			defer sess.Close()
			if ds := sess.Lint(c.Context); len(ds) > 0 {
				printDiagnostics(s.err, ds)
				return withCode(exitError, fmt.Errorf("%s: %d problem(s)", sess.Playbook.File, len(ds)))
			}
			fmt.Fprintf(s.out, "%s: ok (%d targets, %d credential references resolved)\n", sess.Playbook.File, len(sess.Targets), len(sess.Refs))
			return nil
		},
	}
}
