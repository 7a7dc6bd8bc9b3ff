package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/freshness"
)

func checkCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "check that the signed dossier stays true (for cron): drift exits 2",
		ArgsUsage: "PLAYBOOK",
		Description: "Verifies the baseline report (by default the newest signed report of the\n" +
			"playbook's report directory: its signatures against the playbook's signing key,\n" +
			"its journal's hash chain), inventories every target without changing anything,\n" +
			"and lists every difference with the baseline's dossier (less what its run\n" +
			"removed): systems appeared, vanished or unreachable, admins added or removed\n" +
			"and by which path, keys, grants, cron entries, agents and every other finding\n" +
			"added, removed or changed, packages (counts; remote-access ones itemised),\n" +
			"listening ports, services. It also checks that the plan is still empty, that\n" +
			"every stored credential still logs in and is younger than\n" +
			"policy.max_credential_age, and that no rotation was left pending. A drift item\n" +
			"that a waiver of the playbook matches is listed as waived until the waiver\n" +
			"expires; an expired waiver is drift.\n" +
			"Exit status: 0 no drift, 2 drift found, 1 error (a baseline that does not\n" +
			"verify is an error).",
		Flags: []cli.Flag{
			limitFlag,
			stateDirFlag,
			reportDirFlag,
			outputFlag("the check record"),
			&cli.StringFlag{Name: "baseline", Usage: "compare with the signed report `REPORT.json` (default: the newest of the report directory)"},
			&cli.BoolFlag{Name: "no-baseline", Usage: "do not compare with a dossier: plan, credentials and pending rotations only"},
			&cli.StringFlag{Name: "prometheus", Usage: "write the check's metrics to `FILE` (node_exporter textfile format, atomic)"},
			parallelFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			sess, err := load(c.Context, c, s, newEngine(c, s))
			if err != nil {
				return err
			}
			defer sess.Close()
			started := sess.Now()
			res, cerr := sess.Check(c.Context, engine.CheckOptions{Parallel: c.Int("parallel"), Baseline: c.String("baseline"), NoBaseline: c.Bool("no-baseline")})
			rec := freshness.NewRecord(sess.NewRunID(), sess.Playbook.File, started, res, cerr)
			if f := c.String("prometheus"); f != "" {
				m := freshness.NewMetrics()
				m.Observe(rec)
				if err := m.WriteTextfile(f); err != nil {
					return withCode(exitError, fmt.Errorf("--prometheus %s: %w", f, err))
				}
			}
			if cerr != nil {
				return withCode(exitError, cerr)
			}
			summary, err := writeJSON(c, s, rec)
			if err != nil {
				return err
			}
			if summary {
				printCheck(s.out, rec)
			}
			if rec.Status == freshness.Drift {
				return withCode(exitChanges, nil)
			}
			return nil
		},
	}
}

// printCheck writes the human summary of a check: each drift item with
// what changed, from what to what, and where.
func printCheck(w io.Writer, r *freshness.Record) {
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "baseline %s (%s %s, %s, signed by %s %s)\n", b.Report, b.Mode, b.RunID, b.Finished.Format("2006-01-02 15:04Z"), b.Identity, b.Key)
	}
	line := func(tag string, d engine.Drift) {
		where := d.Target
		if d.System != "" {
			where += "/" + d.System
		}
		what := d.Kind
		if d.Change != "" {
			what += " " + string(d.Change)
		} else if d.Object != "" {
			where += " " + d.Object
		}
		fmt.Fprintf(w, "%s%-24s %s: %s\n", tag, what, where, d.Detail)
		if d.Change == "changed" {
			fmt.Fprintf(w, "%s%-24s   was: %s\n%s%-24s   now: %s\n", strings.Repeat(" ", len(tag)), "", orNone(d.From), strings.Repeat(" ", len(tag)), "", orNone(d.To))
		}
	}
	for _, d := range r.Drift {
		line("", d)
	}
	for _, d := range r.Waived {
		line("waived ", d)
		fmt.Fprintf(w, "       %-24s   by the waiver at %s (%s, approved by %s)\n", "", d.Waiver.At, d.Waiver.Justification, d.Waiver.Approver)
	}
	fmt.Fprintf(w, "%s: %d drift item(s), %d waived, at %s\n", r.Playbook, len(r.Drift), len(r.Waived), r.Checked.Format("2006-01-02 15:04:05Z"))
}

func orNone(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}
