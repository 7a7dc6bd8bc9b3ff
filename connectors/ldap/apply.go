package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// lockedForever is ppolicy's value for an account locked by an
// administrator until unlocked by one.
const lockedForever = "000001010000Z"

// dialectOf is the change's dialect, else the server's.
func (t *Target) dialectOf(ctx context.Context, ch plan.Change) (string, error) {
	if d := ch.Params["dialect"]; d == OpenLDAP || d == AD {
		return d, nil
	}
	var d string
	err := t.withSession(ctx, func(*session) error { d = t.info.Dialect; return nil })
	return d, err
}

// SetCredentials sets each account's password, one after the other on
// the bind account's connection.
func (t *Target) SetCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Set {
	out := make([]connector.Set, len(creds))
	for i, c := range creds {
		out[i].Err = t.setPassword(ctx, c.Change, c.Secret)
	}
	return out
}

// setPassword sets ch.Object's password: the Password Modify extended
// operation (RFC 3062) on OpenLDAP, unicodePwd on AD. Both only over an
// encrypted connection. A refusal by the server's password policy is an
// *connector.ErrRejected with the server's words.
func (t *Target) setPassword(ctx context.Context, ch plan.Change, next secret.Secret) error {
	if ch.Action != plan.RotatePassword {
		return fmt.Errorf("ldap: cannot rotate %s", ch.Action)
	}
	dialect, err := t.dialectOf(ctx, ch)
	if err != nil {
		return err
	}
	err = t.withSession(ctx, func(sess *session) error {
		if !sess.encrypted {
			return fmt.Errorf("refusing to set the password of %s over an unencrypted connection", ch.Object)
		}
		defer sess.guard(ctx)()
		if dialect == AD {
			pw := unicodePwd(next)
			defer clear(pw)
			req := ldap.NewModifyRequest(ch.Object, nil)
			req.Replace("unicodePwd", []string{string(pw)})
			return sess.modify(req)
		}
		if !t.info.PasswordModify {
			return fmt.Errorf("the server does not offer the Password Modify extended operation (%s)", oidPasswordModify)
		}
		_, err := sess.passwordModify(ldap.NewPasswordModifyRequest(ch.Object, "", next.Reveal()))
		return err
	})
	if err != nil {
		if isPolicyRejection(err) {
			return &connector.ErrRejected{Reason: ldapMessage(err)}
		}
		return fmt.Errorf("set password of %s: %w", ch.Object, err)
	}
	if normDN(ch.Object) == normDN(t.s.BindDN) {
		// The connection stays bound as it was; it is dropped, and the
		// next one binds with the store's current password, which the
		// engine makes the new one once it is proven.
		t.mu.Lock()
		t.admin.Close()
		t.admin = nil
		t.mu.Unlock()
	}
	return nil
}

// isPolicyRejection reports a password refused for what it is (quality,
// length, history, minimum age) rather than a failure to change it.
func isPolicyRejection(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation) ||
		ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) && strings.Contains(strings.ToLower(ldapMessage(err)), "password")
}

// TryCredentials logs in afresh as each change's account.
func (t *Target) TryCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Tried {
	out := make([]connector.Tried, len(creds))
	for i, c := range creds {
		out[i] = t.try(ctx, c.Change, c.Secret)
	}
	return out
}

// try logs in afresh as ch's account with cred.
//
// OpenLDAP: a simple bind on a new connection.
//
// AD: a Kerberos AS exchange, plus a simple bind. The answer is Kerberos':
// after a password change AD keeps accepting the previous password for
// NTLM and LDAP simple binds during its "old password allowed period"
// (60 minutes by default; Samba does the same), while the KDC accepts only
// the current one; the detail says what the simple bind said. With
// kerberos: false (no route to the KDC) the simple bind answers, and
// Verify says the old password was not proven refused by the KDC.
func (t *Target) try(ctx context.Context, ch plan.Change, cred secret.Secret) connector.Tried {
	dn := accountOf(ch)
	dialect, err := t.dialectOf(ctx, ch)
	if err != nil {
		return connector.Tried{Err: err}
	}
	simpleOK, simpleWhy, err := t.simpleBind(ctx, dn, cred)
	if err != nil {
		return connector.Tried{Err: err}
	}
	if dialect != AD || !t.s.Kerberos {
		tr := connector.Tried{Works: simpleOK, Method: "LDAP simple bind as " + dn + " on a new connection", Detail: simpleWhy}
		if dialect == AD {
			tr.Method += " (kerberos: false)"
		}
		return tr
	}
	login, realm := ch.Params["login"], ch.Params["realm"]
	if realm == "" {
		if err := t.withSession(ctx, func(*session) error { realm = t.info.Realm; return nil }); err != nil {
			return connector.Tried{Err: err}
		}
	}
	if login == "" {
		return connector.Tried{Err: fmt.Errorf("kerberos login for %s: the plan gives no sAMAccountName", dn)}
	}
	ok, reason, err := kerberosLogin(ctx, t.kdcAddr(), realm, login, cred)
	if err != nil {
		return connector.Tried{Err: err}
	}
	tr := connector.Tried{Works: ok, Method: "Kerberos pre-authentication of " + login + "@" + realm}
	switch {
	case !ok && simpleOK:
		tr.Detail = "the KDC refused it (" + reason + "); an LDAP simple bind still accepted it: Active Directory keeps accepting the previous password for NTLM and simple binds during its old password allowed period (60 minutes by default); Kerberos does not"
	case !ok:
		tr.Detail = "the KDC refused it (" + reason + "); an LDAP simple bind refused it too (" + simpleWhy + ")"
	case !simpleOK:
		tr.Detail = "an LDAP simple bind refused it (" + simpleWhy + ")"
	}
	return tr
}

// simpleBind binds as dn on a new connection: (true, "", nil) accepted,
// (false, server's words, nil) refused, error when it cannot tell.
func (t *Target) simpleBind(ctx context.Context, dn string, cred secret.Secret) (bool, string, error) {
	tc, err := t.tlsConfig()
	if err != nil {
		return false, "", err
	}
	sess, err := dial(ctx, &t.s, tc)
	if err != nil {
		return false, "", err
	}
	defer sess.Close()
	err = sess.bind(ctx, dn, cred.Reveal(), t.s.AllowInsecure)
	switch {
	case err == nil:
		return true, "", nil
	case isInvalidCredentials(err):
		return false, ldapMessage(err), nil
	default:
		return false, "", err
	}
}

// accountOf is the account a change is about.
func accountOf(ch plan.Change) string {
	if a := ch.Params["account"]; a != "" {
		return a
	}
	return ch.Object
}

// KnownCredential returns the password the playbook says was handed over
// for ch.Object: password for the bind account, accounts[].password for
// the others.
func (t *Target) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	dn := normDN(accountOf(ch))
	if dn == normDN(t.s.BindDN) {
		v, err := t.resolve(ctx, t.s.Password)
		if err != nil {
			return secret.Secret{}, false, err
		}
		return v, true, nil
	}
	for _, a := range t.s.Accounts {
		if normDN(a.DN) == dn {
			v, err := t.resolve(ctx, a.Password)
			if err != nil {
				return secret.Secret{}, false, err
			}
			return v, true, nil
		}
	}
	return secret.Secret{}, false, nil
}

// Apply removes provider accounts from groups, or locks them, one change
// after the other. Both are idempotent: a membership already gone or an
// account already locked is not an error.
func (t *Target) Apply(ctx context.Context, _ string, chs []plan.Change, _ connector.SecretReader) connector.Applied {
	out := connector.Applied{Results: make([]connector.ChangeResult, len(chs))}
	for i, ch := range chs {
		out.Results[i] = t.applyOne(ctx, ch)
	}
	return out
}

func (t *Target) applyOne(ctx context.Context, ch plan.Change) connector.ChangeResult {
	switch ch.Action {
	case plan.RemoveMembership:
		return t.removeMembership(ctx, ch)
	case plan.LockAccount:
		return t.lock(ctx, ch)
	}
	return connector.ChangeResult{Err: fmt.Errorf("ldap: cannot apply %s", ch.Action)}
}

func (t *Target) removeMembership(ctx context.Context, ch plan.Change) connector.ChangeResult {
	group, attr, value, account := ch.Params["group"], ch.Params["attr"], ch.Params["value"], ch.Params["account"]
	if group == "" || attr == "" || value == "" || account == "" {
		return connector.ChangeResult{Err: fmt.Errorf("remove-membership %s: the plan lacks group, attr, value or account", ch.Object)}
	}
	var out connector.ChangeResult
	err := t.withSession(ctx, func(sess *session) error {
		defer sess.guard(ctx)()
		if attr == "primaryGroupID" {
			// AD: a primary group cannot be left; move the account to
			// Domain Users (RID 513), which it must be a member of first.
			du, err := t.domainUsers(ctx, sess)
			if err != nil {
				return err
			}
			add := ldap.NewModifyRequest(du, nil)
			add.Add("member", []string{account})
			if err := sess.modify(add); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
				return fmt.Errorf("add %s to %s: %w", account, du, err)
			}
			req := ldap.NewModifyRequest(account, nil)
			req.Replace("primaryGroupID", []string{"513"})
			if err := sess.modify(req); err != nil {
				return fmt.Errorf("set primaryGroupID of %s: %w", account, err)
			}
			out.Detail = "primary group moved from " + group + " to " + du
			return nil
		}
		req := ldap.NewModifyRequest(group, nil)
		req.Delete(attr, []string{value})
		err := sess.modify(req)
		switch {
		case err == nil:
			out.Detail = fmt.Sprintf("deleted %s: %s from %s", attr, value, group)
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute):
			out.Detail = "already not a member of " + group
		case ldap.IsErrorWithCode(err, ldap.LDAPResultObjectClassViolation):
			// groupOfNames must keep one member: the server refuses to
			// empty it. Say so rather than invent a placeholder member.
			return fmt.Errorf("remove %s from %s: the group would be left empty, which its schema forbids: %w", account, group, err)
		default:
			return fmt.Errorf("remove %s from %s: %w", account, group, err)
		}
		return nil
	})
	out.Err = err
	return out
}

func (t *Target) domainUsers(ctx context.Context, sess *session) (string, error) {
	var dn string
	_, err := sess.search(ctx, t.info.BaseDN, ldap.ScopeWholeSubtree, "(&(objectClass=group)(objectSid="+filterBytes(withRID(t.info.DomainSID, 513))+"))", []string{"1.1"}, t.s.PageSize, func(e *ldap.Entry) error {
		dn = e.DN
		return nil
	})
	if err == nil && dn == "" {
		err = errors.New("the Domain Users group (RID 513) was not found")
	}
	return dn, err
}

func (t *Target) lock(ctx context.Context, ch plan.Change) connector.ChangeResult {
	dialect, err := t.dialectOf(ctx, ch)
	if err != nil {
		return connector.ChangeResult{Err: err}
	}
	var out connector.ChangeResult
	err = t.withSession(ctx, func(sess *session) error {
		if dialect == AD {
			e, err := sess.read(ctx, ch.Object, "userAccountControl")
			if err != nil {
				return err
			}
			if e == nil {
				return fmt.Errorf("lock %s: no such account", ch.Object)
			}
			uac, err := strconv.ParseInt(e.GetEqualFoldAttributeValue("userAccountControl"), 10, 64)
			if err != nil {
				return fmt.Errorf("lock %s: userAccountControl %q: %w", ch.Object, e.GetEqualFoldAttributeValue("userAccountControl"), err)
			}
			if uac&uacAccountDisable != 0 {
				out.Detail = "already disabled"
				return nil
			}
			defer sess.guard(ctx)()
			req := ldap.NewModifyRequest(ch.Object, nil)
			req.Replace("userAccountControl", []string{strconv.FormatInt(uac|uacAccountDisable, 10)})
			if err := sess.modify(req); err != nil {
				return fmt.Errorf("disable %s: %w", ch.Object, err)
			}
			out.Detail = fmt.Sprintf("userAccountControl %d -> %d (ACCOUNTDISABLE)", uac, uac|uacAccountDisable)
			return nil
		}
		defer sess.guard(ctx)()
		req := ldap.NewModifyRequest(ch.Object, nil)
		req.Replace("pwdAccountLockedTime", []string{lockedForever})
		if err := sess.modify(req); err != nil {
			return fmt.Errorf("lock %s: %w", ch.Object, err)
		}
		out.Detail = "pwdAccountLockedTime=" + lockedForever + " (locked until an administrator unlocks it)"
		return nil
	})
	out.Err = err
	return out
}
