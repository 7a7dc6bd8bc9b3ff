package secret

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/sys/unix"

	"github.com/handoverhq/handover/handover/atomicfile"
)

// FileUnlock opens a file store: set exactly one of Passphrase and
// IdentityFile.
type FileUnlock struct {
	// Passphrase unlocks the store's own X25519 key, kept in the store file
	// encrypted with age's scrypt recipient.
	Passphrase Secret
	// IdentityFile is an age identity file (as written by age-keygen); the
	// store is encrypted to the recipient derived from its first identity
	// and decrypted with any of them.
	IdentityFile string
	// ScryptWorkFactor is log2 of scrypt's N for the key of a new store
	// made with a passphrase; 0 means DefaultScryptWorkFactor. Tests lower
	// it.
	ScryptWorkFactor int
}

// DefaultScryptWorkFactor is log2 of scrypt's N (r = 8) that protects a
// new store's key with its passphrase: 64 MiB and about 0.2 s per unlock.
// age's default for files (18) costs 256 MiB, which alone would be most of
// a run's memory; the store's passphrase is meant to be long and random
// (the demo's is 32 characters from the CSPRNG), which is where its
// strength comes from.
const DefaultScryptWorkFactor = 16

// FileStore is the embedded store: one age-encrypted file holding every
// path and version as JSON. Two processes may share it: every write is a
// read-modify-write under an exclusive flock on a sibling lock file, and
// replaces the file atomically (temp file, fsync, rename, fsync of the
// directory), so a crash leaves the old file or the new one, never a torn
// one.
//
// With an identity file, the store file is a plain age file encrypted to
// the identity's recipient (`age -d -i key.txt store.age` reads it).
//
// With a passphrase, scrypt (about a second by design) runs once per open,
// not once per write: the file starts with the store's own X25519 identity,
// encrypted to the passphrase's scrypt recipient, and the table that follows
// is encrypted to that identity's recipient:
//
//	handover-secret-store/2 passphrase
//	-----BEGIN AGE ENCRYPTED FILE-----
//	(armored age file, scrypt recipient: the X25519 identity, one line)
//	-----END AGE ENCRYPTED FILE-----
//	(binary age file, X25519 recipient: the table as JSON)
//
// The key stays in the same file as the table so that a copy or backup of
// the file is always complete. A store written by an earlier version (the
// table encrypted to the scrypt recipient directly) is converted when opened.
type FileStore struct {
	path     string
	lockPath string
	now      func() time.Time

	mu sync.Mutex // serialises this process's calls; the flock, other processes'
	// queue holds the updates waiting for the lock: whoever takes it
	// writes them all at once (group commit), so that systems finishing
	// their rotations together do not each re-encrypt the whole table.
	qmu   sync.Mutex
	queue []*pendingUpdate
	// recipient and identity encrypt and decrypt the table. In passphrase
	// mode they are the store's X25519 key, set once its header is unlocked.
	recipient age.Recipient
	identity  []age.Identity
	pass      *passphraseKey // nil in identity-file mode
	// The last envelope read or written and its decoded content: reads skip
	// decryption while the file is unchanged.
	cacheSum [sha256.Size]byte
	cache    *table
	// legacy is set when the last read found a store in the earlier
	// passphrase format; the next write converts it.
	legacy bool
}

// passphraseKey is what passphrase mode needs to unlock or create the
// store's key header.
type passphraseKey struct {
	scrypt *age.ScryptIdentity
	newKey *age.ScryptRecipient
	header []byte // the unlocked header, as found in (or written to) the file
}

// passphraseMagic starts every store file in passphrase mode.
const passphraseMagic = "handover-secret-store/2 passphrase\n"

var _ Store = (*FileStore)(nil)

// OpenFileStore opens the store at path, creating it (and its directory,
// mode 0700) if missing. A wrong passphrase or identity is refused here.
func OpenFileStore(path string, unlock FileUnlock) (*FileStore, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("file store %s: %w", path, err)
	}
	s := &FileStore{path: abs, lockPath: abs + ".lock", now: time.Now}
	if err := s.unlockWith(unlock); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("file store %s: %w", abs, err)
	}
	ctx := context.Background()
	err = s.locked(ctx, func() error {
		s.removeTemps()
		t, err := s.read()
		switch {
		case errors.Is(err, os.ErrNotExist):
			t := newTable()
			return s.write(&t)
		case err != nil:
			return err
		case s.legacy:
			// Convert now, under the lock, so that later writes are fast.
			next := t.clone()
			return s.write(&next)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileStore) unlockWith(u FileUnlock) error {
	switch {
	case !u.Passphrase.IsZero() && u.IdentityFile != "":
		return fmt.Errorf("file store %s: give a passphrase or an identity file, not both", s.path)
	case !u.Passphrase.IsZero():
		r, err := age.NewScryptRecipient(u.Passphrase.Reveal())
		if err != nil {
			return fmt.Errorf("file store %s: %w", s.path, err)
		}
		id, err := age.NewScryptIdentity(u.Passphrase.Reveal())
		if err != nil {
			return fmt.Errorf("file store %s: %w", s.path, err)
		}
		if u.ScryptWorkFactor == 0 {
			u.ScryptWorkFactor = DefaultScryptWorkFactor
		}
		if u.ScryptWorkFactor < 1 || u.ScryptWorkFactor > 30 {
			return fmt.Errorf("file store %s: scrypt work factor %d is outside 1..30", s.path, u.ScryptWorkFactor)
		}
		r.SetWorkFactor(u.ScryptWorkFactor)
		if u.ScryptWorkFactor > 22 { // age's default ceiling when decrypting
			id.SetMaxWorkFactor(u.ScryptWorkFactor)
		}
		s.pass = &passphraseKey{scrypt: id, newKey: r}
		return nil
	case u.IdentityFile != "":
		f, err := os.Open(u.IdentityFile)
		if err != nil {
			return fmt.Errorf("file store %s: identity: %w", s.path, err)
		}
		defer f.Close()
		ids, err := age.ParseIdentities(f)
		if err != nil {
			return fmt.Errorf("file store %s: identity file %s: %w", s.path, u.IdentityFile, err)
		}
		switch id := ids[0].(type) {
		case *age.X25519Identity:
			s.recipient = id.Recipient()
		case *age.HybridIdentity:
			s.recipient = id.Recipient()
		default:
			return fmt.Errorf("file store %s: identity file %s: unsupported identity type %T", s.path, u.IdentityFile, id)
		}
		s.identity = ids
		return nil
	}
	return fmt.Errorf("file store %s: no passphrase or identity file", s.path)
}

func (s *FileStore) Kind() string     { return "file" }
func (s *FileStore) Location() string { return s.path }

// Path is the encrypted file.
func (s *FileStore) Path() string { return s.path }

// Check proves the file decrypts and its directory takes new files.
func (s *FileStore) Check(ctx context.Context) error {
	return s.locked(ctx, func() error {
		if _, err := s.read(); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".tmp-*")
		if err != nil {
			return fmt.Errorf("file store %s: not writable: %w", s.path, err)
		}
		name := f.Name()
		f.Close()
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("file store %s: %w", s.path, err)
		}
		return nil
	})
}

func (s *FileStore) PutPending(ctx context.Context, path string, value Secret, meta map[string]string) (Version, error) {
	if err := validPut(path, value, meta); err != nil {
		return Version{}, err
	}
	var v Version
	err := s.update(ctx, func(t table) error {
		var err error
		v, err = t.put(path, value, meta, s.now())
		return err
	})
	return v, err
}

func (s *FileStore) SetState(ctx context.Context, path string, version int, state State) error {
	return s.update(ctx, func(t table) error { return t.setState(path, version, state) })
}

// PutPendingAll stores every put in one write of the file, or none.
func (s *FileStore) PutPendingAll(ctx context.Context, puts []Put) ([]Version, error) {
	for _, p := range puts {
		if err := validPut(p.Path, p.Value, p.Meta); err != nil {
			return nil, err
		}
	}
	var vs []Version
	err := s.update(ctx, func(t table) error {
		var err error
		vs, err = t.putAll(puts, s.now())
		return err
	})
	return vs, err
}

// SetStates makes every state change in one write of the file, or none.
func (s *FileStore) SetStates(ctx context.Context, changes []StateChange) error {
	return s.update(ctx, func(t table) error { return t.setStates(changes) })
}

func (s *FileStore) Get(ctx context.Context, path string, version int) (Secret, Version, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, Version{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.read()
	if err != nil {
		return Secret{}, Version{}, err
	}
	return t.get(path, version)
}

func (s *FileStore) List(ctx context.Context) ([]Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.read()
	if err != nil {
		return nil, err
	}
	return t.list(), nil
}

// pendingUpdate is one update waiting in the queue.
type pendingUpdate struct {
	change func(table) error
	done   chan error // receives the update's result, once
}

// update applies change to the latest content and writes the result, all
// under the lock so that no other writer slips in between. Updates queued
// meanwhile by other goroutines are written by the same write, each
// applied on its own: one refused does not refuse the others. The write
// is durable when update returns, as for a write of its own.
func (s *FileStore) update(ctx context.Context, change func(table) error) error {
	u := &pendingUpdate{change: change, done: make(chan error, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, u)
	s.qmu.Unlock()
	err := s.locked(ctx, func() error {
		s.qmu.Lock()
		batch := s.queue
		s.queue = nil
		s.qmu.Unlock()
		if len(batch) > 0 {
			s.commit(batch)
		}
		return nil
	})
	if err != nil {
		s.qmu.Lock()
		i := slices.Index(s.queue, u)
		if i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
		}
		s.qmu.Unlock()
		if i >= 0 {
			return err // never applied
		}
		// Another goroutine took it into its write: its result is ours.
	}
	return <-u.done
}

// commit applies a batch of updates to the latest content and writes it
// once. Called with the lock held.
func (s *FileStore) commit(batch []*pendingUpdate) {
	t, err := s.read()
	if err != nil {
		for _, u := range batch {
			u.done <- err
		}
		return
	}
	next := t.clone()
	errs := make([]error, len(batch))
	applied := 0
	for i, u := range batch {
		if len(batch) == 1 {
			if errs[i] = u.change(next); errs[i] == nil {
				applied++
			}
			break
		}
		// Each update on its own copy: a refused one leaves nothing behind.
		trial := next.clone()
		if errs[i] = u.change(trial); errs[i] != nil {
			trial.wipe()
			continue
		}
		next.wipe()
		next = trial
		applied++
	}
	var werr error
	if applied > 0 {
		werr = s.write(&next)
	} else {
		next.wipe()
	}
	for i, u := range batch {
		if errs[i] == nil {
			errs[i] = werr
		}
		u.done <- errs[i]
	}
}

// locked runs f holding the in-process mutex and the flock on the lock
// file. The lock file is never removed: removing it would let two
// processes lock two different files.
func (s *FileStore) locked(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lf, err := os.OpenFile(s.lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("file store %s: lock: %w", s.path, err)
	}
	defer lf.Close()
	if err := flock(ctx, lf); err != nil {
		return fmt.Errorf("file store %s: lock %s: %w", s.path, s.lockPath, err)
	}
	defer unix.Flock(int(lf.Fd()), unix.LOCK_UN)
	return f()
}

// flock takes an exclusive lock, giving up when ctx ends. flock(2) cannot
// be interrupted by a context, so it polls without blocking.
func flock(ctx context.Context, f *os.File) error {
	wait := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// read returns the current content. The caller holds s.mu and must not
// modify the result.
func (s *FileStore) read() (table, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return table{}, fmt.Errorf("file store %s: %w", s.path, err)
	}
	sum := sha256.Sum256(b)
	if s.cache != nil && sum == s.cacheSum {
		return *s.cache, nil
	}
	plain, err := s.decrypt(b)
	if err != nil {
		return table{}, err
	}
	defer clear(plain)
	t := newTable()
	if err := json.Unmarshal(plain, &t); err != nil {
		return table{}, fmt.Errorf("file store %s: decode: %w", s.path, err)
	}
	if t.Format != tableFormat {
		return table{}, fmt.Errorf("file store %s: unknown format %q", s.path, t.Format)
	}
	if t.Paths == nil {
		t.Paths = map[string]*entry{}
	}
	s.setCache(sum, &t)
	return t, nil
}

// decrypt returns the JSON table held in the file content b.
func (s *FileStore) decrypt(b []byte) ([]byte, error) {
	passFormat := bytes.HasPrefix(b, []byte(passphraseMagic))
	body := b
	switch {
	case s.pass == nil && passFormat:
		return nil, fmt.Errorf("file store %s: locked with a passphrase, not an identity file", s.path)
	case s.pass != nil && !passFormat:
		// The earlier format: the table encrypted to the scrypt recipient.
		plain, err := s.open(bytes.NewReader(b), s.pass.scrypt)
		if err != nil {
			return nil, err
		}
		s.legacy = true
		return plain, nil
	case s.pass != nil:
		header, rest, err := splitHeader(b[len(passphraseMagic):])
		if err != nil {
			return nil, fmt.Errorf("file store %s: %w", s.path, err)
		}
		// Another process may have replaced the store with one under a new
		// key; unlock again only then (the header is the key's identity).
		if !bytes.Equal(header, s.pass.header) {
			if err := s.unlockHeader(header); err != nil {
				return nil, err
			}
		}
		body = rest
	}
	s.legacy = false
	return s.open(bytes.NewReader(body), s.identity...)
}

// open decrypts one age file.
func (s *FileStore) open(src io.Reader, ids ...age.Identity) ([]byte, error) {
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("file store %s: wrong passphrase or identity", s.path)
		}
		return nil, fmt.Errorf("file store %s: decrypt: %w", s.path, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		clear(plain)
		return nil, fmt.Errorf("file store %s: decrypt: %w", s.path, err)
	}
	return plain, nil
}

// splitHeader cuts the armored key header from the table that follows it.
func splitHeader(b []byte) (header, rest []byte, err error) {
	if !bytes.HasPrefix(b, []byte(armor.Header+"\n")) {
		return nil, nil, errors.New("damaged key header: no armored age file")
	}
	footer := []byte(armor.Footer + "\n")
	i := bytes.Index(b, footer)
	if i < 0 {
		return nil, nil, errors.New("damaged key header: no end line")
	}
	n := i + len(footer)
	return b[:n], b[n:], nil
}

// unlockHeader decrypts the store's X25519 identity with the passphrase.
// This is the one scrypt computation of the process.
func (s *FileStore) unlockHeader(header []byte) error {
	plain, err := s.open(armor.NewReader(bytes.NewReader(header)), s.pass.scrypt)
	if err != nil {
		return err
	}
	defer clear(plain)
	id, err := age.ParseX25519Identity(string(bytes.TrimSpace(plain)))
	if err != nil {
		return fmt.Errorf("file store %s: key header: not an X25519 identity", s.path)
	}
	s.recipient, s.identity = id.Recipient(), []age.Identity{id}
	s.pass.header = bytes.Clone(header)
	return nil
}

// newKey makes the X25519 identity of a new (or converted) passphrase store
// and its header.
func (s *FileStore) newKey() error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return fmt.Errorf("file store %s: new key: %w", s.path, err)
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, s.pass.newKey)
	if err != nil {
		return fmt.Errorf("file store %s: new key: %w", s.path, err)
	}
	if _, err := io.WriteString(w, id.String()+"\n"); err != nil {
		return fmt.Errorf("file store %s: new key: %w", s.path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("file store %s: new key: %w", s.path, err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("file store %s: new key: %w", s.path, err)
	}
	s.recipient, s.identity = id.Recipient(), []age.Identity{id}
	s.pass.header = buf.Bytes()
	return nil
}

// encrypt returns the file content for the JSON table plain.
func (s *FileStore) encrypt(plain []byte) ([]byte, error) {
	var enc bytes.Buffer
	if s.pass != nil {
		if s.pass.header == nil {
			if err := s.newKey(); err != nil {
				return nil, err
			}
		}
		enc.WriteString(passphraseMagic)
		enc.Write(s.pass.header)
	}
	w, err := age.Encrypt(&enc, s.recipient)
	if err != nil {
		return nil, fmt.Errorf("file store %s: encrypt: %w", s.path, err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("file store %s: encrypt: %w", s.path, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("file store %s: encrypt: %w", s.path, err)
	}
	return enc.Bytes(), nil
}

// write replaces the file with t's encryption, mode 0600: temp file in the
// same directory, fsync, rename over, fsync the directory.
func (s *FileStore) write(t *table) error {
	plain, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("file store %s: encode: %w", s.path, err)
	}
	defer clear(plain)
	enc, err := s.encrypt(plain)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, enc, 0o600); err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	s.legacy = false
	s.setCache(sha256.Sum256(enc), t)
	return nil
}

// setCache remembers the decoded content of the envelope whose digest is
// sum, wiping the values of the content it replaces.
func (s *FileStore) setCache(sum [sha256.Size]byte, t *table) {
	if s.cache != nil && s.cache != t {
		s.cache.wipe()
	}
	s.cacheSum, s.cache = sum, t
}

// removeTemps deletes temp files a crashed writer left behind. Only called
// under the flock: no live writer has a temp file then.
func (s *FileStore) removeTemps() {
	dir, base := filepath.Dir(s.path), filepath.Base(s.path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		// base.tmp-* are Check's, and the writes' before they went
		// through atomicfile.
		if atomicfile.IsTemp(e.Name(), base) || strings.HasPrefix(e.Name(), base+".tmp-") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
