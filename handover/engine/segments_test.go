package engine

import (
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/plan"
)

func TestSegments(t *testing.T) {
	ch := func(a plan.Action, object string, last bool) plan.Change {
		return plan.Change{Action: a, Object: object, Last: last}
	}
	changes := []plan.Change{
		ch(plan.InstallKey, "key", false),
		ch(plan.RotatePassword, "root", false),
		ch(plan.RotatePassword, "admin", false),
		ch(plan.RemoveKey, "k1", false),
		ch(plan.RemoveGrant, "g1", false),
		ch(plan.RemoveAgent, "a1", false),
		ch(plan.RotatePassword, "bind", true),
	}
	show := func(segs [][]plan.Change) string {
		var out []string
		for _, seg := range segs {
			var names []string
			for _, c := range seg {
				names = append(names, c.Object)
			}
			out = append(out, strings.Join(names, "+"))
		}
		return strings.Join(out, " | ")
	}
	if got, want := show(segments(changes)), "key+root+admin | k1+g1+a1 | bind"; got != want {
		t.Errorf("segments = %s, want %s", got, want)
	}
}
