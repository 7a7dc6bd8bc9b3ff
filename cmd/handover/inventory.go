package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/connector"
)

func inventoryCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "inventory",
		Usage:     "read the dossier technique from every target (changes nothing)",
		ArgsUsage: "PLAYBOOK",
		Flags: []cli.Flag{
			limitFlag,
			outputFlag("the dossier"),
			parallelFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			sess, err := load(c.Context, c, s, newEngine(c, s))
			if err != nil {
				return err
			}
			defer sess.Close()
			invs := sess.Inventory(c.Context, c.Int("parallel"))
			summary, err := writeInventories(c, s, invs)
			if err != nil {
				return err
			}
			if summary {
				printInventory(s.out, invs)
			}
			for _, inv := range invs {
				for _, sys := range inv.Systems {
					if sys.Error != "" {
						return withCode(exitError, fmt.Errorf("some systems could not be inventoried"))
					}
				}
			}
			return nil
		},
	}
}

func printInventory(w io.Writer, invs []*connector.Inventory) {
	for _, inv := range invs {
		fmt.Fprintf(w, "%s (%s): %d systems\n", inv.Target, inv.Type, len(inv.Systems))
		for _, sys := range inv.Systems {
			if sys.Error != "" {
				fmt.Fprintf(w, "  %-28s ERROR %s\n", sys.Name, sys.Error)
				continue
			}
			admins, provider := 0, 0
			for _, a := range sys.Accounts {
				if a.Admin {
					admins++
				}
			}
			for _, f := range sys.Findings {
				if f.Provider {
					provider++
				}
			}
			fmt.Fprintf(w, "  %-28s %d accounts (%d admin), %d packages, %d services, %d provider findings\n",
				sys.Name, len(sys.Accounts), admins, len(sys.Software), len(sys.Services), provider)
			for _, f := range sys.Findings {
				if f.Provider {
					fmt.Fprintf(w, "    ! %s\n", f.Summary)
				}
			}
		}
	}
}
