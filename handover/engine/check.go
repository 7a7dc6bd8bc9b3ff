package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// Drift is one way the estate no longer matches what the handover left.
type Drift struct {
	Target string `json:"target"`
	System string `json:"system,omitempty"`
	// Kind: change-needed (the plan is not empty: provider access back, an
	// admin not rotated), unreachable, credential-age, credential-broken,
	// pending (a rotation left unfinished).
	Kind   string `json:"kind"`
	Object string `json:"object,omitempty"`
	Detail string `json:"detail"`
}

// CheckResult is a freshness check: what was read and what drifted.
type CheckResult struct {
	Checked time.Time              `json:"checked"`
	Dossier []*connector.Inventory `json:"dossier"`
	Plan    *plan.Plan             `json:"plan"`
	Drift   []Drift                `json:"drift"`
}

// Check verifies that the dossier stays true, without changing anything:
// a fresh inventory must plan nothing, every stored credential must still
// log in and be younger than policy.max_credential_age, and no rotation
// may be left pending. Logging in is the only contact with the targets.
func (s *Session) Check(ctx context.Context, parallel int) (*CheckResult, error) {
	st, err := s.Store(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	res := &CheckResult{Checked: s.engine.now()}
	res.Dossier = s.Inventory(ctx, parallel)
	res.Plan = s.Plan(res.Dossier)
	for _, p := range res.Plan.Problems {
		res.Drift = append(res.Drift, Drift{Target: p.Target, System: p.System, Kind: "unreachable", Detail: p.Error})
	}
	for _, ch := range res.Plan.Changes {
		res.Drift = append(res.Drift, Drift{Target: ch.Target, System: ch.System, Kind: "change-needed", Object: ch.Object,
			Detail: fmt.Sprintf("%s: %s", ch.Action, ch.Reason)})
	}
	versions, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	var current []secret.Version
	for _, v := range versions {
		if !s.inScope(v.Meta["target"], v.Meta["system"]) {
			continue
		}
		switch v.State {
		case secret.Pending:
			res.Drift = append(res.Drift, Drift{Target: v.Meta["target"], System: v.Meta["system"], Kind: "pending", Object: v.Meta["object"],
				Detail: fmt.Sprintf("rotation left unfinished (%s); `handover resume` settles it", secret.RefOf(st, v))})
		case secret.Current:
			current = append(current, v)
			if max := s.Playbook.Policy.MaxCredentialAge; max > 0 && res.Checked.Sub(v.Created) > max {
				res.Drift = append(res.Drift, Drift{Target: v.Meta["target"], System: v.Meta["system"], Kind: "credential-age", Object: v.Meta["object"],
					Detail: fmt.Sprintf("credential set on %s is older than policy.max_credential_age", v.Created.Format("2006-01-02"))})
			}
		}
	}
	res.Drift = append(res.Drift, s.checkCredentials(ctx, st, current, parallel)...)
	sort.SliceStable(res.Drift, func(i, j int) bool {
		a, b := res.Drift[i], res.Drift[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.System < b.System
	})
	return res, nil
}

// checkCredentials logs in with every current stored credential.
func (s *Session) checkCredentials(ctx context.Context, st secret.Store, vs []secret.Version, parallel int) []Drift {
	out := make([]*Drift, len(vs))
	// The journal keeps each change whole (connectors need its params to
	// log in again); the store's metadata names it.
	intents, err := s.intents()
	if err != nil {
		s.engine.log().Warn("reading earlier journals", "error", err)
	}
	g := errgroup.Group{}
	g.SetLimit(s.parallel(parallel))
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
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, s.timeout(t))
			defer cancel()
			val, _, err := st.Get(cctx, v.Path, v.Version)
			if err != nil {
				out[i] = &Drift{Target: ch.Target, System: ch.System, Kind: "credential-broken", Object: ch.Object, Detail: "reading the store: " + err.Error()}
				return nil
			}
			defer val.Destroy()
			tr := tryOne(cctx, rot, connector.Credential{Change: ch, Secret: val})
			switch {
			case tr.Err != nil:
				out[i] = &Drift{Target: ch.Target, System: ch.System, Kind: "unreachable", Object: ch.Object, Detail: "testing the stored credential: " + tr.Err.Error()}
			case !tr.Works:
				out[i] = &Drift{Target: ch.Target, System: ch.System, Kind: "credential-broken", Object: ch.Object,
					Detail: fmt.Sprintf("the stored credential %s no longer logs in: it was changed outside handover", secret.RefOf(st, v))}
			}
			return nil
		})
	}
	g.Wait()
	var ds []Drift
	for _, d := range out {
		if d != nil {
			ds = append(ds, *d)
		}
	}
	return ds
}
