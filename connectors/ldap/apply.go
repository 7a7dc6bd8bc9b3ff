package ldap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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

// SetCredential sets ch.Object's password: the Password Modify extended
// operation (RFC 3062) on OpenLDAP, unicodePwd on AD. Both only over an
// encrypted connection. A refusal by the server's password policy is an
// *connector.ErrRejected with the server's words.
func (t *Target) SetCredential(ctx context.Context, ch plan.Change, next secret.Secret) error {
	if ch.Action != plan.RotatePassword {
		return fmt.Errorf("ldap: SetCredential: unexpected action %s", ch.Action)
	}
	dialect, err := t.dialectOf(ctx, ch)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if t.setAt == nil {
		t.setAt = map[string]time.Time{}
	}
	t.setAt[normDN(ch.Object)] = t.now()
	t.mu.Unlock()
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
			return sess.conn.Modify(req)
		}
		if !t.info.PasswordModify {
			return fmt.Errorf("the server does not offer the Password Modify extended operation (%s)", oidPasswordModify)
		}
		_, err := sess.conn.PasswordModify(ldap.NewPasswordModifyRequest(ch.Object, "", next.Reveal()))
		return err
	})
	if err != nil {
		if isPolicyRejection(err) {
			return &connector.ErrRejected{Reason: ldapMessage(err)}
		}
		return fmt.Errorf("set password of %s: %w", ch.Object, err)
	}
	if normDN(ch.Object) == normDN(t.s.BindDN) {
		// From now on the connector logs in with the new password; the
		// current connection stays bound as it was and is dropped.
		t.mu.Lock()
		t.bindPassword.Destroy()
		t.bindPassword = secret.New(next.Reveal())
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

// probe is what one fresh login with a password said.
type probe struct {
	At         time.Time
	Result     bool  // what TryCredential answered
	Kerberos   *bool // AD only
	KerbReason string
	Simple     bool
	SimpleErr  string
}

// TryCredential logs in afresh as ch.Object with cred.
//
// OpenLDAP: a simple bind on a new connection.
//
// AD: a Kerberos AS exchange, plus a simple bind. The answer is Kerberos':
// after a password change AD keeps accepting the previous password for
// NTLM and LDAP simple binds during its "old password allowed period"
// (60 minutes by default; Samba does the same), while the KDC accepts only
// the current one. Verify reports what the simple bind said. With
// kerberos: false (no route to the KDC) the simple bind answers, and
// Verify says the old password was not proven refused.
func (t *Target) TryCredential(ctx context.Context, ch plan.Change, cred secret.Secret) (bool, error) {
	dn := accountOf(ch)
	dialect, err := t.dialectOf(ctx, ch)
	if err != nil {
		return false, err
	}
	p := probe{At: t.now()}
	simpleOK, simpleErr, err := t.simpleBind(ctx, dn, cred)
	if err != nil {
		return false, err
	}
	p.Simple, p.SimpleErr = simpleOK, simpleErr
	result := simpleOK
	if dialect == AD && t.s.Kerberos {
		login, realm := ch.Params["login"], ch.Params["realm"]
		if realm == "" {
			if err := t.withSession(ctx, func(*session) error { realm = t.info.Realm; return nil }); err != nil {
				return false, err
			}
		}
		if login == "" {
			return false, fmt.Errorf("kerberos login for %s: the plan gives no sAMAccountName", dn)
		}
		ok, reason, err := kerberosLogin(ctx, t.kdcAddr(), realm, login, cred)
		if err != nil {
			return false, err
		}
		p.Kerberos, p.KerbReason = &ok, reason
		result = ok
	}
	p.Result = result
	t.mu.Lock()
	if t.probes == nil {
		t.probes = map[string][]probe{}
	}
	key := normDN(dn)
	t.probes[key] = append(t.probes[key], p)
	if n := len(t.probes[key]); n > 8 {
		t.probes[key] = t.probes[key][n-8:]
	}
	t.mu.Unlock()
	return result, nil
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

// Apply removes a provider account from a group, or locks it. Both are
// idempotent: a membership already gone or an account already locked is
// not an error.
func (t *Target) Apply(ctx context.Context, ch plan.Change, _ connector.SecretReader) (connector.Outcome, error) {
	switch ch.Action {
	case plan.RemoveMembership:
		return t.removeMembership(ctx, ch)
	case plan.LockAccount:
		return t.lock(ctx, ch)
	}
	return connector.Outcome{}, fmt.Errorf("ldap: cannot apply %s", ch.Action)
}

func (t *Target) removeMembership(ctx context.Context, ch plan.Change) (connector.Outcome, error) {
	group, attr, value, account := ch.Params["group"], ch.Params["attr"], ch.Params["value"], ch.Params["account"]
	if group == "" || attr == "" || value == "" || account == "" {
		return connector.Outcome{}, fmt.Errorf("remove-membership %s: the plan lacks group, attr, value or account", ch.Object)
	}
	var out connector.Outcome
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
			if err := sess.conn.Modify(add); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
				return fmt.Errorf("add %s to %s: %w", account, du, err)
			}
			req := ldap.NewModifyRequest(account, nil)
			req.Replace("primaryGroupID", []string{"513"})
			if err := sess.conn.Modify(req); err != nil {
				return fmt.Errorf("set primaryGroupID of %s: %w", account, err)
			}
			out.Detail = "primary group moved from " + group + " to " + du
			return nil
		}
		req := ldap.NewModifyRequest(group, nil)
		req.Delete(attr, []string{value})
		err := sess.conn.Modify(req)
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
	return out, err
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

func (t *Target) lock(ctx context.Context, ch plan.Change) (connector.Outcome, error) {
	dialect, err := t.dialectOf(ctx, ch)
	if err != nil {
		return connector.Outcome{}, err
	}
	var out connector.Outcome
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
			if err := sess.conn.Modify(req); err != nil {
				return fmt.Errorf("disable %s: %w", ch.Object, err)
			}
			out.Detail = fmt.Sprintf("userAccountControl %d -> %d (ACCOUNTDISABLE)", uac, uac|uacAccountDisable)
			return nil
		}
		defer sess.guard(ctx)()
		req := ldap.NewModifyRequest(ch.Object, nil)
		req.Replace("pwdAccountLockedTime", []string{lockedForever})
		if err := sess.conn.Modify(req); err != nil {
			return fmt.Errorf("lock %s: %w", ch.Object, err)
		}
		out.Detail = "pwdAccountLockedTime=" + lockedForever + " (locked until an administrator unlocks it)"
		return nil
	})
	return out, err
}
