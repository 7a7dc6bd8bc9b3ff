package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
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

// askAttestations asks, for each declared step awaiting attestation (or
// due again), whether it was done; each step confirmed is recorded with
// who attests, a note, the date and optionally an evidence file, as
// `handover attest` records it. A step not confirmed stays awaiting: the
// report lists it, nothing is assumed done.
func askAttestations(ctx context.Context, sess *engine.Session, in io.Reader, out io.Writer) error {
	steps := sess.Plan(nil).Manual
	var open []int
	for i, m := range steps {
		if m.Status == "awaiting-attestation" || m.Status == "stale" {
			open = append(open, i)
		}
	}
	if len(open) == 0 {
		return nil
	}
	r := bufio.NewReader(in)
	ask := func(q string) (string, error) {
		fmt.Fprint(out, q)
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			return "", err
		}
		return strings.TrimSpace(line), nil
	}
	fmt.Fprintf(out, "%d declared step(s) await a written attestation. Confirm those done (Enter skips one):\n", len(open))
	for _, i := range open {
		m := steps[i]
		fmt.Fprintf(out, "\n  %s %s — %s (%s, owner %s)\n", m.Action, m.Item, m.Name, m.Kind, m.Owner)
		yes, err := ask("  Done? [y/N] ")
		if err != nil {
			return nil // input closed: the rest stay awaiting
		}
		if yes != "y" && yes != "yes" && yes != "o" && yes != "oui" {
			continue
		}
		a := engine.Attestation{Item: m.Item}
		if a.By, err = ask("  Attested by (name, role): "); err != nil {
			return err
		}
		if a.Note, err = ask("  What was done: "); err != nil {
			return err
		}
		d, err := ask("  Done on (YYYY-MM-DD, Enter: today): ")
		if err != nil {
			return err
		}
		if d != "" {
			if a.Done, err = time.Parse(time.DateOnly, d); err != nil {
				fmt.Fprintf(out, "  %q is not a date: not recorded\n", d)
				continue
			}
		}
		if a.Evidence, err = ask("  Evidence file (Enter: none): "); err != nil {
			return err
		}
		a.Renew = m.Status == "stale"
		rec, err := sess.Attest(ctx, a)
		if err != nil {
			fmt.Fprintf(out, "  not recorded: %v\n", err)
			continue
		}
		fmt.Fprintf(out, "  recorded (attestation %d, hash %s)\n", rec.Seq, rec.Hash[:12])
	}
	fmt.Fprintln(out)
	return nil
}
