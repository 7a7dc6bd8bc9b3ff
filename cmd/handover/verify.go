package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/playbook"
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
			"Say whom you trust to have signed: --allowed-signers FILE (your own copy of the\n" +
			"signer's key, obtained through another channel) or --playbook FILE (the key its\n" +
			"signing section names). --integrity-only uses the allowed_signers shipped with the\n" +
			"report instead: that proves the files were not changed after signing, not who\n" +
			"signed them.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "allowed-signers", Usage: "trust the signers listed in `FILE` (ssh-keygen's ALLOWED SIGNERS format)"},
			&cli.StringFlag{Name: "playbook", Usage: "trust the signing key of the playbook `FILE` (signing.public_key, or the public half of signing.key)"},
			&cli.BoolFlag{Name: "integrity-only", Usage: "check against the allowed_signers shipped with the report: proves integrity, not who signed"},
			outputFlag("the verification"),
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) != 1 {
				return withCode(exitError, fmt.Errorf("verify: expected one REPORT.json argument (see handover verify --help)"))
			}
			trust, err := verifyTrust(c.String("allowed-signers"), c.String("playbook"), c.Bool("integrity-only"))
			if err != nil {
				return withCode(exitError, err)
			}
			ctx, cancel := context.WithTimeout(c.Context, verifyTimeout)
			defer cancel()
			v, err := report.Verify(ctx, args[0], trust)
			summary, jerr := writeJSON(c, s, verifyResult(args[0], v, err))
			if jerr != nil {
				return jerr
			}
			if !summary {
				if err != nil {
					return withCode(exitError, err)
				}
				return nil
			}
			printVerification(s, v)
			if err != nil {
				return withCode(exitError, err)
			}
			if v.IntegrityOnly {
				fmt.Fprintf(s.out, "OK (integrity only): %s, its renderings and its journal are intact and were all signed by key %s, which calls itself %s. Who holds that key is NOT proven: verify with your own copy of the signer's key (--allowed-signers FILE or --playbook FILE) for that.\n", args[0], v.Fingerprint, v.Identity)
				return nil
			}
			fmt.Fprintf(s.out, "OK: %s, its renderings and its journal are intact and signed by %s (%s), as %s says.\n", args[0], v.Identity, v.Fingerprint, v.TrustSource)
			return nil
		},
	}
}

// verifyTrust is the trust source the options name: exactly one.
func verifyTrust(allowedSigners, playbookFile string, integrityOnly bool) (report.Trust, error) {
	n := 0
	for _, set := range []bool{allowedSigners != "", playbookFile != "", integrityOnly} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return report.Trust{}, errors.New("verify: say whom you trust to have signed: --allowed-signers FILE (your own copy of the signer's key) or --playbook FILE (its signing key); --integrity-only checks that nothing changed after signing, not who signed")
	case n > 1:
		return report.Trust{}, errors.New("verify: give one of --allowed-signers, --playbook and --integrity-only")
	case allowedSigners != "":
		return report.TrustAllowedSigners(allowedSigners), nil
	case integrityOnly:
		return report.IntegrityOnly(), nil
	}
	pb, d, err := playbook.Load(playbookFile)
	if err != nil {
		return report.Trust{}, fmt.Errorf("verify: %w", err)
	}
	if vt := pb.Signing.VaultTransit; vt != nil && pb.Signing.PublicKey == "" {
		return report.Trust{}, fmt.Errorf("verify: %s signs with the Vault transit key %s/%s and names no signing.public_key: verify with --allowed-signers and your own copy of that key's public half", playbookFile, vt.Mount, vt.Key)
	}
	if pb.Signing.Key == "" && pb.Signing.PublicKey == "" {
		if ds := d.Diagnostics(); len(ds) > 0 {
			return report.Trust{}, fmt.Errorf("verify: %s has no usable signing section:\n%w", playbookFile, ds)
		}
		return report.Trust{}, fmt.Errorf("verify: %s has no signing section", playbookFile)
	}
	t, err := report.TrustSigningKey(pb.Signing, pb.Dir, playbookFile)
	if err != nil {
		return report.Trust{}, fmt.Errorf("verify: %s: %w", playbookFile, err)
	}
	return t, nil
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
		if f.SHA256 == "" {
			fmt.Fprintf(s.out, "%-16s MISSING\n", f.Name)
			continue
		}
		fmt.Fprintf(s.out, "%-16s sha256 %s  %s\n", f.Name, f.SHA256[:16], state)
	}
	if v.JournalHead != "" {
		fmt.Fprintf(s.out, "journal          %d records, head %s\n", v.JournalRecords, v.JournalHead)
	}
	if v.Shards > 0 {
		fmt.Fprintf(s.out, "shards           %d verified as reports of their own (shards/N)\n", v.Shards)
	}
	if v.Trust != "" {
		fmt.Fprintf(s.out, "trust            %s\n", v.Trust)
	}
}

// verification is verify's JSON output (docs/commands.md#verify).
type verification struct {
	Report        string          `json:"report"`
	OK            bool            `json:"ok"`
	IntegrityOnly bool            `json:"integrity_only"`
	TrustSource   string          `json:"trust_source,omitempty"`
	Trust         string          `json:"trust,omitempty"`
	Identity      string          `json:"identity,omitempty"`
	Fingerprint   string          `json:"fingerprint,omitempty"`
	Files         []verifiedFile  `json:"files"`
	Journal       *verifiedJourn  `json:"journal,omitempty"`
	Shards        int             `json:"shards,omitempty"`
	Problems      []verifyProblem `json:"problems"`
	Error         string          `json:"error,omitempty"`
}

type verifiedFile struct {
	Name        string `json:"name"`
	SHA256      string `json:"sha256,omitempty"`
	Missing     bool   `json:"missing,omitempty"`
	SignatureOK bool   `json:"signature_ok"`
}

type verifiedJourn struct {
	Records int    `json:"records"`
	Head    string `json:"head"`
}

type verifyProblem struct {
	File  string `json:"file"`
	Where string `json:"where,omitempty"`
	What  string `json:"what"`
}

func verifyResult(path string, v *report.Verification, err error) verification {
	out := verification{Report: path, OK: err == nil, Files: []verifiedFile{}, Problems: []verifyProblem{}}
	if err != nil {
		out.Error = err.Error()
	}
	if v == nil {
		return out
	}
	out.IntegrityOnly, out.TrustSource, out.Trust = v.IntegrityOnly, v.TrustSource, v.Trust
	out.Identity, out.Fingerprint = v.Identity, v.Fingerprint
	for _, f := range v.Files {
		out.Files = append(out.Files, verifiedFile{Name: f.Name, SHA256: f.SHA256, Missing: f.SHA256 == "", SignatureOK: f.SignedOK})
	}
	out.Shards = v.Shards
	if v.JournalHead != "" {
		out.Journal = &verifiedJourn{Records: v.JournalRecords, Head: v.JournalHead}
	}
	for _, p := range v.Problems {
		out.Problems = append(out.Problems, verifyProblem{File: p.File, Where: p.Where, What: p.What})
	}
	return out
}
