package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// The product's performance targets (docs/performance.md).
const (
	maxVsFloor   = 1.5 // handover's wall time at most 1.5x the bare-login floor
	minVsAnsible = 20  // and at least 20x faster than Ansible
	maxRSSMB     = 150 // peak RSS of handover
)

// Summary is what `measure table` writes as JSON: every record, the ratios
// and each target's verdict.
type Summary struct {
	Records []Record `json:"records"`
	Ratios  Ratios   `json:"ratios"`
	Targets []Target `json:"targets"`
}

type Ratios struct {
	HandoverVsFloorWall    float64 `json:"handover_vs_floor_wall"`
	AnsibleVsHandoverWall  float64 `json:"ansible_vs_handover_wall"`
	HandoverVsFloorCPU     float64 `json:"handover_vs_floor_cpu"`
	AnsibleVsHandoverCPU   float64 `json:"ansible_vs_handover_cpu"`
	HandoverVsFloorKexWall float64 `json:"handover_vs_floor_kex_wall,omitempty"`
}

type Target struct {
	What     string  `json:"what"`
	Want     string  `json:"want"`
	Measured float64 `json:"measured"`
	Met      bool    `json:"met"`
}

func tableCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("measure table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	floor := fs.String("floor", "", "record of (a), the bare ssh login floor")
	floorKex := fs.String("floor-kex", "", "record of the floor with handover's key exchange (optional)")
	inventory := fs.String("inventory", "", "record of (b0), handover inventory alone (optional)")
	handover := fs.String("handover", "", "record of (b), handover run")
	ansible := fs.String("ansible", "", "record of (c), ansible-playbook")
	ldap := fs.String("ldap", "", "record of the LDAP inventory (optional)")
	jsonOut := fs.String("json", "", "write the summary as JSON to this file")
	mdOut := fs.String("md", "", "write the table as Markdown to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *floor == "" || *handover == "" || *ansible == "" {
		return errors.New("need -floor, -handover and -ansible")
	}
	var recs []Record
	load := func(path string) (Record, error) {
		var r Record
		b, err := os.ReadFile(path)
		if err != nil {
			return r, err
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("%s: %w", path, err)
		}
		recs = append(recs, r)
		return r, nil
	}
	a, err := load(*floor)
	if err != nil {
		return err
	}
	var ak Record
	if *floorKex != "" {
		if ak, err = load(*floorKex); err != nil {
			return err
		}
	}
	if *inventory != "" {
		if _, err := load(*inventory); err != nil {
			return err
		}
	}
	b, err := load(*handover)
	if err != nil {
		return err
	}
	c, err := load(*ansible)
	if err != nil {
		return err
	}
	if *ldap != "" {
		if _, err := load(*ldap); err != nil {
			return err
		}
	}

	s := summarize(a, ak, b, c)
	s.Records = recs

	text := render(s, false)
	fmt.Fprint(stdout, text)
	if *mdOut != "" {
		if err := os.WriteFile(*mdOut, []byte(render(s, true)), 0o644); err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		j, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(j, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// summarize computes the ratios and the verdicts: floor a (and ak, the
// floor with handover's key exchange, when it was measured), handover b,
// Ansible c. A run that did not exit 0 meets no target.
func summarize(a, ak, b, c Record) Summary {
	s := Summary{Ratios: Ratios{
		HandoverVsFloorWall:   b.WallS / a.WallS,
		AnsibleVsHandoverWall: c.WallS / b.WallS,
		HandoverVsFloorCPU:    (b.CPUS + b.ServerCPUS) / (a.CPUS + a.ServerCPUS),
		AnsibleVsHandoverCPU:  (c.CPUS + c.ServerCPUS) / (b.CPUS + b.ServerCPUS),
	}}
	if ak.WallS > 0 {
		s.Ratios.HandoverVsFloorKexWall = b.WallS / ak.WallS
	}
	ok := func(r Record) bool { return r.ExitCode == 0 }
	s.Targets = []Target{
		{What: "handover wall / floor wall", Want: fmt.Sprintf("<= %.1f", maxVsFloor), Measured: s.Ratios.HandoverVsFloorWall, Met: ok(a) && ok(b) && s.Ratios.HandoverVsFloorWall <= maxVsFloor},
		{What: "ansible wall / handover wall", Want: fmt.Sprintf(">= %d", minVsAnsible), Measured: s.Ratios.AnsibleVsHandoverWall, Met: ok(b) && ok(c) && s.Ratios.AnsibleVsHandoverWall >= minVsAnsible},
		{What: "handover peak RSS (MB)", Want: fmt.Sprintf("<= %d", maxRSSMB), Measured: b.MaxRSSMB, Met: ok(b) && b.MaxRSSMB <= maxRSSMB},
	}
	return s
}

// render lays the summary out as an aligned text table or as Markdown.
func render(s Summary, markdown bool) string {
	var sb strings.Builder
	header := []string{"run", "exit", "wall s", "CPU s (user+sys)", "server CPU s", "machine CPU s", "max RSS MB", "tree RSS MB"}
	rows := [][]string{}
	for _, r := range s.Records {
		rows = append(rows, []string{
			r.Label, fmt.Sprint(r.ExitCode), f2(r.WallS),
			fmt.Sprintf("%s (%s+%s)", f2(r.CPUS), f2(r.UserS), f2(r.SysS)),
			f2(r.ServerCPUS), f2(r.MachineCPUS), f1(r.MaxRSSMB), f1(r.TreeRSSMB),
		})
	}
	if markdown {
		sb.WriteString("| " + strings.Join(header, " | ") + " |\n")
		sb.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
		for _, r := range rows {
			sb.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		sb.WriteString("\n")
	} else {
		tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
		sb.WriteString("\n")
	}
	ratio := func(name string, v float64) {
		if markdown {
			fmt.Fprintf(&sb, "- %s: %.2f\n", name, v)
		} else {
			fmt.Fprintf(&sb, "%-44s %.2f\n", name, v)
		}
	}
	ratio("(b)/(a) wall", s.Ratios.HandoverVsFloorWall)
	if s.Ratios.HandoverVsFloorKexWall != 0 {
		ratio("(b)/(a') wall, floor with curve25519-sha256", s.Ratios.HandoverVsFloorKexWall)
	}
	ratio("(c)/(b) wall", s.Ratios.AnsibleVsHandoverWall)
	ratio("(b)/(a) CPU, controller + servers", s.Ratios.HandoverVsFloorCPU)
	ratio("(c)/(b) CPU, controller + servers", s.Ratios.AnsibleVsHandoverCPU)
	sb.WriteString("\n")
	for _, t := range s.Targets {
		verdict := "MET"
		if !t.Met {
			verdict = "MISSED"
		}
		if markdown {
			fmt.Fprintf(&sb, "- %s: %.2f, target %s: **%s**\n", t.What, t.Measured, t.Want, verdict)
		} else {
			fmt.Fprintf(&sb, "target %-32s %8.2f  (want %s)  %s\n", t.What, t.Measured, t.Want, verdict)
		}
	}
	return sb.String()
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
