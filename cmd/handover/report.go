package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func reportCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:   "report",
		Hidden: true,
		Action: func(c *cli.Context) error {
			return withCode(exitError, errors.New("report: not available in this build"))
		},
	}
}
