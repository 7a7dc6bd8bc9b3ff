package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/testenv"
)

// makePackages runs `make package` and returns the .deb and the .rpm.
func makePackages(t *testing.T) (deb, rpm string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-C", root, "package", "PKG_VERSION=0.0.0+test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(root, "bin", "handover_0.0.0+test_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(root, "bin", "handover-0.0.0+test-*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make package made %v and %v, want one .deb and one .rpm", debs, rpms)
	}
	return debs[0], rpms[0]
}

// TestPackages builds the .deb and the .rpm, installs the .deb on this
// Debian machine and the .rpm on the test estate's RHEL-family host (over
// SSH), runs what an admin runs first (version, lint of the shipped
// example, the man page, completion), and removes both.
func TestPackages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("installing the .deb needs root (as CI runs)")
	}
	if _, err := os.Stat("/usr/bin/handover"); err == nil {
		if out, _ := exec.Command("dpkg", "-S", "/usr/bin/handover").CombinedOutput(); !bytes.HasPrefix(out, []byte("handover:")) {
			t.Fatalf("/usr/bin/handover exists and is not from the handover package; not overwriting it")
		}
	}
	deb, rpm := makePackages(t)

	t.Run("deb", func(t *testing.T) {
		run := func(name string, args ...string) string {
			t.Helper()
			out, err := exec.Command(name, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		run("dpkg", "-i", deb)
		t.Cleanup(func() { exec.Command("dpkg", "--purge", "handover").Run() })
		if got := run("/usr/bin/handover", "version"); !strings.HasPrefix(got, "handover ") {
			t.Errorf("handover version: %q", got)
		}
		files := run("dpkg", "-L", "handover")
		for _, f := range []string{
			"/usr/share/man/man8/handover.8.gz",
			"/usr/share/bash-completion/completions/handover",
			"/usr/share/zsh/vendor-completions/_handover",
			"/usr/share/fish/vendor_completions.d/handover.fish",
			"/usr/share/doc/handover/examples/example-pme.yaml",
		} {
			if !strings.Contains(files, f+"\n") {
				t.Errorf("the package does not install %s", f)
			}
		}
		if out := run("man", "-l", "-P", "cat", "/usr/share/man/man8/handover.8.gz"); !strings.Contains(out, "detailed-exitcode") {
			t.Errorf("the man page does not describe plan's options:\n%s", out)
		}
		comp := run("bash", "-c", `source /usr/share/bash-completion/completions/handover; COMP_WORDS=(handover ch); COMP_CWORD=1; _handover; echo "${COMPREPLY[*]}"`)
		if !strings.Contains(comp, "check") {
			t.Errorf("bash completion of \"handover ch\": %q", comp)
		}
		// The shipped example is whole: its only problems are those of
		// this machine (no Vault token, no agent), none of its shape.
		cmd := exec.Command("/usr/bin/handover", "lint", "/usr/share/doc/handover/examples/example-pme.yaml")
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, _ := cmd.CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if !strings.Contains(l, "is not set") && !strings.Contains(l, "problem(s)") && !strings.Contains(l, "SSH_AUTH_SOCK") {
				t.Errorf("lint of the installed example: %s", l)
			}
		}
		run("dpkg", "--purge", "handover")
		if _, err := os.Stat("/usr/bin/handover"); err == nil {
			t.Error("/usr/bin/handover is still there after dpkg --purge")
		}
	})

	t.Run("rpm", func(t *testing.T) {
		env := testenv.Require(t)
		if env.Fleet == nil || env.Fleet.RPMHost == nil {
			t.Fatal("the test estate has no RHEL-family host: run `make testenv-up`")
		}
		testenv.LockComponent(t, "fleet", false)
		h := env.Fleet.RPMHost
		known, err := knownhosts.New(env.Fleet.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := readKey(env.Fleet.OperatorKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ssh.Dial("tcp", h.Addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: known, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		defer c.Close()
		remote := func(cmd string, stdin []byte) string {
			t.Helper()
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Two buffers: the session copies stdout and stderr from two
			// goroutines.
			var out, errb bytes.Buffer
			s.Stdout, s.Stderr = &out, &errb
			if stdin != nil {
				s.Stdin = bytes.NewReader(stdin)
			}
			if err := s.Run(cmd); err != nil {
				t.Fatalf("%s: %s: %v\n%s%s", h.Name, cmd, err, out.String(), errb.String())
			}
			t.Logf("%s: %s: %q", h.Name, cmd, out.String())
			return out.String()
		}
		b, err := os.ReadFile(rpm)
		if err != nil {
			t.Fatal(err)
		}
		remote("umask 077; cat > /root/handover-test.rpm", b)
		remote("rpm -i --nodeps /root/handover-test.rpm && rm /root/handover-test.rpm", nil)
		t.Cleanup(func() {
			if s, err := c.NewSession(); err == nil {
				s.Run("rpm -e handover; rm -f /root/handover-test.rpm")
				s.Close()
			}
		})
		if got := remote("/usr/bin/handover version", nil); !strings.HasPrefix(got, "handover ") {
			t.Errorf("%s: handover version: %q", h.Name, got)
		}
		if got := remote("rpm -ql handover", nil); !strings.Contains(got, "/usr/share/man/man8/handover.8.gz") {
			t.Errorf("%s: rpm -ql handover:\n%s", h.Name, got)
		}
		remote("rpm -e handover && ! test -e /usr/bin/handover", nil)
	})
}

// readKey reads an OpenSSH private key file.
func readKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(b)
}
