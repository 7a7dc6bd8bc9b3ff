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

func lintCommand(*stdio) *cli.Command      { return pending("lint") }
func inventoryCommand(*stdio) *cli.Command { return pending("inventory") }
func planCommand(*stdio) *cli.Command      { return pending("plan") }
func runCommand(*stdio) *cli.Command       { return pending("run") }
func resumeCommand(*stdio) *cli.Command    { return pending("resume") }
func checkCommand(*stdio) *cli.Command     { return pending("check") }
func secretsCommand(*stdio) *cli.Command   { return pending("secrets") }
