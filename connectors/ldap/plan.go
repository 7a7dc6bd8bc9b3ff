package ldap

import (
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Plan derives the changes from an inventory and the engine's decisions,
// without I/O:
//
//   - rotate-password for every account the engine decided to rotate, the
//     bind account last (the connector then binds with the new password);
//   - remove-membership for each admin-group membership of a provider
//     account, and lock-account for each provider account not yet locked
//     or disabled (never a deletion).
func (t *Target) Plan(inv *connector.Inventory, d connector.Decisions) ([]plan.Change, error) {
	var changes []plan.Change
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		byID := map[string]connector.Finding{}
		for _, f := range sys.Findings {
			byID[f.ID] = f
		}
		dialect := factValue(sys.Facts, "dialect")
		realm := factValue(sys.Facts, "kerberos_realm")
		for _, a := range sys.Accounts {
			if a.Provider {
				changes = append(changes, t.providerChanges(inv.Target, sys, a, byID)...)
				continue
			}
			r, ok := d.Rotation(sys.Name, a.Name)
			if !ok || a.Password == nil {
				continue
			}
			isBind := a.Password.Connector
			reason := r.Reason
			if isBind {
				reason += "; rotated last, the connector then binds with the new password"
			}
			changed := "of unknown age"
			if a.PasswordChanged != nil {
				changed = "last changed " + a.PasswordChanged.Format(time.RFC3339)
			}
			ch := plan.Change{
				Target: inv.Target, System: sys.Name, Action: plan.RotatePassword, Object: a.Name,
				Before: "password " + changed, After: "new generated password, stored before it is set",
				Reason: reason, SecretPath: t.secretPath(a.Name),
				Params: map[string]string{"dialect": dialect, "login": a.Password.Login},
				Last:   isBind,
			}
			if realm != "" {
				ch.Params["realm"] = realm
			}
			changes = append(changes, ch)
		}
	}
	for i := range changes {
		changes[i].MakeID()
	}
	return changes, nil
}

func (t *Target) providerChanges(target string, sys connector.System, a connector.Account, byID map[string]connector.Finding) []plan.Change {
	var out []plan.Change
	why := "account of the outgoing provider: " + strings.Join(a.Reasons, "; ")
	for _, f := range sys.Findings {
		m, ok := f.Data.(membership)
		if f.Kind != connector.KindMember || f.Object != a.Name || !ok {
			continue
		}
		out = append(out, plan.Change{
			Target: target, System: sys.Name, Action: plan.RemoveMembership,
			Object: a.Name + " in " + m.Group,
			Before: "member of " + m.Group + " (" + m.Attr + ")", After: "not a member",
			Reason: why + "; " + f.Summary, Finding: f.ID,
			Params: map[string]string{"account": a.Name, "group": m.Group, "attr": m.Attr, "value": m.Value},
		})
	}
	if a.State == "enabled" || a.State == "expired" {
		f := byID["account:"+a.Name]
		login, _ := f.Data.(providerAccount)
		out = append(out, plan.Change{
			Target: target, System: sys.Name, Action: plan.LockAccount, Object: a.Name,
			Before: a.State, After: lockedState(factValue(sys.Facts, "dialect")),
			Reason: why + "; locked rather than deleted, so its history and ownerships stay", Finding: f.ID,
			Params: map[string]string{"dialect": factValue(sys.Facts, "dialect"), "login": login.Login, "realm": factValue(sys.Facts, "kerberos_realm")},
		})
	}
	return out
}

func lockedState(dialect string) string {
	if dialect == AD {
		return "disabled (userAccountControl ACCOUNTDISABLE)"
	}
	return "locked (pwdAccountLockedTime=000001010000Z)"
}

func factValue(fs []connector.Fact, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
