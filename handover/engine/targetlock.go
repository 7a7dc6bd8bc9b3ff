package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// A run changes a system only while it holds that system's lock, so that
// two runs of different playbooks (separate state directories) that name
// the same host or directory never interleave their changes, above all
// two rotations of one account. The state directory's lock already keeps
// two runs of one playbook apart.
//
// A system's lock is keyed by what the system is, not by what a playbook
// calls it: its kind and its address as the connector reached it
// ("host 127.0.1.1:22", "directory ldaps://ldap.mairie.lan:636"). It is
// taken in two places, both of which must be free:
//
//   - on this machine, an flock on LockDir()/KEY.lock: the kernel drops it
//     when the run ends, whatever the reason, so it is never stale;
//   - in the secret store, when the store can hold locks
//     (secret.Locker: Vault): an entry that runs on other machines sharing
//     the store see too, with stale detection.
//
// A system whose lock is held by another run is not changed by this run:
// its changes are reported as skipped, naming the holder.

// LockDirEnv overrides where this machine's system locks live.
const LockDirEnv = "HANDOVER_LOCK_DIR"

// LockDir is where this machine's system locks live: $HANDOVER_LOCK_DIR,
// else /run/lock/handover (shared by every user of the machine), else a
// directory under the temporary directory.
func LockDir() string {
	if d := os.Getenv(LockDirEnv); d != "" {
		return d
	}
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock/handover"
	}
	return filepath.Join(os.TempDir(), "handover-locks")
}

// SystemKey names a system for its lock: its kind and address.
func SystemKey(sys connector.System, target, typ string) string {
	if sys.Address == "" {
		return strings.ToLower(typ + " " + target + "/" + sys.Name)
	}
	kind := sys.Kind
	if kind == "" {
		kind = typ
	}
	return kind + " " + strings.ToLower(sys.Address)
}

// heldError says who holds a system's lock.
type heldError struct {
	key    string
	where  string
	holder secret.LockHolder
}

func (e *heldError) Error() string {
	return fmt.Sprintf("another handover run is changing this system (%s; lock %s): %s", e.key, e.where, e.holder)
}

// systemLocks takes the lock of every system the plan changes. It returns
// the systems it could not lock, with why (target\x00system -> reason),
// and a function releasing the locks taken.
func (s *Session) systemLocks(ctx context.Context, store secret.Store, run string, invs []*connector.Inventory, p *plan.Plan) (map[string]string, func()) {
	keys := map[string]string{} // target\x00system -> key
	for _, inv := range invs {
		for _, sys := range inv.Systems {
			keys[inv.Target+"\x00"+sys.Name] = SystemKey(sys, inv.Target, inv.Type)
		}
	}
	host, _ := os.Hostname()
	me := secret.LockHolder{Playbook: s.Playbook.File, State: s.StateDir(), Run: run, Operator: s.Operator(), PID: os.Getpid(), Host: host, Since: time.Now().UTC()}
	held := map[string]string{}
	byKey := map[string]error{} // a key locked once (several targets may name one system)
	var releases []func()
	for _, ch := range p.Changes {
		sys := ch.Target + "\x00" + ch.System
		if _, done := held[sys]; done {
			continue
		}
		key, ok := keys[sys]
		if !ok {
			key = strings.ToLower(ch.Target + "/" + ch.System)
		}
		err, done := byKey[key]
		if !done {
			var release func()
			release, err = lockSystem(ctx, store, key, me)
			byKey[key] = err
			if err == nil {
				releases = append(releases, release)
			}
		}
		if err != nil {
			held[sys] = err.Error()
		} else {
			held[sys] = ""
		}
	}
	for k, v := range held {
		if v == "" {
			delete(held, k)
		}
	}
	return held, func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
}

// lockSystem takes one system's lock on this machine, then in the store.
func lockSystem(ctx context.Context, store secret.Store, key string, me secret.LockHolder) (func(), error) {
	me.System = key
	releaseLocal, err := lockLocal(key, me)
	if err != nil {
		return nil, err
	}
	l, ok := store.(secret.Locker)
	if !ok {
		return releaseLocal, nil
	}
	releaseStore, err := l.Lock(ctx, "system/"+lockName(key), me)
	if err != nil {
		releaseLocal()
		var he *secret.HeldError
		if errors.As(err, &he) {
			return nil, &heldError{key: key, where: store.Kind() + " " + he.Where, holder: he.Holder}
		}
		return nil, fmt.Errorf("lock of %s in the secret store: %w", key, err)
	}
	return func() { releaseStore(); releaseLocal() }, nil
}

func lockName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12])
}

// lockLocal takes the machine's flock of a system.
func lockLocal(key string, me secret.LockHolder) (func(), error) {
	dir := LockDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("system lock directory: %w", err)
	}
	// Every user of the machine must see every lock (sticky, as /run/lock).
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o002 == 0 && os.Getuid() == 0 {
		_ = os.Chmod(dir, 0o1777|os.ModeSticky)
	}
	path := filepath.Join(dir, lockName(key)+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.Open(path) // another user's lock file: flock works read-only
	}
	if err != nil {
		return nil, fmt.Errorf("system lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h secret.LockHolder
			if b, err := os.ReadFile(path); err == nil {
				_ = json.Unmarshal(b, &h)
			}
			return nil, &heldError{key: key, where: path, holder: h}
		}
		return nil, fmt.Errorf("system lock %s: %w", path, err)
	}
	b, _ := json.Marshal(me)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}
