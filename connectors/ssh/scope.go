package ssh

import (
	"slices"

	"github.com/handoverhq/handover/handover/connector"
)

var _ connector.Scoper = (*target)(nil)

// Systems lists the configured hosts, for --limit.
func (t *target) Systems() []connector.SystemRef {
	out := make([]connector.SystemRef, len(t.s.Hosts))
	for i, h := range t.s.Hosts {
		out[i] = connector.SystemRef{Name: h.Name, Address: h.Address, Groups: h.Groups}
	}
	return out
}

// Scope keeps only the named hosts. It is called before the first
// Inventory, with no connection open.
func (t *target) Scope(names []string) {
	t.s.Hosts = slices.DeleteFunc(t.s.Hosts, func(h hostSpec) bool { return !slices.Contains(names, h.Name) })
}
