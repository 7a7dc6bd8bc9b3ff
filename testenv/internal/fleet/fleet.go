// Package fleet runs the testenv's fleet component.
package fleet

import (
	"context"
	"errors"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
)

// Component runs fleet.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "fleet" }

func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("fleet: not implemented yet")
}

func (Component) Down(ctx context.Context, o component.Options) error { return nil }

func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("fleet: not implemented yet")
}
