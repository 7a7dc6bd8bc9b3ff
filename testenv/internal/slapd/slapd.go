// Package slapd runs the testenv's slapd component.
package slapd

import (
	"context"
	"errors"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
)

// Component runs slapd.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "slapd" }

func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("slapd: not implemented yet")
}

func (Component) Down(ctx context.Context, o component.Options) error { return nil }

func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	return errors.New("slapd: not implemented yet")
}
