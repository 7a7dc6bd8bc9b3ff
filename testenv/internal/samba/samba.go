// Package samba runs the testenv's samba component.
package samba

import (
	"context"
	"errors"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
)

// Component runs samba.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "samba" }

func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("samba: not implemented yet")
}

func (Component) Down(ctx context.Context, o component.Options) error { return nil }

func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("samba: not implemented yet")
}
