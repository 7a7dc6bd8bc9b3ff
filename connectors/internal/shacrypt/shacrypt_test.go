package shacrypt

import (
	"crypto/rand"
	"testing"
)

// The specification's own test vectors.
func TestCryptVectors(t *testing.T) {
	for _, v := range []struct{ setting, pw, want string }{
		{"$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"$6$rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	} {
		got, err := Crypt([]byte(v.pw), v.setting)
		if err != nil || got != v.want {
			t.Errorf("Crypt(%q) = %q, %v; want %q", v.setting, got, err, v.want)
		}
	}
}

func TestNewMatches(t *testing.T) {
	h, err := New([]byte("s3cret"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := Matches([]byte("s3cret"), h); !m || !ok {
		t.Errorf("Matches(right) = %v, %v", m, ok)
	}
	if m, ok := Matches([]byte("other"), h); m || !ok {
		t.Errorf("Matches(wrong) = %v, %v", m, ok)
	}
	if _, ok := Matches([]byte("x"), "{PLAIN}x"); ok {
		t.Error("Matches took a non-crypt hash")
	}
}
