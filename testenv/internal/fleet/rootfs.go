package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const suite = "bookworm"

// debootstrapIncludes makes hosts that the SSH connector and Ansible can
// both manage (Ansible's apt and package_facts modules need python3-apt).
const debootstrapIncludes = "openssh-server,python3,python3-apt,sudo,cron,systemd,procps,iproute2"

// ensureRootfs returns the cached Debian rootfs, building it once. The
// build goes to a temporary directory renamed into place when complete, so
// an interrupted build is never mistaken for a rootfs.
func ensureRootfs(ctx context.Context, cacheDir string, log io.Writer) (string, error) {
	dst := filepath.Join(cacheDir, "rootfs")
	if _, err := os.Stat(filepath.Join(dst, "usr/sbin/sshd")); err == nil {
		return dst, nil
	}
	mirror, err := aptMirror("/etc/apt")
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(cacheDir, "rootfs.tmp")
	if err := removeBuildDir(tmp); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "fleet: building the %s rootfs from %s (about 80 s, once)\n", suite, mirror)
	start := time.Now()
	if err := run(ctx, nil, "debootstrap", "--variant=minbase", "--include="+debootstrapIncludes, suite, tmp, mirror); err != nil {
		_ = removeBuildDir(tmp)
		return "", fmt.Errorf("debootstrap: %w", err)
	}
	if err := finishRootfs(ctx, tmp); err != nil {
		_ = removeBuildDir(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "fleet: rootfs ready in %s\n", time.Since(start).Round(time.Second))
	return dst, nil
}

// finishRootfs removes what must differ per host (host keys, machine-id
// are written per host) and precomputes apt's package cache, which apt
// would otherwise rebuild (39 MB) into every host's overlay.
func finishRootfs(ctx context.Context, root string) error {
	keys, err := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := os.Remove(k); err != nil {
			return err
		}
	}
	debs, err := filepath.Glob(filepath.Join(root, "var/cache/apt/archives/*.deb"))
	if err != nil {
		return err
	}
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			return err
		}
	}
	if err := chroot(ctx, root, nil, "apt-cache", "gencaches"); err != nil {
		return fmt.Errorf("apt-cache gencaches: %w", err)
	}
	return nil
}

// aptMirror reads the Debian archive this machine installs from, in
// sources.list or deb822 .sources form: the URI that serves the bare suite.
func aptMirror(aptDir string) (string, error) {
	files := []string{filepath.Join(aptDir, "sources.list")}
	for _, pat := range []string{"sources.list.d/*.list", "sources.list.d/*.sources"} {
		m, err := filepath.Glob(filepath.Join(aptDir, pat))
		if err != nil {
			return "", err
		}
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		var uri string
		if strings.HasSuffix(f, ".sources") {
			uri = mirrorDeb822(string(b))
		} else {
			uri = mirrorOneLine(string(b))
		}
		if uri != "" {
			return strings.TrimRight(uri, "/"), nil
		}
	}
	return "", fmt.Errorf("no apt source for %s in %s: debootstrap needs a Debian mirror", suite, aptDir)
}

func mirrorOneLine(text string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // [signed-by=...] options
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 2 && f[1] == suite {
			return f[0]
		}
	}
	return ""
}

func mirrorDeb822(text string) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if ok && !strings.HasPrefix(k, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if fields["enabled"] == "no" || !contains(strings.Fields(fields["types"]), "deb") ||
			!contains(strings.Fields(fields["suites"]), suite) {
			continue
		}
		if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
			return uris[0]
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run executes a command on the machine, with its output in the error.
func run(ctx context.Context, stdin io.Reader, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(string(out), 20))
	}
	return nil
}

// chroot runs a command inside a root tree with a clean environment.
func chroot(ctx context.Context, root string, stdin io.Reader, args ...string) error {
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, args...)...)
	cmd.Stdin = stdin
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("chroot %s %s: %w\n%s", root, strings.Join(args, " "), err, tail(string(out), 20))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	// Later mounts sit on top of earlier ones: undo them first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll unmounts everything at or below dir. A mount still busy after
// a short wait is detached, so a stuck process cannot pin the state dir.
func unmountAll(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mps {
		err := syscall.Unmount(mp, 0)
		for i := 0; errors.Is(err, syscall.EBUSY) && i < 50; i++ {
			time.Sleep(20 * time.Millisecond)
			err = syscall.Unmount(mp, 0)
		}
		if errors.Is(err, syscall.EBUSY) {
			err = syscall.Unmount(mp, syscall.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// removeBuildDir removes a directory this package created, after making
// sure nothing is mounted inside it (debootstrap mounts /proc in its
// target): removing through a live mount would reach the machine's files.
func removeBuildDir(dir string) error {
	if err := unmountAll(dir); err != nil {
		return err
	}
	mps, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(mps) > 0 {
		return fmt.Errorf("not removing %s: %s still mounted", dir, mps[0])
	}
	return os.RemoveAll(dir)
}
