package engine

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// The rotation policy is decided here, once, for every connector, from the
// playbook and the facts a connector reports on each account (admin and
// through what, service account, provider's, when its password last
// changed, whether handover holds it). Connectors do not read the policy.

// namedAccounts are the accounts policy.rotate.accounts names for a target
// ("target:account").
func namedAccounts(p playbook.Policy, target string) []string {
	var out []string
	for _, ta := range p.RotateAccounts {
		if tn, acct, ok := strings.Cut(ta, ":"); ok && tn == target {
			out = append(out, acct)
		}
	}
	return out
}

// Decide makes the engine's decisions for one target's inventory.
func Decide(p playbook.Policy, target string, inv *connector.Inventory, now time.Time) connector.Decisions {
	d := connector.Decisions{AccessKeyType: cmp.Or(p.AccessKeyType, "ed25519")}
	named := namedAccounts(p, target)
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		for _, a := range sys.Accounts {
			if why, ok := rotation(p, named, a, now); ok {
				d.Rotate = append(d.Rotate, connector.Rotation{System: sys.Name, Account: a.Name, Reason: why})
			}
		}
	}
	return d
}

// rotation says whether an account's password is rotated, and why:
//
//   - the provider's accounts never are (they are locked instead);
//   - the connector's own login is, and so are the accounts
//     policy.rotate.accounts names and, with policy.rotate.admins, the
//     enabled admins that are not service accounts (an application uses a
//     service account's password: name it to rotate it);
//   - only when it is due: handover does not hold the current password
//     (the provider may know it), or the system records that it is older
//     than policy.max_credential_age. A second plan right after a run is
//     empty.
func rotation(p playbook.Policy, named []string, a connector.Account, now time.Time) (string, bool) {
	pw := a.Password
	if pw == nil || a.Provider {
		return "", false
	}
	listed := isNamed(named, a.Name, pw.Login)
	var who string
	switch {
	case pw.Connector:
		who = "the account handover logs in with, handed over by the outgoing provider"
	case a.State != "enabled":
		return "", false
	case listed:
		who = "listed in policy.rotate.accounts"
	case p.RotateAdmins && a.Admin && !a.Service:
		who = "admin (" + strings.Join(a.AdminVia, "; ") + ")"
	default:
		return "", false
	}
	due, ok := rotationDue(p.MaxCredentialAge, a, pw.Held, now)
	if !ok {
		return "", false
	}
	return who + "; " + due, true
}

func rotationDue(maxAge time.Duration, a connector.Account, held connector.Held, now time.Time) (string, bool) {
	switch {
	case held != connector.HeldCurrent:
		return "handover does not hold its current password, so the outgoing provider may know it", true
	case maxAge <= 0:
		return "", false
	case a.PasswordChanged == nil:
		// handover holds it, and the system keeps no date to age it by;
		// handover check ages it by the store's version instead.
		return "", false
	}
	if age := now.Sub(*a.PasswordChanged); age > maxAge {
		return fmt.Sprintf("its password is %s old, over policy.max_credential_age (%s)", age.Round(time.Hour), maxAge), true
	}
	return "", false
}

// isNamed matches an account against policy.rotate.accounts: by name (a
// DN compared without case or spaces around its separators) or by login.
func isNamed(named []string, name, login string) bool {
	for _, n := range named {
		if normName(n) == normName(name) || (login != "" && strings.EqualFold(n, login)) {
			return true
		}
	}
	return false
}

func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, sep := range []string{",", "="} {
		parts := strings.Split(s, sep)
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		s = strings.Join(parts, sep)
	}
	return s
}

// passwordPolicy is the policy new passwords of a target are generated
// with: the target's password_policy, else policy.password, else the
// default.
func passwordPolicy(p playbook.Policy, t playbook.Target) secret.Policy {
	pp := p.Password
	if t.Password != nil {
		pp = *t.Password
	}
	if pp.Length == 0 {
		pp = secret.DefaultPolicy()
	}
	return pp
}
