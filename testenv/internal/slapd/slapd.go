// Package slapd runs the testenv's directory: an OpenLDAP slapd for the
// fictional client "Mairie de Saint-Exemple", with its own cn=config built
// offline, the ppolicy and dynlist overlays, and the accounts an outgoing IT
// provider leaves behind (a bind account with manage rights, admins nested
// in groups, a provider account that looks like staff).
//
// Everything lives in the component directory:
//
//	slapd.d/        cn=config, made by slapadd -n0 from config.ldif
//	data/           the mdb database, made by slapadd from data.ldif
//	passwords/<uid> one 0600 file per account's planted password
//	testenv-root.pw the password of RootDN, the testenv's own identity
//	planted.json    what was planted (the number of staff users)
package slapd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// Component runs slapd.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "slapd" }

// layout names the files of the component directory.
type layout struct{ dir string }

func (l layout) configDir() string    { return filepath.Join(l.dir, "slapd.d") }
func (l layout) dataDir() string      { return filepath.Join(l.dir, "data") }
func (l layout) configLDIF() string   { return filepath.Join(l.dir, "config.ldif") }
func (l layout) dataLDIF() string     { return filepath.Join(l.dir, "data.ldif") }
func (l layout) planted() string      { return filepath.Join(l.dir, "planted.json") }
func (l layout) cert() string         { return filepath.Join(l.dir, "server.pem") }
func (l layout) key() string          { return filepath.Join(l.dir, "server.key") }
func (l layout) pidFile() string      { return filepath.Join(l.dir, "slapd.pid") }
func (l layout) logFile() string      { return filepath.Join(l.dir, "slapd.log") }
func (l layout) rootPassword() string { return filepath.Join(l.dir, "testenv-root.pw") }
func (l layout) passwordDir() string  { return filepath.Join(l.dir, "passwords") }
func (l layout) password(uid string) string {
	return filepath.Join(l.passwordDir(), uid)
}

// planted records what the data LDIF holds, so Reset restores the same size
// whatever -ldap-users it is given, and Up notices a size change.
type planted struct {
	Users int `json:"users"`
	// Estate digests what the data LDIF plants (estateDigest): a Reset
	// by a build whose estate differs writes the LDIF again.
	Estate string `json:"estate,omitempty"`
}

// estateDigest digests the planted entries (passwords aside, which the
// password files keep).
func estateDigest(e *estate) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%+v", *e))
	return hex.EncodeToString(sum[:8])
}

const (
	ldapURL  = "ldap://" + testenv.LDAPAddr
	ldapsURL = "ldaps://" + testenv.LDAPSAddr
	// pidMatch is what the recorded PID's command line must contain for
	// Down to stop it.
	pidMatch = "slapd"
)

// Up starts slapd with the planted directory, or leaves a healthy one of
// the same size alone.
func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	l := layout{o.Dir}
	if err := prepare(l, o); err != nil {
		return err
	}
	e := planEstate(o.LDAPUsers)
	if err := ensurePasswords(l, e); err != nil {
		return err
	}
	if p, err := readPlanted(l); err == nil && p.Users == o.LDAPUsers {
		if pid := proc.ReadPID(l.pidFile()); proc.Alive(pid) && probe(ctx, l, o.CA.CertFile) == nil {
			fill(env, l, e, pid)
			return nil
		}
	}
	if err := stop(l); err != nil {
		return err
	}
	if err := writeLDIF(l, o, e); err != nil {
		return err
	}
	return buildAndStart(ctx, l, o, e, env)
}

// Reset stops slapd, rebuilds cn=config and the database from the planted
// LDIF and starts it again: every change a test made is gone.
func (Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	l := layout{o.Dir}
	if err := prepare(l, o); err != nil {
		return err
	}
	users := o.LDAPUsers
	p, err := readPlanted(l)
	if err == nil {
		users = p.Users
	}
	e := planEstate(users)
	if err := ensurePasswords(l, e); err != nil {
		return err
	}
	if err := stop(l); err != nil {
		return err
	}
	// The data LDIF is the planted state: reuse it as is. cn=config is
	// written again (it is cheap) so a restore also undoes config changes.
	if _, err := os.Stat(l.dataLDIF()); err != nil || p.Estate != estateDigest(e) {
		if err := writeLDIF(l, o, e); err != nil {
			return err
		}
	} else if err := writeConfigLDIF(l, o); err != nil {
		return err
	}
	return buildAndStart(ctx, l, o, e, env)
}

// Down stops the slapd this component started, by its recorded PID.
func (Component) Down(ctx context.Context, o component.Options) error {
	return stop(layout{o.Dir})
}

func stop(l layout) error {
	if err := proc.Stop(l.pidFile(), pidMatch, 10*time.Second); err != nil {
		return fmt.Errorf("stop slapd: %w", err)
	}
	return nil
}

// prepare makes the directories and the server certificate.
func prepare(l layout, o component.Options) error {
	if err := os.MkdirAll(l.passwordDir(), 0o700); err != nil {
		return err
	}
	if err := o.CA.Issue(l.cert(), l.key(), "slapd "+testenv.ClientDomain, []string{"127.0.0.1"}, []string{"localhost"}); err != nil {
		return fmt.Errorf("slapd certificate: %w", err)
	}
	return nil
}

// ensurePasswords gives every account, and the testenv root, a password
// file, keeping the ones already there so credentials survive down/up.
func ensurePasswords(l layout, e *estate) error {
	if err := ensureSecret(l.rootPassword()); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, a := range e.accounts() {
		keep[a.UID] = true
		if err := ensureSecret(l.password(a.UID)); err != nil {
			return err
		}
	}
	// A smaller directory than last time: drop the files of users that
	// are gone, so the password directory matches the directory.
	files, err := os.ReadDir(l.passwordDir())
	if err != nil {
		return err
	}
	for _, f := range files {
		if !keep[f.Name()] {
			if err := os.Remove(filepath.Join(l.passwordDir(), f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func ensureSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	// rand.Text: 26 base32 characters, comfortably above pwdMinLength.
	return writeSecret(path, rand.Text())
}

// writeSecret writes value with no trailing newline: `ldapsearch -y` sends
// a password file's bytes as they are.
func writeSecret(path, value string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(value), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

func readPlanted(l layout) (planted, error) {
	var p planted
	b, err := os.ReadFile(l.planted())
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(b, &p)
}

// writeLDIF generates config.ldif and data.ldif (both 0600: they hold
// password hashes) and records the planted size.
func writeLDIF(l layout, o component.Options, e *estate) error {
	if err := writeConfigLDIF(l, o); err != nil {
		return err
	}
	hashes := make(map[string]string, len(e.People)+8)
	for _, a := range e.accounts() {
		pw, err := readSecret(l.password(a.UID))
		if err != nil {
			return err
		}
		if hashes[a.UID], err = ssha(pw); err != nil {
			return err
		}
	}
	if err := writeFile(l.dataLDIF(), func(f *os.File) error { return writeData(f, e, hashes) }); err != nil {
		return fmt.Errorf("data LDIF: %w", err)
	}
	b, err := json.Marshal(planted{Users: e.Staff, Estate: estateDigest(e)})
	if err != nil {
		return err
	}
	return os.WriteFile(l.planted(), b, 0o644)
}

func writeConfigLDIF(l layout, o component.Options) error {
	rootPW, err := readSecret(l.rootPassword())
	if err != nil {
		return err
	}
	rootHash, err := ssha(rootPW)
	if err != nil {
		return err
	}
	paths := configPaths{DataDir: l.dataDir(), CACert: o.CA.CertFile, Cert: l.cert(), Key: l.key()}
	if err := writeFile(l.configLDIF(), func(f *os.File) error { return writeConfig(f, paths, rootHash) }); err != nil {
		return fmt.Errorf("config LDIF: %w", err)
	}
	return nil
}

func writeFile(path string, write func(*os.File) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// buildAndStart loads cn=config and the data offline, then starts slapd in
// the foreground (-d 0) under proc and waits for a real bind and search.
func buildAndStart(ctx context.Context, l layout, o component.Options, e *estate, env *testenv.Env) error {
	for _, d := range []string{l.configDir(), l.dataDir()} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := run(ctx, "/usr/sbin/slapadd", "-n0", "-F", l.configDir(), "-l", l.configLDIF()); err != nil {
		return err
	}
	// -q skips consistency checks slapadd does not need on generated data:
	// 10,000 users load in seconds.
	if err := run(ctx, "/usr/sbin/slapadd", "-q", "-F", l.configDir(), "-b", BaseDN, "-l", l.dataLDIF()); err != nil {
		return err
	}
	// Start a fresh log per start so a failure shows this start's lines.
	if err := os.Remove(l.logFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	pid, err := proc.Start(l.pidFile(), l.logFile(), nil,
		"/usr/sbin/slapd", "-F", l.configDir(), "-h", ldapURL+"/ "+ldapsURL+"/", "-d", "0")
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := proc.WaitReady(wctx, pid, l.logFile(), func(ctx context.Context) error {
		return probe(ctx, l, o.CA.CertFile)
	}); err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	fill(env, l, e, pid)
	return nil
}

func run(ctx context.Context, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

// probe binds as the testenv root over StartTLS and over LDAPS and reads
// the suffix entry: the directory answers, with the data loaded.
func probe(ctx context.Context, l layout, caFile string) error {
	pw, err := readSecret(l.rootPassword())
	if err != nil {
		return err
	}
	for _, url := range []string{ldapURL, ldapsURL} {
		conn, err := Dial(ctx, url, caFile)
		if err != nil {
			return err
		}
		err = func() error {
			defer conn.Close()
			if err := conn.Bind(RootDN, pw); err != nil {
				return fmt.Errorf("bind %s: %w", RootDN, err)
			}
			_, err := conn.Search(ldap.NewSearchRequest(BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
				1, 5, false, "(objectClass=*)", []string{"dc"}, nil))
			if err != nil {
				return fmt.Errorf("search %s: %w", BaseDN, err)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// Dial connects to url (ldap:// then StartTLS, or ldaps://) verifying the
// server against the testenv CA, with ctx's deadline (or 10 s) on every
// request.
func Dial(ctx context.Context, url, caFile string) (*ldap.Conn, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return nil, ctx.Err()
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: timeout}), ldap.DialWithTLSConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	conn.SetTimeout(timeout)
	if strings.HasPrefix(url, "ldap://") {
		if err := conn.StartTLS(cfg); err != nil {
			conn.Close()
			return nil, fmt.Errorf("starttls %s: %w", url, err)
		}
	}
	return conn, nil
}

// fill writes the directory's part of env.
func fill(env *testenv.Env, l layout, e *estate, pid int) {
	admins := make([]testenv.Account, 0, len(e.AdminDNs))
	for _, dn := range e.AdminDNs {
		admins = append(admins, testenv.Account{Name: dn, PasswordFile: l.password(e.uidOf(dn))})
	}
	svcs := make([]string, 0, len(e.Services))
	for _, s := range e.Services {
		svcs = append(svcs, s.DN)
	}
	env.LDAP = &testenv.LDAPEnv{
		URL:                  ldapURL,
		URLS:                 ldapsURL,
		BaseDN:               BaseDN,
		AdminDN:              BindDN,
		AdminPasswordFile:    l.password(e.uidOf(BindDN)),
		AdminGroupDN:         AdminGroupDN,
		Users:                len(e.People),
		ProviderDNs:          e.ProviderDNs,
		Admins:               admins,
		PID:                  pid,
		PolicyDN:             PolicyDN,
		NestedGroupDN:        NestedGroupDN,
		NestedAdminDN:        e.NestedAdmin,
		DirectAdminDN:        e.DirectAdmin,
		LookalikeDN:          e.Lookalike,
		EvidenceDNs:          e.EvidenceDNs,
		SoleGroupDN:          e.SoleGroupDN,
		ServiceDNs:           svcs,
		PasswordDir:          l.passwordDir(),
		ObserverDN:           RootDN,
		ObserverPasswordFile: l.rootPassword(),
	}
}
