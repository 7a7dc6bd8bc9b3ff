package ldap

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// clockSkew tolerates a directory clock slightly behind ours when checking
// that a password change was recorded.
const clockSkew = 2 * time.Minute

// Verify re-reads the directory after the changes: each rotated password
// is recorded as changed (and, on AD, what a simple bind with the old one
// said), each provider account is in no admin group any more, locked or
// disabled, and cannot log in with the password handed over.
func (t *Target) Verify(ctx context.Context, system string, done []connector.Done, _ connector.Observation) ([]connector.Check, error) {
	var checks []connector.Check
	var w *walker
	var dialect string
	err := t.withSession(ctx, func(sess *session) error {
		dialect = t.info.Dialect
		groups, _, err := t.adminGroups(ctx, sess, t.info)
		if err != nil {
			return err
		}
		w, err = t.admins(ctx, sess, t.info, groups)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", system, err)
	}
	notAdmin := map[string]bool{} // accounts already checked
	for _, d := range done {
		ch := d.Change
		if ch.System != system {
			continue
		}
		var cs []connector.Check
		var err error
		switch ch.Action {
		case plan.RotatePassword:
			cs, err = t.verifyRotation(ctx, ch, d.At, dialect)
		case plan.RemoveMembership:
			cs, err = t.verifyMembership(ctx, ch, w, notAdmin)
		case plan.LockAccount:
			cs, err = t.verifyLock(ctx, ch, dialect, w, notAdmin)
		}
		if err != nil {
			return checks, fmt.Errorf("verify %s %s: %w", ch.Action, ch.Object, err)
		}
		checks = append(checks, cs...)
	}
	return checks, nil
}

func (t *Target) check(ch plan.Change, kind connector.CheckKind, what string, ok bool, detail string) connector.Check {
	return connector.Check{Change: ch.ID, Kind: kind, What: what, OK: ok, Detail: detail, At: t.now()}
}

func (t *Target) readAccount(ctx context.Context, dn, dialect string) (*account, error) {
	var a *account
	err := t.withSession(ctx, func(sess *session) error {
		_, attrs := userQuery(dialect)
		e, err := sess.read(ctx, dn, attrs...)
		if err != nil || e == nil {
			return err
		}
		acc := t.toAccount(e, dialect, t.now())
		a = &acc
		return nil
	})
	return a, err
}

// verifyRotation re-reads the account: the directory records a password
// change made at or after the engine asked for it. What the old password
// does was proven by the engine's fresh logins.
func (t *Target) verifyRotation(ctx context.Context, ch plan.Change, asked time.Time, dialect string) ([]connector.Check, error) {
	a, err := t.readAccount(ctx, ch.Object, dialect)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return []connector.Check{t.check(ch, connector.Present, "account still exists", false, ch.Object+" is gone from the directory")}, nil
	}
	attr := "pwdChangedTime"
	if dialect == AD {
		attr = "pwdLastSet"
	}
	what := "the directory records the password change (" + attr + " re-read)"
	var checks []connector.Check
	switch {
	case a.PasswordChanged == nil:
		checks = append(checks, t.check(ch, connector.State, what, false, attr+" is not set"))
	default:
		ok := !a.PasswordChanged.Before(asked.Add(-clockSkew))
		checks = append(checks, t.check(ch, connector.State, what, ok, fmt.Sprintf("%s %s (asked at %s)", attr, a.PasswordChanged.Format(time.RFC3339), asked.Format(time.RFC3339))))
	}
	if dialect == AD && !t.s.Kerberos {
		checks = append(checks, t.check(ch, connector.OldRejected, "previous password refused by the KDC", false,
			"not checked (kerberos: false): the old password was tried with an LDAP simple bind only, which Active Directory lets through for up to 60 minutes after a change (old password allowed period)"))
	}
	return checks, nil
}

func (t *Target) verifyMembership(ctx context.Context, ch plan.Change, w *walker, done map[string]bool) ([]connector.Check, error) {
	group, attr, value, account := ch.Params["group"], ch.Params["attr"], ch.Params["value"], ch.Params["account"]
	var checks []connector.Check
	if attr == "primaryGroupID" {
		a, err := t.readAccount(ctx, account, AD)
		if err != nil {
			return nil, err
		}
		checks = append(checks, t.check(ch, connector.Absent, "primary group is no longer "+rdn(group)+" (account re-read)", a != nil, ""))
	} else {
		var values []string
		err := t.withSession(ctx, func(sess *session) error {
			e, err := sess.read(ctx, group, attr)
			if err != nil || e == nil {
				return err
			}
			values, err = sess.values(ctx, e, attr)
			return err
		})
		if err != nil {
			return nil, err
		}
		still := slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(v, value) || normDN(v) == normDN(value) })
		checks = append(checks, t.check(ch, connector.Absent, "no longer a member of "+rdn(group)+" (group re-read)", !still, fmt.Sprintf("%s: %d values of %s re-read", group, len(values), attr)))
	}
	checks = append(checks, t.notAdminCheck(ch, account, w, done)...)
	if keep := ch.Params["keep"]; ch.Params["via"] != "" {
		// A group left the admin chain: the client's admins that came
		// through the same group by another way keep their rights.
		var lost, kept []string
		for _, dn := range strings.Split(keep, "\n") {
			if dn == "" {
				continue
			}
			if _, ok := w.admins[normDN(dn)]; ok {
				kept = append(kept, rdn(dn))
			} else {
				lost = append(lost, dn)
			}
		}
		detail := fmt.Sprintf("%d still admins: %s", len(kept), strings.Join(kept, ", "))
		if len(lost) > 0 {
			detail = "no longer admins: " + strings.Join(lost, "; ")
		}
		checks = append(checks, t.check(ch, connector.Present, "the client's other admins through "+rdn(group)+" keep their rights (admin groups re-walked)", len(lost) == 0, detail))
	}
	return checks, nil
}

// notAdminCheck proves, once per account, that the re-walked admin groups
// no longer reach it.
func (t *Target) notAdminCheck(ch plan.Change, account string, w *walker, done map[string]bool) []connector.Check {
	key := normDN(account)
	if done[key] {
		return nil
	}
	done[key] = true
	if r, ok := w.admins[key]; ok {
		return []connector.Check{t.check(ch, connector.Absent, "in no admin group, nested ones included (admin groups re-walked)", false, "still an admin through "+strings.Join(r.Via, "; "))}
	}
	return []connector.Check{t.check(ch, connector.Absent, "in no admin group, nested ones included (admin groups re-walked)", true, "")}
}

func (t *Target) verifyLock(ctx context.Context, ch plan.Change, dialect string, w *walker, done map[string]bool) ([]connector.Check, error) {
	a, err := t.readAccount(ctx, ch.Object, dialect)
	if err != nil {
		return nil, err
	}
	var checks []connector.Check
	want := "locked"
	if dialect == AD {
		want = "disabled"
	}
	switch {
	case a == nil:
		checks = append(checks, t.check(ch, connector.State, "account "+want+" (re-read)", false, ch.Object+" is gone from the directory (it should have been locked, not deleted)"))
	default:
		checks = append(checks, t.check(ch, connector.State, "account "+want+" (re-read)", a.State == want, "state "+a.State))
	}
	cred, ok, err := t.KnownCredential(ctx, ch)
	if err != nil {
		return nil, err
	}
	if !ok {
		checks = append(checks, t.check(ch, connector.OldRejected, "handed-over password no longer logs in", false, "no password for this account in the playbook (accounts:), so a login could not be tried"))
	} else {
		defer cred.Destroy()
		simpleOK, simpleWhy, err := t.simpleBind(ctx, ch.Object, cred)
		if err != nil {
			return nil, err
		}
		checks = append(checks, t.check(ch, connector.OldRejected, "LDAP bind with the handed-over password fails", !simpleOK, simpleWhy))
		if dialect == AD && t.s.Kerberos {
			realm := cmp.Or(ch.Params["realm"], t.info.Realm)
			kOK, why, err := kerberosLogin(ctx, t.kdcAddr(), realm, ch.Params["login"], cred)
			if err != nil {
				return nil, err
			}
			checks = append(checks, t.check(ch, connector.OldRejected, "Kerberos login with the handed-over password fails", !kOK, why))
		}
	}
	return append(checks, t.notAdminCheck(ch, ch.Object, w, done)...), nil
}
