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
	return t.InventoryAfter(ctx, nil)
}

// InventoryAfter is Inventory, a host's reading taken from seen where its
// last changes' script read it again at its end (the same inventory
// script, run after the changes in the same session).
func (t *target) InventoryAfter(ctx context.Context, seen map[string]connector.Observation) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	inv.Systems = make([]connector.System, len(t.s.Hosts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.s.Parallel)
	for i, h := range t.s.Hosts {
		g.Go(func() error {
			var sys connector.System
			var err error
			if data, ok := seen[h.Name].(*hostData); ok && data != nil {
				sys, err = t.system(gctx, h, data)
			} else {
				sys, err = t.inventoryHost(gctx, h)
			}
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

// parseAfter parses the output of the inventory run at the end of a batch
// of changes, the observation Apply returns for Verify and InventoryAfter;
// nil when it does not parse (both then read the host again).
func (t *target) parseAfter(system string, out []byte, serverVersion string) *hostData {
	data, err := parseInventory(out)
	if err != nil {
		return nil
	}
	data.ServerVersion = serverVersion
	hc := newHostCache(data)
	t.mu.Lock()
	t.cache[system] = hc
	t.mu.Unlock()
	return data
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
	data.ServerVersion = string(r.Client.ServerVersion())
	hc := newHostCache(data)
	t.mu.Lock()
	t.cache[h.Name] = hc
	t.mu.Unlock()
	return data, nil
}

// system builds the host's System, comparing shadow hashes with the
// secret store: whether handover holds each password is a fact the
// engine's rotation policy reads.
func (t *target) system(ctx context.Context, h hostSpec, data *hostData) (connector.System, error) {
	hc := hostContext{
		Name: h.Name, Address: h.addr(), Outgoing: t.out, Catalog: t.catalog,
		AccessUser: t.s.AccessKey.User, Named: t.env.Named, Now: t.now(),
	}
	if t.passwordLogin() {
		hc.LoginUser = t.s.User
	}
	if !t.s.AccessKey.Disabled {
		fp, err := t.accessKeyFingerprint(ctx, h.Name)
		if err != nil {
			return connector.System{}, err
		}
		hc.AccessKeyFP = fp
	}
	var storeErr error
	hc.Held = func(account, hash string) connector.Held {
		if t.env.Secrets == nil {
			return connector.HeldAbsent
		}
		cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, h.Name, account))
		if err != nil {
			storeErr = err
			return connector.HeldUnknown
		}
		if !ok {
			return connector.HeldAbsent
		}
		defer cur.Destroy()
		pw := cur.RevealBytes()
		defer clear(pw)
		// The connector sets SHA-512 crypt hashes: compared here. Another
		// scheme was set by someone else since.
		if match, known := t.hashes.matches(pw, hash); known && match {
			return connector.HeldCurrent
		}
		return connector.HeldDiffers
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
	procPaths, procUnits := procPatterns(c)
	b.WriteString("proc_paths=" + shellQuote(strings.Join(procPaths, "\n")) + " proc_units=" + shellQuote(strings.Join(procUnits, "\n")) + "\n")
	if len(sshd) > 0 {
		keys := slices.Sorted(maps.Keys(sshd))
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k + " " + sshd[k]
		}
		b.WriteString("sshd_known=" + shellQuote(strings.Join(lines, "\n")) + " reinv=1\n")
	}
	b.WriteString(inventoryBase)
	b.WriteString(persistBase)
	return b.String()
}

// procPatterns are what ties a process to an agent besides its name, for
// the inventory to collect: the catalogue's install paths and its service
// units (a unit's cgroup bears its name), unique, in catalogue order.
func procPatterns(c *Catalog) (paths, units []string) {
	for _, a := range c.Agents {
		for _, p := range a.Paths {
			if !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
		for _, u := range a.Units {
			if !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
	}
	return paths, units
}
