package ldap

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/krberror"

	"github.com/handoverhq/handover/handover/secret"
)

// userAccountControl flags.
const (
	uacAccountDisable     = 0x2
	uacLockout            = 0x10 // in msDS-User-Account-Control-Computed
	uacDontExpirePassword = 0x10000
)

// The AD groups that are always admin groups, by well-known RID: relative
// to the domain SID, or in the BUILTIN domain (S-1-5-32). Looked up by SID
// so that localised names ("Admins du domaine") are found too.
var adDomainAdminRIDs = []struct {
	rid  uint32
	name string
}{{512, "Domain Admins"}, {518, "Schema Admins"}, {519, "Enterprise Admins"}, {520, "Group Policy Creator Owners"}}

var adBuiltinAdminRIDs = []struct {
	rid  uint32
	name string
}{{544, "Administrators"}, {548, "Account Operators"}, {549, "Server Operators"}, {550, "Print Operators"}, {551, "Backup Operators"}}

// adNamedAdminGroups have no well-known RID.
var adNamedAdminGroups = []string{"DnsAdmins"}

// sidString formats a binary SID as S-1-5-21-...
func sidString(b []byte) string {
	if len(b) < 8 {
		return ""
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	s := fmt.Sprintf("S-%d-%d", b[0], auth)
	n := int(b[1])
	for i := 0; i < n && 8+4*i+4 <= len(b); i++ {
		s += "-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return s
}

// withRID returns the SID of a RID in the domain of sid.
func withRID(sid []byte, rid uint32) []byte {
	out := make([]byte, len(sid)+4)
	copy(out, sid)
	out[1]++
	binary.LittleEndian.PutUint32(out[len(sid):], rid)
	return out
}

// builtinSID is S-1-5-32-rid.
func builtinSID(rid uint32) []byte {
	b := []byte{1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[12:], rid)
	return b
}

// ridOf is a SID's last sub-authority.
func ridOf(sid []byte) (uint32, bool) {
	if len(sid) < 12 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(sid[len(sid)-4:]), true
}

// filterBytes escapes binary data for a search filter.
func filterBytes(b []byte) string {
	var sb strings.Builder
	for _, x := range b {
		fmt.Fprintf(&sb, "\\%02x", x)
	}
	return sb.String()
}

// fileTime converts AD's 100-ns intervals since 1601 to a time; 0 and the
// maximum mean "never".
func fileTime(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n == 0x7FFFFFFFFFFFFFFF {
		return time.Time{}, false
	}
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	return time.Unix(0, (n-epochDiff)*100).UTC(), true
}

// unicodePwd encodes a password for AD's unicodePwd: the quoted password
// in UTF-16LE. The caller clears the result.
func unicodePwd(pw secret.Secret) []byte {
	u := utf16.Encode([]rune(`"` + pw.Reveal() + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return b
}

// kerberosLogin asks the KDC for a TGT with the password (AS exchange with
// encrypted-timestamp pre-authentication). Unlike NTLM and LDAP simple
// binds, Kerberos never accepts the previous password during AD's
// old-password-allowed period, so it tells whether a password is the
// account's password now. (true, nil): accepted; (false, nil): refused by
// the KDC; error: the KDC could not be asked.
func kerberosLogin(ctx context.Context, kdc, realm, login string, pw secret.Secret) (bool, string, error) {
	cfg := krbconfig.New()
	cfg.LibDefaults.DefaultRealm = realm
	cfg.LibDefaults.DNSLookupKDC = false
	cfg.LibDefaults.DNSLookupRealm = false
	cfg.LibDefaults.UDPPreferenceLimit = 1 // TCP only
	cfg.Realms = []krbconfig.Realm{{Realm: realm, KDC: []string{kdc}}}
	type result struct {
		ok     bool
		reason string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		cl := krbclient.NewWithPassword(login, realm, pw.Reveal(), cfg, krbclient.DisablePAFXFAST(true))
		defer cl.Destroy()
		err := cl.Login()
		if err == nil {
			done <- result{ok: true}
			return
		}
		ke, isKrb := err.(krberror.Krberror)
		msg := err.Error()
		switch {
		case isKrb && ke.RootCause == krberror.KDCError && (strings.Contains(msg, "KDC_ERR_PREAUTH_FAILED") || strings.Contains(msg, "KDC_ERR_CLIENT_REVOKED") || strings.Contains(msg, "KDC_ERR_C_PRINCIPAL_UNKNOWN")):
			done <- result{ok: false, reason: kdcReason(msg)}
		case isKrb && ke.RootCause == krberror.KDCError && strings.Contains(msg, "KDC_ERR_KEY_EXPIRED"):
			// The password is right but expired: it is the account's
			// password.
			done <- result{ok: true, reason: "KDC_ERR_KEY_EXPIRED"}
		default:
			done <- result{err: fmt.Errorf("kerberos login %s@%s at %s: %w", login, realm, kdc, err)}
		}
	}()
	select {
	case r := <-done:
		return r.ok, r.reason, r.err
	case <-ctx.Done():
		return false, "", fmt.Errorf("kerberos login %s@%s at %s: %w", login, realm, kdc, ctx.Err())
	}
}

// kdcReason keeps the KDC error name of a gokrb5 error message.
func kdcReason(msg string) string {
	for _, name := range []string{"KDC_ERR_PREAUTH_FAILED", "KDC_ERR_CLIENT_REVOKED", "KDC_ERR_C_PRINCIPAL_UNKNOWN"} {
		if strings.Contains(msg, name) {
			return name
		}
	}
	return msg
}

// kdcAddr is the configured KDC, or the directory's host on port 88.
func (t *Target) kdcAddr() string {
	if t.s.KDC != "" {
		if _, _, err := net.SplitHostPort(t.s.KDC); err == nil {
			return t.s.KDC
		}
		return net.JoinHostPort(t.s.KDC, "88")
	}
	return net.JoinHostPort(t.s.URL.Hostname(), "88")
}
