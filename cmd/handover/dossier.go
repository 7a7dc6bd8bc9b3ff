package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/dossier"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/pdf"
)

// dossierTimeout bounds an export or an opening (the report's
// verification included).
const dossierTimeout = 10 * time.Minute

func dossierCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:  "dossier",
		Usage: "the signed dossier: update it after reviewed drift, hand it over (encrypted bundle, signed receipt, letters)",
		Subcommands: []*cli.Command{
			dossierUpdateCommand(s),
			dossierExportCommand(s),
			dossierOpenCommand(s),
			{
				Name:        "receipt",
				Usage:       "work with the incoming provider's signed receipts",
				Subcommands: []*cli.Command{dossierReceiptVerifyCommand(s)},
			},
			dossierLettersCommand(s),
		},
	}
}

func dossierExportCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the encrypted bundle: the signed report, its journal, the current credentials, a manifest",
		ArgsUsage: "PLAYBOOK",
		Description: "Encrypts with age to every recipient (age1… keys, ssh-ed25519 and ssh-rsa public keys):\n" +
			"the latest signed report with its journal and signatures, the current credential of every\n" +
			"selected target from the store (pending and previous versions only when asked), and a\n" +
			"manifest with the SHA-256 of every file. The cleartext is never written to disk. The\n" +
			"export is journaled in the state directory (who, when, recipients' fingerprints, which\n" +
			"credential versions, never a value) and listed in the next report.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "to", Aliases: []string{"r"}, Usage: "encrypt to `RECIPIENT` (age1…, or an SSH public key line); repeatable"},
			&cli.StringSliceFlag{Name: "recipients-file", Aliases: []string{"R"}, Usage: "encrypt to every recipient of `FILE` (one a line, as age -R); repeatable"},
			&cli.StringSliceFlag{Name: "select", Usage: "only the credentials of `TARGET[/SYSTEM]`; repeatable (default: every target)"},
			&cli.BoolFlag{Name: "include-pending", Usage: "also the pending versions (stored, not yet proven on their target)"},
			&cli.BoolFlag{Name: "include-previous", Usage: "also the previous (superseded) versions"},
			&cli.StringFlag{Name: "report", Usage: "the signed report `DIR` to include (default: the latest)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the bundle to `BUNDLE.age`"},
			&cli.BoolFlag{Name: "force", Usage: "replace the output file if it exists"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) != 1 {
				return withCode(exitError, errors.New("dossier export: expected one PLAYBOOK argument (see handover dossier export --help)"))
			}
			var rs []dossier.Recipient
			for _, v := range c.StringSlice("to") {
				r, err := dossier.ParseRecipient(v)
				if err != nil {
					return withCode(exitError, fmt.Errorf("dossier export: %w", err))
				}
				rs = append(rs, r)
			}
			for _, f := range c.StringSlice("recipients-file") {
				more, err := dossier.ParseRecipientsFile(f)
				if err != nil {
					return withCode(exitError, fmt.Errorf("dossier export: %w", err))
				}
				rs = append(rs, more...)
			}
			sel := dossier.Selection{Pending: c.Bool("include-pending"), Previous: c.Bool("include-previous")}
			for _, v := range c.StringSlice("select") {
				x, err := dossier.ParseSelector(v)
				if err != nil {
					return withCode(exitError, fmt.Errorf("dossier export: %w", err))
				}
				sel.Select = append(sel.Select, x)
			}
			sess, err := loadPath(c, s, args[0])
			if err != nil {
				return err
			}
			defer sess.Close()
			ctx, cancel := context.WithTimeout(c.Context, dossierTimeout)
			defer cancel()
			res, err := sess.ExportDossier(ctx, engine.ExportOptions{
				Recipients: rs, Selection: sel, ReportDir: c.String("report"), Output: c.String("output"), Force: c.Bool("force"),
			})
			if err != nil {
				return withCode(exitError, fmt.Errorf("dossier export: %w", err))
			}
			printExport(s, res)
			return nil
		},
	}
}

func printExport(s *stdio, res *engine.ExportResult) {
	m := res.Built.Manifest
	fmt.Fprintf(s.out, "Bundle:    %s\n           sha256 %s\n", res.Output, res.Built.SHA256)
	fmt.Fprintf(s.out, "Manifest:  sha256 %s, %d files\n", res.Built.ManifestSHA256, len(m.Files))
	fmt.Fprintf(s.out, "Report:    run %s, signed by %s (%s)\n", m.Report.Run, m.Report.Signer, m.Report.Fingerprint)
	fmt.Fprintln(s.out, "Recipients:")
	for _, r := range m.Recipients {
		fmt.Fprintf(s.out, "  %-12s %s %s\n", r.Type, r.Fingerprint, r.Comment)
	}
	fmt.Fprintf(s.out, "Credentials (%d, values never shown):\n", len(res.Selected))
	tw := tabwriter.NewWriter(s.out, 2, 8, 2, ' ', 0)
	for _, f := range m.Files {
		if c := f.Credential; c != nil {
			fmt.Fprintf(tw, "  %s/%s\t%s\t%s\t%s\n", c.Target, c.System, c.Account, c.Ref(), c.State)
		}
	}
	tw.Flush()
	fmt.Fprintf(s.out, "Journal:   %s\n", res.Journal)
	fmt.Fprintf(s.out, "\nThe incoming provider opens it with its key and your signing key (obtained from you through another channel):\n"+
		"  handover dossier open %s --identity KEY --allowed-signers CLIENT_SIGNERS [--import STORE.yaml]\n"+
		"and sends back receipt.json and receipt.json.sig; check them with:\n"+
		"  handover dossier receipt verify receipt.json --allowed-signers PROVIDER_SIGNERS --playbook PLAYBOOK\n", res.Output)
}

func dossierOpenCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "open",
		Usage:     "decrypt a bundle, verify its report and manifest, list it, import its credentials, sign a receipt",
		ArgsUsage: "BUNDLE.age",
		Description: "Decrypts with your identity (an age identity file or an SSH ed25519/RSA private key),\n" +
			"checks every file against the manifest, and verifies the report's signatures and journal\n" +
			"against the client's key you trust (--allowed-signers FILE, as `handover verify`). Then it\n" +
			"lists what the bundle holds (never a value), imports the credentials into your own store\n" +
			"when --import names its settings, and writes receipt.json with its SSH signature\n" +
			"(namespace handover-receipt) for the client. A wrong identity, a changed byte or an\n" +
			"untrusted signer stop it before anything is imported or written.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "identity", Aliases: []string{"i"}, Usage: "decrypt with `KEY` (age identity file, or SSH private key)"},
			&cli.StringFlag{Name: "allowed-signers", Usage: "trust the client's signers listed in `FILE` (ssh-keygen's ALLOWED SIGNERS format)"},
			&cli.StringFlag{Name: "playbook", Usage: "trust the signing key of the playbook `FILE`"},
			&cli.StringFlag{Name: "import", Usage: "import the credentials into the store `STORE.yaml` names (a playbook's secrets section, and optionally state)"},
			&cli.StringFlag{Name: "receipt", Usage: "write the receipt to `FILE` (default: receipt.json beside the bundle), its signature to FILE.sig"},
			&cli.StringFlag{Name: "sign-key", Usage: "sign the receipt with the SSH private key `FILE` (default: the identity, when it is an SSH key)"},
			&cli.StringFlag{Name: "signer", Usage: "the receipt's signer `IDENTITY`, as the client's allowed_signers names you (default: the incoming provider's contact in the manifest)"},
			&cli.BoolFlag{Name: "no-receipt", Usage: "check and list only: no receipt, no import"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing receipt"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) != 1 {
				return withCode(exitError, errors.New("dossier open: expected one BUNDLE argument (see handover dossier open --help)"))
			}
			return failed(openBundle(c, s, args[0]))
		},
	}
}

func openBundle(c *cli.Context, s *stdio, bundle string) error {
	if c.String("identity") == "" {
		return errors.New("dossier open: give --identity KEY (your age identity file or SSH private key)")
	}
	if c.Bool("no-receipt") && c.String("import") != "" {
		return errors.New("dossier open: --import writes a receipt of what it imported; it cannot go with --no-receipt")
	}
	if c.String("allowed-signers") == "" && c.String("playbook") == "" {
		return errors.New("dossier open: say whom you trust to have signed the report: --allowed-signers FILE (the client's key, obtained through another channel) or --playbook FILE")
	}
	trust, err := verifyTrust(c.String("allowed-signers"), c.String("playbook"), false)
	if err != nil {
		return fmt.Errorf("dossier open: %w", err)
	}
	id, err := dossier.LoadIdentity(c.String("identity"))
	if err != nil {
		return fmt.Errorf("dossier open: %w", err)
	}
	receiptFile := c.String("receipt")
	if receiptFile == "" {
		receiptFile = filepath.Join(filepath.Dir(bundle), "receipt.json")
	}
	var signer ssh.Signer
	if !c.Bool("no-receipt") {
		switch {
		case c.String("sign-key") != "":
			if signer, err = dossier.LoadSigningKey(c.String("sign-key")); err != nil {
				return fmt.Errorf("dossier open: %w", err)
			}
		case id.Signer != nil:
			signer = id.Signer
		default:
			return errors.New("dossier open: the receipt is signed with an SSH key: give --sign-key FILE (or --no-receipt to check and list only)")
		}
		if !c.Bool("force") {
			for _, f := range []string{receiptFile, receiptFile + report.SigSuffix} {
				if _, err := os.Lstat(f); err == nil {
					return fmt.Errorf("dossier open: %s exists: refusing to replace it (--force replaces it, --receipt FILE writes elsewhere)", f)
				}
			}
		}
	}
	// The import store is opened (and a sealed Vault or a wrong passphrase
	// found) before the bundle is.
	var imp *engine.Session
	if f := c.String("import"); f != "" {
		imp, err = newEngine(c, s).LoadStoreSettings(c.Context, f)
		if err != nil {
			var ds playbook.Diagnostics
			if errors.As(err, &ds) {
				printDiagnostics(s.err, ds)
				return fmt.Errorf("dossier open: %s: %d problem(s); nothing was imported", f, len(ds))
			}
			return fmt.Errorf("dossier open: %s: %w", f, err)
		}
		defer imp.Close()
	}
	ctx, cancel := context.WithTimeout(c.Context, dossierTimeout)
	defer cancel()
	if imp != nil {
		st, err := imp.Store(ctx)
		if err != nil {
			return fmt.Errorf("dossier open: import store: %w; nothing was imported", err)
		}
		if err := st.Check(ctx); err != nil {
			return fmt.Errorf("dossier open: import store %s at %s cannot take the credentials: %w; nothing was imported", st.Kind(), st.Location(), err)
		}
	}
	ct, err := os.ReadFile(bundle)
	if err != nil {
		return fmt.Errorf("dossier open: %w", err)
	}
	o, err := dossier.Open(ctx, ct, id, trust)
	if err != nil {
		return fmt.Errorf("dossier open: %s: %w; nothing was imported", bundle, err)
	}
	defer o.Destroy()
	printOpened(s, bundle, o)
	if c.Bool("no-receipt") {
		return nil
	}
	// The receipt's signer is settled before anything is imported.
	who := c.String("signer")
	if who == "" {
		who = o.Manifest.Handover.Incoming.Contact
	}
	if who == "" {
		return errors.New("dossier open: name the receipt's signer with --signer IDENTITY (as the client will list your key in its allowed_signers); nothing was imported")
	}
	var imported []dossier.Imported
	if imp != nil {
		var jf string
		imported, jf, err = imp.ImportDossier(ctx, o)
		if err != nil {
			if jf == "" {
				return fmt.Errorf("dossier open: %w", err)
			}
			return fmt.Errorf("dossier open: %w (journal: %s)", err, jf)
		}
		st, _ := imp.Store(ctx)
		fmt.Fprintf(s.out, "Imported:  %d credential(s) into the %s store %s (journal %s)\n", len(imported), st.Kind(), st.Location(), jf)
	}
	r := dossier.NewReceipt(o, time.Now(), who, signer.PublicKey(), imported)
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	sig, err := dossier.SignReceipt(b, signer)
	if err != nil {
		return fmt.Errorf("dossier open: %w", err)
	}
	write := atomicfile.Create
	if c.Bool("force") {
		write = atomicfile.Write
	}
	if err := write(receiptFile, b, 0o644); err != nil {
		return fmt.Errorf("dossier open: receipt: %w", err)
	}
	if err := write(receiptFile+report.SigSuffix, sig, 0o644); err != nil {
		return fmt.Errorf("dossier open: receipt signature: %w", err)
	}
	fmt.Fprintf(s.out, "Receipt:   %s and %s, signed by %s (%s)\n", receiptFile, receiptFile+report.SigSuffix, who, ssh.FingerprintSHA256(signer.PublicKey()))
	fmt.Fprintf(s.out, "Send both to the client. It checks them with:\n  handover dossier receipt verify %s --allowed-signers FILE\nor with OpenSSH:\n  ssh-keygen -Y verify -f FILE -I %s -n %s -s %s < %s\n",
		receiptFile, who, dossier.ReceiptNamespace, receiptFile+report.SigSuffix, receiptFile)
	return nil
}

func printOpened(s *stdio, bundle string, o *dossier.Opened) {
	m := o.Manifest
	fmt.Fprintf(s.out, "Bundle:    %s\n           sha256 %s\n", bundle, o.SHA256)
	fmt.Fprintf(s.out, "Opened by: %s %s\n", o.Identity.Type, o.Identity.Fingerprint)
	fmt.Fprintf(s.out, "Exported:  %s by %s (%s)\n", m.Created.Format(time.RFC3339), m.ExportedBy, m.ID)
	fmt.Fprintf(s.out, "Parties:   client %s; outgoing %s; incoming %s\n", m.Handover.Client.Name, m.Handover.Outgoing.Name, m.Handover.Incoming.Name)
	fmt.Fprintf(s.out, "Manifest:  sha256 %s: every file present and matching\n", o.ManifestSHA256)
	v := o.Verification
	fmt.Fprintf(s.out, "Report:    run %s, signed by %s (%s), verified against %s: signatures, journal (%d records) and renderings hold\n",
		m.Report.Run, v.Identity, v.Fingerprint, v.TrustSource, v.JournalRecords)
	tw := tabwriter.NewWriter(s.out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tKIND\tSHA256\tCREDENTIAL")
	for _, f := range m.Files {
		cred := ""
		if c := f.Credential; c != nil {
			cred = fmt.Sprintf("%s/%s %s (%s, %s)", c.Target, c.System, c.Account, c.Ref(), c.State)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Kind, f.SHA256[:16], cred)
	}
	tw.Flush()
}

func dossierReceiptVerifyCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "verify a receipt the incoming provider signed, and record it for the next report",
		ArgsUsage: "RECEIPT.json",
		Description: "Checks RECEIPT.json's signature (RECEIPT.json.sig, namespace handover-receipt) against\n" +
			"the incoming provider's key as your --allowed-signers FILE lists it, for the identity the\n" +
			"receipt names. With --playbook, the receipt must be for a bundle this playbook's state\n" +
			"recorded as exported; it is kept in the state directory and the next report lists it.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "allowed-signers", Usage: "trust the incoming provider's key as `FILE` lists it (ssh-keygen's ALLOWED SIGNERS format)"},
			&cli.StringFlag{Name: "playbook", Usage: "record the verified receipt in the state of `PLAYBOOK`"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) != 1 {
				return withCode(exitError, errors.New("dossier receipt verify: expected one RECEIPT.json argument"))
			}
			if c.String("allowed-signers") == "" {
				return withCode(exitError, errors.New("dossier receipt verify: say whom you trust to have signed: --allowed-signers FILE (the incoming provider's key, obtained through another channel)"))
			}
			r, b, err := dossier.VerifyReceipt(args[0], report.TrustAllowedSigners(c.String("allowed-signers")))
			if err != nil {
				return withCode(exitError, fmt.Errorf("dossier receipt verify: %w", err))
			}
			fmt.Fprintf(s.out, "OK: %s is signed by %s (%s), as %s says.\n", args[0], r.Signer, r.SignerFingerprint, c.String("allowed-signers"))
			fmt.Fprintf(s.out, "Bundle:    %s sha256 %s\nManifest:  sha256 %s\nOpened:    %s with %s %s\nReport:    run %s (sha256 %s)\n",
				r.Bundle, r.BundleSHA256, r.ManifestSHA256, r.Opened.Format(time.RFC3339), r.Recipient.Type, r.Recipient.Fingerprint, r.Report.Run, r.Report.SHA256)
			fmt.Fprintf(s.out, "Credentials: %d received, %d imported\n", len(r.Credentials), len(r.Imported))
			for _, i := range r.Imported {
				fmt.Fprintf(s.out, "  %s -> %s:%s#%d\n", i.From, i.Store, i.Path, i.Version)
			}
			if pb := c.String("playbook"); pb != "" {
				sig, err := os.ReadFile(args[0] + report.SigSuffix)
				if err != nil {
					return withCode(exitError, err)
				}
				sess, err := loadPath(c, s, pb)
				if err != nil {
					return err
				}
				defer sess.Close()
				dir, err := sess.RecordReceipt(r, b, sig, c.String("allowed-signers"))
				if err != nil {
					return withCode(exitError, fmt.Errorf("dossier receipt verify: %w", err))
				}
				fmt.Fprintf(s.out, "Recorded in %s: the next report lists it.\n", dir)
			}
			return nil
		},
	}
}

func dossierLettersCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "letters",
		Usage:     "render the letters the parties sign: the outgoing provider's commitment and the procès-verbal de remise",
		ArgsUsage: "PLAYBOOK",
		Description: "Renders, from the playbook's parties and the latest signed report (verified against the\n" +
			"playbook's signing key first), the outgoing provider's commitment (confidentiality, no\n" +
			"further access, return or destruction of copies, the accesses removed and credentials\n" +
			"changed with their dates) and the procès-verbal de remise du dossier (parties, date, the\n" +
			"bundle last exported by its SHA-256 and its files', deviations). Each carries signature\n" +
			"blocks and report.json's SHA-256. Files: commitment-LANG.EXT and remise-LANG.EXT in DIR.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "report", Usage: "the signed report `DIR` (default: the latest)"},
			&cli.StringSliceFlag{Name: "lang", Usage: "fr, en (default: both)"},
			&cli.StringSliceFlag{Name: "format", Usage: "html, pdf, md (default: html and pdf; pdf needs Chromium on PATH)"},
			&cli.StringFlag{Name: "return-within", Usage: "the contractual delay to return or destroy copies, as the contract words it (`TEXT`, e.g. \"30 jours\")"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the letters into `DIR`"},
			&cli.BoolFlag{Name: "force", Usage: "replace letters already in DIR"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) != 1 {
				return withCode(exitError, errors.New("dossier letters: expected one PLAYBOOK argument"))
			}
			return failed(writeLetters(c, s, args[0]))
		},
	}
}

func writeLetters(c *cli.Context, s *stdio, pbFile string) error {
	out := c.String("output")
	if out == "" {
		return errors.New("dossier letters: give -o DIR")
	}
	langs := splitList(c.StringSlice("lang"), []string{"fr", "en"})
	formats := splitList(c.StringSlice("format"), []string{"html", "pdf"})
	for _, l := range langs {
		if l != "fr" && l != "en" {
			return fmt.Errorf("dossier letters: --lang %q: fr or en", l)
		}
	}
	for _, f := range formats {
		if f != "html" && f != "pdf" && f != "md" {
			return fmt.Errorf("dossier letters: --format %q: html, pdf or md", f)
		}
	}
	sess, err := loadPath(c, s, pbFile)
	if err != nil {
		return err
	}
	defer sess.Close()
	dir := c.String("report")
	if dir == "" {
		if dir, err = sess.LatestReport(); err != nil {
			return fmt.Errorf("dossier letters: %w", err)
		}
	}
	trust, err := verifyTrust("", pbFile, false)
	if err != nil {
		return fmt.Errorf("dossier letters: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.Context, dossierTimeout)
	defer cancel()
	v, err := report.Verify(ctx, filepath.Join(dir, report.JSONFile), trust)
	if err != nil {
		return fmt.Errorf("dossier letters: the report does not verify, so no letter refers to it: %w", err)
	}
	files, err := dossier.ReportFileList(dir)
	if err != nil {
		return fmt.Errorf("dossier letters: %w", err)
	}
	in := dossier.LetterInput{Report: v.Report, ReportSHA256: v.ReportSHA256, ReportFiles: files, ReturnWithin: c.String("return-within"), Now: time.Now()}
	hs, err := dossier.History(sess.StateDir())
	if err != nil {
		return fmt.Errorf("dossier letters: %w", err)
	}
	for i := len(hs) - 1; i >= 0; i-- {
		if h := hs[i]; h.Kind == "export" && h.Result == string(plan.Done) && h.Report == v.Report.Run.ID {
			in.Export = &h
			break
		}
	}
	if in.Export != nil {
		for _, h := range hs {
			if h.Kind == "receipt" && h.BundleSHA256 == in.Export.BundleSHA256 {
				in.Receipts = append(in.Receipts, h)
			}
		}
	} else {
		fmt.Fprintf(s.err, "handover: warning: no export of the report %s is recorded: the procès-verbal says so (run `handover dossier export` first)\n", v.Report.Run.ID)
	}
	write := atomicfile.Create
	if c.Bool("force") {
		write = atomicfile.Write
	}
	for _, lang := range langs {
		in.Lang = lang
		for _, f := range formats {
			render := f
			if f == "pdf" {
				render = "html"
			}
			written, err := dossier.WriteLetters(out, f, in, func(p string, b []byte) error {
				if f == "pdf" {
					if b, err = pdf.Print(ctx, b); err != nil {
						return err
					}
				}
				return write(p, b, 0o644)
			}, render)
			if err != nil {
				return fmt.Errorf("dossier letters: %w", err)
			}
			for _, p := range written {
				fmt.Fprintln(s.out, p)
			}
		}
	}
	fmt.Fprintf(s.out, "They refer to report.json sha256 %s", v.ReportSHA256)
	if in.Export != nil {
		fmt.Fprintf(s.out, " and to the bundle sha256 %s", in.Export.BundleSHA256)
	}
	fmt.Fprintln(s.out, ".")
	return nil
}

// splitList reads a repeatable, comma-separated flag.
func splitList(vs, def []string) []string {
	var out []string
	for _, v := range vs {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// failed gives an error the exit status 1; nil stays nil.
func failed(err error) error {
	var ec *exitCode
	if err == nil || errors.As(err, &ec) {
		return err
	}
	return withCode(exitError, err)
}
