package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/engine"
)

func attestCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "attest",
		Usage:     "record a written, dated attestation that a declared item's step was done",
		ArgsUsage: "PLAYBOOK ITEM",
		Description: "Records in the playbook's attestation journal (state directory,\n" +
			"attestations.jsonl, hash-chained) that the switch-day step of the declared\n" +
			"item ITEM was done: who attests (--by), what was done (--note), when\n" +
			"(--date, default today) and optionally a file as evidence, whose SHA-256\n" +
			"is recorded (the file is not copied). Every later run's signed report\n" +
			"carries the attestations. An item already attested is refused unless\n" +
			"--renew is given (a new rotation). Exit status: 0 recorded, 1 error.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "by", Usage: "the person who attests (name, role)", Required: true},
			&cli.StringFlag{Name: "note", Usage: "what was done, in writing", Required: true},
			&cli.StringFlag{Name: "date", Usage: "when the step was done (YYYY-MM-DD; default today)"},
			&cli.StringFlag{Name: "evidence", Usage: "a file attesting it (a signed PV, a screenshot): its SHA-256 is recorded"},
			&cli.BoolFlag{Name: "renew", Usage: "record a new attestation for an item already attested"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return withCode(exitError, fmt.Errorf("attest: expected PLAYBOOK ITEM (see handover attest --help)"))
			}
			sess, err := loadPath(c, s, c.Args().Get(0))
			if err != nil {
				return err
			}
			defer sess.Close()
			a := engine.Attestation{Item: c.Args().Get(1), By: c.String("by"), Note: c.String("note"), Evidence: c.String("evidence"), Renew: c.Bool("renew")}
			if d := c.String("date"); d != "" {
				t, err := time.Parse(time.DateOnly, d)
				if err != nil {
					return withCode(exitError, fmt.Errorf("attest: --date %q: write it as 2026-11-23", d))
				}
				a.Done = t
			}
			rec, err := sess.Attest(c.Context, a)
			if err != nil {
				return withCode(exitError, err)
			}
			fmt.Fprintf(s.out, "%s: %s attested by %s (record %d of %s, hash %s)\n", sess.Playbook.File, a.Item, a.By, rec.Seq, sess.AttestationsPath(), rec.Hash[:12])
			return nil
		},
	}
}
