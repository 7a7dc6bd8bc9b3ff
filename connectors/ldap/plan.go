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
		ch := plan.Change{
			Target: target, System: sys.Name, Action: plan.RemoveMembership,
			Object: a.Name + " in " + m.Group,
			Before: "member of " + m.Group + " (" + m.Attr + ")", After: "not a member",
			Reason: why + "; " + f.Summary, Finding: f.ID,
			Params: map[string]string{"account": a.Name, "group": m.Group, "attr": m.Attr, "value": m.Value},
		}
		if m.Via != "" {
			// The provider is the only member of m.Via, which cannot be
			// left empty: the group leaves the admin chain instead.
			ch.Object = m.Value + " in " + m.Group
			ch.Before = m.Value + " (whose only member is " + a.Name + ") is a member of " + m.Group
			ch.After = m.Value + " no longer in " + m.Group + "; it keeps its member, locked; no other admin loses a right"
			ch.Reason = why + "; " + m.Via + " cannot be emptied (its object class needs a member): removing it from " + m.Group + " is the least change that ends the provider's rights"
			ch.Params["via"] = m.Via
			ch.Params["keep"] = m.Keep
		}
		out = append(out, ch)
	}
	if a.State == "enabled" || a.State == "expired" {
		f := byID["account:"+a.Name]
		login, _ := f.Data.(providerAccount)
		out = append(out, plan.Change{
			Target: target, System: sys.Name, Action: plan.LockAccount, Object: a.Name,
			Before: a.State, After: lockedState(factValue(sys.Facts, "dialect")),
			Reason: why + "; locked rather than deleted, so its history and ownerships stay" + serviceNote(a), Finding: f.ID,
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

// serviceNote says why a service account of the provider's is locked
// rather than rotated: the provider's accounts lose their access; one the
// client's applications still use is for a person to waive and rotate.
func serviceNote(a connector.Account) string {
	if !a.Service {
		return ""
	}
	return "; a service account, locked like the provider's other accounts rather than rotated: if an application of the client's binds with it, waive this change and list it in policy.rotate.accounts to have its password rotated instead"
}
