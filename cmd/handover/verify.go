package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/report"
)

// verifyTimeout bounds the verification of one report.
const verifyTimeout = 5 * time.Minute

func verifyCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a signed report: signatures, journal hash chain, renderings",
		ArgsUsage: "REPORT.json",
		Description: "Checks the signature of report.json, report.html, report.md and journal.jsonl, the\n" +
			"journal's hash chain and that its head is the one report.json signed, and that the\n" +
			"HTML and Markdown are exactly the renderings of report.json. Exit status 0 when all\n" +
			"holds, 1 otherwise, with where and what for every problem.\n\n" +
			"Without --allowed-signers, the allowed_signers file next to the report is used: that\n" +
			"proves the files were not changed after signing, not who signed them.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "allowed-signers", Usage: "trust the signers listed in `FILE` (ssh-keygen's ALLOWED SIGNERS format)"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) != 1 {
				return withCode(exitError, fmt.Errorf("verify: expected one REPORT.json argument (see handover verify --help)"))
			}
			ctx, cancel := context.WithTimeout(c.Context, verifyTimeout)
			defer cancel()
			v, err := report.Verify(ctx, args[0], c.String("allowed-signers"))
			printVerification(s, v)
			if err != nil {
				return withCode(exitError, err)
			}
			fmt.Fprintf(s.out, "OK: %s, its renderings and its journal are intact and signed by %s (%s).\n", args[0], v.Identity, v.Fingerprint)
			return nil
		},
	}
}

func printVerification(s *stdio, v *report.Verification) {
	if v == nil {
		return
	}
	for _, f := range v.Files {
		state := "signature FAILED"
		if f.SignedOK {
			state = "signature ok"
		}
		fmt.Fprintf(s.out, "%-16s sha256 %s  %s\n", f.Name, f.SHA256[:16], state)
	}
	if v.JournalHead != "" {
		fmt.Fprintf(s.out, "journal          %d records, head %s\n", v.JournalRecords, v.JournalHead)
	}
	if v.Trust != "" {
		fmt.Fprintf(s.out, "trust            %s\n", v.Trust)
	}
}
