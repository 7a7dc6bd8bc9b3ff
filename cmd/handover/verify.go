package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func verifyCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:   "verify",
		Hidden: true,
		Action: func(c *cli.Context) error {
			return withCode(exitError, errors.New("verify: not available in this build"))
		},
	}
}
