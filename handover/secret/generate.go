package secret

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"unicode"
)

// Character classes for generated passwords.
const (
	Lower   = "abcdefghijkmnopqrstuvwxyz" // no l
	Upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"  // no I, O
	Digits  = "23456789"                  // no 0, 1
	Symbols = "-_.:+=@%!#*"               // safe in shells, URLs, LDIF and sieve
)

// Policy says what a generated password looks like. Every enabled class is
// present at least once.
type Policy struct {
	Length  int
	Lower   bool
	Upper   bool
	Digits  bool
	Symbols bool
	// SymbolSet overrides Symbols' characters when not empty (some targets
	// refuse some symbols).
	SymbolSet string
}

// DefaultPolicy is long enough to make classes irrelevant and accepted by
// every complexity rule we know (AD, ppolicy, pam_pwquality).
func DefaultPolicy() Policy {
	return Policy{Length: 24, Lower: true, Upper: true, Digits: true, Symbols: true}
}

func (p Policy) classes() []string {
	var cs []string
	if p.Lower {
		cs = append(cs, Lower)
	}
	if p.Upper {
		cs = append(cs, Upper)
	}
	if p.Digits {
		cs = append(cs, Digits)
	}
	if p.Symbols {
		if p.SymbolSet != "" {
			cs = append(cs, p.SymbolSet)
		} else {
			cs = append(cs, Symbols)
		}
	}
	return cs
}

// Validate reports why a policy cannot produce passwords.
func (p Policy) Validate() error {
	cs := p.classes()
	if len(cs) == 0 {
		return errors.New("password policy enables no character class")
	}
	if p.Length < 12 {
		return fmt.Errorf("password length %d is below the minimum of 12", p.Length)
	}
	if p.Length > 256 {
		return fmt.Errorf("password length %d is above the maximum of 256", p.Length)
	}
	if p.Symbols {
		if err := validSymbolSet(p.SymbolSet); err != nil {
			return err
		}
	}
	return nil
}

// validSymbolSet refuses what Generate cannot draw from correctly: it picks
// bytes, so a multi-byte character would be split into invalid UTF-8; a
// repeated symbol would be drawn more often than the others; a letter,
// digit, space or control character is not a symbol (and would let a
// password without any symbol pass as having one).
func validSymbolSet(set string) error {
	for i, r := range set {
		switch {
		case r < '!' || r > '~' || unicode.IsLetter(r) || unicode.IsDigit(r):
			return fmt.Errorf("password symbol set %q: %q is not a printable ASCII symbol", set, r)
		case strings.ContainsRune(set[:i], r):
			return fmt.Errorf("password symbol set %q: %q appears twice", set, r)
		}
	}
	return nil
}

// Generate returns a new password drawn uniformly from the policy's
// alphabet, with every class present. rnd is crypto/rand.Reader unless a test
// injects another source.
func Generate(rnd io.Reader, p Policy) (Secret, error) {
	if err := p.Validate(); err != nil {
		return Secret{}, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	cs := p.classes()
	alphabet := strings.Join(cs, "")
	out := make([]byte, p.Length)
	for {
		for i := range out {
			n, err := rand.Int(rnd, big.NewInt(int64(len(alphabet))))
			if err != nil {
				return Secret{}, fmt.Errorf("generate password: %w", err)
			}
			out[i] = alphabet[n.Int64()]
		}
		// Rejection sampling keeps the draw uniform over valid passwords.
		if hasAll(out, cs) {
			return FromBytes(out), nil
		}
	}
}

func hasAll(b []byte, classes []string) bool {
	for _, c := range classes {
		if !strings.ContainsAny(string(b), c) {
			return false
		}
	}
	return true
}
