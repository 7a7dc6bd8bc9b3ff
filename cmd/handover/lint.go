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
			"reference (${env:…}, ${file:…}, ${vault:…}) without printing a value.\n" +
			"With -o, the result as JSON (see docs/commands.md#lint).",
		Flags: []cli.Flag{outputFlag("the result")},
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
				if !errors.As(err, &ds) {
					return withCode(exitError, err)
				}
				summary, jerr := writeJSON(c, s, lintResult{File: path, Problems: ds})
				if jerr != nil {
					return jerr
				}
				if summary {
					printDiagnostics(s.err, ds)
				}
				return withCode(exitError, fmt.Errorf("%s: %d problem(s)", path, len(ds)))
			}
			defer sess.Close()
			res := lintResult{File: sess.Playbook.File, OK: true, Targets: len(sess.Targets), References: len(sess.Refs), Problems: playbook.Diagnostics{}}
			summary, err := writeJSON(c, s, res)
			if err != nil || !summary {
				return err
			}
			fmt.Fprintf(s.out, "%s: ok (%d targets, %d credential references resolved)\n", sess.Playbook.File, len(sess.Targets), len(sess.Refs))
			return nil
		},
	}
}

// lintResult is lint's JSON output (docs/commands.md#lint).
type lintResult struct {
	File       string               `json:"file"`
	OK         bool                 `json:"ok"`
	Targets    int                  `json:"targets"`
	References int                  `json:"references"`
	Problems   playbook.Diagnostics `json:"problems"`
}
