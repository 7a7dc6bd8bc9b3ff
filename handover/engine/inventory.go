package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/handover/connector"
)

// defaultTargetTimeout bounds one target's inventory when neither the target
// nor the policy sets a timeout.
const defaultTargetTimeout = 10 * time.Minute

// parallel is the bound on concurrent targets and systems: the run's
// --parallel, else the policy's, else a default suited to SSH fan-out.
func (s *Session) parallel(override int) int {
	switch {
	case override > 0:
		return override
	case s.Playbook.Policy.Parallel > 0:
		return s.Playbook.Policy.Parallel
	}
	return 20
}

func (s *Session) timeout(t *Target) time.Duration {
	switch {
	case t.Spec.Timeout > 0:
		return t.Spec.Timeout
	case s.Playbook.Policy.Timeout > 0:
		return s.Playbook.Policy.Timeout
	}
	return defaultTargetTimeout
}

// Inventory reads every target, at most parallel at a time. A target that
// fails entirely comes back as an inventory whose one system carries the
// error: the others proceed, and the plan lists it as a problem. The result
// is in playbook order.
func (s *Session) Inventory(ctx context.Context, parallel int) []*connector.Inventory {
	return s.inventory(ctx, parallel, nil)
}

// inventory reads every target; a Reobserver's systems in seen are taken
// from those readings.
func (s *Session) inventory(ctx context.Context, parallel int, seen map[string]map[string]connector.Observation) []*connector.Inventory {
	s.openStoreToRead(ctx)
	out := make([]*connector.Inventory, len(s.Targets))
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	g.SetLimit(s.parallel(parallel))
	for i, t := range s.Targets {
		g.Go(func() error {
			out[i] = s.inventoryTarget(ctx, gctx, t, seen[t.Spec.Name])
			return nil
		})
	}
	g.Wait()
	return out
}

func (s *Session) inventoryTarget(parent, _ context.Context, t *Target, seen map[string]connector.Observation) *connector.Inventory {
	e := s.engine
	started := e.now()
	e.progress(t.Spec.Name, "", Running, "inventory")
	ctx, cancel := context.WithTimeout(parent, s.timeout(t))
	defer cancel()
	var inv *connector.Inventory
	var err error
	if ro, ok := t.Impl.(connector.Reobserver); ok && len(seen) > 0 {
		inv, err = ro.InventoryAfter(ctx, seen)
	} else {
		inv, err = t.Impl.Inventory(ctx)
	}
	if err == nil && inv == nil {
		err = fmt.Errorf("connector returned no inventory")
	}
	if err != nil {
		e.log().Error("inventory failed", "target", t.Spec.Name, "error", err)
		e.progress(t.Spec.Name, "", Failing, err.Error())
		return &connector.Inventory{
			Target: t.Spec.Name, Type: t.Spec.Type, Started: started, Finished: e.now(),
			Systems: []connector.System{{Name: t.Spec.Name, Kind: t.Spec.Type, Error: "inventory: " + err.Error()}},
		}
	}
	inv.Target, inv.Type = t.Spec.Name, t.Spec.Type
	if inv.Started.IsZero() {
		inv.Started = started
	}
	if inv.Finished.IsZero() {
		inv.Finished = e.now()
	}
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			e.log().Warn("system not inventoried", "target", t.Spec.Name, "system", sys.Name, "error", sys.Error)
		}
	}
	e.progress(t.Spec.Name, "", Done, fmt.Sprintf("%d systems", len(inv.Systems)))
	return inv
}

// openStoreToRead opens the secret store, if there is one yet, so that
// connectors see the credentials handover already holds (a rotated bind
// password, an account rotated by an earlier run) while inventorying and
// planning. It never creates a store: plan and inventory write nothing.
func (s *Session) openStoreToRead(ctx context.Context) {
	if s.store != nil {
		return
	}
	if sc := s.Playbook.Secrets; sc.Store == "file" {
		if _, err := os.Stat(s.path(sc.File.Path)); err != nil {
			return
		}
	}
	if _, err := s.Store(ctx); err != nil {
		s.engine.log().Warn("secret store not readable: planning as if it held nothing", "error", err)
	}
}
