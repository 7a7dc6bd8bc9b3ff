// Package component is the contract between `testenv` and each server it
// runs (directory, AD, mail, Vault, fleet).
package component

import (
	"context"
	"io"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/ca"
)

// Options are shared by every component.
type Options struct {
	StateDir  string // the testenv state directory
	Dir       string // this component's own directory, under StateDir
	CacheDir  string // survives `down`: rootfs, built binaries
	RepoDir   string // the handover source tree (for building helpers)
	CA        *ca.CA
	Hosts     int // fleet size
	LDAPUsers int // directory size
	// LightHosts is the light fleet's size (lightfleet, docs/scale.md).
	LightHosts int
	Log        io.Writer
}

// Component is one server of the estate. Up is idempotent: a component that
// is already running and healthy is left as is and its part of env filled
// in. Down stops only what Up started, by recorded PID, and unmounts what it
// mounted. Reset brings back the planted state (after a mutating test).
type Component interface {
	Name() string
	Up(ctx context.Context, o Options, env *testenv.Env) error
	Down(ctx context.Context, o Options) error
	Reset(ctx context.Context, o Options, env *testenv.Env) error
}
