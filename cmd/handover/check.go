package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func checkCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check that the dossier stays true (for cron): drift exits 2",
		ArgsUsage: "PLAYBOOK",
		Description: "Inventories every target and checks, without changing anything, that the\n" +
			"plan is still empty (no provider access came back, no admin left\n" +
			"unrotated), that every stored credential still logs in and is younger than\n" +
			"policy.max_credential_age, and that no rotation was left pending.\n" +
			"Exit status: 0 no drift, 2 drift found, 1 error.",
		Flags: []cli.Flag{
			limitFlag,
			outputFlag("the result"),
			parallelFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			sess, err := load(c.Context, c, s, newEngine(c, s))
			if err != nil {
				return err
			}
			defer sess.Close()
			res, err := sess.Check(c.Context, c.Int("parallel"))
			if err != nil {
				return withCode(exitError, err)
			}
			summary, err := writeJSON(c, s, res)
			if err != nil {
				return err
			}
			if summary {
				for _, d := range res.Drift {
					fmt.Fprintf(s.out, "%-18s %s/%s %s: %s\n", d.Kind, d.Target, d.System, d.Object, d.Detail)
				}
				fmt.Fprintf(s.out, "%s: %d drift item(s) at %s\n", sess.Playbook.File, len(res.Drift), res.Checked.Format("2006-01-02 15:04:05Z"))
			}
			if len(res.Drift) > 0 {
				return withCode(exitChanges, nil)
			}
			return nil
		},
	}
}
