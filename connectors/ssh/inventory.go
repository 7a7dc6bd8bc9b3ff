package ssh

import (
	"context"
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/handoverhq/handover/handover/connector"
)

// Inventory reads every host, at most parallel at once, each bounded by
// the host timeout. A host that cannot be read has its Error set; the
// others proceed.
func (t *target) Inventory(ctx context.Context) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	inv.Systems = make([]connector.System, len(t.s.Hosts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.s.Parallel)
	for i, h := range t.s.Hosts {
		g.Go(func() error {
			sys, err := t.inventoryHost(gctx, h)
			if err != nil {
				sys = connector.System{Name: h.Name, Kind: "host", Address: h.addr(), Error: err.Error()}
			}
			inv.Systems[i] = sys
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv.Finished = t.now()
	return inv, nil
}

func (t *target) inventoryHost(ctx context.Context, h hostSpec) (connector.System, error) {
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data, err := t.readHost(ctx, h, false)
	if err != nil {
		return connector.System{}, err
	}
	return t.system(ctx, h, data)
}

// reinventoryScript is the inventory script for a re-inventory of system:
// it reuses the sshd settings the last inventory read.
func (t *target) reinventoryScript(system string) string {
	t.mu.Lock()
	var sshd map[string]string
	if hc := t.cache[system]; hc != nil {
		sshd = hc.sshd
	}
	t.mu.Unlock()
	return inventoryScript(t.catalog, sshd)
}

// keepReinventory parses the output of a re-inventory run after a batch of
// changes, for Verify, and reports whether it did; an output that does not
// parse is dropped (Verify then reads the host again).
func (t *target) keepReinventory(system string, out []byte, serverVersion string) bool {
	data, err := parseInventory(out)
	if err != nil {
		return false
	}
	data.ServerVersion = serverVersion
	hc := newHostCache(data)
	t.mu.Lock()
	t.reinv[system] = data
	t.cache[system] = hc
	t.mu.Unlock()
	return true
}

// takeReinventory returns, once, the re-inventory kept for system.
func (t *target) takeReinventory(system string) *hostData {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := t.reinv[system]
	delete(t.reinv, system)
	return data
}

// forgetReinventory drops the re-inventory kept for system: a change is
// about to make it stale.
func (t *target) forgetReinventory(system string) {
	t.mu.Lock()
	delete(t.reinv, system)
	t.mu.Unlock()
}

// readHost runs the inventory script on h. A re-inventory (again) reuses
// the sshd settings the last inventory read.
func (t *target) readHost(ctx context.Context, h hostSpec, again bool) (*hostData, error) {
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return nil, err
	}
	script := inventoryScript(t.catalog, nil)
	if again {
		script = t.reinventoryScript(h.Name)
	}
	out, err := r.Run(ctx, script, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("inventory script: %w", err)
	}
	data, err := parseInventory(out)
	if err != nil {
		return nil, err
	}
	data.ServerVersion = string(r.c.ServerVersion())
	hc := newHostCache(data)
	t.mu.Lock()
	t.cache[h.Name] = hc
	t.mu.Unlock()
	return data, nil
}

// system builds the host's System, comparing shadow hashes with the
// secret store so that a credential already rotated is not planned again.
func (t *target) system(ctx context.Context, h hostSpec, data *hostData) (connector.System, error) {
	hc := hostContext{
		Name: h.Name, Address: h.addr(), Outgoing: t.out, Catalog: t.catalog,
		AccessUser: t.s.AccessKey.User, RotateAdmin: t.policy.RotateAdmins, Now: t.now(),
	}
	for _, ta := range t.policy.RotateAccounts {
		if tn, acct, ok := strings.Cut(ta, ":"); ok && tn == t.name {
			hc.RotateExtra = append(hc.RotateExtra, acct)
		}
	}
	if !t.s.AccessKey.Disabled {
		fp, err := t.accessKeyFingerprint(ctx, h.Name)
		if err != nil {
			return connector.System{}, err
		}
		hc.AccessKeyFP = fp
		hc.AccessKeyType = t.policy.AccessKeyType
	}
	var storeErr error
	hc.StoreState = func(account, hash string) string {
		if t.env.Secrets == nil {
			return "absent"
		}
		cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, h.Name, account))
		if err != nil {
			storeErr = err
			return "unknown"
		}
		if !ok {
			return "absent"
		}
		defer cur.Destroy()
		pw := cur.RevealBytes()
		defer clear(pw)
		if t.setHash(pw, hash) {
			return "current" // the very hash SetCredentials made of it
		}
		match, known := sha512Matches(pw, hash)
		switch {
		case !known:
			return "differs"
		case match:
			return "current"
		}
		return "differs"
	}
	sys := buildSystem(data, hc)
	if storeErr != nil {
		return connector.System{}, fmt.Errorf("secret store: %w", storeErr)
	}
	return sys, nil
}

// inventoryScript is the whole inventory in one script, one round trip
// per host: scripts/inventory.sh, given the catalogue's path patterns
// (unique, in catalogue order). sshd, when not empty, holds sshd's
// settings as an earlier inventory of the host read them (`sshd -T`, the
// keys the script keeps): the script is then a re-inventory, which reuses
// them and leaves out the hardware and network.
func inventoryScript(c *Catalog, sshd map[string]string) string {
	var b strings.Builder
	var pats []string
	for _, a := range c.Agents {
		for _, p := range slices.Concat(a.Paths, a.Configs, a.Cron) {
			if !slices.Contains(pats, p) {
				pats = append(pats, p)
			}
		}
	}
	b.WriteString("catalog_paths=" + shellQuote(strings.Join(pats, "\n")) + "\n")
	if len(sshd) > 0 {
		keys := slices.Sorted(maps.Keys(sshd))
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k + " " + sshd[k]
		}
		b.WriteString("sshd_known=" + shellQuote(strings.Join(lines, "\n")) + " reinv=1\n")
	}
	b.WriteString(inventoryBase)
	return b.String()
}
