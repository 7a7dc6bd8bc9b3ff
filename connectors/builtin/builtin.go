// Package builtin registers the connectors bundled with handover. The
// registry is a value built here explicitly, not filled by init functions,
// so a program embedding the engine chooses its connectors.
package builtin

import (
	"github.com/handoverhq/handover/connectors/ldap"
	"github.com/handoverhq/handover/connectors/mail"
	"github.com/handoverhq/handover/connectors/ssh"
	"github.com/handoverhq/handover/handover/connector"
)

// Registry returns a registry of every bundled connector.
func Registry() *connector.Registry {
	return connector.NewRegistry(ldap.New(), mail.New(), ssh.New())
}
