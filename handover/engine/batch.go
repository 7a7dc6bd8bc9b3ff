package engine

import (
	"context"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// The engine speaks to connectors in groups of changes. A connector that
// implements the batch interfaces gets a group in one call (one remote
// script, one login); any other gets one call per change, which segments
// keeps to groups of one.

type applyFunc func(ctx context.Context, system string, chs []plan.Change, secrets connector.SecretReader) []connector.Applied

type setFunc func(ctx context.Context, system string, creds []connector.Credential) []error

type tryFunc func(ctx context.Context, system string, creds []connector.Credential) []connector.Tried

// batchApplier returns impl's way to apply a group, or nil when it applies
// nothing.
func batchApplier(impl connector.Target) applyFunc {
	if b, ok := impl.(connector.BatchApplier); ok {
		return b.ApplyBatch
	}
	ap, ok := impl.(connector.Applier)
	if !ok {
		return nil
	}
	return func(ctx context.Context, _ string, chs []plan.Change, secrets connector.SecretReader) []connector.Applied {
		out := make([]connector.Applied, len(chs))
		for i, ch := range chs {
			out[i].Outcome, out[i].Err = ap.Apply(ctx, ch, secrets)
		}
		return out
	}
}

// batchSetter returns impl's way to set a group of credentials; impl is a
// connector.Rotator.
func batchSetter(impl connector.Target) setFunc {
	if b, ok := impl.(connector.BatchRotator); ok {
		return b.SetCredentials
	}
	rot := impl.(connector.Rotator)
	return func(ctx context.Context, _ string, creds []connector.Credential) []error {
		out := make([]error, len(creds))
		for i, c := range creds {
			out[i] = rot.SetCredential(ctx, c.Change, c.Secret)
		}
		return out
	}
}

// batchTrier returns impl's way to try a group of credentials; impl is
// a connector.Rotator.
func batchTrier(impl connector.Target) tryFunc {
	if b, ok := impl.(connector.BatchRotator); ok {
		return b.TryCredentials
	}
	rot := impl.(connector.Rotator)
	return func(ctx context.Context, _ string, creds []connector.Credential) []connector.Tried {
		out := make([]connector.Tried, len(creds))
		for i, c := range creds {
			out[i].Works, out[i].Err = rot.TryCredential(ctx, c.Change, c.Secret)
		}
		return out
	}
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
