// Package shacrypt computes and checks SHA-512 crypt strings ("$6$",
// Ulrich Drepper's specification, as in glibc and libxcrypt), so that a
// connector hashes a new password itself and sends a host only the hash.
package shacrypt

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SHA-512 crypt ("$6$", Ulrich Drepper's specification, as in glibc and
// libxcrypt). The hash is computed here so that a new password only ever
// travels to a host as a hash on stdin (chpasswd -e), and so that a
// shadow entry can be checked against a stored password without sending
// the password anywhere.

const (
	cryptAlphabet     = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sha512DefaultRuns = 5000
	sha512MinRounds   = 1000
	sha512MaxRounds   = 999999999
	sha512SaltMax     = 16
)

// New hashes pw with a fresh 16-character salt read from rnd.
func New(pw []byte, rnd io.Reader) (string, error) {
	raw := make([]byte, sha512SaltMax)
	if _, err := io.ReadFull(rnd, raw); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	salt := make([]byte, sha512SaltMax)
	for i, b := range raw {
		salt[i] = cryptAlphabet[int(b)%len(cryptAlphabet)]
	}
	return Crypt(pw, "$6$"+string(salt)+"$")
}

// Crypt computes the crypt string of pw with the salt and rounds of
// setting ("$6$salt$" or "$6$rounds=N$salt$"; any hash part is ignored).
//
// Long: the specification's steps in its order, kept whole to be read against it.
func Crypt(pw []byte, setting string) (string, error) {
	rest, ok := strings.CutPrefix(setting, "$6$")
	if !ok {
		return "", fmt.Errorf("not a SHA-512 crypt setting")
	}
	rounds, custom := sha512DefaultRuns, false
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, found := strings.Cut(r, "$")
		if !found {
			return "", fmt.Errorf("bad rounds in SHA-512 crypt setting")
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return "", fmt.Errorf("bad rounds in SHA-512 crypt setting")
		}
		rounds = int(min(max(n, sha512MinRounds), sha512MaxRounds))
		custom, rest = true, after
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > sha512SaltMax {
		salt = salt[:sha512SaltMax]
	}
	s := []byte(salt)

	b := sha512.New()
	b.Write(pw)
	b.Write(s)
	b.Write(pw)
	sumB := b.Sum(nil)

	a := sha512.New()
	a.Write(pw)
	a.Write(s)
	n := len(pw)
	for ; n > 64; n -= 64 {
		a.Write(sumB)
	}
	a.Write(sumB[:n])
	for n = len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(pw)
		}
	}
	sumA := a.Sum(nil)

	dp := sha512.New()
	for range len(pw) {
		dp.Write(pw)
	}
	p := repeatTo(dp.Sum(nil), len(pw))

	ds := sha512.New()
	for range 16 + int(sumA[0]) {
		ds.Write(s)
	}
	sSeq := repeatTo(ds.Sum(nil), len(s))

	c := sumA
	h := sha512.New()
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sSeq)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	clear(p)

	var out strings.Builder
	out.WriteString("$6$")
	if custom {
		fmt.Fprintf(&out, "rounds=%d$", rounds)
	}
	out.WriteString(salt)
	out.WriteByte('$')
	for _, t := range sha512Order {
		b64From24(&out, c[t[0]], c[t[1]], c[t[2]], 4)
	}
	b64From24(&out, 0, 0, c[63], 2)
	return out.String(), nil
}

var sha512Order = [21][3]int{
	{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4}, {47, 5, 26}, {6, 27, 48},
	{28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13},
	{56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41},
}

func b64From24(w *strings.Builder, b2, b1, b0 byte, n int) {
	v := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		w.WriteByte(cryptAlphabet[v&0x3f])
		v >>= 6
	}
}

func repeatTo(sum []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(sum) <= n {
		out = append(out, sum...)
	}
	return append(out, sum[:n-len(out)]...)
}

// Matches reports whether pw hashes to the SHA-512 crypt string
// hash; ok is false when hash is not a SHA-512 crypt string.
func Matches(pw []byte, hash string) (match, ok bool) {
	if !strings.HasPrefix(hash, "$6$") {
		return false, false
	}
	got, err := Crypt(pw, hash)
	if err != nil {
		return false, false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1, true
}

// Digest identifies a password together with a crypt string, without
// revealing either: what the connector remembers of the hashes it set, so
// that the re-inventory need not compute each again (5,000 rounds of
// SHA-512) to see the shadow entry holds the stored password.
func Digest(pw []byte, hash string) [32]byte {
	h := sha256.New()
	h.Write([]byte(hash))
	h.Write([]byte{0})
	h.Write(pw)
	var d [32]byte
	h.Sum(d[:0])
	return d
}
