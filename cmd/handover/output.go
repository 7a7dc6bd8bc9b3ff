package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/connector"
)

// outputFlag is the -o of the reading commands.
func outputFlag(what string) *cli.StringFlag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write " + what + " as JSON to `FILE` (- for stdout)"}
}

// parallelFlag bounds the fan-out of a command.
var parallelFlag = &cli.IntFlag{Name: "parallel", Usage: "at most `N` targets/hosts at once", DefaultText: "policy.parallel"}

// writeJSON writes v to the command's -o file, if one was given, and says
// whether the human summary should still go to stdout.
func writeJSON(c *cli.Context, s *stdio, v any) (summary bool, err error) {
	out := c.String("output")
	if out == "" {
		return true, nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return false, withCode(exitError, err)
	}
	if err := writeOutput(s, out, append(b, '\n')); err != nil {
		return false, withCode(exitError, err)
	}
	return out != "-", nil
}

// writeOutput writes a command's -o file atomically, or to stdout for "-".
func writeOutput(s *stdio, path string, b []byte) error {
	if path == "-" {
		_, err := s.out.Write(b)
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// writeInventories is writeJSON for a dossier, encoded system by system
// straight to the file: the same bytes as json.MarshalIndent, without
// holding the whole encoding (and its indented copy) in memory, which at
// 1,000 hosts is the inventory's memory peak (docs/scale.md).
func writeInventories(c *cli.Context, s *stdio, invs []*connector.Inventory) (summary bool, err error) {
	out := c.String("output")
	if out == "" {
		return true, nil
	}
	fill := func(w io.Writer) error { return encodeInventories(w, invs) }
	if out == "-" {
		bw := bufio.NewWriter(s.out)
		if err := fill(bw); err != nil {
			return false, withCode(exitError, err)
		}
		return false, bw.Flush()
	}
	if err := atomicfile.WriteFunc(out, 0o644, fill); err != nil {
		return false, withCode(exitError, err)
	}
	return true, nil
}

// encodeInventories writes invs as json.MarshalIndent(invs, "", "  ")
// followed by a newline would, one system at a time.
func encodeInventories(w io.Writer, invs []*connector.Inventory) error {
	if invs == nil {
		_, err := io.WriteString(w, "null\n")
		return err
	}
	if len(invs) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	for i, inv := range invs {
		if i > 0 {
			if _, err := io.WriteString(w, ",\n"); err != nil {
				return err
			}
		}
		if inv == nil || inv.Systems == nil || len(inv.Systems) == 0 {
			b, err := json.MarshalIndent(inv, "  ", "  ")
			if err != nil {
				return err
			}
			if _, err := w.Write(append([]byte("  "), b...)); err != nil {
				return err
			}
			continue
		}
		head := *inv
		head.Systems = nil
		b, err := json.MarshalIndent(&head, "  ", "  ")
		if err != nil {
			return err
		}
		// Systems is the last member: its null is replaced by the list.
		const tail = "\"systems\": null\n  }"
		if !bytes.HasSuffix(b, []byte(tail)) {
			return fmt.Errorf("inventory encoding: unexpected layout")
		}
		b = b[:len(b)-len(tail)]
		if _, err := w.Write(append(append([]byte("  "), b...), "\"systems\": [\n"...)); err != nil {
			return err
		}
		for j := range inv.Systems {
			sb, err := json.MarshalIndent(&inv.Systems[j], "      ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n"
			if j == len(inv.Systems)-1 {
				sep = "\n"
			}
			if _, err := w.Write(append(append([]byte("      "), sb...), sep...)); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, "    ]\n  }"); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n]\n")
	return err
}
