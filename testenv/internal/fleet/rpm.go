package fleet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The fleet's RHEL-family host is made from the same Debian rootfs: what
// differs on such hosts for a tool that manages them over SSH is the
// package manager (rpm, dnf), the absence of dpkg, the admin group
// (wheel), cron's spool and os-release. Debian's own builds of rpm and
// dnf are the real tools; the agents are real rpm packages built with
// rpmbuild, installed and removed by rpm's database and scriptlets.

// rpmTools are the Debian packages that give the host rpm and dnf. They
// come from the rootfs's own apt source, once, when the layer is built.
const rpmTools = "rpm dnf"

// noDpkg are the Debian tools a RHEL-family host does not have.
var noDpkg = []string{
	"/usr/bin/dpkg", "/usr/bin/dpkg-query", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-divert",
	"/usr/bin/dpkg-split", "/usr/bin/dpkg-trigger", "/usr/bin/dpkg-statoverride",
	"/usr/bin/dpkg-maintscript-helper", "/usr/bin/dpkg-realpath",
	"/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/apt-cache", "/usr/bin/apt-config", "/usr/bin/apt-mark",
}

const rockyOSRelease = `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
HOME_URL="https://rockylinux.org/"
`

// rpmAgents turns the layer into a RHEL-family host and installs the
// variant's agents from rpm packages.
func rpmAgents(ctx context.Context, root string, v variant, a *artefacts) error {
	if len(v.removed) > 0 {
		return fmt.Errorf("rpm variant: packages left in state rc are a dpkg notion")
	}
	// apt needs the machine's resolver for the rootfs's mirror; the layer
	// keeps the rootfs's own resolv.conf.
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(root, "etc/resolv.conf"), resolv, 0o644, 0, 0); err != nil {
		return err
	}
	// The machine's proxy settings, as debootstrap had them; a mirror's
	// snapshot date is not a reason to fail.
	args := []string{"/usr/bin/env"}
	for _, k := range []string{"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			args = append(args, k+"="+v)
		}
	}
	install := "apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Check-Date=false update -qq && " +
		"apt-get install -y -qq --no-install-recommends " + rpmTools + " >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*"
	if err := inHost(ctx, root, append(args, "/bin/sh", "-c", install)...); err != nil {
		return fmt.Errorf("install %s: %w", rpmTools, err)
	}
	bin, err := os.ReadFile(a.agentd)
	if err != nil {
		return err
	}
	for _, ag := range v.installed {
		if ag.pkg == "" {
			return fmt.Errorf("rpm variant: %s has no package", ag.name)
		}
		if err := buildRPM(ctx, root, ag, bin); err != nil {
			return fmt.Errorf("rpm of %s: %w", ag.name, err)
		}
	}
	for _, f := range noDpkg {
		if err := os.Remove(filepath.Join(root, f)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := inHost(ctx, root, "groupadd", "-r", "wheel"); err != nil {
		return err
	}
	sudoers := filepath.Join(root, "etc/sudoers")
	text, err := os.ReadFile(sudoers)
	if err != nil {
		return err
	}
	text = append(text, "\n## Allows people in group wheel to run all commands\n%wheel\tALL=(ALL)\tALL\n"...)
	files := []struct {
		path string
		mode os.FileMode
		data []byte
	}{
		{"etc/sudoers", 0o440, text},
		{"etc/os-release", 0o644, []byte(rockyOSRelease)},
		{"etc/redhat-release", 0o644, []byte("Rocky Linux release 9.4 (Blue Onyx)\n")},
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		// os-release is a symlink into /usr/lib on Debian: replace it.
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := writeFile(p, f.data, f.mode, 0, 0); err != nil {
			return err
		}
	}
	// The rootfs's resolv.conf shows through again.
	return os.Remove(filepath.Join(root, "etc/resolv.conf"))
}

// buildRPM builds an agent's rpm like its vendor's (the daemon, its unit
// in /usr/lib/systemd/system, its configuration), with the scriptlets
// RHEL packages have: the unit enabled on install, disabled on erase;
// then installs it with rpm.
func buildRPM(ctx context.Context, root string, ag agent, bin []byte) error {
	top := "/tmp/rpmbuild"
	src := filepath.Join(root, top, "SOURCES")
	unitFile := path.Join("/usr/lib/systemd/system", ag.unit)
	for _, f := range []struct {
		name string
		mode os.FileMode
		data []byte
	}{
		{"daemon", 0o755, bin},
		{"unit", 0o644, []byte(ag.unitText())},
		{"conf", 0o644, []byte(ag.conf)},
	} {
		if err := writeFile(filepath.Join(src, f.name), f.data, f.mode, 0, 0); err != nil {
			return err
		}
	}
	var spec bytes.Buffer
	fmt.Fprintf(&spec, `%%global debug_package %%{nil}
%%global __os_install_post %%{nil}
Name: %s
Version: %s
Release: 1.el9
Summary: %s
License: Proprietary
Vendor: %s
URL: https://%s.com
AutoReqProv: no

%%description
Remote access and support software.

%%install
install -D -m 0755 %%{_sourcedir}/daemon %%{buildroot}%s
install -D -m 0644 %%{_sourcedir}/unit %%{buildroot}%s
install -D -m 0644 %%{_sourcedir}/conf %%{buildroot}%s

%%post
systemctl enable %s >/dev/null 2>&1 || :

%%preun
if [ "$1" = 0 ]; then
	systemctl disable %s >/dev/null 2>&1 || :
fi

%%files
%s
%s
%%config(noreplace) %s
`, ag.pkg, ag.version, ag.description, strings.SplitN(ag.maintainer, " <", 2)[0], ag.pkg,
		ag.binary, unitFile, ag.conffile, ag.unit, ag.unit, path.Dir(ag.binary), unitFile, ag.conffile)
	if err := writeFile(filepath.Join(root, top, ag.pkg+".spec"), spec.Bytes(), 0o644, 0, 0); err != nil {
		return err
	}
	build := fmt.Sprintf("rpmbuild -bb --quiet --define '_topdir %s' %s/%s.spec >/dev/null && rpm -i --nodeps %s/RPMS/*/%s-*.rpm && rm -rf %s",
		top, top, ag.pkg, top, ag.pkg, top)
	return inHost(ctx, root, "/bin/sh", "-c", build)
}
