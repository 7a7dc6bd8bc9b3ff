// Package samba runs the testenv's Active Directory domain controller: a
// throwaway Samba AD DC on 127.0.2.2, provisioned once into the cache and
// copied for every up and reset, planted with the same story as the
// OpenLDAP directory (staff, nested domain admins, service accounts, the
// outgoing provider's accounts).
package samba

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// The domain. The realm lives under the client's DNS domain, as AD
// domains usually do.
const (
	Realm   = "AD.MAIRIE-SAINT-EXEMPLE.TEST"
	DNSName = "ad.mairie-saint-exemple.test"
	NetBIOS = "MAIRIE"
	BaseDN  = "DC=ad,DC=mairie-saint-exemple,DC=test"
	dcName  = "DC1"
)

// templateVersion changes whenever the planted story changes, so a stale
// cached copy is never used.
const templateVersion = "v2"

// maxStaff caps the domain's staff: Samba spends several CPU minutes
// adding 10,000 accounts (password hashes, Kerberos keys, replication
// metadata), all under the testenv's lock. The 10,000-user directory is
// the OpenLDAP one (-ldap-users applies to it in full).
const maxStaff = 1000

// staff is the number of staff users planted for -ldap-users n.
func staff(n int) int { return min(max(n, 1), maxStaff) }

// Component runs samba.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "samba" }

type paths struct {
	dir      string // o.Dir
	run      string // the live copy of the provisioned domain
	conf     string
	pidFile  string
	logFile  string
	cert     string
	key      string
	secrets  string // password files handed to tests
	aliasTag string // present when Up added the loopback address
}

func pathsOf(o component.Options) paths {
	return paths{
		dir:      o.Dir,
		run:      filepath.Join(o.Dir, "dc"),
		conf:     filepath.Join(o.Dir, "dc", "etc", "smb.conf"),
		pidFile:  filepath.Join(o.Dir, "samba.pid"),
		logFile:  filepath.Join(o.Dir, "samba.log"),
		cert:     filepath.Join(o.Dir, "tls", "cert.pem"),
		key:      filepath.Join(o.Dir, "tls", "key.pem"),
		secrets:  filepath.Join(o.Dir, "secrets"),
		aliasTag: filepath.Join(o.Dir, "loopback-alias-added"),
	}
}

func (c Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	p := pathsOf(o)
	users := staff(o.LDAPUsers)
	if pid := proc.ReadPID(p.pidFile); proc.Alive(pid) && strings.Contains(proc.Cmdline(pid), "samba") {
		st, err := readStory(p.secrets)
		if err == nil && st.Users == users && currentStory(o, p, users) && probe(o.CA.CertFile, st)(ctx) == nil {
			fillEnv(env, o, p, st, pid)
			return nil
		}
		if err := proc.Stop(p.pidFile, "samba", 15*time.Second); err != nil {
			return err
		}
	}
	return c.start(ctx, o, env)
}

// currentStory says whether the running domain was copied from this
// version's template: a DC planted by an older testenv is restarted from
// the current one, never reused.
func currentStory(o component.Options, p paths, users int) bool {
	dir := filepath.Join(o.CacheDir, "samba", templateVersion+"-users-"+strconv.Itoa(users), "secrets")
	want, err := os.ReadFile(filepath.Join(dir, storyFile))
	if err != nil {
		return false
	}
	got, err := os.ReadFile(filepath.Join(p.secrets, storyFile))
	return err == nil && bytes.Equal(got, want)
}

// start copies the cached provisioned domain into place and runs it.
func (Component) start(ctx context.Context, o component.Options, env *testenv.Env) error {
	p := pathsOf(o)
	users := staff(o.LDAPUsers)
	if err := ensureLoopback(ctx, p); err != nil {
		return err
	}
	tmpl, err := ensureTemplate(ctx, o, users)
	if err != nil {
		return err
	}
	for _, d := range []string{p.run, p.secrets} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := run(ctx, "cp", "-a", filepath.Join(tmpl, "dc"), p.run); err != nil {
		return err
	}
	if err := run(ctx, "cp", "-a", filepath.Join(tmpl, "secrets"), p.secrets); err != nil {
		return err
	}
	st, err := readStory(p.secrets)
	if err != nil {
		return err
	}
	if err := o.CA.Issue(p.cert, p.key, dcName+"."+DNSName, []string{testenv.ADHost}, []string{dcName + "." + DNSName, DNSName}); err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	// Samba refuses a private key readable by anyone but its owner.
	if err := os.Chmod(p.key, 0o600); err != nil {
		return err
	}
	if err := writeConf(p.conf, p.run, p.cert, p.key, o.CA.CertFile); err != nil {
		return err
	}
	for _, d := range []string{"run", "log", "cache"} {
		if err := os.MkdirAll(filepath.Join(p.run, d), 0o755); err != nil {
			return err
		}
	}
	os.Remove(p.logFile)
	// -i keeps samba in the foreground (proc records the PID we started);
	// the single process model keeps the DC to one process on 2 cores.
	pid, err := proc.Start(p.pidFile, p.logFile, nil, "/usr/sbin/samba", "-i", "-M", "single", "-s", p.conf)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := proc.WaitReady(wctx, pid, p.logFile, probe(o.CA.CertFile, st)); err != nil {
		_ = proc.Stop(p.pidFile, "samba", 10*time.Second)
		return fmt.Errorf("samba: %w", err)
	}
	fillEnv(env, o, p, st, pid)
	return nil
}

func (Component) Down(ctx context.Context, o component.Options) error {
	p := pathsOf(o)
	if err := proc.Stop(p.pidFile, "samba", 15*time.Second); err != nil {
		return err
	}
	if _, err := os.Stat(p.aliasTag); err == nil {
		if err := run(ctx, "ip", "addr", "del", testenv.ADHost+"/32", "dev", "lo"); err != nil {
			return err
		}
		os.Remove(p.aliasTag)
	}
	return nil
}

// Reset stops the DC and starts a fresh copy of the provisioned domain:
// every password, membership and lock a test changed is back as planted.
func (c Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	p := pathsOf(o)
	if err := proc.Stop(p.pidFile, "samba", 15*time.Second); err != nil {
		return err
	}
	return c.start(ctx, o, env)
}

func fillEnv(env *testenv.Env, o component.Options, p paths, st *story, pid int) {
	ad := &testenv.ADEnv{
		URL:               "ldap://" + testenv.ADHost + ":389",
		URLS:              "ldaps://" + testenv.ADHost + ":636",
		Realm:             Realm,
		Domain:            NetBIOS,
		KDC:               testenv.ADHost + ":88",
		BaseDN:            BaseDN,
		AdminDN:           st.BindDN,
		AdminPasswordFile: filepath.Join(p.secrets, st.passwordFile(st.BindDN)),
		AdminGroupDN:      "CN=Domain Admins,CN=Users," + BaseDN,
		NestedAdminDN:     st.NestedAdminDN,
		ProviderDNs:       st.ProviderDNs,
		ServiceDNs:        st.ServiceDNs,
		EvidenceDNs:       st.EvidenceDNs,
		SoleGroupDN:       st.SoleGroupDN,
		Users:             st.Users,
		PID:               pid,
		SamLDB:            filepath.Join(p.run, "private", "sam.ldb"),
	}
	for _, dn := range st.AdminDNs {
		ad.Admins = append(ad.Admins, testenv.Account{Name: dn, PasswordFile: filepath.Join(p.secrets, st.passwordFile(dn))})
	}
	env.AD = ad
}

// probe is the readiness check: a real LDAPS bind as the bind account and
// a search that must find it.
func probe(caFile string, st *story) func(context.Context) error {
	return func(ctx context.Context) error {
		pool, err := caPool(caFile)
		if err != nil {
			return err
		}
		pw, err := os.ReadFile(filepath.Join(st.dir, st.passwordFile(st.BindDN)))
		if err != nil {
			return err
		}
		d := &net.Dialer{Timeout: 2 * time.Second}
		conn, err := ldap.DialURL("ldaps://"+testenv.ADHost+":636", ldap.DialWithDialer(d), ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetTimeout(5 * time.Second)
		if err := conn.Bind(st.BindDN, strings.TrimSpace(string(pw))); err != nil {
			return fmt.Errorf("bind %s: %w", st.BindDN, err)
		}
		res, err := conn.Search(ldap.NewSearchRequest(st.BindDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 5, false, "(objectClass=user)", []string{"sAMAccountName"}, nil))
		if err != nil {
			return fmt.Errorf("search %s: %w", st.BindDN, err)
		}
		if len(res.Entries) != 1 {
			return fmt.Errorf("search %s: %d entries", st.BindDN, len(res.Entries))
		}
		return nil
	}
}

func caPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", file)
	}
	return pool, nil
}

// ensureLoopback makes 127.0.2.2 an address of lo. Linux routes all of
// 127/8 to lo, but Samba only listens on addresses it finds on an
// interface.
func ensureLoopback(ctx context.Context, p paths) error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == testenv.ADHost {
			return nil
		}
	}
	if err := run(ctx, "ip", "addr", "add", testenv.ADHost+"/32", "dev", "lo"); err != nil {
		return fmt.Errorf("add %s to lo: %w", testenv.ADHost, err)
	}
	return os.WriteFile(p.aliasTag, nil, 0o644)
}

var confTemplate = template.Must(template.New("smb.conf").Parse(`# Written by testenv; the domain is a copy of a cached provision.
[global]
	netbios name = ` + dcName + `
	realm = ` + Realm + `
	workgroup = ` + NetBIOS + `
	server role = active directory domain controller
	# Directory and Kerberos only: no DNS (port 53 stays free), no
	# NetBIOS, no file service.
	server services = ldap, kdc
	interfaces = ` + testenv.ADHost + `
	bind interfaces only = yes
	private dir = {{.Run}}/private
	lock directory = {{.Run}}
	state directory = {{.Run}}/state
	cache directory = {{.Run}}/cache
	binddns dir = {{.Run}}/bind-dns
	pid directory = {{.Run}}/run
	ncalrpc dir = {{.Run}}/run/ncalrpc
	winbindd socket directory = {{.Run}}/run/winbindd
	ntp signd socket directory = {{.Run}}/run/ntp_signd
	log file = {{.Run}}/log/samba.log
	log level = 1
	tls enabled = yes
	tls keyfile = {{.Key}}
	tls certfile = {{.Cert}}
	tls cafile = {{.CA}}
	# Kept at AD's default on purpose (60 minutes): after a reset, LDAP
	# simple binds and NTLM still accept the previous password for that
	# long, Kerberos does not. The connector's verification relies on
	# Kerberos and reports the simple-bind grace; see docs/testenv/ad.md.
	old password allowed period = 60
`))

func writeConf(file, runDir, cert, key, ca string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	err = confTemplate.Execute(f, struct{ Run, Cert, Key, CA string }{runDir, cert, key, ca})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// run runs a command, returning its output in the error.
func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(out))
	}
	return nil
}

// tail keeps the last lines of a command's output, without any line that
// mentions a password (samba-tool prints the one it generates).
func tail(b []byte) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(strings.ToLower(l), "password:") {
			lines = append(lines, l)
		}
	}
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// ensureTemplate returns the cached provisioned and planted domain for a
// directory of users staff, building it on first use.
func ensureTemplate(ctx context.Context, o component.Options, users int) (string, error) {
	dir := filepath.Join(o.CacheDir, "samba", templateVersion+"-users-"+strconv.Itoa(users))
	if _, err := os.Stat(filepath.Join(dir, "secrets", storyFile)); err == nil {
		return dir, nil
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "samba: provisioning the domain into %s (once; later ups copy it)\n", dir)
	}
	build := dir + ".build"
	if err := os.RemoveAll(build); err != nil {
		return "", err
	}
	if err := os.MkdirAll(build, 0o700); err != nil {
		return "", err
	}
	if err := provision(ctx, build); err != nil {
		return "", err
	}
	if err := plant(ctx, build, users); err != nil {
		return "", err
	}
	// Planting skipped per-record fsyncs; flush once before the build
	// becomes the cache.
	syscall.Sync()
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(build, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// provision runs samba-tool into build/dc. The Administrator password it
// generates is replaced when planting, so nothing secret is on a command
// line.
func provision(ctx context.Context, build string) error {
	dc := filepath.Join(build, "dc")
	err := run(ctx, "samba-tool", "domain", "provision",
		"--targetdir="+dc,
		"--realm="+Realm, "--domain="+NetBIOS, "--host-name="+strings.ToLower(dcName),
		"--server-role=dc", "--dns-backend=NONE", "--host-ip="+testenv.ADHost,
		"--option=interfaces = "+testenv.ADHost, "--option=bind interfaces only = yes")
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return nil
}

var errNoStory = errors.New("samba: no planted story")
