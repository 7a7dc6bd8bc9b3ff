package main

import "github.com/handoverhq/handover/handover/plan"

// chainHooks calls each non-nil hook in turn; nil when there is none.
func chainHooks(hooks []func(string, plan.Change)) func(string, plan.Change) {
	var on []func(string, plan.Change)
	for _, h := range hooks {
		if h != nil {
			on = append(on, h)
		}
	}
	if len(on) == 0 {
		return nil
	}
	return func(step string, ch plan.Change) {
		for _, h := range on {
			h(step, ch)
		}
	}
}
