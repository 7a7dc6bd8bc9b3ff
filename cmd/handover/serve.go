package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/urfave/cli/v2"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/freshness"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/handover/serve"
)

func serveCommand(s *stdio) *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "watch playbooks: scheduled checks, a read-only dashboard, /metrics, notifications",
		ArgsUsage: "PLAYBOOK...",
		Description: "Runs `handover check` for each playbook at start and then on a schedule\n" +
			"(--interval or --cron), never two at once for one playbook, at most --max-checks\n" +
			"at once in all, each delayed by a random part of --jitter. Keeps each check's\n" +
			"record in the playbook's state directory (checks/), serves a dashboard,\n" +
			"/metrics (Prometheus) and /healthz, and notifies (--webhook, --smtp) when a playbook's\n" +
			"state changes (first drift, drift changed, recovered, check failing).\n" +
			"Each playbook's watch section (docs/playbook.md) sets its own schedule, jitter,\n" +
			"reminders, webhook and e-mail; a flag given here overrides it for every playbook.\n" +
			"Read-only: it never changes a target. Listens on 127.0.0.1 unless told; any other\n" +
			"address needs --tls-cert, --tls-key and --auth-file. SIGTERM or SIGINT stops it\n" +
			"after the checks and requests in flight.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9817", Usage: "serve HTTP(S) on `ADDR`"},
			&cli.DurationFlag{Name: "interval", Usage: "check every `DURATION` (default: the playbook's watch section, else 1h)"},
			&cli.StringFlag{Name: "cron", Usage: "check on the cron schedule `EXPR` (5 fields, or @hourly, @every 30m...), in UTC"},
			&cli.DurationFlag{Name: "jitter", Value: time.Minute, Usage: "delay each check by a random part of `DURATION`"},
			&cli.IntFlag{Name: "max-checks", Value: 2, Usage: "at most `N` checks at once across playbooks"},
			&cli.DurationFlag{Name: "stale", Usage: "/healthz fails when the latest check is older than `DURATION` (default: twice the schedule's period, plus the jitter)"},
			&cli.IntFlag{Name: "keep", Value: 1000, Usage: "keep the latest `N` check records per playbook"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with the certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "tls-key", Usage: "the private key `FILE` of --tls-cert"},
			&cli.StringFlag{Name: "auth-file", Usage: "require the token whose digest `FILE` holds (one line: sha256:HEX), as a bearer token or basic-auth password"},
			&cli.StringFlag{Name: "webhook", Usage: "POST a JSON event to `URL` on each change of state"},
			&cli.StringFlag{Name: "webhook-secret-file", Usage: "sign webhook bodies with HMAC-SHA256 keyed by the content of `FILE` (header " + serve.SignatureHeader + ")"},
			&cli.StringFlag{Name: "smtp", Usage: "also mail each notification through the SMTP server `HOST:PORT` (STARTTLS required, certificate verified)"},
			&cli.StringFlag{Name: "mail-from", Usage: "the notifications' sender `ADDRESS`"},
			&cli.StringSliceFlag{Name: "mail-to", Usage: "a recipient `ADDRESS` (repeat the flag for more)"},
			&cli.StringFlag{Name: "smtp-user", Usage: "authenticate to the SMTP server as `USER`"},
			&cli.StringFlag{Name: "smtp-password-file", Usage: "the SMTP password is the content of `FILE`"},
			&cli.StringFlag{Name: "smtp-ca", Usage: "trust the CA certificates of `FILE` (PEM) for the SMTP server, instead of the system's"},
			&cli.DurationFlag{Name: "remind", Usage: "repeat the drift notification every `DURATION` while no one acknowledged it (default: never)"},
			&cli.StringFlag{Name: "lang", Value: "en", Usage: "dashboard language by default, fr or en"},
			parallelFlag,
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return withCode(exitError, err)
			}
			if len(args) == 0 {
				return withCode(exitError, errors.New("serve: expected at least one PLAYBOOK argument (see handover serve --help)"))
			}
			opts, err := serveOptions(c)
			if err != nil {
				return withCode(exitError, fmt.Errorf("serve: %w", err))
			}
			var auth *serve.Auth
			if f := c.String("auth-file"); f != "" {
				if auth, err = serve.LoadAuth(f); err != nil {
					return withCode(exitError, fmt.Errorf("serve: --auth-file: %w", err))
				}
			}
			if err := exposure(c.String("listen"), c.String("tls-cert"), c.String("tls-key"), auth != nil); err != nil {
				return withCode(exitError, fmt.Errorf("serve: %w", err))
			}
			names := map[string]int{}
			for _, path := range args {
				p, err := watched(c, s, path, names)
				if err != nil {
					return err
				}
				opts.Playbooks = append(opts.Playbooks, p)
			}
			srv, err := serve.New(opts)
			if err != nil {
				return withCode(exitError, err)
			}
			ln, err := net.Listen("tcp", c.String("listen"))
			if err != nil {
				return withCode(exitError, fmt.Errorf("serve: %w", err))
			}
			scheme := "http"
			if c.String("tls-cert") != "" {
				scheme = "https"
			}
			fmt.Fprintf(s.err, "handover serve: %s://%s/ watching %d playbook(s)\n", scheme, ln.Addr(), len(opts.Playbooks))
			if err := srv.Run(c.Context, ln, c.String("tls-cert"), c.String("tls-key"), auth); err != nil {
				return withCode(exitError, fmt.Errorf("serve: %w", err))
			}
			return nil
		},
	}
}

// serveOptions are the server's options from the flags.
func serveOptions(c *cli.Context) (serve.Options, error) {
	var o serve.Options
	lang := c.String("lang")
	if lang != "fr" && lang != "en" {
		return o, errors.New("--lang must be fr or en")
	}
	switch {
	case c.IsSet("cron") && c.IsSet("interval"):
		return o, errors.New("give --interval or --cron, not both")
	case c.IsSet("cron"):
		sched, err := cron.ParseStandard(c.String("cron"))
		if err != nil {
			return o, fmt.Errorf("--cron %q: %w", c.String("cron"), err)
		}
		o.Schedule = sched
	default:
		every := c.Duration("interval")
		if every == 0 {
			every = time.Hour
		}
		if every < time.Second {
			return o, fmt.Errorf("--interval %s: at least 1s", every)
		}
		o.Schedule = cron.Every(every)
	}
	o.Jitter = c.Duration("jitter")
	o.MaxConcurrent = c.Int("max-checks")
	o.Stale = c.Duration("stale")
	if o.Stale == 0 {
		o.Stale = staleAfter(o.Schedule, o.Jitter)
	}
	o.Lang = lang
	o.Remind = c.Duration("remind")
	var h slog.Handler = slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelInfo})
	if c.Bool("json") {
		h = slog.NewJSONHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	o.Log = slog.New(h)
	if u := c.String("webhook"); u != "" {
		n := &serve.Notifier{URL: u}
		if f := c.String("webhook-secret-file"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return o, fmt.Errorf("--webhook-secret-file: %w", err)
			}
			n.Secret = secret.FromBytes([]byte(strings.TrimSpace(string(b))))
		}
		o.Notify = n
	} else if c.IsSet("webhook-secret-file") {
		return o, errors.New("--webhook-secret-file needs --webhook")
	}
	if addr := c.String("smtp"); addr != "" {
		m := &serve.Mailer{Addr: addr, From: c.String("mail-from"), To: c.StringSlice("mail-to"), User: c.String("smtp-user")}
		if m.From == "" || len(m.To) == 0 {
			return o, errors.New("--smtp needs --mail-from and at least one --mail-to")
		}
		if f := c.String("smtp-password-file"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return o, fmt.Errorf("--smtp-password-file: %w", err)
			}
			m.Password = secret.FromBytes([]byte(strings.TrimRight(string(b), "\r\n")))
		}
		if f := c.String("smtp-ca"); f != "" {
			pem, err := os.ReadFile(f)
			if err != nil {
				return o, fmt.Errorf("--smtp-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("--smtp-ca %s: no PEM certificate", f)
			}
			m.TLS = &tls.Config{RootCAs: pool}
		}
		o.Mail = m
	}
	return o, nil
}

// staleAfter is twice the schedule's period, plus the jitter.
func staleAfter(sched cron.Schedule, jitter time.Duration) time.Duration {
	n1 := sched.Next(time.Now().UTC())
	return 2*sched.Next(n1).Sub(n1) + jitter
}

// exposure refuses to serve beyond the machine without TLS and
// authentication.
func exposure(listen, cert, key string, auth bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if (cert == "") != (key == "") {
		return errors.New("give both --tls-cert and --tls-key")
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	if cert == "" || !auth {
		return fmt.Errorf("--listen %s is reachable beyond this machine: it needs --tls-cert, --tls-key and --auth-file", listen)
	}
	return nil
}

// watched loads a playbook once (to fail early on errors and to know its
// directories) and returns how serve checks it: each check loads it
// afresh, so an edited playbook is picked up at the next check.
func watched(c *cli.Context, s *stdio, path string, names map[string]int) (*serve.Playbook, error) {
	sess, err := loadPath(c, s, path)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	stateDir := sess.StateDir()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	names[name]++
	if n := names[name]; n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	p := &serve.Playbook{Name: name, File: path, History: freshness.History{Dir: filepath.Join(stateDir, "checks"), Keep: c.Int("keep")},
		AckDir: filepath.Join(stateDir, "acks")}
	if err := watchSettings(c, sess, p); err != nil {
		return nil, withCode(exitError, fmt.Errorf("serve: %s: %w", path, err))
	}
	parallel := c.Int("parallel")
	p.Check = func(ctx context.Context) *freshness.Record {
		e := newEngine(c, s)
		// A service asks no one: a ${prompt:...} reference fails the check.
		e.Prompt = nil
		started := time.Now().UTC()
		sess, err := e.Load(ctx, path)
		if err != nil {
			return freshness.NewRecord(e.NewRunID(), path, started, nil, err)
		}
		defer sess.Close()
		res, err := sess.Check(ctx, engine.CheckOptions{Parallel: parallel})
		return freshness.NewRecord(sess.NewRunID(), path, started, res, err)
	}
	cache := &reportCache{m: map[string]cachedReport{}}
	p.Reports = func(ctx context.Context) []serve.Report {
		sess, err := newEngine(c, s).Load(ctx, path)
		if err != nil {
			return nil
		}
		defer sess.Close()
		return cache.list(ctx, sess)
	}
	return p, nil
}

// watchSettings applies the playbook's watch section to p where no flag
// says otherwise: the flags are the operator's word for this server and
// win over every playbook's. The section's secrets are resolved now, once,
// through the playbook's references (files, environment, Vault): a
// reference that does not resolve stops serve at start.
func watchSettings(c *cli.Context, sess *engine.Session, p *serve.Playbook) error {
	w := sess.Playbook.Watch
	if w == nil {
		return nil
	}
	flagSchedule := c.IsSet("interval") || c.IsSet("cron")
	if sched := w.Schedule(); sched != nil && !flagSchedule {
		p.Schedule = sched
		jitter := c.Duration("jitter")
		if w.Jitter != nil && !c.IsSet("jitter") {
			jitter = *w.Jitter
		}
		if !c.IsSet("stale") {
			p.Stale = staleAfter(sched, jitter)
		}
	}
	if w.Jitter != nil && !c.IsSet("jitter") {
		j := *w.Jitter
		p.Jitter = &j
	}
	if w.Remind > 0 && !c.IsSet("remind") {
		r := w.Remind
		p.Remind = &r
	}
	ctx := c.Context
	if h := w.Webhook; h != nil && !c.IsSet("webhook") {
		n := &serve.Notifier{URL: h.URL}
		if !h.Secret.IsZero() {
			v, err := sess.Resolver.Resolve(ctx, h.Secret)
			if err != nil {
				return fmt.Errorf("watch.notify.webhook.secret at %s: %w", h.Secret.Pos, err)
			}
			n.Secret = v
		}
		p.Notify = n
	}
	if e := w.Email; e != nil && !c.IsSet("smtp") {
		m := &serve.Mailer{Addr: e.SMTP, From: e.From, To: e.To, User: e.User}
		if !e.Password.IsZero() {
			v, err := sess.Resolver.Resolve(ctx, e.Password)
			if err != nil {
				return fmt.Errorf("watch.notify.email.password at %s: %w", e.Password.Pos, err)
			}
			m.Password = v
		}
		if e.CACert != "" {
			f := sess.Resolver.Path(e.CACert)
			pem, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("watch.notify.email.ca_cert: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("watch.notify.email.ca_cert %s: no PEM certificate", f)
			}
			m.TLS = &tls.Config{RootCAs: pool}
		}
		p.Mail = m
	}
	return nil
}

// reportCache keeps each report's verification, keyed by its files'
// modification times: a signed report does not change, and a changed one
// is verified again.
type reportCache struct {
	mu sync.Mutex
	m  map[string]cachedReport
}

type cachedReport struct {
	stamp string
	r     serve.Report
}

func (rc *reportCache) list(ctx context.Context, sess *engine.Session) []serve.Report {
	paths, err := sess.Reports()
	if err != nil {
		return nil
	}
	pb := sess.Playbook
	var out []serve.Report
	for _, p := range paths {
		stamp := ""
		for _, f := range []string{p, p + report.SigSuffix, filepath.Join(filepath.Dir(p), report.JournalFile)} {
			if fi, err := os.Stat(f); err == nil {
				stamp += fi.ModTime().String() + fmt.Sprint(fi.Size())
			}
		}
		rc.mu.Lock()
		cr, ok := rc.m[p]
		rc.mu.Unlock()
		if ok && cr.stamp == stamp {
			out = append(out, cr.r)
			continue
		}
		r := serve.Report{RunID: filepath.Base(filepath.Dir(p)), Dir: filepath.Dir(p)}
		trust, err := report.TrustSigningKey(pb.Signing, pb.Dir, pb.File)
		if err != nil {
			r.Problem = err.Error()
		} else {
			vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
			v, err := report.Verify(vctx, p, trust)
			cancel()
			if v != nil && v.Report != nil {
				r.Mode, r.Finished = v.Report.Run.Mode, v.Report.Run.Finished
			}
			if err != nil {
				var ve *report.VerifyError
				if errors.As(err, &ve) && len(ve.Problems) > 0 {
					r.Problem = ve.Problems[0].String()
				} else {
					r.Problem = err.Error()
				}
			} else {
				r.Verified, r.Signer = true, v.Identity+" "+v.Fingerprint
			}
		}
		rc.mu.Lock()
		rc.m[p] = cachedReport{stamp: stamp, r: r}
		rc.mu.Unlock()
		out = append(out, r)
	}
	return out
}
