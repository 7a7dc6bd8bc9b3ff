// Package serve owns `handover serve`: freshness checks of one or more
// playbooks on a schedule, their history, a read-only web dashboard,
// Prometheus metrics, and notifications on state changes.
//
// It is read-only on targets by construction: it holds no engine session,
// only the Check function it is given (a freshness check) and the signed
// reports' files; nothing it serves can reach a write path.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/handoverhq/handover/handover/freshness"
)

// Playbook is one watched playbook.
type Playbook struct {
	// Name is the playbook's short name in URLs and labels (its file's base
	// name without extension, made unique).
	Name string
	File string
	// Check makes one freshness check and returns its record (a failed
	// check is a record of status failed, never a nil record).
	Check   func(ctx context.Context) *freshness.Record
	History freshness.History
	// AckDir is where acknowledgements of drift are journaled ("": the
	// dashboard offers none).
	AckDir string
	// Reports lists the playbook's signed reports, newest first, with
	// their verification.
	Reports func(ctx context.Context) []Report
	// Schedule overrides the server's for this playbook (nil: the
	// server's).
	Schedule cron.Schedule
	// Jitter, Notify, Mail and Remind, when set, override the server's
	// for this playbook (its watch section; serve's flags win over it).
	Jitter *time.Duration
	Notify *Notifier
	Mail   *Mailer
	Remind *time.Duration
	// Stale overrides the server's for this playbook (0: the server's).
	Stale time.Duration
}

func (s *Server) stale(p *Playbook) time.Duration {
	if p.Stale > 0 {
		return p.Stale
	}
	return s.opts.Stale
}

func (s *Server) jitter(p *Playbook) time.Duration {
	if p.Jitter != nil {
		return *p.Jitter
	}
	return s.opts.Jitter
}

func (s *Server) remind(p *Playbook) time.Duration {
	if p.Remind != nil {
		return *p.Remind
	}
	return s.opts.Remind
}

func (s *Server) notifier(p *Playbook) *Notifier {
	if p.Notify != nil {
		return p.Notify
	}
	return s.opts.Notify
}

func (s *Server) mailer(p *Playbook) *Mailer {
	if p.Mail != nil {
		return p.Mail
	}
	return s.opts.Mail
}

// Report is a signed report of the playbook, as the dashboard lists it.
type Report struct {
	RunID    string
	Mode     string
	Finished time.Time
	Dir      string // the report directory (served read-only)
	Verified bool
	Problem  string // why it does not verify
	Signer   string
}

// Options configure the server.
type Options struct {
	Playbooks []*Playbook
	// Schedule says when checks run; Jitter delays each by up to that
	// much (randomly), so many watchers do not hit targets at once.
	Schedule cron.Schedule
	Jitter   time.Duration
	// MaxConcurrent bounds checks running at once across playbooks.
	MaxConcurrent int
	// Stale: /healthz fails when a playbook's latest check is older.
	Stale  time.Duration
	Notify *Notifier
	// Mail, when set, also sends each notification by e-mail.
	Mail *Mailer
	// Remind repeats the drift notification this often while the drift
	// stays and no one acknowledged it (0: never).
	Remind time.Duration
	Log    *slog.Logger
	Now    func() time.Time
	// Lang is the dashboard's default language (fr or en).
	Lang string
}

// Server runs the checks and serves the dashboard.
type Server struct {
	opts    Options
	metrics *freshness.Metrics
	sem     chan struct{}
	mu      sync.Mutex
	state   map[string]*watch
	// running counts checks in flight, for a graceful stop.
	running sync.WaitGroup
	csrfKey [32]byte
}

// watch is what the server knows of one playbook.
type watch struct {
	latest  *freshness.Record
	state   freshness.Status
	key     string // the drift's identity at the last notification
	next    time.Time
	running bool
	// ack is the acknowledgement of the drift now, if any.
	ack *Ack
	// notified is when the state was last notified.
	notified time.Time
}

// New makes a server; Run starts it.
func New(opts Options) (*Server, error) {
	if len(opts.Playbooks) == 0 {
		return nil, errors.New("serve: no playbook to watch")
	}
	if opts.Schedule == nil {
		return nil, errors.New("serve: no schedule")
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 2
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Lang == "" {
		opts.Lang = "en"
	}
	s := &Server{opts: opts, metrics: freshness.NewMetrics(), sem: make(chan struct{}, opts.MaxConcurrent), state: map[string]*watch{}, csrfKey: newCSRFKey()}
	seen := map[string]bool{}
	for _, p := range opts.Playbooks {
		if seen[p.Name] {
			return nil, fmt.Errorf("serve: two playbooks named %q", p.Name)
		}
		seen[p.Name] = true
		w := &watch{}
		// The history survives restarts: the dashboard and the
		// notification state start from the latest record.
		if rs, err := p.History.List(1); err == nil && len(rs) > 0 {
			w.latest, w.state, w.key = rs[0], rs[0].Status, rs[0].Key()
			s.metrics.Observe(rs[0])
		}
		s.state[p.Name] = w
	}
	return s, nil
}

// Run schedules the checks and serves HTTP on ln until ctx ends, then
// stops accepting, lets running checks and requests finish (within 30 s)
// and returns.
func (s *Server) Run(ctx context.Context, ln net.Listener, tlsCert, tlsKey string, auth *Auth) error {
	srv := &http.Server{Handler: s.Handler(auth), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() {
		var err error
		if tlsCert != "" {
			err = srv.ServeTLS(ln, tlsCert, tlsKey)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	var loops sync.WaitGroup
	for _, p := range s.opts.Playbooks {
		loops.Add(1)
		go func() {
			defer loops.Done()
			s.loop(ctx, p)
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	loops.Wait()
	s.running.Wait()
	return err
}

// loop runs one playbook's checks: at start, then on the schedule, one at
// a time (the next is scheduled when one ends), jittered.
func (s *Server) loop(ctx context.Context, p *Playbook) {
	sched := p.Schedule
	if sched == nil {
		sched = s.opts.Schedule
	}
	next := s.opts.Now()
	for {
		delay := next.Sub(s.opts.Now())
		if j := s.jitter(p); j > 0 {
			delay += rand.N(j)
		}
		s.mu.Lock()
		s.state[p.Name].next = s.opts.Now().Add(max(delay, 0))
		s.mu.Unlock()
		t := time.NewTimer(max(delay, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.CheckNow(ctx, p)
		next = sched.Next(s.opts.Now().UTC()) // a cron expression is in UTC unless it says CRON_TZ=
	}
}

// CheckNow runs one check of p (waiting for a slot), records it, updates
// the metrics and notifies a change of state.
func (s *Server) CheckNow(ctx context.Context, p *Playbook) *freshness.Record {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	s.running.Add(1)
	defer func() {
		<-s.sem
		s.running.Done()
	}()
	s.mu.Lock()
	w := s.state[p.Name]
	w.running = true
	s.mu.Unlock()
	rec := p.Check(ctx)
	if err := p.History.Add(rec); err != nil {
		s.opts.Log.Error("keeping the check's record", "playbook", p.Name, "error", err)
	}
	s.metrics.Observe(rec)
	s.opts.Log.Info("check", "playbook", p.Name, "status", rec.Status, "drift", len(rec.Drift), "error", rec.Error)
	s.mu.Lock()
	w.running = false
	prevState, prevKey := w.state, w.key
	w.latest = rec
	change := prevState != rec.Status || (rec.Status == freshness.Drift && prevKey != rec.Key())
	if change {
		w.state, w.key = rec.Status, rec.Key()
	}
	if w.ack != nil && w.ack.Key != rec.Key() {
		w.ack = nil // the drift changed: the acknowledgement was of another
	}
	every := s.remind(p)
	hook, mail := s.notifier(p), s.mailer(p)
	remind := !change && rec.Status == freshness.Drift && w.ack == nil && every > 0 && s.opts.Now().Sub(w.notified) >= every
	notify := (change || remind) && (hook != nil || mail != nil) && !(prevState == "" && rec.Status == freshness.Clean)
	if notify {
		w.notified = s.opts.Now()
	}
	s.mu.Unlock()
	if notify {
		ev := Event{Playbook: p.Name, File: p.File, From: prevState, To: rec.Status, Check: rec.ID, Checked: rec.Checked, DriftItems: len(rec.Drift), Error: rec.Error, Reminder: remind}
		for _, d := range rec.Drift {
			ev.Drift = append(ev.Drift, EventItem{Target: d.Target, System: d.System, Kind: d.Kind, Change: string(d.Change), Object: d.Object, Detail: d.Detail})
		}
		if hook != nil {
			if err := hook.Send(context.WithoutCancel(ctx), ev); err != nil {
				s.opts.Log.Error("notification", "playbook", p.Name, "error", err)
			}
		}
		if mail != nil {
			if err := mail.Send(context.WithoutCancel(ctx), ev); err != nil {
				s.opts.Log.Error("notification by mail", "playbook", p.Name, "error", err)
			}
		}
	}
	return rec
}

// Metrics are the server's metrics (what /metrics serves).
func (s *Server) Metrics() *freshness.Metrics { return s.metrics }
