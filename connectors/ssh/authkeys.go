package ssh

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
)

// authorizedKey is one key line of an authorized_keys file.
type authorizedKey struct {
	Line        int // 1-based
	Type        string
	Fingerprint string
	Comment     string
	Options     []string
}

// parseAuthorizedKeys lists the keys of an authorized_keys file. Lines
// that are not keys (comments, blanks, garbage) are skipped here and kept
// untouched by the editing functions.
func parseAuthorizedKeys(data []byte) []authorizedKey {
	var keys []authorizedKey
	for i, line := range splitLines(data) {
		k, ok := parseKeyLine(line)
		if !ok {
			continue
		}
		k.Line = i + 1
		keys = append(keys, k)
	}
	return keys
}

func parseKeyLine(line []byte) (authorizedKey, bool) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] == '#' {
		return authorizedKey{}, false
	}
	pk, comment, opts, _, err := ssh.ParseAuthorizedKey(trimmed)
	if err != nil {
		return authorizedKey{}, false
	}
	return authorizedKey{Type: pk.Type(), Fingerprint: ssh.FingerprintSHA256(pk), Comment: comment, Options: opts}, true
}

// splitLines splits data into lines, each keeping its own terminator, so
// that joining them gives data back byte for byte.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i+1])
		data = data[i+1:]
	}
	return lines
}

// removeKeys drops every key line whose fingerprint is in fps, keeping
// every other byte (other keys, their options, comments, line endings).
func removeKeys(data []byte, fps map[string]bool) ([]byte, int) {
	var out bytes.Buffer
	removed := 0
	for _, line := range splitLines(data) {
		if k, ok := parseKeyLine(line); ok && fps[k.Fingerprint] {
			removed++
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), removed
}

// appendKey adds a key line unless a key with the same fingerprint is
// already there.
func appendKey(data []byte, line string) ([]byte, bool, error) {
	k, ok := parseKeyLine([]byte(line))
	if !ok {
		return nil, false, fmt.Errorf("not an authorized_keys line")
	}
	for _, have := range parseAuthorizedKeys(data) {
		if have.Fingerprint == k.Fingerprint {
			return data, false, nil
		}
	}
	out := append([]byte(nil), data...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, strings.TrimSpace(line)...)
	return append(out, '\n'), true, nil
}

// parsePublicKeyLine parses "type base64 [comment]".
func parsePublicKeyLine(s string) (ssh.PublicKey, error) {
	pk, _, opts, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("not an SSH public key (expected \"ssh-ed25519 AAAA… comment\"): %v", err)
	}
	if len(opts) > 0 || len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("give a single public key, without options")
	}
	return pk, nil
}

// caOwner is the account name under which the inventory lists the keys
// sshd trusts as user certificate authorities.
const caOwner = "@ca"

func keyFindings(h *hostData, hc hostContext, providerAccounts map[string]bool) []connector.Finding {
	var out []connector.Finding
	for _, f := range h.Files {
		if f.Kind != "authorized_keys" {
			continue
		}
		for _, k := range parseAuthorizedKeys(f.Data) {
			fd := connector.Finding{
				ID:       "ssh-key:" + f.Owner + ":" + k.Fingerprint + ":" + f.Path,
				Kind:     connector.KindSSHKey,
				Object:   f.Owner + ":" + k.Fingerprint,
				Detail:   map[string]string{detailFile: f.Path, detailUser: f.Owner, "fingerprint": k.Fingerprint, "type": k.Type, "comment": k.Comment, "line": strconv.Itoa(k.Line), "mode": f.Mode},
				Volatile: []string{"line"},
			}
			data := keyData{User: f.Owner, File: f.Path, Fingerprint: k.Fingerprint}
			if len(k.Options) > 0 {
				fd.Detail["options"] = strings.Join(k.Options, ",")
			}
			fd.Summary = fmt.Sprintf("%s key %s %q authorises %s (%s)", k.Type, k.Fingerprint, k.Comment, f.Owner, f.Path)
			if f.Owner == caOwner {
				fd.Summary = fmt.Sprintf("%s key %s %q is a user certificate authority sshd trusts (TrustedUserCAKeys %s): a certificate it signs logs in", k.Type, k.Fingerprint, k.Comment, f.Path)
			}
			if k.Fingerprint == hc.AccessKeyFP && hc.AccessKeyFP != "" {
				fd.Detail[detailAccessKey] = "true"
				data.AccessKey = true
				fd.Summary += ", the new access key"
			} else {
				fd.Reasons = hc.Outgoing.Key(k.Fingerprint, k.Comment)
				if providerAccounts[f.Owner] {
					fd.Reasons = append(fd.Reasons, fmt.Sprintf("authorises the provider's account %s", f.Owner))
				}
				fd.Provider = len(fd.Reasons) > 0
			}
			fd.Data = data
			out = append(out, fd)
		}
	}
	return out
}

// keyLinkFindings reports each authorized_keys file of an account that
// is a symbolic link, or sits in a directory that is one (~/.ssh): the
// account can point it at any file, so root neither reads nor edits it,
// and the keys it leads to are not listed. A finding of its own, the
// provider's when the account is or the link names the provider; it
// stays open until someone looks (locking the provider's account ends
// its key logins).
func keyLinkFindings(h *hostData, hc hostContext, providerAccounts map[string]bool) []connector.Finding {
	var out []connector.Finding
	for _, l := range h.KeyLinks {
		what := "authorized_keys file"
		if l.Link != l.File {
			what = "directory of the authorized_keys file " + l.File
		}
		why := hc.Outgoing.Text(l.Target)
		if providerAccounts[l.User] {
			why = append(why, fmt.Sprintf("an authorized_keys file of the provider's account %s", l.User))
		}
		out = append(out, connector.Finding{
			ID:       "auth-method:authorized-keys-link:" + l.User + ":" + l.File,
			Kind:     connector.KindAuth,
			Object:   l.User + ":" + l.File,
			Summary:  fmt.Sprintf("the %s of %s, %s, is a symbolic link to %s: not read nor edited (root follows no link an account controls); check by hand which keys it gives", what, l.User, l.Link, l.Target),
			Provider: len(why) > 0, Reasons: why,
			Detail: map[string]string{detailFile: l.File, detailUser: l.User, "link": l.Link, "target": l.Target},
		})
	}
	return out
}
