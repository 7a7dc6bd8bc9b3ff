package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// Drift is one way the estate no longer matches what the handover left.
type Drift struct {
	Target string `json:"target"`
	System string `json:"system,omitempty"`
	// Kind: change-needed (the plan is not empty: provider access back, an
	// admin not rotated), unreachable, credential-age, credential-broken,
	// pending (a rotation left unfinished), waiver-expired; and, compared
	// with the baseline's dossier, the kinds of package drift (system,
	// admin, account-entry, packages, package, listening, service-unit)
	// and every finding kind (ssh-key, grant, cron, agent, forward...).
	Kind   string `json:"kind"`
	Object string `json:"object,omitempty"`
	// Change, ID, From and To are set for a difference with the baseline:
	// added, removed or changed; the item's stable identity; the value in
	// the dossier and now.
	Change   drift.Change `json:"change,omitempty"`
	ID       string       `json:"id,omitempty"`
	From     string       `json:"from,omitempty"`
	To       string       `json:"to,omitempty"`
	Provider bool         `json:"provider,omitempty"`
	Detail   string       `json:"detail"`
	// Waiver is the playbook waiver that accepts this item (in
	// CheckResult.Waived), or that expired (in Drift).
	Waiver *DriftWaiver `json:"waiver,omitempty"`
}

// DriftWaiver is the waiver that matched a drift item.
type DriftWaiver struct {
	At            string    `json:"at"` // playbook file:line:col
	Finding       string    `json:"finding"`
	Justification string    `json:"justification"`
	Approver      string    `json:"approver"`
	Expires       time.Time `json:"expires,omitzero"`
}

// CheckResult is a freshness check: what was read and what drifted.
type CheckResult struct {
	Checked  time.Time              `json:"checked"`
	Duration time.Duration          `json:"duration_ns"`
	Baseline *BaselineInfo          `json:"baseline,omitempty"`
	Dossier  []*connector.Inventory `json:"dossier"`
	Plan     *plan.Plan             `json:"plan"`
	Drift    []Drift                `json:"drift"`
	// Waived are drift items a current waiver of the playbook accepts.
	Waived []Drift `json:"waived,omitempty"`
	// Credentials are the current credentials the store holds for the
	// playbook's targets, and when each was set (never a value).
	Credentials []CredentialAge `json:"credentials,omitempty"`
}

// CredentialAge is when a stored credential was set.
type CredentialAge struct {
	Target string    `json:"target"`
	System string    `json:"system"`
	Object string    `json:"object"`
	Ref    string    `json:"ref"` // store reference
	Set    time.Time `json:"set"`
	// Proof is how the check found it still the system's (a login, or
	// the hash the system keeps compared with it); empty when it did not.
	Proof string `json:"proof,omitempty"`
}

// CheckOptions say how to check.
type CheckOptions struct {
	Parallel int
	// Baseline is the signed report.json to compare with; "" for the
	// newest of the playbook's report directory.
	Baseline string
	// NoBaseline skips the comparison with a dossier (the plan, credential
	// and pending checks only).
	NoBaseline bool
}

// Check verifies that the dossier stays true, without changing anything:
// the baseline report's signature and journal verify; a fresh inventory
// matches its dossier (less what its run removed) and plans nothing;
// every stored credential still logs in and is younger than
// policy.max_credential_age; and no rotation is left pending. Logging in
// is the only contact with the targets.
func (s *Session) Check(ctx context.Context, opts CheckOptions) (*CheckResult, error) {
	parallel := opts.Parallel
	st, err := s.Store(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	res := &CheckResult{Checked: s.engine.now()}
	// The baseline's signatures and journal are verified while the
	// targets are read: it is local work, and a baseline that does not
	// verify still fails the check.
	type baseline struct {
		r    *report.Report
		info *BaselineInfo
		err  error
	}
	basec := make(chan baseline, 1)
	if opts.NoBaseline {
		basec <- baseline{}
	} else {
		go func() {
			b, info, err := s.Baseline(ctx, opts.Baseline)
			basec <- baseline{b, info, err}
		}()
	}
	versions, err := st.List(ctx)
	if err != nil {
		<-basec
		return nil, fmt.Errorf("secret store: %w", err)
	}
	var current []secret.Version
	var storeDrift []Drift
	for _, v := range versions {
		if !s.inScope(v.Meta["target"], v.Meta["system"]) {
			continue
		}
		switch v.State {
		case secret.Pending:
			storeDrift = append(storeDrift, Drift{Target: v.Meta["target"], System: v.Meta["system"], Kind: "pending", Object: v.Meta["object"],
				Detail: fmt.Sprintf("rotation left unfinished (%s); `handover resume` settles it", secret.RefOf(st, v))})
		case secret.Current:
			current = append(current, v)
			res.Credentials = append(res.Credentials, CredentialAge{Target: v.Meta["target"], System: v.Meta["system"], Object: v.Meta["object"],
				Ref: secret.RefOf(st, v).String(), Set: v.Created})
			if max := s.Playbook.Policy.MaxCredentialAge; max > 0 && res.Checked.Sub(v.Created) > max {
				storeDrift = append(storeDrift, Drift{Target: v.Meta["target"], System: v.Meta["system"], Kind: "credential-age", Object: v.Meta["object"],
					Detail: fmt.Sprintf("credential set on %s is older than policy.max_credential_age", v.Created.Format("2006-01-02"))})
			}
		}
	}
	// The stored credentials are tried first, one group per system: a
	// connector whose fresh login with the stored access key carries the
	// system's next commands (ssh) then reads the inventory on that same
	// login, so the check costs one login per system, like the inventory.
	credDrift, proofs := s.checkCredentials(ctx, st, current, parallel)
	for i := range res.Credentials {
		res.Credentials[i].Proof = proofs[i]
	}
	res.Dossier = s.Inventory(ctx, parallel)
	b := <-basec
	if b.err != nil {
		return nil, b.err
	}
	base := b.r
	res.Baseline = b.info
	res.Plan = s.Plan(res.Dossier)
	for _, p := range res.Plan.Problems {
		kind := "unreachable"
		if p.Kind != "" {
			kind = p.Kind
		}
		res.Drift = append(res.Drift, Drift{Target: p.Target, System: p.System, Kind: kind, Detail: p.Error})
	}
	if base != nil {
		for _, it := range drift.Compare(drift.FromReport(base), res.Dossier) {
			if it.Kind == drift.KindUnreachable {
				continue // the plan's problems say it
			}
			d := Drift{Target: it.Target, System: it.System, Kind: it.Kind, Object: it.Object, Change: it.Change, ID: it.ID,
				From: it.From, To: it.To, Provider: it.Provider, Detail: it.Detail}
			if w, ok := s.driftWaiver(it); ok {
				d.Waiver = &DriftWaiver{At: w.Pos.String(), Finding: w.Finding, Justification: w.Justification, Approver: w.Approver, Expires: w.Expires}
				if w.Expires.IsZero() || !w.Expires.Before(res.Checked) {
					res.Waived = append(res.Waived, d)
					continue
				}
				d.Detail += fmt.Sprintf(" (the waiver at %s expired on %s)", w.Pos, w.Expires.Format("2006-01-02"))
			}
			res.Drift = append(res.Drift, d)
		}
	}
	for _, ch := range res.Plan.Changes {
		res.Drift = append(res.Drift, Drift{Target: ch.Target, System: ch.System, Kind: "change-needed", Object: ch.Object,
			Detail: fmt.Sprintf("%s: %s", ch.Action, ch.Reason)})
	}
	res.Drift = append(res.Drift, storeDrift...)
	res.Drift = append(res.Drift, credDrift...)
	res.Drift = append(res.Drift, s.checkDeclared(res.Checked)...)
	sort.SliceStable(res.Drift, func(i, j int) bool {
		a, b := res.Drift[i], res.Drift[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.System < b.System
	})
	res.Duration = s.engine.now().Sub(res.Checked)
	return res, nil
}

// driftWaiver is the playbook's waiver for a drift item: same target, its
// finding pattern matching the item's id, object, or system/id.
func (s *Session) driftWaiver(it drift.Item) (playbook.Waiver, bool) {
	for _, w := range s.Playbook.Waivers {
		if w.Target != it.Target {
			continue
		}
		for _, cand := range []string{it.ID, it.Object, it.System + "/" + it.ID, it.System + "/" + it.Object} {
			if cand != "" && !strings.HasPrefix(cand, "/") && glob(w.Finding, cand) {
				return w, true
			}
		}
	}
	return playbook.Waiver{}, false
}

// checkCredentials proves every current stored credential still the
// system's: the drift of those that are not, and how each of the others
// was proven, in the order of vs.
func (s *Session) checkCredentials(ctx context.Context, st secret.Store, vs []secret.Version, parallel int) ([]Drift, []string) {
	out := make([]*Drift, len(vs))
	proofs := make([]string, len(vs))
	// The journal keeps each change whole (connectors need its params to
	// log in again); the store's metadata names it.
	intents, err := s.intents()
	if err != nil {
		s.engine.log().Warn("reading earlier journals", "error", err)
	}
	// One group per system, tried in one call as during a run (the
	// connector proves them on one login where it can).
	type item struct {
		i  int
		v  secret.Version
		ch plan.Change
	}
	type group struct {
		t     *Target
		rot   connector.Rotator
		items []item
	}
	var order []string
	groups := map[string]*group{}
	for i, v := range vs {
		t := s.target(v.Meta["target"])
		rot, ok := t.Impl.(connector.Rotator)
		if !ok {
			continue
		}
		ch := plan.Change{Target: v.Meta["target"], System: v.Meta["system"], Object: v.Meta["object"], Action: plan.Action(v.Meta["action"]), ID: v.Meta["change"]}
		if rec, ok := intents[secret.RefOf(st, v).String()]; ok {
			var full plan.Change
			if json.Unmarshal([]byte(rec.Detail["change"]), &full) == nil && full.ID != "" {
				ch = full
			}
		}
		k := ch.Target + "\x00" + ch.System
		g := groups[k]
		if g == nil {
			g = &group{t: t, rot: rot}
			groups[k] = g
			order = append(order, k)
		}
		g.items = append(g.items, item{i, v, ch})
	}
	eg := errgroup.Group{}
	eg.SetLimit(s.parallel(parallel))
	for _, k := range order {
		g := groups[k]
		eg.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, s.timeout(g.t))
			defer cancel()
			var creds []connector.Credential
			var tried []item
			for _, it := range g.items {
				val, _, err := st.Get(cctx, it.v.Path, it.v.Version)
				if err != nil {
					out[it.i] = &Drift{Target: it.ch.Target, System: it.ch.System, Kind: "credential-broken", Object: it.ch.Object, Detail: "reading the store: " + err.Error()}
					continue
				}
				defer val.Destroy()
				creds = append(creds, connector.Credential{Change: it.ch, Secret: val})
				tried = append(tried, it)
			}
			if len(creds) == 0 {
				return nil
			}
			for j, tr := range checker(g.rot)(cctx, tried[0].ch.System, creds) {
				it := tried[j]
				switch {
				case tr.Err == nil && tr.Works:
					proofs[it.i] = cmp.Or(tr.Method, "login")
				case tr.Err != nil:
					out[it.i] = &Drift{Target: it.ch.Target, System: it.ch.System, Kind: "unreachable", Object: it.ch.Object, Detail: "testing the stored credential: " + tr.Err.Error()}
				case !tr.Works:
					out[it.i] = &Drift{Target: it.ch.Target, System: it.ch.System, Kind: "credential-broken", Object: it.ch.Object,
						Detail: fmt.Sprintf("the stored credential %s no longer logs in: it was changed outside handover", secret.RefOf(st, it.v))}
				}
			}
			return nil
		})
	}
	eg.Wait()
	var ds []Drift
	for _, d := range out {
		if d != nil {
			ds = append(ds, *d)
		}
	}
	return ds, proofs
}
