package ssh

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Verify proves a host's changes on a re-inventory: the one the removal
// script ran once its changes were done (after), else a fresh one. Each
// removed key, rule, entry and agent is absent (an agent: no package in
// any dpkg state, no unit, no process by any of procSignals' signals, no
// path), each locked account locked and expired, the access key present,
// and each rotated password's shadow hash the stored password's. Each
// check names what it read; one whose observation was not read fails.
//
// Long: one case per action, each the checks that prove it.
func (t *target) Verify(ctx context.Context, system string, done []connector.Done, after connector.Observation) ([]connector.Check, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data, _ := after.(*hostData)
	if data == nil {
		var err error
		if data, err = t.readHost(ctx, h, true); err != nil {
			return nil, fmt.Errorf("re-inventory: %w", err)
		}
	}
	sys, err := t.system(ctx, h, data)
	if err != nil {
		return nil, fmt.Errorf("re-inventory: %w", err)
	}
	now := t.now()
	var checks []connector.Check
	check := func(ch plan.Change, kind connector.CheckKind, what string, ok bool, detail string) {
		checks = append(checks, connector.Check{Change: ch.ID, Kind: kind, What: what, OK: ok, Detail: detail, At: now})
	}
	findingByID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		findingByID[f.ID] = f
	}
	account := func(name string) (connector.Account, bool) {
		for _, a := range sys.Accounts {
			if a.Name == name {
				return a, true
			}
		}
		return connector.Account{}, false
	}
	for _, d := range done {
		ch := d.Change
		switch ch.Action {
		case plan.InstallKey:
			fp := ""
			for _, f := range sys.Findings {
				if k, ok := f.Data.(keyData); ok && k.AccessKey && k.File == ch.Params["file"] {
					fp = k.Fingerprint
				}
			}
			check(ch, connector.Present, "access key in "+ch.Params["file"]+" (re-inventory: the file's keys read anew)", fp != "", fp)
		case plan.RotatePassword:
			user := ch.Params["user"]
			held := connector.HeldUnknown
			if a, ok := account(user); ok && a.Password != nil {
				held = a.Password.Held
			}
			check(ch, connector.Present, "shadow hash of "+user+" is the stored password's (re-inventory: /etc/shadow read anew, compared with the store)", held == connector.HeldCurrent, "store: "+string(held))
		case plan.RemovePersistence, plan.RemoveForward:
			for _, c := range persistGone(data, sys.Findings, ch) {
				check(ch, connector.Absent, c.what, c.ok, c.detail)
			}
		case plan.RemoveCron, plan.RemoveKey, plan.RemoveGrant:
			if ch.Params["op"] != "" { // an at job
				for _, c := range persistGone(data, sys.Findings, ch) {
					check(ch, connector.Absent, c.what, c.ok, c.detail)
				}
				continue
			}
			c := artefactGone(data, sys.Findings, ch)
			check(ch, connector.Absent, c.what, c.ok, c.detail)
		case plan.LockAccount:
			c := accountLocked(data, ch.Params["user"], now)
			check(ch, connector.State, c.what, c.ok, c.detail)
		case plan.RemoveAgent:
			a, _ := t.catalog.Lookup(ch.Params["agent"])
			for _, c := range agentGone(data, a) {
				check(ch, connector.Absent, c.what, c.ok, c.detail)
			}
		}
	}
	return checks, nil
}

func pkgList(ps []pkgInfo) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name+" ("+p.State+")")
	}
	return strings.Join(s, " ")
}

func procList(ps []agentProc) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s (pid %d, by %s: exe %s, cmdline %q, cwd %s)", p.Comm, p.PID, strings.Join(p.Signals, ", "), cmp.Or(p.Exe, "-"), p.Args, cmp.Or(p.Cwd, "-")))
	}
	return strings.Join(s, "; ")
}

// proofCheck is one check Verify records: what it read, what it found.
type proofCheck struct {
	what, detail string
	ok           bool
}

// agentGone checks on a re-inventory that agent a left nothing, each
// check naming what it read. A check passes only when what it read was
// read: a host with dpkg or rpm lists packages, a running systemd lists
// units, every host lists processes (the inventory's own session at
// least); an empty list there is a failed read, not an absence.
func agentGone(h *hostData, a Agent) []proofCheck {
	m := findAgent(h, a)
	pkgDB := slices.ContainsFunc(h.PkgMgrs, func(s string) bool { return s == "dpkg" || s == "rpm" })
	pkgs := proofCheck{"agent " + a.Name + ": no package left (any dpkg state, rc included; the package database read anew)", pkgList(m.Packages), len(m.Packages) == 0}
	if pkgDB && len(h.Packages) == 0 && !h.PackagesListed {
		pkgs.ok, pkgs.detail = false, "the package database read as empty: not read"
	}
	units := proofCheck{"agent " + a.Name + ": no unit left (unit files in every unit directory, and the units a running systemd holds)", strings.Join(m.Units, " "), len(m.Units) == 0}
	if h.Systemd && (len(h.LiveUnits) == 0 || len(h.UnitFiles) == 0) {
		units.ok, units.detail = false, fmt.Sprintf("systemd runs, but %d units held and %d unit files were read: not read", len(h.LiveUnits), len(h.UnitFiles))
	}
	procs := proofCheck{"agent " + a.Name + ": no process left: exe, cmdline, cwd, open files, maps and cgroups of every process checked", procList(m.Processes), len(m.Processes) == 0}
	if len(h.Procs) == 0 {
		procs.ok, procs.detail = false, "no process read: the process table was not read"
	} else if procs.ok {
		procs.detail = fmt.Sprintf("%d processes read", len(h.Procs))
	}
	paths := proofCheck{"agent " + a.Name + ": no path left (each of the catalogue's paths, configs and cron files tested)", strings.Join(m.Paths, " "), len(m.Paths) == 0}
	return []proofCheck{pkgs, units, procs, paths}
}

// artefactGone checks that a removed key, sudoers rule or cron entry is in
// no file the re-inventory read: not as the finding removed, nor as the
// same key (any account the file serves) or line in the same file. A
// re-inventory that did not read the files (no archive) proves nothing
// absent.
func artefactGone(h *hostData, findings []connector.Finding, ch plan.Change) proofCheck {
	file := ch.Params["file"]
	var what string
	same := func(f connector.Finding) bool { return false }
	switch ch.Action {
	case plan.RemoveKey:
		what = fmt.Sprintf("key %s no longer in %s (re-inventory: every authorized_keys file read anew, for every account it serves)", ch.Params["fingerprint"], file)
		same = func(f connector.Finding) bool {
			k, ok := f.Data.(keyData)
			return ok && k.File == file && k.Fingerprint == ch.Params["fingerprint"]
		}
	case plan.RemoveGrant:
		what = fmt.Sprintf("sudoers rule no longer in %s (re-inventory: sudoers and the files it includes read anew)", file)
		same = func(f connector.Finding) bool {
			g, ok := f.Data.(grantData)
			return ok && g.File == file && g.Text == ch.Params["text"]
		}
	case plan.RemoveCron:
		what = fmt.Sprintf("cron entry no longer in %s (re-inventory: crontab, cron.d and the spool read anew)", file)
		same = func(f connector.Finding) bool {
			c, ok := f.Data.(cronData)
			return ok && c.File == file && c.Text == ch.Params["text"]
		}
	}
	if !h.FilesRead {
		return proofCheck{what, "the re-inventory did not read the files", false}
	}
	for _, f := range findings {
		if f.ID == ch.Finding || same(f) {
			return proofCheck{what, "still there: " + f.ID, false}
		}
	}
	detail := file + " gone"
	if slices.ContainsFunc(h.Files, func(f remoteFile) bool { return f.Path == file }) {
		detail = file + " read"
	}
	return proofCheck{what, detail, true}
}

// accountLocked checks a lock on the re-inventory's shadow entry: the
// password locked (a hash starting with !, or * which no password
// matches) and the
// account expired, both; an account the re-inventory did not read (no
// shadow read, or no entry) is not proven locked.
func accountLocked(h *hostData, user string, now time.Time) proofCheck {
	what := "account " + user + ": password locked and account expired (re-inventory: /etc/shadow read anew)"
	sh, ok := h.Shadow[user]
	if !ok {
		return proofCheck{what, "no shadow entry read for " + user, false}
	}
	today := int(now.Unix() / 86400)
	locked := strings.HasPrefix(sh.Hash, "!") || sh.Hash == "*"
	expired := sh.Expire >= 0 && sh.Expire <= today
	return proofCheck{what, fmt.Sprintf("password locked: %v, expires on day %d (today %d)", locked, sh.Expire, today), locked && expired}
}
