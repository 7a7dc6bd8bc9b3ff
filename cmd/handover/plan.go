package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/plan"
)

func planCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "inventory every target and list the changes a run would make (changes nothing)",
		ArgsUsage: "PLAYBOOK",
		Description: "Writes nothing anywhere but the plan file. Exit status: 0 when the plan\n" +
			"was made (with or without changes), 1 on error; with --detailed-exitcode,\n" +
			"0 when there is nothing to change and 2 when changes are pending.",
		Flags: []cli.Flag{
			limitFlag,
			stateDirFlag,
			outputFlag("the plan (for handover run --plan)"),
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when changes are pending (as terraform plan -detailed-exitcode)"},
			parallelFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			sess, err := load(c.Context, c, s, newEngine(c, s))
			if err != nil {
				return err
			}
			defer sess.Close()
			p := sess.Plan(sess.Inventory(c.Context, c.Int("parallel")))
			summary, err := writeJSON(c, s, p)
			if err != nil {
				return err
			}
			if summary {
				printPlan(s.out, p)
			}
			switch {
			case len(p.Problems) > 0:
				return withCode(exitError, fmt.Errorf("%d target(s) or system(s) could not be covered", len(p.Problems)))
			case len(p.Changes) > 0 && c.Bool("detailed-exitcode"):
				return withCode(exitChanges, nil)
			}
			return nil
		},
	}
}

// symbols mark what kind of change a line is, as Terraform does.
func symbol(a plan.Action) string {
	switch a {
	case plan.InstallKey:
		return "+"
	case plan.RotatePassword:
		return "~"
	case plan.LockAccount:
		return "!"
	}
	return "-"
}

// printPlan prints a plan grouped per target and system.
func printPlan(w io.Writer, p *plan.Plan) {
	lastT, lastS := "", ""
	for _, ch := range p.Changes {
		if ch.Target != lastT {
			fmt.Fprintf(w, "\ntarget %s\n", ch.Target)
			lastT, lastS = ch.Target, ""
		}
		if ch.System != lastS {
			fmt.Fprintf(w, "  %s\n", ch.System)
			lastS = ch.System
		}
		fmt.Fprintf(w, "    %s %-17s %s\n", symbol(ch.Action), ch.Action, ch.Object)
		if ch.Reason != "" {
			fmt.Fprintf(w, "        %s\n", ch.Reason)
		}
	}
	if len(p.Waived) > 0 {
		fmt.Fprintf(w, "\nwaived (left as they are, shown in the report)\n")
		for _, wv := range p.Waived {
			fmt.Fprintf(w, "    = %s/%s %s %s — %s (approved by %s, until %s)\n", wv.Change.Target, wv.Change.System, wv.Change.Action, wv.Change.Object,
				wv.Justification, wv.Approver, wv.Expires.Format("2006-01-02"))
		}
	}
	if len(p.Problems) > 0 {
		fmt.Fprintf(w, "\nnot covered\n")
		for _, pr := range p.Problems {
			fmt.Fprintf(w, "    ✗ %s/%s: %s\n", pr.Target, pr.System, pr.Error)
		}
	}
	counts := map[plan.Action]int{}
	for _, ch := range p.Changes {
		counts[ch.Action]++
	}
	var parts []string
	for _, a := range plan.Actions() {
		if n := counts[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "\nPlan: %d change(s)", len(p.Changes))
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, ", %d waived, %d not covered.\n", len(p.Waived), len(p.Problems))
	printManual(w, p)
}

// printManual lists the steps a person makes and attests with `handover
// attest`: the declared items', and those a connector saw but cannot make
// (attested once declared with their id).
func printManual(w io.Writer, p *plan.Plan) {
	if len(p.Manual) == 0 {
		return
	}
	fmt.Fprintf(w, "\nmanual steps (do each, then `handover attest %s ITEM --by NAME --note TEXT`; a target's step once declared with its id)\n", p.Playbook)
	open := 0
	for _, m := range p.Manual {
		mark := "✋"
		switch m.Status {
		case "done":
			mark = "✓"
		case "waived":
			mark = "="
		default:
			open++
		}
		kind := m.Kind
		if m.Target != "" {
			kind = "target " + m.Target
		}
		fmt.Fprintf(w, "    %s %-24s %-16s %s (%s, owner %s): %s\n", mark, m.Action, m.Item, m.Name, kind, m.Owner, m.Status)
		if m.Detail != "" {
			fmt.Fprintf(w, "        %s\n", m.Detail)
		}
	}
	fmt.Fprintf(w, "Manual: %d step(s), %d awaiting attestation.\n", len(p.Manual), open)
}
