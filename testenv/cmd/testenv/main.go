// Command testenv starts and stops a realistic client IT estate on loopback:
// an OpenLDAP directory, a Samba AD domain controller, a Dovecot mail server,
// a Vault server and a fleet of Debian hosts, each planted with what an
// outgoing IT provider typically leaves behind.
//
//	testenv up [-hosts N] [-ldap-users N] [-only a,b]
//	testenv down
//	testenv reset [-only a,b]
//	testenv status
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/ca"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/dovecot"
	"github.com/handoverhq/handover/testenv/internal/fleet"
	"github.com/handoverhq/handover/testenv/internal/nsd"
	"github.com/handoverhq/handover/testenv/internal/samba"
	"github.com/handoverhq/handover/testenv/internal/slapd"
	"github.com/handoverhq/handover/testenv/internal/vault"
)

func components() []component.Component {
	return []component.Component{slapd.Component{}, samba.Component{}, dovecot.Component{}, vault.Component{}, fleet.Component{}, fleet.MailHost{}, nsd.Component{}, fleet.Light{}}
}

// onDemand components start only when -only names them.
var onDemand = map[string]bool{"lightfleet": true}

func main() {
	closeInherited()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: testenv up|down|reset|status [flags]")
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("testenv "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", testenv.Dir(), "state directory")
	cache := fs.String("cache", testenv.DefaultCacheDir, "cache directory (rootfs, built binaries)")
	hosts := fs.Int("hosts", 5, "number of fleet hosts (1-200)")
	users := fs.Int("ldap-users", 50, "number of staff users in the directory (up to 10000)")
	only := fs.String("only", "", "comma-separated components (slapd,samba,dovecot,vault,fleet,mailhost,nsd; lightfleet only when named)")
	light := fs.Int("light-hosts", 100, "number of light (sshd-only) hosts of lightfleet (1-2000)")
	timeout := fs.Duration("timeout", 20*time.Minute, "overall deadline")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *hosts < 1 || *hosts > 200 {
		fmt.Fprintln(stderr, "testenv: -hosts must be 1..200")
		return 2
	}
	if *users < 1 || *users > 10000 {
		fmt.Fprintln(stderr, "testenv: -ldap-users must be 1..10000")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	selected, err := selectComponents(*only, verb)
	if err != nil {
		fmt.Fprintln(stderr, "testenv:", err)
		return 2
	}
	repo, _ := os.Getwd()
	base := component.Options{StateDir: *dir, CacheDir: *cache, RepoDir: repo, Hosts: *hosts, LDAPUsers: *users, LightHosts: *light, Log: stderr}

	if verb != "status" {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "testenv:", err)
			return 1
		}
		unlock, err := lock(*dir)
		if err != nil {
			fmt.Fprintln(stderr, "testenv:", err)
			return 1
		}
		defer unlock()
	}
	switch verb {
	case "up", "reset":
		err = upOrReset(ctx, verb, base, selected, stdout)
	case "down":
		err = down(ctx, base, selected)
	case "status":
		err = status(stdout, *dir)
	default:
		fmt.Fprintf(stderr, "testenv: unknown command %q\n", verb)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "testenv:", err)
		return 1
	}
	return 0
}

func selectComponents(only, verb string) ([]component.Component, error) {
	all := components()
	if only == "" {
		if verb == "down" {
			return all, nil
		}
		var out []component.Component
		for _, c := range all {
			if !onDemand[c.Name()] {
				out = append(out, c)
			}
		}
		return out, nil
	}
	var out []component.Component
	for _, name := range strings.Split(only, ",") {
		found := false
		for _, c := range all {
			if c.Name() == strings.TrimSpace(name) {
				out = append(out, c)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown component %q", name)
		}
	}
	return out, nil
}

func upOrReset(ctx context.Context, verb string, base component.Options, cs []component.Component, stdout io.Writer) error {
	if err := os.MkdirAll(base.StateDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(base.CacheDir, 0o755); err != nil {
		return err
	}
	authority, err := ca.Open(filepath.Join(base.StateDir, "ca"))
	if err != nil {
		return err
	}
	base.CA = authority
	env, err := testenv.Load()
	if err != nil || env.Dir != base.StateDir {
		env = &testenv.Env{}
	}
	env.Dir = base.StateDir
	env.CACert = authority.CertFile
	env.ClientCA = authority.CertFile
	if env.Operator, err = operator(filepath.Join(base.StateDir, "operator")); err != nil {
		return err
	}
	start := time.Now()
	var errs []error
	for _, c := range cs {
		o := base
		o.Dir = filepath.Join(base.StateDir, c.Name())
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return err
		}
		t := time.Now()
		if verb == "up" {
			err = c.Up(ctx, o, env)
		} else {
			err = c.Reset(ctx, o, env)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name(), err))
			continue
		}
		fmt.Fprintf(base.Log, "testenv: %s %s in %s\n", c.Name(), verb, time.Since(t).Round(time.Millisecond))
		if err := env.Save(); err != nil {
			return err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "testenv %s in %s; env: %s\n", verb, time.Since(start).Round(time.Millisecond), testenv.EnvFile(base.StateDir))
	return nil
}

func down(ctx context.Context, base component.Options, cs []component.Component) error {
	var errs []error
	// Stop in reverse start order.
	for i := len(cs) - 1; i >= 0; i-- {
		o := base
		o.Dir = filepath.Join(base.StateDir, cs[i].Name())
		if err := cs[i].Down(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cs[i].Name(), err))
		}
	}
	if len(cs) == len(components()) {
		os.Remove(testenv.EnvFile(base.StateDir))
		return errors.Join(errs...)
	}
	// Forget the stopped components' part of env.json.
	if env, err := testenv.Load(); err == nil && env.Dir == base.StateDir {
		for _, c := range cs {
			switch c.Name() {
			case "slapd":
				env.LDAP = nil
			case "samba":
				env.AD = nil
			case "dovecot":
				env.Mail = nil
			case "vault":
				env.Vault = nil
			case "fleet":
				env.Fleet = nil
			case "mailhost":
				env.MailHost = nil
			case "nsd":
				env.DNS = nil
			case "lightfleet":
				env.LightFleet = nil
			}
		}
		if err := env.Save(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lock serialises testenv commands on one state directory: each reads and
// rewrites env.json.
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func status(stdout io.Writer, dir string) error {
	b, err := os.ReadFile(testenv.EnvFile(dir))
	if err != nil {
		return fmt.Errorf("testenv is not up: %w", err)
	}
	_, err = stdout.Write(b)
	return err
}

// operator makes the client admin's report-signing key and the embedded
// secret store's passphrase once; later runs keep them, so reports and
// stored secrets of earlier demo runs stay readable.
func operator(dir string) (*testenv.OperatorEnv, error) {
	o := &testenv.OperatorEnv{
		SigningKey:     filepath.Join(dir, "signing_ed25519"),
		SigningPub:     filepath.Join(dir, "signing_ed25519.pub"),
		Identity:       "dsi@" + testenv.ClientDomain,
		PassphraseFile: filepath.Join(dir, "store-passphrase"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.SigningKey); errors.Is(err, os.ErrNotExist) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		block, err := ssh.MarshalPrivateKey(priv, o.Identity)
		if err != nil {
			return nil, err
		}
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(o.SigningKey, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + o.Identity + "\n"
		if err := os.WriteFile(o.SigningPub, []byte(line), 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(o.PassphraseFile); errors.Is(err, os.ErrNotExist) {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if err := os.WriteFile(o.PassphraseFile, []byte(base64.RawURLEncoding.EncodeToString(b[:])+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// closeInherited marks the descriptors this process inherited beyond
// stdin, stdout and stderr close-on-exec: the servers it starts (slapd,
// the fleet's hosts) live on after it, and must not keep open what its
// caller held, such as a flock(1) wrapper's lock on a component's test
// lock file, which would then never be released.
func closeInherited() {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, f := range fds {
		if fd, err := strconv.Atoi(f.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
