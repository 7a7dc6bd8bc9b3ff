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
func (t *Target) Verify(ctx context.Context, system string, applied []plan.Change) ([]connector.Check, error) {
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
	for _, ch := range applied {
		if ch.System != system {
			continue
		}
		var cs []connector.Check
		var err error
		switch ch.Action {
		case plan.RotatePassword:
			cs, err = t.verifyRotation(ctx, ch, dialect)
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

func (t *Target) check(ch plan.Change, what string, ok bool, detail string) connector.Check {
	return connector.Check{Change: ch.ID, What: what, OK: ok, Detail: detail, At: t.now()}
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

func (t *Target) verifyRotation(ctx context.Context, ch plan.Change, dialect string) ([]connector.Check, error) {
	a, err := t.readAccount(ctx, ch.Object, dialect)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return []connector.Check{t.check(ch, "account still exists", false, ch.Object+" is gone from the directory")}, nil
	}
	var checks []connector.Check
	t.mu.Lock()
	setAt, haveSet := t.setAt[normDN(ch.Object)]
	probes := slices.Clone(t.probes[normDN(ch.Object)])
	t.mu.Unlock()
	attr := "pwdChangedTime"
	if dialect == AD {
		attr = "pwdLastSet"
	}
	switch {
	case a.PasswordChanged == nil:
		checks = append(checks, t.check(ch, "directory records the password change", false, attr+" is not set"))
	case haveSet:
		ok := !a.PasswordChanged.Before(setAt.Add(-clockSkew))
		checks = append(checks, t.check(ch, "directory records the password change", ok, fmt.Sprintf("%s %s (set at %s)", attr, a.PasswordChanged.Format(time.RFC3339), setAt.Format(time.RFC3339))))
	default:
		checks = append(checks, t.check(ch, "directory records the password change", true, fmt.Sprintf("%s %s", attr, a.PasswordChanged.Format(time.RFC3339))))
	}
	if dialect != AD {
		return checks, nil
	}
	if !t.s.Kerberos {
		return append(checks, t.check(ch, "previous password refused by the KDC", false,
			"not checked (kerberos: false): the old password was tried with an LDAP simple bind only, which Active Directory lets through for up to 60 minutes after a change (old password allowed period)")), nil
	}
	// Say exactly what refused the old password. The engine's "old
	// credential rejected" is Kerberos' answer; a simple bind may still
	// take the old password during AD's old-password-allowed period.
	for _, p := range probes {
		if p.Result || p.Kerberos == nil || p.At.Before(setAt) {
			continue
		}
		detail := "Kerberos pre-authentication refused the previous password (" + p.KerbReason + ")"
		if p.Simple {
			until := a.PasswordChanged.Add(time.Hour)
			detail += fmt.Sprintf("; an LDAP simple bind still accepted it at %s: Active Directory keeps accepting the previous password for NTLM and simple binds during its old password allowed period (60 minutes by default, so until about %s); Kerberos does not", p.At.Format(time.RFC3339), until.Format(time.RFC3339))
		} else {
			detail += "; an LDAP simple bind refused it too (" + p.SimpleErr + ")"
		}
		checks = append(checks, t.check(ch, "previous password refused by the KDC", true, detail))
		break
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
		checks = append(checks, t.check(ch, "primary group is no longer "+rdn(group), a != nil, ""))
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
		checks = append(checks, t.check(ch, "no longer a member of "+rdn(group), !still, fmt.Sprintf("%s: %d values of %s re-read", group, len(values), attr)))
	}
	return append(checks, t.notAdminCheck(ch, account, w, done)...), nil
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
		return []connector.Check{t.check(ch, "in no admin group, nested ones included", false, "still an admin through "+strings.Join(r.Via, "; "))}
	}
	return []connector.Check{t.check(ch, "in no admin group, nested ones included", true, "admin groups re-walked")}
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
		checks = append(checks, t.check(ch, "account "+want, false, ch.Object+" is gone from the directory (it should have been locked, not deleted)"))
	default:
		checks = append(checks, t.check(ch, "account "+want, a.State == want, "state "+a.State))
	}
	cred, ok, err := t.KnownCredential(ctx, ch)
	if err != nil {
		return nil, err
	}
	if !ok {
		checks = append(checks, t.check(ch, "handed-over password no longer logs in", false, "no password for this account in the playbook (accounts:), so a login could not be tried"))
	} else {
		defer cred.Destroy()
		simpleOK, simpleWhy, err := t.simpleBind(ctx, ch.Object, cred)
		if err != nil {
			return nil, err
		}
		checks = append(checks, t.check(ch, "LDAP bind with the handed-over password fails", !simpleOK, simpleWhy))
		if dialect == AD && t.s.Kerberos {
			realm := cmp.Or(ch.Params["realm"], t.info.Realm)
			kOK, why, err := kerberosLogin(ctx, t.kdcAddr(), realm, ch.Params["login"], cred)
			if err != nil {
				return nil, err
			}
			checks = append(checks, t.check(ch, "Kerberos login with the handed-over password fails", !kOK, why))
		}
	}
	return append(checks, t.notAdminCheck(ch, ch.Object, w, done)...), nil
}
