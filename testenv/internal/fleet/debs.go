package fleet

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// The recipe's own source is part of the cache key: changing how packages
// or layers are made invalidates what was cached with the old recipe.
var (
	//go:embed agentd/main.go
	agentdSource []byte
	//go:embed debs.go
	debsSource []byte
	//go:embed plan.go
	planSource []byte
	//go:embed rpm.go
	rpmSource []byte
)

func recipeKey() string {
	h := sha256.New()
	for _, b := range [][]byte{agentdSource, debsSource, planSource, rpmSource} {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// artefacts are the cached, built-once inputs of every host.
type artefacts struct {
	agentd string            // the stand-in daemon binary
	debs   map[string]string // package name -> .deb
	layers map[string]string // variant key -> overlay layer
}

// ensureArtefacts builds (once per recipe and rootfs) the agent daemon,
// the agents' .deb packages and one overlay layer per variant.
func ensureArtefacts(ctx context.Context, cacheDir, rootfs string, log io.Writer) (*artefacts, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(rootfs, &st); err != nil {
		return nil, err
	}
	dir := filepath.Join(cacheDir, "fleet", recipeKey())
	a := &artefacts{
		agentd: filepath.Join(dir, "agentd"),
		debs:   map[string]string{},
		layers: map[string]string{},
	}
	if err := os.MkdirAll(filepath.Join(dir, "debs"), 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(a.agentd); err != nil {
		fmt.Fprintln(log, "fleet: building the agent daemon")
		if err := buildAgentd(ctx, a.agentd); err != nil {
			return nil, err
		}
	}
	for _, ag := range packaged {
		deb := filepath.Join(dir, "debs", fmt.Sprintf("%s_%s_amd64.deb", ag.pkg, ag.version))
		if _, err := os.Stat(deb); err != nil {
			if err := buildDeb(ctx, ag, a.agentd, deb); err != nil {
				return nil, err
			}
		}
		a.debs[ag.pkg] = deb
	}
	// A layer is an overlay upper directory over this very rootfs: rebuilt
	// if the rootfs is.
	layers := filepath.Join(dir, fmt.Sprintf("layers-%d", st.Ino))
	if err := os.MkdirAll(layers, 0o755); err != nil {
		return nil, err
	}
	for _, v := range append(slices.Clone(variants), rpmVariant, systemdVariant) {
		l := filepath.Join(layers, v.key())
		if _, err := os.Stat(l); err != nil {
			fmt.Fprintf(log, "fleet: building layer %s\n", v.key())
			if err := buildLayer(ctx, rootfs, l, v, a); err != nil {
				return nil, fmt.Errorf("layer %s: %w", v.key(), err)
			}
		}
		a.layers[v.key()] = l
	}
	return a, nil
}

// buildAgentd compiles the embedded daemon source in a scratch module, so
// the build does not depend on where `testenv` runs from.
func buildAgentd(ctx context.Context, dst string) error {
	src, err := os.MkdirTemp(filepath.Dir(dst), "agentd-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module agentd\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), agentdSource, 0o644); err != nil {
		return err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	tmp := dst + ".tmp"
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOTOOLCHAIN=local", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build agentd: %w\n%s", err, out)
	}
	return os.Rename(tmp, dst)
}

// buildDeb lays out a package like the real tool's and builds it with
// dpkg-deb. Its maintainer scripts do what real ones do: enable the unit
// on configure, stop the daemon and disable the unit on removal. Without
// systemd as PID 1 they stop the daemon the sysvinit way, by executable,
// which is also how such a host behaves for real.
func buildDeb(ctx context.Context, a agent, agentd, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "build-"+a.pkg+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := os.ReadFile(agentd)
	if err != nil {
		return err
	}
	postinst := fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = configure ]; then
	systemctl enable %[1]s
	if [ -d /run/systemd/system ]; then
		systemctl restart %[1]s
	fi
fi
`, a.unit)
	prerm := fmt.Sprintf(`#!/bin/sh
set -e
case "$1" in
remove|upgrade|deconfigure)
	if [ -d /run/systemd/system ]; then
		systemctl stop %[1]s || true
	else
		start-stop-daemon --stop --quiet --oknodo --retry 5 --exec %[2]s
	fi
	;;
esac
if [ "$1" = remove ]; then
	systemctl disable %[1]s || true
fi
`, a.unit, a.binary)
	control := fmt.Sprintf(`Package: %s
Version: %s
Architecture: amd64
Maintainer: %s
Installed-Size: %d
Section: net
Priority: optional
Homepage: https://%s.com
Description: %s
 Remote access and support software.
`, a.pkg, a.version, a.maintainer, (len(bin)+1023)/1024, a.pkg, a.description)
	files := []struct {
		path string
		mode os.FileMode
		data []byte
	}{
		{"DEBIAN/control", 0o644, []byte(control)},
		{"DEBIAN/conffiles", 0o644, []byte(a.conffile + "\n")},
		{"DEBIAN/postinst", 0o755, []byte(postinst)},
		{"DEBIAN/prerm", 0o755, []byte(prerm)},
		{strings.TrimPrefix(a.binary, "/"), 0o755, bin},
		{strings.TrimPrefix(a.unitFile(), "/"), 0o644, []byte(a.unitText())},
		{strings.TrimPrefix(a.conffile, "/"), 0o644, []byte(a.conf)},
	}
	for _, f := range files {
		p := filepath.Join(tmp, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil { // umask-proof
			return err
		}
	}
	if err := run(ctx, nil, "dpkg-deb", "--root-owner-group", "--build", tmp, dst+".tmp"); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}

// buildLayer installs a variant's agents over the rootfs with the real
// tools (dpkg -i, dpkg -r, systemctl enable) and keeps the overlay's upper
// directory as a reusable lower layer.
func buildLayer(ctx context.Context, rootfs, dst string, v variant, a *artefacts) (err error) {
	tmp := dst + ".tmp"
	if err := removeBuildDir(tmp); err != nil {
		return err
	}
	upper, work, root := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work"), filepath.Join(tmp, "root")
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	defer func() {
		if rerr := removeBuildDir(tmp); err == nil {
			err = rerr
		}
	}()
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", rootfs, upper, work)
	if err := syscall.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", root, err)
	}
	mounted := true
	defer func() {
		if mounted {
			_ = unmountAll(root)
		}
	}()

	install := debianAgents
	if v.rpm {
		install = rpmAgents
	}
	if err := install(ctx, root, v, a); err != nil {
		return err
	}
	if err := unmountAll(root); err != nil {
		return err
	}
	mounted = false
	return os.Rename(upper, dst)
}

// debianAgents installs a variant's agents the Debian way: dpkg -i of their
// packages, dpkg -r of those to leave in state rc, tarball agents' files
// and enabled units.
func debianAgents(ctx context.Context, root string, v variant, a *artefacts) error {
	var debs []string
	for _, ag := range append(append([]agent{}, v.installed...), v.removed...) {
		if ag.pkg == "" {
			continue
		}
		b, err := os.ReadFile(a.debs[ag.pkg])
		if err != nil {
			return err
		}
		name := filepath.Base(a.debs[ag.pkg])
		if err := os.WriteFile(filepath.Join(root, "tmp", name), b, 0o644); err != nil {
			return err
		}
		debs = append(debs, "/tmp/"+name)
	}
	if len(debs) > 0 {
		if err := inHost(ctx, root, append([]string{"dpkg", "-i"}, debs...)...); err != nil {
			return err
		}
		for _, d := range debs {
			if err := os.Remove(filepath.Join(root, d)); err != nil {
				return err
			}
		}
	}
	for _, ag := range v.removed {
		if err := inHost(ctx, root, "dpkg", "-r", ag.pkg); err != nil {
			return err
		}
	}
	bin, err := os.ReadFile(a.agentd)
	if err != nil {
		return err
	}
	for _, ag := range v.installed {
		if ag.pkg != "" {
			continue
		}
		// A tarball-installed RMM agent: files, a unit, enabled.
		if err := writeFile(filepath.Join(root, ag.binary), bin, 0o755, 0, 0); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(root, ag.unitFile()), []byte(ag.unitText()), 0o644, 0, 0); err != nil {
			return err
		}
		if err := chroot(ctx, root, nil, "systemctl", "enable", ag.unit); err != nil {
			return err
		}
	}
	if err := chroot(ctx, root, nil, "apt-cache", "gencaches"); err != nil {
		return err
	}
	return nil
}

// inHost runs a command in root the way it would run on a booted host:
// with its own /proc, in PID and mount namespaces of its own, so that
// maintainer scripts looking for processes (start-stop-daemon) see the
// host's, never the machine's.
func inHost(ctx context.Context, root string, args ...string) error {
	script := `set -e; root=$1; shift; mount -t proc proc "$root/proc"; exec chroot "$root" "$@"`
	return run(ctx, nil, "unshare", append([]string{"--pid", "--mount", "--fork", "--propagation", "private",
		"/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "HOME=/root",
		"/bin/sh", "-c", script, "sh", root}, args...)...)
}

// writeFile writes a file with exact mode and owner, creating parents
// (root-owned, 0755) as needed.
func writeFile(path string, data []byte, mode os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	return os.Lchown(path, uid, gid)
}
