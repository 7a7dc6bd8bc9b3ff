package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// plainTarget applies and rotates one change at a time.
type plainTarget struct{}

func (plainTarget) Inventory(context.Context) (*connector.Inventory, error) { return nil, nil }
func (plainTarget) Plan(*connector.Inventory) ([]plan.Change, error)        { return nil, nil }
func (plainTarget) Close() error                                            { return nil }
func (plainTarget) Apply(context.Context, plan.Change, connector.SecretReader) (connector.Outcome, error) {
	return connector.Outcome{}, nil
}
func (plainTarget) SetCredential(context.Context, plan.Change, secret.Secret) error { return nil }
func (plainTarget) TryCredential(context.Context, plan.Change, secret.Secret) (bool, error) {
	return true, nil
}
func (plainTarget) KnownCredential(context.Context, plan.Change) (secret.Secret, bool, error) {
	return secret.Secret{}, false, nil
}

// groupTarget takes groups.
type groupTarget struct{ plainTarget }

func (groupTarget) ApplyBatch(context.Context, string, []plan.Change, connector.SecretReader) []connector.Applied {
	return nil
}
func (groupTarget) SetCredentials(context.Context, string, []connector.Credential) []error {
	return nil
}
func (groupTarget) TryCredentials(context.Context, string, []connector.Credential) []connector.Tried {
	return nil
}

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
	tests := []struct {
		name   string
		target connector.Target
		want   string
	}{
		{"one at a time", plainTarget{}, "key | root | admin | k1 | g1 | a1 | bind"},
		{"groups", groupTarget{}, "key+root+admin | k1+g1+a1 | bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := show(segments(&Target{Impl: tt.target}, changes)); got != tt.want {
				t.Errorf("segments = %s, want %s", got, tt.want)
			}
		})
	}
}
