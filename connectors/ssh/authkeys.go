package ssh

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
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

// removeLines drops the lines equal to text (ignoring surrounding
// whitespace), keeping everything else byte for byte.
func removeLines(data []byte, text string) ([]byte, int) {
	var out bytes.Buffer
	n := 0
	want := strings.TrimSpace(text)
	for _, line := range splitLines(data) {
		if strings.TrimSpace(string(line)) == want {
			n++
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), n
}

// onlyCommentsLeft reports whether data holds nothing but blank lines,
// comments and (for cron) variable assignments: a file that no longer
// does anything.
func onlyCommentsLeft(data []byte, allowAssignments bool) bool {
	for _, line := range splitLines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if allowAssignments && isCronAssignment(s) {
			continue
		}
		return false
	}
	return true
}

func isCronAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	return ok && name != "" && !strings.ContainsAny(strings.TrimSpace(name), " \t*/@")
}
