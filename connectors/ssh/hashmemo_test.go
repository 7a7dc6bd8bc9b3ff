package ssh

import (
	"strings"
	"testing"
)

// TestHashMemo: a hash compared once is not hashed again, for the password
// it holds or another; a hash the connector made is known at once; a
// scheme other than SHA-512 crypt stays unknown.
func TestHashMemo(t *testing.T) {
	var m hashMemo
	hash, err := sha512Crypt([]byte("correct horse"), "$6$saltsaltsalt$")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pw           string
		match, known bool
	}{
		{"wrong", false, true},
		{"correct horse", true, true},
		{"correct horse", true, true},
		{"correct hors", false, true},
	} {
		if match, known := m.matches([]byte(tc.pw), hash); match != tc.match || known != tc.known {
			t.Errorf("%q: match %v known %v, want %v %v", tc.pw, match, known, tc.match, tc.known)
		}
	}
	if len(m.m) != 1 || strings.Contains(m.m[hash].String(), "correct") {
		t.Errorf("memo %v", m.m)
	}
	made, err := newSHA512Crypt([]byte("made here"), strings.NewReader(strings.Repeat("x", 64)))
	if err != nil {
		t.Fatal(err)
	}
	m.remember(made, []byte("made here"))
	if match, known := m.matches([]byte("made here"), made); !match || !known {
		t.Errorf("a hash the connector made: match %v known %v", match, known)
	}
	if _, known := m.matches([]byte("x"), "$y$j9T$abc$def"); known {
		t.Error("a yescrypt hash is known")
	}
	m.destroy()
	if m.m != nil {
		t.Error("destroy kept the passwords")
	}
}
