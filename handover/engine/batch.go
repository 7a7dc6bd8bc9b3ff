package engine

import (
	"context"
	"fmt"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/secret"
)

// The engine speaks to connectors in groups of changes of one system: the
// consecutive credential changes, or the consecutive other changes (see
// segments). A connector makes a group in one round trip where it can.

// tryOne tries a single credential through the group interface.
func tryOne(ctx context.Context, rot connector.Rotator, c connector.Credential) connector.Tried {
	return trier(rot)(ctx, c.Change.System, []connector.Credential{c})[0]
}

func credentials(lanes []*lane, value func(*lane) secret.Secret) []connector.Credential {
	out := make([]connector.Credential, len(lanes))
	for i, l := range lanes {
		out[i] = connector.Credential{Change: l.a.Change, Secret: value(l)}
	}
	return out
}

func stateChanges(lanes []*lane, st secret.State) []secret.StateChange {
	out := make([]secret.StateChange, len(lanes))
	for i, l := range lanes {
		out[i] = secret.StateChange{Path: l.path, Version: l.v.Version, State: st}
	}
	return out
}

// putPending writes new versions ahead of the change: in one durable
// write when the store can, else one by one. errs[i] is puts[i]'s failure.
func (r *runner) putPending(ctx context.Context, puts []secret.Put) (vs []secret.Version, errs []error) {
	vs, errs = make([]secret.Version, len(puts)), make([]error, len(puts))
	if b, ok := r.store.(secret.Batcher); ok && len(puts) > 1 {
		got, err := b.PutPendingAll(ctx, puts)
		for i := range puts {
			if err != nil {
				errs[i] = err
			} else {
				vs[i] = got[i]
			}
		}
		return vs, errs
	}
	for i, p := range puts {
		vs[i], errs[i] = r.store.PutPending(ctx, p.Path, p.Value, p.Meta)
	}
	return vs, errs
}

// setStates moves versions to another state: in one durable write when
// the store can, else one by one, stopping at the first failure.
func (r *runner) setStates(ctx context.Context, changes []secret.StateChange) error {
	if len(changes) == 0 {
		return nil
	}
	if b, ok := r.store.(secret.Batcher); ok && len(changes) > 1 {
		return b.SetStates(ctx, changes)
	}
	for _, c := range changes {
		if err := r.store.SetState(ctx, c.Path, c.Version, c.State); err != nil {
			return err
		}
	}
	return nil
}

// errShortResults is a connector's broken promise of one result per item.
func errShortResults(got, want int) error {
	return fmt.Errorf("the connector returned %d results for %d items", got, want)
}

// fit holds a connector to one result per item: a wrong count turns every
// item into a failure rather than an index out of range.
func fit[T any](res []T, n int, bad func(error) T) []T {
	if len(res) == n {
		return res
	}
	out := make([]T, n)
	for i := range out {
		out[i] = bad(errShortResults(len(res), n))
	}
	return out
}

type tryFunc func(ctx context.Context, system string, creds []connector.Credential) []connector.Tried

// checker is how `check` proves stored credentials: by the connector's
// CheckStored where it has one, else by fresh logins.
func checker(rot connector.Rotator) tryFunc {
	sc, ok := rot.(connector.StoredChecker)
	if !ok {
		return trier(rot)
	}
	return func(ctx context.Context, system string, creds []connector.Credential) []connector.Tried {
		return fit(sc.CheckStored(ctx, system, creds), len(creds), func(err error) connector.Tried { return connector.Tried{Err: err} })
	}
}

// trier is rot's TryCredentials, held to one result per credential.
func trier(rot connector.Rotator) tryFunc {
	return func(ctx context.Context, system string, creds []connector.Credential) []connector.Tried {
		return fit(rot.TryCredentials(ctx, system, creds), len(creds), func(err error) connector.Tried { return connector.Tried{Err: err} })
	}
}
