package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/pdf"
)

// renderTimeout bounds reading and rendering one report; pdfTimeout
// printing it (measured: 20 s for 100 hosts, growing with the hosts).
const (
	renderTimeout = 2 * time.Minute
	pdfTimeout    = 30 * time.Minute
)

func reportCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "work with a signed report",
		Subcommands: []*cli.Command{{
			Name:      "render",
			Usage:     "render a report.json as HTML, Markdown or PDF, in French or English",
			ArgsUsage: "REPORT.json",
			Description: "Renders report.json again, for instance in the other language. The output embeds\n" +
				"report.json's SHA-256; it is not signed (only the renderings written with the\n" +
				"report are). Check the report itself with `handover verify`.\n\n" +
				"--format pdf prints the HTML rendering on A4 with the machine's headless Chromium\n" +
				"(chromium-headless-shell or chromium; HANDOVER_CHROMIUM names another): every\n" +
				"section unfolded, ending with the procès-verbal de fin de réversibilité to sign.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "format", Value: "html", Usage: "html, md or pdf"},
				&cli.StringFlag{Name: "lang", Usage: "fr or en (default: the report's language)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of standard output"},
			},
			Action: func(c *cli.Context) error {
				args, err := interspersed(c)
				if err != nil {
					return withCode(exitError, err)
				}
				if len(args) != 1 {
					return withCode(exitError, fmt.Errorf("report render: expected one REPORT.json argument (see handover report render --help)"))
				}
				timeout := renderTimeout
				if c.String("format") == "pdf" {
					timeout = pdfTimeout
				}
				ctx, cancel := context.WithTimeout(c.Context, timeout)
				defer cancel()
				out, err := renderReport(ctx, args[0], c.String("format"), c.String("lang"))
				if err != nil {
					return withCode(exitError, err)
				}
				if o := c.String("output"); o != "" {
					if err := refuseSigned(o); err != nil {
						return withCode(exitError, err)
					}
					if err := atomicfile.Write(o, out, 0o644); err != nil {
						return withCode(exitError, err)
					}
					return nil
				}
				_, err = s.out.Write(out)
				return err
			},
		}, reportMergeCommand(s)},
	}
}

// mergeTimeout bounds verifying the shards and writing the merged report.
const mergeTimeout = 30 * time.Minute

func reportMergeCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "merge the signed reports of the shards of one playbook (handover run --limit) into one signed report",
		ArgsUsage: "SHARD_REPORT_DIR... -o DIR",
		Description: "Verifies each shard's report as handover verify does (signatures, journal hash\n" +
			"chain, renderings) against the playbook's signing key, or --allowed-signers FILE;\n" +
			"refuses shards of another playbook (SHA-256), the same shard twice, and shards whose\n" +
			"--limit patterns overlap (a system in two shards). Then writes DIR: the merged\n" +
			"report (every shard's dossier, actions, credentials and deviations, the summary\n" +
			"added up), signed with the playbook's signing key, with a journal recording each\n" +
			"shard's report.json SHA-256, and a copy of every shard's signed files in\n" +
			"DIR/shards/N. handover verify DIR/report.json checks it down to its shards.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "playbook", Usage: "the playbook `FILE` the shards ran: its SHA-256 must be theirs; its signing key signs the merged report"},
			&cli.StringFlag{Name: "allowed-signers", Usage: "trust the shards' signers listed in `FILE` (default: the playbook's signing key)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the merged report in `DIR` (new)"},
			&cli.StringFlag{Name: "lang", Usage: "fr or en (default: the first shard's language)"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) < 2 {
				return withCode(exitError, fmt.Errorf("report merge: give two shard reports or more (see handover report merge --help)"))
			}
			if c.String("playbook") == "" || c.String("output") == "" {
				return withCode(exitError, fmt.Errorf("report merge: --playbook FILE and -o DIR are required (see handover report merge --help)"))
			}
			if l := c.String("lang"); l != "" && l != "fr" && l != "en" {
				return withCode(exitError, fmt.Errorf("report merge: --lang must be fr or en, not %q", l))
			}
			trust, err := verifyTrust(c.String("allowed-signers"), c.String("playbook"), false)
			if c.String("allowed-signers") != "" {
				trust, err = report.TrustAllowedSigners(c.String("allowed-signers")), nil
			}
			if err != nil {
				return withCode(exitError, err)
			}
			e := newEngine(c, s)
			sess, err := loadWith(c.Context, s, e, c.String("playbook"))
			if err != nil {
				return err
			}
			defer sess.Close()
			ctx, cancel := context.WithTimeout(c.Context, mergeTimeout)
			defer cancel()
			signer, err := sess.Signer(ctx)
			if err != nil {
				return withCode(exitError, fmt.Errorf("report merge: %s: the signing key cannot sign: %w", sess.Playbook.File, err))
			}
			files, err := report.WriteMerged(ctx, c.String("output"), args, report.MergeOptions{
				Trust:    trust,
				Signer:   signer,
				Playbook: sess.Playbook.Hash,
				Info: report.MergeInfo{
					RunID:    "merge-" + e.NewRunID(),
					Operator: sess.Operator(),
					Tool:     report.Tool{Name: "handover", Version: version},
					Lang:     c.String("lang"),
				},
			})
			if err != nil {
				return withCode(exitError, err)
			}
			fmt.Fprintf(s.out, "Merged %d shards into %s\n", len(args), files.Dir)
			for _, f := range files.All() {
				fmt.Fprintf(s.out, "  %s\n", f)
			}
			fmt.Fprintf(s.out, "  %s/ (each shard's signed report)\n", filepath.Join(files.Dir, report.ShardsDir))
			return nil
		},
	}
}

// refuseSigned refuses an output file that is signed (its signature is
// beside it) or that lies in a signed report's directory, where a new or
// changed file would make the report fail verification.
func refuseSigned(file string) error {
	if _, err := os.Stat(file + report.SigSuffix); err == nil {
		return fmt.Errorf("report render: refusing to write %s: it is signed (%s%s is beside it); write the rendering elsewhere", file, file, report.SigSuffix)
	}
	dir := filepath.Dir(file)
	for _, marker := range []string{report.JSONFile + report.SigSuffix, report.AllowedSignersFile} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return fmt.Errorf("report render: refusing to write %s: %s is a signed report's directory (it holds %s), which must hold the signed files only; write the rendering elsewhere", file, dir, marker)
		}
	}
	return nil
}

func renderReport(ctx context.Context, path, format, lang string) ([]byte, error) {
	switch format {
	case "html", "md", "pdf":
	default:
		return nil, fmt.Errorf("report render: --format must be html, md or pdf, not %q", format)
	}
	if lang != "" && lang != "fr" && lang != "en" {
		return nil, fmt.Errorf("report render: --lang must be fr or en, not %q", lang)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report render: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := report.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("report render: %s %w", path, err)
	}
	if format != "pdf" {
		return report.Render(r, format, lang)
	}
	html, err := report.Render(r, "html", lang)
	if err != nil {
		return nil, err
	}
	out, err := pdf.Print(ctx, html)
	if err != nil {
		return nil, fmt.Errorf("report render: %w", err)
	}
	return out, nil
}

// interspersed returns a command's positional arguments and applies the
// flags written after them ("verify REPORT.json --allowed-signers F"),
// which Go's flag parsing leaves among the arguments.
func interspersed(c *cli.Context) ([]string, error) {
	// Aliases are separate flags until urfave/cli normalises them, which
	// it has done already: set the primary name, which the action reads.
	primary := map[string]string{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			primary[n] = f.Names()[0]
		}
	}
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		flag, ok := primary[name]
		if !ok {
			return nil, fmt.Errorf("%s: unknown flag %s", c.Command.Name, a)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s: flag %s needs a value", c.Command.Name, a)
			}
			i++
			value = args[i]
		}
		if err := c.Set(flag, value); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", c.Command.Name, a, err)
		}
	}
	return pos, nil
}
