package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/secret"
)

func secretsCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:  "secrets",
		Usage: "list the credentials a run stored, or reveal one on explicit request",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list every stored credential: path, version, state, date (never a value)",
				ArgsUsage: "PLAYBOOK",
				Flags:     []cli.Flag{outputFlag("the list")},
				Action: func(c *cli.Context) error {
					sess, err := load(c.Context, c, s, newEngine(c, s))
					if err != nil {
						return err
					}
					defer sess.Close()
					st, err := sess.Store(c.Context)
					if err != nil {
						return withCode(exitError, err)
					}
					vs, err := st.List(c.Context)
					if err != nil {
						return withCode(exitError, err)
					}
					summary, err := writeJSON(c, s, secretList{Store: storeInfo{Kind: st.Kind(), Location: st.Location()}, Secrets: append([]secret.Version{}, vs...)})
					if err != nil || !summary {
						return err
					}
					fmt.Fprintf(s.out, "store: %s %s\n", st.Kind(), st.Location())
					tw := tabwriter.NewWriter(s.out, 2, 8, 2, ' ', 0)
					fmt.Fprintln(tw, "PATH\tVERSION\tSTATE\tCREATED\tRUN")
					for _, v := range vs {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", v.Path, v.Version, v.State, v.Created.UTC().Format("2006-01-02 15:04:05Z"), v.Meta["run"])
					}
					return tw.Flush()
				},
			},
			{
				Name:      "get",
				Usage:     "show a stored credential's metadata; its value only with --reveal",
				ArgsUsage: "PLAYBOOK PATH",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "version", Usage: "`N`th version", DefaultText: "the current one"},
					&cli.BoolFlag{Name: "reveal", Usage: "print the value itself on stdout"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return withCode(exitError, fmt.Errorf("secrets get: expected PLAYBOOK PATH"))
					}
					path := c.Args().Get(1)
					sess, err := loadPath(c, s, c.Args().First())
					if err != nil {
						return err
					}
					defer sess.Close()
					st, err := sess.Store(c.Context)
					if err != nil {
						return withCode(exitError, err)
					}
					val, v, err := st.Get(c.Context, path, c.Int("version"))
					if err != nil {
						return withCode(exitError, fmt.Errorf("%s: %w", path, err))
					}
					if c.Bool("reveal") {
						fmt.Fprintln(s.out, val.Reveal())
						return nil
					}
					fmt.Fprintf(s.out, "ref:     %s\nstate:   %s\ncreated: %s\n", secret.RefOf(st, v), v.State, v.Created.UTC().Format("2006-01-02 15:04:05Z"))
					for _, k := range []string{"target", "system", "object", "action", "run"} {
						if v.Meta[k] != "" {
							fmt.Fprintf(s.out, "%-8s %s\n", k+":", v.Meta[k])
						}
					}
					fmt.Fprintf(s.out, "(value not shown: `handover secrets get --reveal --version %s %s %s` prints it)\n", strconv.Itoa(v.Version), c.Args().First(), path)
					return nil
				},
			},
		},
	}
}

// secretList is `secrets list`'s JSON output: metadata, never a value.
type secretList struct {
	Store   storeInfo        `json:"store"`
	Secrets []secret.Version `json:"secrets"`
}

type storeInfo struct {
	Kind     string `json:"kind"`
	Location string `json:"location"`
}
