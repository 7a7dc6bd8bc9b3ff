package ssh

import (
	"crypto/subtle"
	"sync"

	"github.com/handoverhq/handover/handover/secret"
)

// hashMemo remembers which password a shadow hash was found to hold, so
// that the readings of one run (the changes' own proofs, the verification,
// the reading after the run, a check's) compare a password with a hash
// once: SHA-512 crypt costs milliseconds by design, and a fleet holds
// hundreds of hashes. A hash holds one password: another value is known
// not to be it without hashing it again.
type hashMemo struct {
	mu sync.Mutex
	m  map[string]secret.Secret // shadow hash -> the password it holds
}

// matches is sha512Matches, remembered.
func (h *hashMemo) matches(pw []byte, hash string) (match, known bool) {
	h.mu.Lock()
	s, ok := h.m[hash]
	h.mu.Unlock()
	if ok {
		b := s.RevealBytes()
		defer clear(b)
		return subtle.ConstantTimeCompare(b, pw) == 1, true
	}
	match, known = sha512Matches(pw, hash)
	if known && match {
		h.remember(hash, pw)
	}
	return match, known
}

// remember records that hash holds pw: a hash the connector made itself,
// or one it found pw's.
func (h *hashMemo) remember(hash string, pw []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]secret.Secret{}
	}
	if _, ok := h.m[hash]; !ok {
		h.m[hash] = secret.New(string(pw))
	}
}

// destroy forgets every password.
func (h *hashMemo) destroy() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.m {
		s.Destroy()
	}
	h.m = nil
}
