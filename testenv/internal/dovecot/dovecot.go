// Package dovecot runs the testenv's dovecot component.
package dovecot

import (
	"context"
	"errors"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
)

// Component runs dovecot.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "dovecot" }

func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("dovecot: not implemented yet")
}

func (Component) Down(ctx context.Context, o component.Options) error { return nil }

func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("dovecot: not implemented yet")
}
