package ssh

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// remoteFileState is a file as read before an edit.
type remoteFileState struct {
	Absent   bool
	Sum      string
	Mode     string
	UID, GID int
	Data     []byte
}

// fileStates returns the state of each path as last read: from the
// host's inventory when it holds the file (and fresh is false), else read
// now, all in one session.
func (t *target) fileStates(ctx context.Context, r *runner, system string, paths []string, fresh bool) (map[string]remoteFileState, error) {
	out := map[string]remoteFileState{}
	var missing []string
	t.mu.Lock()
	var files map[string]remoteFile
	if hc := t.cache[system]; hc != nil && !fresh {
		files = hc.files
	}
	for _, p := range paths {
		if f, ok := files[p]; ok {
			out[p] = remoteFileState{Sum: sha256Hex(f.Data), Mode: f.Mode, UID: f.UID, GID: f.GID, Data: f.Data}
		} else {
			missing = append(missing, p)
		}
	}
	t.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	res, err := r.Script(ctx, readFilesScript, missing, []byte{})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", strings.Join(missing, ", "), err)
	}
	if res.Exit != 0 {
		return nil, fmt.Errorf("read %s: exit status %d: %s", strings.Join(missing, ", "), res.Exit, strings.TrimSpace(lastLines(res.Stderr, 5)))
	}
	lines := strings.Split(string(res.Stdout), "\n")
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) < 3 || f[0] != "@@read" {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 0 || n >= len(missing) {
			return nil, fmt.Errorf("read files: unexpected line %q", lines[i])
		}
		p := missing[n]
		switch {
		case f[2] == "absent":
			out[p] = remoteFileState{Absent: true}
		case f[2] == "notfile":
			return nil, fmt.Errorf("%s is not a regular file", p)
		case f[2] == "link":
			// Root reads no file through a link: the account that owns
			// the directory could point it anywhere.
			return nil, fmt.Errorf("%s or its directory is a symbolic link: not followed, not touched", p)
		case len(f) == 6 && i+1 < len(lines):
			data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[i+1]))
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			uid, _ := strconv.Atoi(f[4])
			gid, _ := strconv.Atoi(f[5])
			out[p] = remoteFileState{Sum: f[2], Mode: f[3], UID: uid, GID: gid, Data: data}
			i++
		default:
			return nil, fmt.Errorf("read files: unexpected line %q", lines[i])
		}
	}
	for _, p := range missing {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("read %s: no answer", p)
		}
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hostCache is what the connector keeps of a host's last inventory for
// the changes that follow: the files it may edit, the accounts, sshd's
// settings. Never a password hash.
type hostCache struct {
	files  map[string]remoteFile // by path; nil: unknown, read before editing
	passwd map[string]passwdEntry
	sshd   map[string]string
}

func newHostCache(h *hostData) *hostCache {
	hc := &hostCache{files: map[string]remoteFile{}, passwd: map[string]passwdEntry{}, sshd: h.SSHD}
	for _, f := range h.Files {
		hc.files[f.Path] = f
	}
	for _, f := range h.Persist {
		if _, ok := hc.files[f.Path]; !ok && f.Kind == "persist" {
			hc.files[f.Path] = f
		}
	}
	for _, p := range h.Passwd {
		hc.passwd[p.Name] = p
	}
	return hc
}

// remember updates the cached files a batch wrote (a nil Data: deleted),
// or forgets the host's files when a write failed, so that the next change
// reads them anew.
func (t *target) remember(system string, written map[string]remoteFile, failed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hc := t.cache[system]
	if hc == nil || hc.files == nil {
		return
	}
	if failed {
		hc.files = nil
		return
	}
	for p, f := range written {
		if f.Data == nil {
			delete(hc.files, p)
			continue
		}
		hc.files[p] = f
	}
}
