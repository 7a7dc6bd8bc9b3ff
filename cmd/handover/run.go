package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
)

func runCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "make the handover: plan, confirm, rotate, revoke, remove agents, verify, sign the report",
		ArgsUsage: "PLAYBOOK",
		Description: "Settles what an earlier interrupted run left unfinished, inventories every\n" +
			"target, plans (or loads --plan, refused if the estate changed since), asks for\n" +
			"confirmation on a terminal unless --yes, applies each change under the\n" +
			"write-ahead journal, proves it, and writes the signed report.\n" +
			"Exit status: 0 when everything was done and proven, 1 when something failed,\n" +
			"2 when changes are pending (the plan was declined).",
		Flags: []cli.Flag{
			limitFlag,
			stateDirFlag,
			reportDirFlag,
			&cli.StringFlag{Name: "plan", Usage: "apply this plan `FILE` (from handover plan -o) instead of a fresh one"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation"},
			&cli.IntFlag{Name: "parallel", Usage: "at most `N` hosts/systems changed at once", DefaultText: "policy.parallel"},
			&cli.StringFlag{Name: "lang", Usage: "report language, fr or en (default: report.lang)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			return runOrResume(c, s, false)
		},
	}
}

func resumeCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "settle rotations an interrupted run left unfinished, and stop",
		ArgsUsage: "PLAYBOOK",
		Description: "For each credential an earlier run stored as pending, probes the target with\n" +
			"the pending and the previous value, keeps whichever works as current, and\n" +
			"journals it. `handover run` does the same before planning.",
		Flags: []cli.Flag{stateDirFlag, reportDirFlag, jsonFlag, &cli.StringFlag{Name: "lang", Usage: "report language, fr or en"}},
		Action: func(c *cli.Context) error {
			return runOrResume(c, s, true)
		},
	}
}

func runOrResume(c *cli.Context, s *stdio, resume bool) error {
	lang := c.String("lang")
	if lang != "" && lang != "fr" && lang != "en" {
		return withCode(exitError, fmt.Errorf("--lang must be fr or en"))
	}
	e := newEngine(c, s)
	tty := isTerminal(s.in) && isTerminal(s.err) && !c.Bool("json")
	prog := newProgress(s.err, tty, c.Bool("json"))
	e.Progress = prog.event
	sess, err := load(c.Context, c, s, e)
	if err != nil {
		return err
	}
	defer sess.Close()
	// The report is signed at the end: a key that cannot sign stops the
	// run here, before anything is changed.
	signer, err := sess.Signer(c.Context)
	if err != nil {
		var ds playbook.Diagnostics
		if errors.As(err, &ds) {
			printDiagnostics(s.err, ds)
		}
		return withCode(exitError, fmt.Errorf("%s: the signing key cannot sign the report; nothing was changed", sess.Playbook.File))
	}
	e.WriteReport = reportWriter(signer, lang)
	// On a terminal, the operator confirms the declared items' steps done
	// since the last run, each attested in writing before the run reads
	// them; with --yes (unattended) nothing is asked and nothing is
	// assumed done.
	if !resume && !c.Bool("yes") && isTerminal(s.in) {
		if err := askAttestations(c.Context, sess, s.in, s.out); err != nil {
			return withCode(exitError, err)
		}
	}
	opts := engine.RunOptions{Parallel: c.Int("parallel"), RecoverOnly: resume}
	if !resume {
		if f := c.String("plan"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return withCode(exitError, err)
			}
			p, err := plan.Unmarshal(b)
			if err != nil {
				return withCode(exitError, fmt.Errorf("%s: %w", f, err))
			}
			opts.Plan = p
		}
		opts.Confirm = func(p *plan.Plan) (bool, error) {
			prog.pause()
			defer prog.resume()
			printPlan(s.out, p)
			if c.Bool("yes") {
				return true, nil
			}
			if !isTerminal(s.in) {
				return false, errors.New("refusing to change anything without confirmation: run on a terminal, or pass --yes")
			}
			fmt.Fprintf(s.out, "\nApply these %d change(s)? Only 'yes' is accepted: ", len(p.Changes))
			line, _ := bufio.NewReader(s.in).ReadString('\n')
			return strings.TrimSpace(line) == "yes", nil
		}
	}
	prog.start()
	res, err := sess.Run(c.Context, opts)
	prog.stop()
	if err != nil {
		return withCode(exitError, err)
	}
	if res.Declined {
		fmt.Fprintln(s.out, "Nothing was changed.")
		return withCode(exitChanges, nil)
	}
	printResult(s.out, res)
	if res.Failed() {
		return withCode(exitError, fmt.Errorf("run %s: %s; see the report's deviations", res.RunID, res.Report.Run.Result))
	}
	return nil
}

func printResult(w io.Writer, res *engine.Result) {
	for _, a := range res.Recovered {
		fmt.Fprintf(w, "recovery %-12s %s/%s %s %s %s\n", a.Result, a.Change.Target, a.Change.System, a.Change.Action, a.Change.Object, a.Error)
	}
	counts := map[plan.Result]int{}
	for _, a := range res.Actions {
		counts[a.Result]++
		if a.Result != plan.Applied || !a.Verified {
			fmt.Fprintf(w, "%-8s %s/%s %s %s: %s%s\n", a.Result, a.Change.Target, a.Change.System, a.Change.Action, a.Change.Object, a.Error, unproven(a))
		}
	}
	fmt.Fprintf(w, "\nResult: %s — %d applied, %d failed, %d skipped", res.Report.Run.Result, counts[plan.Applied], counts[plan.Failed]+counts[plan.Aborted], counts[plan.Skipped])
	if res.Plan != nil {
		fmt.Fprintf(w, ", %d waived, %d not covered", len(res.Plan.Waived), len(res.Plan.Problems))
	}
	fmt.Fprintln(w, ".")
	if c := res.Report.Completeness; c != nil {
		state := "incomplete"
		if c.Complete {
			state = "complete"
		}
		fmt.Fprintf(w, "Handover %s: %d of %d item(s) done, %d manual step(s) awaiting attestation, %d attestation(s) due again, %d waived, %d failed or not covered.\n",
			state, c.Done, c.Items, c.Awaiting, c.Stale, c.Waived, c.Failed)
		for _, m := range c.Missing {
			fmt.Fprintf(w, "  still to do: %s\n", m)
		}
	}
	if res.ReportDir != "" {
		fmt.Fprintf(w, "Report:  %s\n", res.ReportDir)
		for _, f := range res.Files {
			fmt.Fprintf(w, "         %s\n", f)
		}
	}
	fmt.Fprintf(w, "Journal: %s\n", res.Journal)
}

func unproven(a report.Action) string {
	if a.Result != plan.Applied {
		return ""
	}
	var why []string
	for _, c := range a.Verification {
		if !c.OK {
			why = append(why, strings.TrimSpace(c.What+" "+c.Detail))
		}
	}
	return "not proven: " + strings.Join(why, "; ")
}
