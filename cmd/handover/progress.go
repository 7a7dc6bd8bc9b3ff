package main

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/handoverhq/handover/handover/engine"
)

// progress shows per-target state during a run: a live table on a
// terminal, one line per state change otherwise, JSON lines with --json.
type progress struct {
	w      io.Writer
	tty    bool
	log    *slog.Logger
	mu     sync.Mutex
	state  map[string]map[string]engine.ProgressState // target -> system -> state
	lines  int
	paused bool
	done   chan struct{}
	wg     sync.WaitGroup
}

func newProgress(w io.Writer, tty, json bool) *progress {
	p := &progress{w: w, tty: tty, state: map[string]map[string]engine.ProgressState{}}
	if json {
		p.log = slog.New(slog.NewJSONHandler(w, nil))
	}
	return p
}

func (p *progress) event(ev engine.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sys := ev.System
	if sys == "" {
		sys = "(target)"
	}
	if p.state[ev.Target] == nil {
		p.state[ev.Target] = map[string]engine.ProgressState{}
	}
	p.state[ev.Target][sys] = ev.State
	switch {
	case p.log != nil:
		p.log.Info("progress", "target", ev.Target, "system", ev.System, "state", ev.State, "detail", ev.Detail)
	case !p.tty:
		if ev.Detail != "" {
			fmt.Fprintf(p.w, "%s %s/%s %s: %s\n", time.Now().UTC().Format("15:04:05"), ev.Target, sys, ev.State, ev.Detail)
		} else {
			fmt.Fprintf(p.w, "%s %s/%s %s\n", time.Now().UTC().Format("15:04:05"), ev.Target, sys, ev.State)
		}
	}
}

func (p *progress) start() {
	if !p.tty {
		return
	}
	p.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				p.draw()
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

func (p *progress) stop() {
	if p.done != nil {
		close(p.done)
		p.wg.Wait()
		p.done = nil
	}
}

// pause stops redrawing while the plan is shown and confirmed.
func (p *progress) pause() {
	p.mu.Lock()
	p.paused = true
	p.lines = 0
	p.mu.Unlock()
}

func (p *progress) resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
}

// draw rewrites the table in place: one line per target with its
// systems' counts per state.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		return
	}
	targets := make([]string, 0, len(p.state))
	for t := range p.state {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	if p.lines > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.lines)
	}
	for _, t := range targets {
		n := map[engine.ProgressState]int{}
		for _, st := range p.state[t] {
			n[st]++
		}
		fmt.Fprintf(p.w, "\x1b[2K%-24s pending %-4d running %-4d done %-4d failed %d\n", t, n[engine.Pending], n[engine.Running], n[engine.Done], n[engine.Failing])
	}
	p.lines = len(targets)
}
