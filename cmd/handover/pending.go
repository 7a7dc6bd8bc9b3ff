package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func pending(name string) *cli.Command {
	return &cli.Command{Name: name, Hidden: true, Action: func(*cli.Context) error {
		return withCode(exitError, errors.New(name+": not available in this build"))
	}}
}

