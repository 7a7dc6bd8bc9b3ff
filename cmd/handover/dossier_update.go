package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/playbook"
)

// dossierUpdateCommand is `handover dossier update`.
func dossierUpdateCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "accept the reviewed drift: re-issue a signed dossier of the estate as it is now",
		ArgsUsage: "PLAYBOOK",
		Description: "Verifies the newest signed report, inventories every target without changing\n" +
			"anything, shows the drift it would accept, asks for confirmation on a terminal\n" +
			"unless --yes, journals each accepted item, and writes a signed report of mode\n" +
			"\"dossier-update\" chained to the previous one by its digest. `handover check`\n" +
			"then compares with it. Nothing is accepted without this command.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why the drift is accepted (journaled with each item)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			parallelFlag,
			&cli.StringFlag{Name: "lang", Usage: "report language, fr or en (default: report.lang)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			e := newEngine(c, s)
			sess, err := load(c.Context, c, s, e)
			if err != nil {
				return err
			}
			defer sess.Close()
			signer, err := sess.Signer(c.Context)
			if err != nil {
				var ds playbook.Diagnostics
				if errors.As(err, &ds) {
					printDiagnostics(s.err, ds)
				}
				return withCode(exitError, fmt.Errorf("%s: the signing key cannot sign the dossier: %w", sess.Playbook.File, err))
			}
			e.WriteReport = reportWriter(signer, c.String("lang"))
			res, err := sess.DossierUpdate(c.Context, engine.DossierUpdateOptions{
				Parallel: c.Int("parallel"),
				Reason:   c.String("reason"),
				Confirm: func(items []drift.Item) (bool, error) {
					for _, it := range items {
						fmt.Fprintf(s.out, "accept %-22s %s/%s: %s\n", it.Kind+" "+string(it.Change), it.Target, it.System, it.Detail)
					}
					fmt.Fprintf(s.out, "%d drift item(s) to accept as the new dossier.\n", len(items))
					if c.Bool("yes") {
						return true, nil
					}
					if !isTerminal(s.in) {
						return false, errors.New("refusing to accept drift without confirmation: run on a terminal, or pass --yes")
					}
					fmt.Fprint(s.out, "Sign a new dossier? Only 'yes' is accepted: ")
					line, _ := bufio.NewReader(s.in).ReadString('\n')
					return strings.TrimSpace(line) == "yes", nil
				},
			})
			if err != nil {
				return withCode(exitError, err)
			}
			if res.Declined {
				fmt.Fprintln(s.out, "Nothing was signed.")
				return withCode(exitChanges, nil)
			}
			fmt.Fprintf(s.out, "Dossier: %s\n", res.ReportDir)
			for _, f := range res.Files {
				fmt.Fprintf(s.out, "         %s\n", f)
			}
			return nil
		},
	}
}
