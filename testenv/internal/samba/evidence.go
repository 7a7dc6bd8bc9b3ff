package samba

import (
	"fmt"
	"strings"

	"github.com/handoverhq/handover/testenv"
)

// The provider's accounts by evidence: nothing in their names or mail
// says whose they are, what their entries say does.
//
//   - svc-supervision, a service account (OU=Services) whose description
//     names the provider, an admin through GG-Admins-Reseau;
//   - tech.astreinte, a technician with the client's mail, whose info
//     names the provider, an admin only through GG-Astreinte-N2, a group
//     managed by the provider's account (managedBy) whose only member it
//     is, itself a member of GG-Admins-Reseau beside julie.bernard (the
//     client's admin through the same group).
//
// Their passwords are handed over (files next to story.json), so that a
// test can prove their lock by a refused bind.
const (
	supervisionSAM = "svc-supervision"
	oncallSAM      = "tech.astreinte"
)

var soleGroupDN = "CN=GG-Astreinte-N2," + ouGroups

var evidenceAccounts = []user{
	{sam: supervisionSAM, cn: supervisionSAM, ou: ouServices, uac: 512 | 0x10000,
		description: "Supervision des serveurs par " + testenv.ProviderName, handedOver: true},
	{sam: oncallSAM, cn: "Technicien Astreinte", mail: "astreinte@" + testenv.ClientDomain, ou: ouStaff, uac: 512,
		description: "Technicien d'astreinte", info: "Astreinte de niveau 2 assuree par " + testenv.ProviderName, handedOver: true},
}

// evidenceGroupLDIF adds GG-Astreinte-N2, managed by the provider's
// account.
func evidenceGroupLDIF(byName map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: group\nsAMAccountName: GG-Astreinte-N2\ndescription: Astreinte de niveau 2\nmanagedBy: %s\n\n", soleGroupDN, byName["prestanet-admin"])
	return b.String()
}

func evidenceMembers(byName map[string]string) []struct{ group, member string } {
	return []struct{ group, member string }{
		{adminsReseau, byName[supervisionSAM]},
		{soleGroupDN, byName[oncallSAM]},
		{adminsReseau, soleGroupDN},
	}
}
