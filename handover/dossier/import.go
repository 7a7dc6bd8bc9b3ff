package dossier

import (
	"context"
	"fmt"

	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// Import stores an opened bundle's credentials in st, journaled by rec
// before and after: each value is first stored as pending (in one write
// where the store batches), then every version is made current. A
// failure stops the import; what was stored pending stays pending, never
// current, and the journal says which.
func Import(ctx context.Context, st secret.Store, rec *Recorder, o *Opened) ([]Imported, error) {
	var intents []journal.Record
	var puts []secret.Put
	for _, c := range o.Credentials {
		intents = append(intents, journal.Record{Kind: journal.Intent, Action: "import", Target: c.Info.Target, System: c.Info.System, Object: c.Info.Account,
			Secret: c.Info.Ref(), Detail: map[string]string{"bundle": o.Manifest.ID, "bundle_sha256": o.SHA256}})
		puts = append(puts, secret.Put{Path: c.Info.Path, Value: c.Value, Meta: map[string]string{
			"target": c.Info.Target, "system": c.Info.System, "object": c.Info.Account,
			"imported_from": c.Info.Ref(), "bundle": o.Manifest.ID, "run": o.Manifest.ID,
		}})
	}
	if err := rec.Append(intents...); err != nil {
		return nil, fmt.Errorf("journal: %w (nothing was imported)", err)
	}
	var vs []secret.Version
	if b, ok := st.(secret.Batcher); ok {
		var err error
		if vs, err = b.PutPendingAll(ctx, puts); err != nil {
			return nil, fmt.Errorf("import store: %w (nothing was imported)", err)
		}
	} else {
		for _, p := range puts {
			v, err := st.PutPending(ctx, p.Path, p.Value, p.Meta)
			if err != nil {
				_ = rec.Append(pendingRecords(st, vs)...)
				return nil, fmt.Errorf("import store: %s: %w (%d credential(s) stored as pending, none made current)", p.Path, err, len(vs))
			}
			vs = append(vs, v)
		}
	}
	if err := rec.Append(pendingRecords(st, vs)...); err != nil {
		return nil, fmt.Errorf("journal: %w (the credentials are stored as pending, none made current)", err)
	}
	var out []Imported
	for i, v := range vs {
		if err := st.SetState(ctx, v.Path, v.Version, secret.Current); err != nil {
			_ = rec.Append(journal.Record{Kind: journal.Outcome, Action: "import", Secret: secret.RefOf(st, v).String(), Result: plan.Failed, Error: err.Error()})
			return out, fmt.Errorf("import store: %s: %w (%d of %d made current)", v.Path, err, i, len(vs))
		}
		c := o.Credentials[i].Info
		out = append(out, Imported{From: c.Ref(), Store: st.Kind(), Location: st.Location(), Path: v.Path, Version: v.Version})
		if err := rec.Append(journal.Record{Kind: journal.Outcome, Action: "import", Target: c.Target, System: c.System, Object: c.Account,
			Secret: secret.RefOf(st, v).String(), Result: plan.Done, Detail: map[string]string{"from": c.Ref()}}); err != nil {
			return out, fmt.Errorf("journal: %w", err)
		}
	}
	return out, nil
}

func pendingRecords(st secret.Store, vs []secret.Version) []journal.Record {
	var out []journal.Record
	for _, v := range vs {
		out = append(out, journal.Record{Kind: journal.Import, Action: "import", Secret: secret.RefOf(st, v).String(), Result: plan.Result(secret.Pending)})
	}
	return out
}
