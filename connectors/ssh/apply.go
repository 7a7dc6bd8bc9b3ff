package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// remoteFileState is a file as read before an edit.
type remoteFileState struct {
	Absent   bool
	Sum      string
	Mode     string
	UID, GID int
	Data     []byte
}

func (t *target) readFile(ctx context.Context, r *runner, path string) (remoteFileState, error) {
	out, err := r.Run(ctx, readFileScript, []string{path}, []byte{})
	if err != nil {
		return remoteFileState{}, fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.SplitN(string(out), "\n", 4)
	if strings.TrimSpace(lines[0]) == "absent" {
		return remoteFileState{Absent: true}, nil
	}
	if len(lines) < 3 {
		return remoteFileState{}, fmt.Errorf("read %s: short answer", path)
	}
	meta := strings.Fields(lines[1])
	if len(meta) != 3 {
		return remoteFileState{}, fmt.Errorf("read %s: bad metadata %q", path, lines[1])
	}
	uid, _ := strconv.Atoi(meta[1])
	gid, _ := strconv.Atoi(meta[2])
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[2]))
	if err != nil {
		return remoteFileState{}, fmt.Errorf("read %s: %w", path, err)
	}
	return remoteFileState{Sum: strings.TrimSpace(lines[0]), Mode: meta[0], UID: uid, GID: gid, Data: data}, nil
}

// writeFile replaces path with data if it still is what was read.
func (t *target) writeFile(ctx context.Context, r *runner, path string, was remoteFileState, data []byte, check string, mkdir bool) error {
	want, op := was.Sum, "write"
	if was.Absent {
		want = "absent"
	}
	if data == nil {
		op = "delete"
		data = []byte{}
	}
	mk := "no"
	if mkdir {
		mk = "yes"
	}
	_, err := r.Run(ctx, writeFileScript, []string{path, want, was.Mode, strconv.Itoa(was.UID), strconv.Itoa(was.GID), check, op, mk}, data)
	if err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

func (t *target) runnerForSystem(ctx context.Context, system string) (*runner, hostSpec, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, hostSpec{}, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	r, err := t.runnerFor(ctx, h)
	return r, h, err
}

// Apply makes a change that is not a credential rotation.
func (t *target) Apply(ctx context.Context, ch plan.Change, _ connector.SecretReader) (connector.Outcome, error) {
	r, _, err := t.runnerForSystem(ctx, ch.System)
	if err != nil {
		return connector.Outcome{}, err
	}
	p := ch.Params
	switch ch.Action {
	case plan.RemoveKey:
		return t.removeKey(ctx, r, p["file"], p["fingerprint"])
	case plan.LockAccount:
		if !loginName.MatchString(p["user"]) {
			return connector.Outcome{}, fmt.Errorf("lock: %q is not a login name", p["user"])
		}
		if _, err := r.Run(ctx, lockScript, []string{p["user"]}, []byte{}); err != nil {
			return connector.Outcome{}, fmt.Errorf("lock %s: %w", p["user"], err)
		}
		return connector.Outcome{Detail: "password locked (usermod -L) and account expired (usermod -e 1)"}, nil
	case plan.RemoveGrant:
		return t.removeLine(ctx, r, p["file"], p["text"], "sudoers", strings.HasPrefix(p["file"], "/etc/sudoers.d/"), false)
	case plan.RemoveCron:
		deletable := strings.HasPrefix(p["file"], "/etc/cron.d/") || strings.HasPrefix(p["file"], "/var/spool/cron/")
		return t.removeLine(ctx, r, p["file"], p["text"], "none", deletable, true)
	case plan.RemoveAgent:
		a, ok := t.catalog.Lookup(p["agent"])
		if !ok {
			return connector.Outcome{}, fmt.Errorf("agent %q is not in the catalogue", p["agent"])
		}
		script := agentRemovalScript(a, strings.Fields(p["packages"]), strings.Fields(p["units"]), nonEmptyLines(p["paths"]))
		out, err := r.Run(ctx, script, nil, nil)
		if err != nil {
			return connector.Outcome{}, fmt.Errorf("remove agent %s: %w", a.Name, err)
		}
		return connector.Outcome{Detail: strings.Join(nonEmptyLines(string(out)), "; ")}, nil
	}
	return connector.Outcome{}, fmt.Errorf("the ssh connector does not apply %s", ch.Action)
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func (t *target) removeKey(ctx context.Context, r *runner, file, fp string) (connector.Outcome, error) {
	st, err := t.readFile(ctx, r, file)
	if err != nil {
		return connector.Outcome{}, err
	}
	if st.Absent {
		return connector.Outcome{Detail: file + " no longer exists"}, nil
	}
	next, n := removeKeys(st.Data, map[string]bool{fp: true})
	if n == 0 {
		return connector.Outcome{Detail: "key already absent from " + file}, nil
	}
	if err := t.writeFile(ctx, r, file, st, next, "none", false); err != nil {
		return connector.Outcome{}, err
	}
	return connector.Outcome{Detail: fmt.Sprintf("removed %d line(s) from %s, mode %s kept", n, file, st.Mode)}, nil
}

// removeLine drops a rule from a sudoers or cron file. A file of
// sudoers.d or cron.d left with nothing active is removed.
func (t *target) removeLine(ctx context.Context, r *runner, file, text, check string, deletable, cron bool) (connector.Outcome, error) {
	st, err := t.readFile(ctx, r, file)
	if err != nil {
		return connector.Outcome{}, err
	}
	if st.Absent {
		return connector.Outcome{Detail: file + " no longer exists"}, nil
	}
	next, n := removeLines(st.Data, text)
	if n == 0 {
		return connector.Outcome{Detail: "entry already absent from " + file}, nil
	}
	if deletable && onlyCommentsLeft(next, cron) {
		if err := t.writeFile(ctx, r, file, st, nil, check, false); err != nil {
			return connector.Outcome{}, err
		}
		return connector.Outcome{Detail: "removed " + file + " (nothing else in it)"}, nil
	}
	if err := t.writeFile(ctx, r, file, st, next, check, false); err != nil {
		return connector.Outcome{}, err
	}
	return connector.Outcome{Detail: fmt.Sprintf("removed %d line(s) from %s", n, file)}, nil
}

// NewCredential makes the new secret of a rotation: an SSH key pair for
// the access key (policy.access_key_type), a password by the password
// policy otherwise. With an operator-supplied access key the "secret" is
// that public key.
func (t *target) NewCredential(ctx context.Context, ch plan.Change, rnd io.Reader) (secret.Secret, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if ch.Action != plan.InstallKey {
		return secret.Generate(rnd, t.password)
	}
	if t.s.AccessKey.PublicKey != "" {
		return secret.New(t.s.AccessKey.PublicKey), nil
	}
	comment := t.s.AccessKey.Comment
	var blk *pem.Block
	var err error
	switch t.policy.AccessKeyType {
	case "rsa":
		var k *rsa.PrivateKey
		k, err = rsa.GenerateKey(rnd, 3072)
		if err == nil {
			blk, err = ssh.MarshalPrivateKey(k, comment)
		}
	default:
		var k ed25519.PrivateKey
		_, k, err = ed25519.GenerateKey(rnd)
		if err == nil {
			blk, err = ssh.MarshalPrivateKey(k, comment)
		}
	}
	if err != nil {
		return secret.Secret{}, fmt.Errorf("generate access key: %w", err)
	}
	return secret.FromBytes(pem.EncodeToMemory(blk)), nil
}

// SetCredential installs the access key or sets a password hash.
func (t *target) SetCredential(ctx context.Context, ch plan.Change, next secret.Secret) error {
	r, _, err := t.runnerForSystem(ctx, ch.System)
	if err != nil {
		return err
	}
	switch ch.Action {
	case plan.InstallKey:
		return t.installKey(ctx, r, ch, next)
	case plan.RotatePassword:
		user := ch.Params["user"]
		if !loginName.MatchString(user) {
			return fmt.Errorf("rotate: %q is not a login name", user)
		}
		pw := next.RevealBytes()
		hash, err := newSHA512Crypt(pw, rand.Reader)
		clear(pw)
		if err != nil {
			return err
		}
		in := []byte(user + ":" + hash + "\n")
		// The hash goes on stdin: never on a command line.
		if _, err := r.Run(ctx, chpasswdScript, nil, in); err != nil {
			return fmt.Errorf("chpasswd -e for %s: %w", user, err)
		}
		if user == t.s.User && t.passwordLogin() {
			t.mu.Lock()
			if old, ok := t.login[ch.System]; ok {
				old.Destroy()
			}
			t.login[ch.System] = secret.New(next.Reveal())
			t.mu.Unlock()
			t.dropConn(ch.System)
		}
		return nil
	}
	return fmt.Errorf("the ssh connector does not rotate %s", ch.Action)
}

// passwordLogin reports whether the connector's own login or sudo uses
// the connection user's password.
func (t *target) passwordLogin() bool {
	return !t.s.Auth.Password.IsZero() || !t.s.Sudo.Password.IsZero()
}

func (t *target) installKey(ctx context.Context, r *runner, ch plan.Change, next secret.Secret) error {
	pk, err := publicKeyOf(next)
	if err != nil {
		return fmt.Errorf("access key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " " + t.s.AccessKey.Comment
	file, user := ch.Params["file"], ch.Params["user"]
	st, err := t.readFile(ctx, r, file)
	if err != nil {
		return err
	}
	if st.Absent {
		uid, gid, err := t.ids(ctx, r, user)
		if err != nil {
			return err
		}
		st.Mode, st.UID, st.GID = "600", uid, gid
	}
	data, added, err := appendKey(st.Data, line)
	if err != nil {
		return err
	}
	if !added {
		return nil
	}
	return t.writeFile(ctx, r, file, st, data, "none", true)
}

func (t *target) ids(ctx context.Context, r *runner, user string) (int, int, error) {
	if !loginName.MatchString(user) {
		return 0, 0, fmt.Errorf("%q is not a login name", user)
	}
	out, err := r.Run(ctx, `id -u "$1"; id -g "$1"`, []string{user}, []byte{})
	if err != nil {
		return 0, 0, fmt.Errorf("id %s: %w", user, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("id %s: unexpected %q", user, out)
	}
	uid, err1 := strconv.Atoi(f[0])
	gid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("id %s: unexpected %q", user, out)
	}
	return uid, gid, nil
}

// TryCredential proves a credential with a fresh login: the access key by
// logging in with it; a password by an SSH password login where the host
// allows one for the account, else by comparing it with the account's
// shadow hash (locally for SHA-512 crypt, with the host's libcrypt
// through perl otherwise; the password then travels on stdin).
func (t *target) TryCredential(ctx context.Context, ch plan.Change, cred secret.Secret) (bool, error) {
	h, ok := t.host(ch.System)
	if !ok {
		return false, fmt.Errorf("host %q is not in target %s", ch.System, t.name)
	}
	switch ch.Action {
	case plan.InstallKey:
		return t.tryKey(ctx, h, ch, cred)
	case plan.RotatePassword:
		return t.tryPassword(ctx, h, ch, cred)
	}
	return false, fmt.Errorf("the ssh connector does not rotate %s", ch.Action)
}

func (t *target) tryKey(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) (bool, error) {
	b := cred.RevealBytes()
	signer, err := ssh.ParsePrivateKey(b)
	clear(b)
	if err != nil {
		// An operator-supplied public key: prove it with the agent holding
		// its private half, or, failing that, by its presence on the host.
		return t.tryPublicKey(ctx, h, ch, cred)
	}
	return t.tryLogin(ctx, h, ch.Params["user"], []ssh.AuthMethod{ssh.PublicKeys(signer)}, ch.ID, "fresh SSH login with the key")
}

func (t *target) tryPublicKey(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) (bool, error) {
	pk, err := publicKeyOf(cred)
	if err != nil {
		return false, err
	}
	if signers, closeAgent, err := agentSigners(); err == nil {
		defer closeAgent()
		for _, s := range signers {
			if bytes.Equal(s.PublicKey().Marshal(), pk.Marshal()) {
				return t.tryLogin(ctx, h, ch.Params["user"], []ssh.AuthMethod{ssh.PublicKeys(s)}, ch.ID, "fresh SSH login with the key held by ssh-agent")
			}
		}
	}
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return false, err
	}
	st, err := t.readFile(ctx, r, ch.Params["file"])
	if err != nil {
		return false, err
	}
	fp := ssh.FingerprintSHA256(pk)
	t.setMethod(ch.ID, "key present in "+ch.Params["file"]+" (its private key was not available to log in)")
	return slices.ContainsFunc(parseAuthorizedKeys(st.Data), func(k authorizedKey) bool { return k.Fingerprint == fp }), nil
}

func (t *target) setMethod(id, m string) {
	t.mu.Lock()
	t.methods[id] = m
	t.mu.Unlock()
}

// tryLogin opens and closes a fresh connection as user: (true, nil) when
// it authenticates, (false, nil) when the host rejects the credential.
func (t *target) tryLogin(ctx context.Context, h hostSpec, user string, auth []ssh.AuthMethod, id, method string) (bool, error) {
	t.setMethod(id, method)
	c, err := t.dialer().dial(ctx, h.Name, h.addr(), h.HostKey, user, auth)
	if err != nil {
		if isAuthFailure(err) {
			return false, nil
		}
		return false, err
	}
	c.Close()
	return true, nil
}

// passwordSSH reports whether the host's sshd takes a password for user,
// per `sshd -T` as the last inventory read it.
func (t *target) passwordSSH(ctx context.Context, r *runner, user string) (bool, error) {
	out, err := r.Run(ctx, `export PATH=/usr/sbin:/usr/bin:/sbin:/bin; sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin) '`, nil, []byte{})
	if err != nil {
		return false, nil
	}
	conf := map[string]string{}
	for _, l := range nonEmptyLines(string(out)) {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		conf[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if conf["passwordauthentication"] != "yes" && conf["kbdinteractiveauthentication"] != "yes" {
		return false, nil
	}
	if user == "root" && conf["permitrootlogin"] != "yes" {
		return false, nil
	}
	return true, nil
}

func (t *target) tryPassword(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) (bool, error) {
	user := ch.Params["user"]
	if !loginName.MatchString(user) {
		return false, fmt.Errorf("%q is not a login name", user)
	}
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return false, err
	}
	viaSSH, err := t.passwordSSH(ctx, r, user)
	if err != nil {
		return false, err
	}
	if viaSSH {
		return t.tryLogin(ctx, h, user, passwordAuth(cred), ch.ID, "fresh SSH password login")
	}
	out, err := r.Run(ctx, shadowHashScript, []string{user}, []byte{})
	if err != nil {
		return false, fmt.Errorf("read shadow entry of %s: %w", user, err)
	}
	hash := strings.TrimSpace(string(out))
	if hash == "" || strings.HasPrefix(hash, "!") || hash == "*" {
		t.setMethod(ch.ID, "shadow entry check: the account has no usable password")
		return false, nil
	}
	pw := cred.RevealBytes()
	defer clear(pw)
	if match, ok := sha512Matches(pw, hash); ok {
		t.setMethod(ch.ID, "compared with the shadow hash (SHA-512 crypt, computed locally; sshd takes no password login for "+user+")")
		return match, nil
	}
	in := append(append(append([]byte{}, pw...), '\n'), []byte(hash+"\n")...)
	defer clear(in)
	res, err := r.Run(ctx, perlCryptScript, nil, in)
	if err != nil {
		return false, fmt.Errorf("compare with the %s shadow hash of %s on the host: %w", hashScheme(hash), user, err)
	}
	t.setMethod(ch.ID, "compared with the shadow hash ("+hashScheme(hash)+", by the host's libcrypt; sshd takes no password login for "+user+")")
	return strings.TrimSpace(string(res)) == "match", nil
}

// KnownCredential returns the password handed over for an account on a
// host (passwords:), if the playbook gives one.
func (t *target) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	if ch.Action != plan.RotatePassword {
		return secret.Secret{}, false, nil
	}
	user := ch.Params["user"]
	var pick *handedPassword
	for i, p := range t.s.Passwords {
		if p.Account != user {
			continue
		}
		if len(p.Hosts) == 0 && pick == nil {
			pick = &t.s.Passwords[i]
		}
		if slices.Contains(p.Hosts, ch.System) {
			pick = &t.s.Passwords[i]
			break
		}
	}
	if pick == nil {
		return secret.Secret{}, false, nil
	}
	if t.env.Resolver == nil {
		return secret.Secret{}, false, errors.New("no resolver for handed-over passwords")
	}
	s, err := t.env.Resolver.Resolve(ctx, pick.Password)
	if err != nil {
		return secret.Secret{}, false, fmt.Errorf("handed-over password of %s: %w", user, err)
	}
	return s, true, nil
}

// Verify re-inventories the host and checks every applied change against
// what it finds now.
func (t *target) Verify(ctx context.Context, system string, applied []plan.Change) ([]connector.Check, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data, err := t.readHost(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("re-inventory: %w", err)
	}
	sys, err := t.system(ctx, h, data)
	if err != nil {
		return nil, fmt.Errorf("re-inventory: %w", err)
	}
	now := t.now()
	var checks []connector.Check
	check := func(ch plan.Change, what string, ok bool, detail string) {
		checks = append(checks, connector.Check{Change: ch.ID, What: what, OK: ok, Detail: detail, At: now})
	}
	findingByID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		findingByID[f.ID] = f
	}
	for _, ch := range applied {
		switch ch.Action {
		case plan.InstallKey:
			fp := ""
			for _, f := range sys.Findings {
				if f.Kind == connector.KindSSHKey && f.Detail[detailAccessKey] == "true" && f.Detail[detailFile] == ch.Params["file"] {
					fp = f.Detail["fingerprint"]
				}
			}
			check(ch, "access key present in "+ch.Params["file"]+" on re-inventory", fp != "", fp)
			if m := t.method(ch.ID); m != "" {
				check(ch, "access key proven by "+m, true, "")
			}
		case plan.RotatePassword:
			f, ok := findingByID["credential-age:"+ch.Params["user"]]
			state := f.Detail[detailInStore]
			check(ch, "shadow hash of "+ch.Params["user"]+" matches the stored password on re-inventory", ok && state == "current", "store: "+state)
			if m := t.method(ch.ID); m != "" {
				check(ch, "old and new passwords tested by "+m, true, "")
			}
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron:
			_, still := findingByID[ch.Finding]
			check(ch, string(ch.Action)+": "+ch.Finding+" absent on re-inventory", !still, "")
		case plan.LockAccount:
			st := ""
			for _, a := range sys.Accounts {
				if a.Name == ch.Params["user"] {
					st = a.State
				}
			}
			check(ch, "account "+ch.Params["user"]+" locked and expired on re-inventory", st == "expired", "state: "+st)
		case plan.RemoveAgent:
			a, _ := t.catalog.Lookup(ch.Params["agent"])
			m := findAgent(data, a)
			check(ch, "agent "+a.Name+": no package left (any dpkg state, rc included)", len(m.Packages) == 0, pkgList(m.Packages))
			check(ch, "agent "+a.Name+": no unit file left", len(m.Units) == 0, strings.Join(m.Units, " "))
			check(ch, "agent "+a.Name+": no process left", len(m.Processes) == 0, procList(m.Processes))
			check(ch, "agent "+a.Name+": no path left", len(m.Paths) == 0, strings.Join(m.Paths, " "))
		}
	}
	return checks, nil
}

func (t *target) method(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.methods[id]
}

func pkgList(ps []pkgInfo) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name+" ("+p.State+")")
	}
	return strings.Join(s, " ")
}

func procList(ps []procInfo) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
	}
	return strings.Join(s, " ")
}
