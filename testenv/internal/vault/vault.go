// Package vault runs the testenv's vault component.
package vault

import (
	"context"
	"errors"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
)

// Component runs vault.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "vault" }

func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("vault: not implemented yet")
}

func (Component) Down(ctx context.Context, o component.Options) error { return nil }

func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("vault: not implemented yet")
}
