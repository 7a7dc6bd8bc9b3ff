package ldap

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Plan derives the changes from an inventory, without I/O:
//
//   - rotate-password for every enabled admin that is neither the
//     provider's nor a service account, for the accounts
//     policy.rotate.accounts names, and for the bind account (last);
//   - remove-membership for each admin-group membership of a provider
//     account, and lock-account for each provider account not yet locked
//     or disabled (never a deletion).
//
// An account is rotated again only when handover does not hold its
// current password (the provider may know it) or when its password is
// older than policy.max_credential_age: a second plan right after a run
// is empty.
func (t *Target) Plan(inv *connector.Inventory) ([]plan.Change, error) {
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
			f, ok := byID[connector.KindCredAge+":"+a.Name]
			if !ok {
				continue // not a rotation candidate (a service admin, say)
			}
			isBind := normDN(a.Name) == normDN(t.s.BindDN)
			listed := t.listed(a.Name, f.Detail["login"])
			if !isBind && !listed && (!t.policy.RotateAdmins || a.State != "enabled") {
				continue
			}
			why, due := t.rotationDue(a, f)
			if !due {
				continue
			}
			reason := why
			switch {
			case isBind:
				reason = "bind account handed over by the outgoing provider; rotated last, the connector then logs in with the new password; " + why
			case a.Admin:
				reason = "admin (" + strings.Join(a.AdminVia, "; ") + "); " + why
			case listed:
				reason = "listed in policy.rotate.accounts; " + why
			}
			ch := plan.Change{
				Target: inv.Target, System: sys.Name, Action: plan.RotatePassword, Object: a.Name,
				Before: "password " + cmp.Or(f.Detail["password_changed"], "of unknown age"), After: "new generated password, stored before it is set",
				Reason: reason, Finding: f.ID, SecretPath: t.secretPath(a.Name),
				Params: map[string]string{"dialect": dialect, "login": f.Detail["login"]},
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

// rotationDue says whether an account's password must be rotated, and why.
func (t *Target) rotationDue(a connector.Account, f connector.Finding) (string, bool) {
	if f.Detail["stored"] != "true" {
		return "handover does not hold its current password, so the outgoing provider may know it", true
	}
	maxAge := t.policy.MaxCredentialAge
	if maxAge <= 0 {
		return "", false
	}
	if a.PasswordChanged == nil {
		return "the directory does not record when its password last changed", true
	}
	if age := t.now().Sub(*a.PasswordChanged); age > maxAge {
		return fmt.Sprintf("its password is %s old, over policy.max_credential_age (%s)", age.Round(time.Hour), maxAge), true
	}
	return "", false
}

func (t *Target) providerChanges(target string, sys connector.System, a connector.Account, byID map[string]connector.Finding) []plan.Change {
	var out []plan.Change
	why := "account of the outgoing provider: " + strings.Join(a.Reasons, "; ")
	for _, f := range sys.Findings {
		if f.Kind != connector.KindMember || f.Object != a.Name {
			continue
		}
		out = append(out, plan.Change{
			Target: target, System: sys.Name, Action: plan.RemoveMembership,
			Object: a.Name + " in " + f.Detail["group"],
			Before: "member of " + f.Detail["group"] + " (" + f.Detail["attr"] + ")", After: "not a member",
			Reason: why + "; " + f.Summary, Finding: f.ID,
			Params: map[string]string{"account": a.Name, "group": f.Detail["group"], "attr": f.Detail["attr"], "value": f.Detail["value"]},
		})
	}
	if a.State == "enabled" || a.State == "expired" {
		f := byID["account:"+a.Name]
		out = append(out, plan.Change{
			Target: target, System: sys.Name, Action: plan.LockAccount, Object: a.Name,
			Before: a.State, After: lockedState(factValue(sys.Facts, "dialect")),
			Reason: why + "; locked rather than deleted, so its history and ownerships stay", Finding: f.ID,
			Params: map[string]string{"dialect": factValue(sys.Facts, "dialect"), "login": f.Detail["login"], "realm": factValue(sys.Facts, "kerberos_realm")},
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
