package slapd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// relaxOID is the Relax Rules control: with it the rootdn may write the
// NO-USER-MODIFICATION attributes ppolicy keeps (pwdHistory,
// pwdChangedTime, pwdFailureTime).
const relaxOID = "1.3.6.1.4.1.4203.666.5.12"

// RestoreAccounts puts the planted password and password-policy state back
// on the given account DNs of a running directory, without the restart a
// Reset costs: a test that rotated the bind account undoes it here while
// other tests keep using the directory. stateDir is the testenv state
// directory (env.Dir) and caFile the testenv CA.
func RestoreAccounts(ctx context.Context, stateDir, caFile string, dns ...string) error {
	l := layout{filepath.Join(stateDir, "slapd")}
	p, err := readPlanted(l)
	if err != nil {
		return fmt.Errorf("slapd restore: %w", err)
	}
	e := planEstate(p.Users)
	rootPW, err := readSecret(l.rootPassword())
	if err != nil {
		return err
	}
	conn, err := Dial(ctx, ldapURL, caFile)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Bind(RootDN, rootPW); err != nil {
		return fmt.Errorf("bind %s: %w", RootDN, err)
	}
	for _, dn := range dns {
		a, ok := e.account(dn)
		if !ok {
			return fmt.Errorf("slapd restore: %s is not a planted account", dn)
		}
		pw, err := readSecret(l.password(a.UID))
		if err != nil {
			return err
		}
		hash, err := ssha(pw)
		if err != nil {
			return err
		}
		req := ldap.NewModifyRequest(dn, []ldap.Control{ldap.NewControlString(relaxOID, true, "")})
		req.Replace("userPassword", []string{hash})
		// An empty replace removes the attribute if present.
		for _, attr := range []string{"pwdHistory", "pwdFailureTime", "pwdAccountLockedTime", "pwdReset", "pwdGraceUseTime"} {
			req.Replace(attr, []string{})
		}
		if a.PwdChanged != "" {
			req.Replace("pwdChangedTime", []string{a.PwdChanged})
		} else {
			req.Replace("pwdChangedTime", []string{})
		}
		if err := conn.Modify(req); err != nil {
			return fmt.Errorf("slapd restore %s: %w", dn, err)
		}
	}
	return nil
}

// account finds a planted account by DN.
func (e *estate) account(dn string) (account, bool) {
	for _, a := range e.accounts() {
		if strings.EqualFold(a.DN, dn) {
			return a, true
		}
	}
	return account{}, false
}
