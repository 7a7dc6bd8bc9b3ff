package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/playbook"
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
			path, err := playbookArg(c)
			if err != nil {
				return err
			}
			// Every check at once: the playbook's, its targets', its
			// references' and its signing key's.
			sess, err := newEngine(c, s).LintFile(c.Context, path)
			if err != nil {
				var ds playbook.Diagnostics
				if errors.As(err, &ds) {
					printDiagnostics(s.err, ds)
					return withCode(exitError, fmt.Errorf("%s: %d problem(s)", path, len(ds)))
				}
				return withCode(exitError, err)
			}
			defer sess.Close()
			fmt.Fprintf(s.out, "%s: ok (%d targets, %d credential references resolved)\n", sess.Playbook.File, len(sess.Targets), len(sess.Refs))
			return nil
		},
	}
}
