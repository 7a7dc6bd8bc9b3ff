package fleet

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// A systemd host boots the way a real machine does: systemd is PID 1 of
// the host's namespaces and starts sshd and the enabled agents' units
// itself. Like systemd in any container, it needs a cgroup hierarchy to
// manage its units: the host gets a cgroup of its own on the machine and
// a cgroup namespace rooted there, and sees it as its /sys/fs/cgroup.

// Magic numbers of statfs(2) for cgroup file systems.
const (
	cgroupV1Magic = 0x27e0eb
	cgroupV2Magic = 0x63677270
)

// cgroupTree is the machine's hierarchy a systemd host's cgroup is made
// in: the named "systemd" hierarchy of cgroup v1 (legacy and hybrid
// set-ups, as systemd itself would use), else cgroup v2.
type cgroupTree struct {
	base string // mount point on the machine
	v2   bool
}

func findCgroupTree() (cgroupTree, error) {
	if ts := cgroupTrees(); len(ts) > 0 {
		return ts[0], nil
	}
	return cgroupTree{}, errors.New("no cgroup hierarchy for the systemd host: neither a cgroup v1 \"systemd\" hierarchy at /sys/fs/cgroup/systemd nor cgroup v2 at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

// cgroupTrees lists the hierarchies the machine has, preferred first.
func cgroupTrees() []cgroupTree {
	is := func(path string, magic int64) bool {
		var st syscall.Statfs_t
		return syscall.Statfs(path, &st) == nil && int64(st.Type) == magic
	}
	var ts []cgroupTree
	if is("/sys/fs/cgroup/systemd", cgroupV1Magic) {
		ts = append(ts, cgroupTree{base: "/sys/fs/cgroup/systemd"})
	}
	if is("/sys/fs/cgroup", cgroupV2Magic) {
		ts = append(ts, cgroupTree{base: "/sys/fs/cgroup", v2: true})
	}
	if is("/sys/fs/cgroup/unified", cgroupV2Magic) {
		ts = append(ts, cgroupTree{base: "/sys/fs/cgroup/unified", v2: true})
	}
	return ts
}

// cgroup is the host's cgroup directory in t: one per state directory, so
// two testenvs on one machine do not share it.
func (h host) cgroup(t cgroupTree) string {
	sum := sha256.Sum256([]byte(h.dir))
	return filepath.Join(t.base, fmt.Sprintf("handover-testenv-%x", sum[:6]))
}

// systemdBootScript runs as PID 1 of the host's new PID, mount, UTS and
// cgroup namespaces: it mounts what a container manager gives a container
// (proc, a read-only sys, the host's cgroup as /sys/fs/cgroup, /run, a
// private devpts, /dev/console silenced), then becomes systemd, which
// boots the host from its unit files.
const systemdBootScript = `set -e
root=$1 name=$2 hosts=$3 cg=$4
others=$(awk -v h="$hosts/" -v r="$root" 'index($5, h) == 1 && $5 != r {print $5}' /proc/self/mountinfo)
[ -z "$others" ] || umount -l $others 2>/dev/null || :
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
if [ "$cg" = v2 ]; then
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
else
	mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs "$root/sys/fs/cgroup"
	mkdir "$root/sys/fs/cgroup/systemd"
	mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd cgroup "$root/sys/fs/cgroup/systemd"
fi
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount --bind /dev/null "$root/dev/console"
hostname "$name"
exec env -i container=handover-testenv /usr/sbin/chroot "$root" /lib/systemd/systemd
`

// systemdArgv starts a systemd host: a shell puts itself in the host's
// cgroup, then becomes unshare, whose child runs the boot script.
func (h host) systemdArgv(t cgroupTree) []string {
	mode := "v1"
	if t.v2 {
		mode = "v2"
	}
	return []string{"/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, h.cgroup(t),
		"unshare", "--pid", "--mount", "--uts", "--cgroup", "--fork", "--propagation", "private",
		"/bin/sh", "-c", systemdBootScript, "boot", h.root(), h.name, filepath.Dir(h.dir), mode}
}

// makeCgroup creates the host's cgroup, removing what a crashed run left.
func (h host) makeCgroup() (cgroupTree, error) {
	t, err := findCgroupTree()
	if err != nil {
		return t, err
	}
	if err := h.removeCgroup(t); err != nil {
		return t, err
	}
	return t, os.Mkdir(h.cgroup(t), 0o755)
}

// removeCgroup removes the host's cgroup and those systemd made in it,
// deepest first, once their processes are gone (a killed process leaves
// its cgroup when its parent has reaped it).
func (h host) removeCgroup(t cgroupTree) error {
	dir := h.cgroup(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var dirs []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
		var last error
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				last = fmt.Errorf("remove cgroup %s: %w", d, err)
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// plantSystemd writes what a systemd host has besides what every host
// has: sshd listens on the host's own address (ssh.service starts it with
// no options), and the consoles' gettys are masked (a container has no
// terminals of its own).
func plantSystemd(h host) error {
	root := h.root()
	if err := writeFile(filepath.Join(root, "/etc/ssh/sshd_config.d/listen.conf"), []byte("ListenAddress "+h.addr+"\n"), 0o644, 0, 0); err != nil {
		return err
	}
	for _, u := range []string{"getty@.service", "console-getty.service", "serial-getty@.service", "getty-static.service"} {
		p := filepath.Join(root, "/etc/systemd/system", u)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Symlink("/dev/null", p); err != nil {
			return err
		}
	}
	return nil
}
