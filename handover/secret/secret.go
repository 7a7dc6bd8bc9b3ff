// Package secret owns the Secret type, the generation of new credentials and
// the stores that keep them. A Secret redacts itself in every printing,
// logging and encoding path; Reveal is the one explicit way to read it.
package secret

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"unsafe"
)

// Redacted is what a Secret prints as.
const Redacted = "[REDACTED]"

// Secret holds a credential. The zero value is the empty secret.
type Secret struct {
	// p is the credential's *[]byte: a pointer, so copies share one buffer
	// that Destroy can wipe. It is held as an unsafe.Pointer because
	// reflection cannot follow one: fmt, given a verb other than %v for a
	// struct with an unexported Secret field, prints that field's pointee
	// without calling Format, and a *[]byte's pointee is the credential.
	p unsafe.Pointer
}

// New wraps a credential.
func New(v string) Secret {
	b := []byte(v)
	return Secret{p: unsafe.Pointer(&b)}
}

// FromBytes wraps a credential, taking ownership of b.
func FromBytes(b []byte) Secret { return Secret{p: unsafe.Pointer(&b)} }

// buf is the credential's buffer, nil for the zero Secret.
func (s Secret) buf() *[]byte { return (*[]byte)(s.p) }

// Reveal returns the credential. It is the only way to read one: keep its
// uses few and greppable.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return string(*s.buf())
}

// RevealBytes returns the credential's bytes (a copy).
func (s Secret) RevealBytes() []byte {
	if s.p == nil {
		return nil
	}
	return append([]byte(nil), *s.buf()...)
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.p == nil || len(*s.buf()) == 0 }

// Equal compares two secrets in constant time.
func (s Secret) Equal(o Secret) bool {
	var a, b []byte
	if s.p != nil {
		a = *s.buf()
	}
	if o.p != nil {
		b = *o.buf()
	}
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Destroy overwrites the credential in memory.
func (s Secret) Destroy() {
	if s.p == nil {
		return
	}
	b := s.buf()
	clear(*b)
	*b = (*b)[:0]
}

func (s Secret) String() string   { return Redacted }
func (s Secret) GoString() string { return "secret.Secret{" + Redacted + "}" }

// Format makes every fmt verb print the redaction, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", Redacted)
	default:
		fmt.Fprint(f, Redacted)
	}
}

func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalYAML keeps YAML encoders from reaching the value.
func (s Secret) MarshalYAML() (any, error) { return Redacted, nil }

var errDecode = errors.New("secret: refusing to decode a secret from text; use secret.New")

// UnmarshalJSON refuses: secrets never come from serialised documents.
func (s *Secret) UnmarshalJSON([]byte) error { return errDecode }

// UnmarshalText refuses: secrets never come from serialised documents.
func (s *Secret) UnmarshalText([]byte) error { return errDecode }
