package main

import (
	"encoding/json"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/atomicfile"
)

// outputFlag is the -o of the reading commands.
func outputFlag(what string) *cli.StringFlag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write " + what + " as JSON to `FILE` (- for stdout)"}
}

// parallelFlag bounds the fan-out of a command.
var parallelFlag = &cli.IntFlag{Name: "parallel", Usage: "at most `N` targets/hosts at once", DefaultText: "policy.parallel"}

// writeJSON writes v to the command's -o file, if one was given, and says
// whether the human summary should still go to stdout.
func writeJSON(c *cli.Context, s *stdio, v any) (summary bool, err error) {
	out := c.String("output")
	if out == "" {
		return true, nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return false, withCode(exitError, err)
	}
	if err := writeOutput(s, out, append(b, '\n')); err != nil {
		return false, withCode(exitError, err)
	}
	return out != "-", nil
}

// writeOutput writes a command's -o file atomically, or to stdout for "-".
func writeOutput(s *stdio, path string, b []byte) error {
	if path == "-" {
		_, err := s.out.Write(b)
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}
