package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"
)

// vaultLocks is the folder, under the store's prefix, of the lock entries.
// List leaves it out: it holds no credential.
const vaultLocks = "_handover_locks"

var _ Locker = (*VaultStore)(nil)

// Lock takes a lock entry in Vault: <prefix>/_handover_locks/<name>, whose
// data is the holder (playbook, run, operator, pid, host, start time and
// when it last renewed the entry). Every write is a check-and-set on the
// version read, so two runs never both take it. The holder renews the
// entry every LockRenewEvery; an entry not renewed for LockStaleAfter, or
// whose holder is a process of this machine that no longer exists, is
// stale: its holder crashed, and the lock is taken over. Releasing writes a
// new version marked released (the token needs no delete right).
func (s *VaultStore) Lock(ctx context.Context, name string, me LockHolder) (func(), error) {
	p := s.key(vaultLocks + "/" + name)
	where := s.addr + "/v1/" + s.mount + "/data/" + p
	for attempt := 0; attempt < 5; attempt++ {
		h, version, err := s.readLock(ctx, p)
		if err != nil {
			return nil, err
		}
		if version > 0 && !h.Released && !h.stale(time.Now()) {
			return nil, &HeldError{Where: where, Holder: h}
		}
		me.Renewed = time.Now().UTC()
		mine, err := s.writeLock(ctx, p, me, version)
		if errors.Is(err, errCASMismatch) {
			continue // another run got there first: read again
		}
		if err != nil {
			return nil, err
		}
		return s.holdLock(p, me, mine), nil
	}
	return nil, fmt.Errorf("lock %s: other runs kept taking it", where)
}

// holdLock renews the entry until released, then marks it released.
func (s *VaultStore) holdLock(p string, me LockHolder, version int) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(LockRenewEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), vaultTimeout)
				mu.Lock()
				me.Renewed = time.Now().UTC()
				if v, err := s.writeLock(ctx, p, me, version); err == nil {
					version = v
				}
				mu.Unlock()
				cancel()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), vaultTimeout)
			defer cancel()
			me.Released = true
			_, _ = s.writeLock(ctx, p, me, version)
		})
	}
}

func (s *VaultStore) readLock(ctx context.Context, p string) (LockHolder, int, error) {
	sec, err := s.kv.Get(ctx, p)
	if errors.Is(err, api.ErrSecretNotFound) {
		// No entry, or its latest version was deleted: read the version
		// number, which the next write must name.
		md, merr := s.kv.GetMetadata(ctx, p)
		if merr != nil {
			return LockHolder{}, 0, nil
		}
		return LockHolder{Released: true}, md.CurrentVersion, nil
	}
	if err != nil {
		return LockHolder{}, 0, vaultError(s.addr, "read lock "+p, err)
	}
	var h LockHolder
	if text, ok := sec.Data["holder"].(string); ok {
		_ = json.Unmarshal([]byte(text), &h)
	}
	v := 0
	if sec.VersionMetadata != nil {
		v = sec.VersionMetadata.Version
	}
	return h, v, nil
}

func (s *VaultStore) writeLock(ctx context.Context, p string, h LockHolder, cas int) (int, error) {
	b, _ := json.Marshal(h)
	resp, err := s.kv.Put(ctx, p, map[string]any{"holder": string(b)}, api.WithCheckAndSet(cas))
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest &&
			slices.ContainsFunc(re.Errors, func(e string) bool { return strings.Contains(e, "check-and-set") }) {
			return 0, errCASMismatch
		}
		return 0, vaultError(s.addr, "write lock "+p, err)
	}
	if resp.VersionMetadata == nil {
		return 0, fmt.Errorf("lock %s: vault gave no version", p)
	}
	return resp.VersionMetadata.Version, nil
}

// stale says whether the holder is gone: it stopped renewing the entry, or
// it was a process of this machine that no longer exists.
func (h LockHolder) stale(now time.Time) bool {
	if !h.Renewed.IsZero() && now.Sub(h.Renewed) > LockStaleAfter {
		return true
	}
	if host, _ := os.Hostname(); h.Host == host && h.PID > 0 {
		if err := syscall.Kill(h.PID, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
	}
	return false
}
