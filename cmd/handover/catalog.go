package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/connectors/ssh"
	"github.com/handoverhq/handover/handover/playbook"
)

func catalogCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "catalog",
		Usage:     "list the agents the ssh connector recognises, or check an extension file",
		ArgsUsage: " ",
		Description: "Lists the built-in catalogue of remote-access, RMM and monitoring agents\n" +
			"(with --extend FILE, as extended by a playbook's catalogue file).\n" +
			"--check FILE validates an extension file and reports every problem as\n" +
			"file:line:col: message.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "check", Usage: "validate an extension `FILE` and exit"},
			&cli.StringFlag{Name: "extend", Usage: "list the built-in catalogue extended by `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "print the catalogue as JSON (as -o -)"},
			outputFlag("the catalogue"),
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return withCode(exitError, fmt.Errorf("catalog: unexpected argument %q (use --check FILE)", c.Args().First()))
			}
			if file := c.String("check"); file != "" {
				cat, err := readCatalogFile(file)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.out, "%s: ok (%d agents)\n", file, len(cat.Agents))
				return nil
			}
			cat, err := ssh.BuiltinCatalog()
			if err != nil {
				return withCode(exitError, err)
			}
			if file := c.String("extend"); file != "" {
				ext, err := readCatalogFile(file)
				if err != nil {
					return err
				}
				cat.Merge(ext)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(cat.Agents)
			}
			if summary, err := writeJSON(c, s, cat.Agents); err != nil || !summary {
				return err
			}
			tw := tabwriter.NewWriter(s.out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTITLE\tVENDOR\tPACKAGES\tUNITS\tSOURCE")
			for _, a := range cat.Agents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Title, a.Vendor, cmp.Or(strings.Join(a.Packages, " "), "-"), cmp.Or(strings.Join(a.Units, " "), "-"), a.Source)
			}
			return tw.Flush()
		},
	}
}

// readCatalogFile parses an extension file, printing its diagnostics.
func readCatalogFile(file string) (*ssh.Catalog, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, withCode(exitError, err)
	}
	cat, ds := ssh.ParseCatalog(file, data)
	if len(ds) > 0 {
		return nil, withCode(exitError, catalogProblems(ds))
	}
	return cat, nil
}

type catalogProblems playbook.Diagnostics

func (p catalogProblems) Error() string {
	return fmt.Sprintf("%s\n%d problem(s)", playbook.Diagnostics(p).Error(), len(p))
}
