package ssh

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

var (
	_ connector.BatchApplier = (*target)(nil)
	_ connector.BatchRotator = (*target)(nil)
)

// remoteFileState is a file as read before an edit.
type remoteFileState struct {
	Absent   bool
	Sum      string
	Mode     string
	UID, GID int
	Data     []byte
}

func (t *target) runnerForSystem(ctx context.Context, system string) (*runner, hostSpec, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, hostSpec{}, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	r, err := t.runnerFor(ctx, h)
	return r, h, err
}

// Apply makes one change that is not a credential rotation.
func (t *target) Apply(ctx context.Context, ch plan.Change, secrets connector.SecretReader) (connector.Outcome, error) {
	res := t.ApplyBatch(ctx, ch.System, []plan.Change{ch}, secrets)
	return res[0].Outcome, res[0].Err
}

// fileEdit is the edits a batch makes to one file.
type fileEdit struct {
	path    string
	changes []int // indexes in the batch
}

// ApplyBatch makes a host's changes that are not credential rotations in
// one script: the edits of each file computed here and written back with
// a compare-and-swap, accounts locked, agents removed together.
func (t *target) ApplyBatch(ctx context.Context, system string, chs []plan.Change, _ connector.SecretReader) []connector.Applied {
	out := make([]connector.Applied, len(chs))
	r, _, err := t.runnerForSystem(ctx, system)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	var b batch
	steps := make([]string, len(chs)) // "": settled without the host
	var edits []*fileEdit
	byFile := map[string]*fileEdit{}
	var agents []agentJob
	for i, ch := range chs {
		p := ch.Params
		switch ch.Action {
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron:
			e := byFile[p["file"]]
			if e == nil {
				e = &fileEdit{path: p["file"]}
				byFile[e.path] = e
				edits = append(edits, e)
			}
			e.changes = append(e.changes, i)
		case plan.LockAccount:
			if !loginName.MatchString(p["user"]) {
				out[i].Err = fmt.Errorf("lock: %q is not a login name", p["user"])
				continue
			}
			steps[i] = b.lock(p["user"], p["user"] != t.s.User)
			out[i].Outcome.Detail = "password locked (usermod -L) and account expired (usermod -e 1)"
		case plan.RemoveAgent:
			a, ok := t.catalog.Lookup(p["agent"])
			if !ok {
				out[i].Err = fmt.Errorf("agent %q is not in the catalogue", p["agent"])
				continue
			}
			agents = append(agents, agentJob{index: i, agent: a, packages: strings.Fields(p["packages"]), units: strings.Fields(p["units"]), paths: nonEmptyLines(p["paths"])})
		default:
			out[i].Err = fmt.Errorf("the ssh connector does not apply %s", ch.Action)
		}
	}

	written := map[string]remoteFile{}
	if len(edits) > 0 {
		paths := make([]string, len(edits))
		for i, e := range edits {
			paths[i] = e.path
		}
		states, err := t.fileStates(ctx, r, system, paths, false)
		if err != nil {
			for _, e := range edits {
				for _, i := range e.changes {
					out[i].Err = err
				}
			}
			edits = nil
		}
		for _, e := range edits {
			st := states[e.path]
			if f, data, ok := planFileEdit(chs, e, st, out, &b, steps); ok {
				f.Data = data
				written[e.path] = f
			}
		}
	}
	for i, s := range agentSteps(&b, agents) {
		steps[agents[i].index] = s
	}
	t.forgetReinventory(system)
	if b.steps == 0 {
		return out
	}
	// The re-inventory that proves the changes runs in the same session,
	// once they are all done: Verify reads it rather than open another.
	b.after = t.reinventoryScript(system)
	results, after, runErr := t.runBatch(ctx, r, &b)
	kept := runErr == nil && t.keepReinventory(system, after, string(r.c.ServerVersion()))
	failedWrite := false
	for i, s := range steps {
		if s == "" {
			continue
		}
		if err := stepError(results, s, runErr); err != nil {
			out[i].Err = err
			if ch := chs[i]; ch.Action == plan.RemoveKey || ch.Action == plan.RemoveGrant || ch.Action == plan.RemoveCron {
				failedWrite = true
			}
			continue
		}
		if res := results[s]; res != nil && len(res.logs) > 0 {
			out[i].Outcome.Detail = joinDetail(out[i].Outcome.Detail, strings.Join(res.logs, "; "))
		}
	}
	if !kept { // else the cache holds what the re-inventory read
		t.remember(system, written, failedWrite)
	}
	return out
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// planFileEdit applies a file's edits in memory, in plan order, and adds
// the write to the batch when the content changed. It returns the file as
// it will be, to remember once written.
func planFileEdit(chs []plan.Change, e *fileEdit, st remoteFileState, out []connector.Applied, b *batch, steps []string) (remoteFile, []byte, bool) {
	if st.Absent {
		for _, i := range e.changes {
			out[i].Outcome.Detail = e.path + " no longer exists"
		}
		return remoteFile{}, nil, false
	}
	data := st.Data
	check, deletable, cron := "none", false, false
	var touched []int
	for _, i := range e.changes {
		ch := chs[i]
		var n int
		switch ch.Action {
		case plan.RemoveKey:
			data, n = removeKeys(data, map[string]bool{ch.Params["fingerprint"]: true})
			if n == 0 {
				out[i].Outcome.Detail = "key already absent from " + e.path
				continue
			}
			out[i].Outcome.Detail = fmt.Sprintf("removed %d line(s) from %s, mode %s kept", n, e.path, st.Mode)
		case plan.RemoveGrant:
			check, deletable = "sudoers", strings.HasPrefix(e.path, "/etc/sudoers.d/")
			data, n = removeSudoersRule(data, ch.Params["text"], ch.Params["replace"])
			if n == 0 {
				out[i].Outcome.Detail = "entry already absent from " + e.path
				continue
			}
			if r := ch.Params["replace"]; r != "" {
				out[i].Outcome.Detail = fmt.Sprintf("rule rewritten in %s without the provider's users: %s (checked with visudo)", e.path, r)
			} else {
				out[i].Outcome.Detail = fmt.Sprintf("removed %d rule(s) from %s (checked with visudo)", n, e.path)
			}
		case plan.RemoveCron:
			cron = true
			deletable = strings.HasPrefix(e.path, "/etc/cron.d/") || strings.HasPrefix(e.path, "/var/spool/cron/")
			data, n = removeLines(data, ch.Params["text"])
			if n == 0 {
				out[i].Outcome.Detail = "entry already absent from " + e.path
				continue
			}
			out[i].Outcome.Detail = fmt.Sprintf("removed %d line(s) from %s", n, e.path)
		}
		touched = append(touched, i)
	}
	if len(touched) == 0 {
		return remoteFile{}, nil, false
	}
	if data == nil {
		data = []byte{} // emptied, not deleted
	}
	if bytes.IndexByte(data, 0) >= 0 {
		for _, i := range touched {
			out[i].Err = fmt.Errorf("%s holds a NUL byte: not a text file handover edits", e.path)
		}
		return remoteFile{}, nil, false
	}
	if deletable && onlyCommentsLeft(data, cron) {
		for _, i := range touched {
			out[i].Outcome.Detail = "removed " + e.path + " (nothing else in it)"
		}
		data = nil
	}
	s := b.writeFile(e.path, st, data, check, false)
	for _, i := range touched {
		steps[i] = s
	}
	return remoteFile{Path: e.path, Mode: st.Mode, UID: st.UID, GID: st.GID}, data, true
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
	switch cmp.Or(ch.Params["key_type"], t.policy.AccessKeyType) {
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

// SetCredential sets one credential.
func (t *target) SetCredential(ctx context.Context, ch plan.Change, next secret.Secret) error {
	return t.SetCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: next}})[0]
}

// SetCredentials installs the access key and sets password hashes, in one
// script. A password's hash is computed here (SHA-512 crypt) and set with
// chpasswd -e: the password itself never reaches the host.
func (t *target) SetCredentials(ctx context.Context, system string, creds []connector.Credential) []error {
	errs := make([]error, len(creds))
	r, _, err := t.runnerForSystem(ctx, system)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	var b batch
	steps := make([]string, len(creds))
	written := map[string]remoteFile{}
	var rotated []int
	var users, hashes []string
	for i, c := range creds {
		ch := c.Change
		switch ch.Action {
		case plan.InstallKey:
			s, f, err := t.installKeyStep(ctx, r, &b, ch, c.Secret)
			if err != nil {
				errs[i] = err
				continue
			}
			if s != "" {
				steps[i], written[f.Path] = s, f
			}
		case plan.RotatePassword:
			user := ch.Params["user"]
			if !loginName.MatchString(user) {
				errs[i] = fmt.Errorf("rotate: %q is not a login name", user)
				continue
			}
			pw := c.Secret.RevealBytes()
			hash, err := newSHA512Crypt(pw, rand.Reader)
			if err == nil {
				t.rememberHash(pw, hash)
			}
			clear(pw)
			if err != nil {
				errs[i] = err
				continue
			}
			rotated, users, hashes = append(rotated, i), append(users, user), append(hashes, hash)
		default:
			errs[i] = fmt.Errorf("the ssh connector does not rotate %s", ch.Action)
		}
	}
	// Each new password is then proven by a su login in the same script
	// (see TryCredentials), once chpasswd set it.
	proofs := map[int]string{}
	if len(rotated) > 0 {
		for k, s := range b.chpasswd(users, hashes) {
			steps[rotated[k]] = s
		}
		for k, i := range rotated {
			if pw := creds[i].Secret.Reveal(); suFits(pw) {
				proofs[i] = b.suAfter(steps[i], users[k], pw)
			}
		}
		if len(proofs) > 0 {
			b.body.WriteString("wait\n")
		}
	}
	t.forgetReinventory(system)
	if b.steps == 0 {
		return errs
	}
	results, _, runErr := t.runBatch(ctx, r, &b)
	failedWrite := false
	for i, s := range steps {
		if s == "" {
			continue
		}
		ch := creds[i].Change
		if err := stepError(results, s, runErr); err != nil {
			errs[i] = fmt.Errorf("%s %s: %w", ch.Action, ch.Object, err)
			failedWrite = failedWrite || ch.Action == plan.InstallKey
			continue
		}
		if s, ok := proofs[i]; ok {
			if res := results[s]; res != nil && res.seen {
				t.keepProof(system, ch.Params["user"], creds[i].Secret, *res)
			}
		}
		if ch.Action == plan.RotatePassword && ch.Params["user"] == t.s.User && t.passwordLogin() {
			t.mu.Lock()
			if old, ok := t.login[system]; ok {
				old.Destroy()
			}
			t.login[system] = secret.New(creds[i].Secret.Reveal())
			st := t.stored[system]
			st.password = false // the rotation's, no longer the store's earlier one
			t.stored[system] = st
			t.mu.Unlock()
			t.dropConn(system)
		}
	}
	t.remember(system, written, failedWrite)
	return errs
}

// suFits reports whether su can be given pw: it reads one line.
func suFits(pw string) bool { return pw != "" && !strings.ContainsAny(pw, "\n\r\x00") }

// proofKey identifies a password of an account on a host.
func proofKey(system, user string, pw secret.Secret) [32]byte {
	b := pw.RevealBytes()
	defer clear(b)
	return hashDigest(b, system+"\x00"+user)
}

// keepProof keeps the result of a su login made right after a password
// was set, for TryCredentials.
func (t *target) keepProof(system, user string, pw secret.Secret, res stepResult) {
	t.mu.Lock()
	t.proofs[proofKey(system, user, pw)] = res
	t.mu.Unlock()
}

// takeProof returns, once, the kept su login result for a password.
func (t *target) takeProof(system, user string, pw secret.Secret) (stepResult, bool) {
	k := proofKey(system, user, pw)
	t.mu.Lock()
	defer t.mu.Unlock()
	res, ok := t.proofs[k]
	delete(t.proofs, k)
	return res, ok
}

// rememberHash notes that hash was made of pw here.
func (t *target) rememberHash(pw []byte, hash string) {
	t.mu.Lock()
	t.hashes[hashDigest(pw, hash)] = true
	t.mu.Unlock()
}

// setHash reports whether hash is one this connector made of pw.
func (t *target) setHash(pw []byte, hash string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hashes[hashDigest(pw, hash)]
}

// passwordLogin reports whether the connector's own login or sudo uses
// the connection user's password.
func (t *target) passwordLogin() bool {
	return !t.s.Auth.Password.IsZero() || !t.s.Sudo.Password.IsZero()
}

// installKeyStep adds the new access key's line to the batch: appended to
// the user's authorized_keys, created (mode 600, owned by the user) when
// there is none. It returns "" when the key is already there.
func (t *target) installKeyStep(ctx context.Context, r *runner, b *batch, ch plan.Change, next secret.Secret) (string, remoteFile, error) {
	pk, err := publicKeyOf(next)
	if err != nil {
		return "", remoteFile{}, fmt.Errorf("access key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " " + t.s.AccessKey.Comment
	file, user := ch.Params["file"], ch.Params["user"]
	states, err := t.fileStates(ctx, r, ch.System, []string{file}, false)
	if err != nil {
		return "", remoteFile{}, err
	}
	st := states[file]
	if st.Absent {
		uid, gid, err := t.ids(ctx, r, ch.System, user)
		if err != nil {
			return "", remoteFile{}, err
		}
		st.Mode, st.UID, st.GID = "600", uid, gid
	}
	data, added, err := appendKey(st.Data, line)
	if err != nil {
		return "", remoteFile{}, err
	}
	if !added {
		return "", remoteFile{}, nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", remoteFile{}, fmt.Errorf("%s holds a NUL byte: not a text file handover edits", file)
	}
	s := b.writeFile(file, st, data, "none", true)
	return s, remoteFile{Kind: "authorized_keys", Owner: user, Path: file, Mode: st.Mode, UID: st.UID, GID: st.GID, Data: data}, nil
}

// ids returns a user's uid and primary gid: from the inventory, else asked
// of the host.
func (t *target) ids(ctx context.Context, r *runner, system, user string) (int, int, error) {
	if !loginName.MatchString(user) {
		return 0, 0, fmt.Errorf("%q is not a login name", user)
	}
	t.mu.Lock()
	var p passwdEntry
	var ok bool
	if hc := t.cache[system]; hc != nil {
		p, ok = hc.passwd[user]
	}
	t.mu.Unlock()
	if ok {
		return p.UID, p.GID, nil
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

// TryCredential proves one credential; see TryCredentials.
func (t *target) TryCredential(ctx context.Context, ch plan.Change, cred secret.Secret) (bool, error) {
	res := t.TryCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: cred}})[0]
	return res.Works, res.Err
}

// TryCredentials proves credentials with fresh logins. The access key:
// by an SSH login with it, which then carries the host's next commands.
// Passwords: by su logins run as an unprivileged user on the host (PAM
// checks the password as for any login), all in one session; a new
// password's su login already ran in the script that set it, right after
// chpasswd, and its result is taken from there (once). What su cannot
// settle, by an SSH password login where sshd takes one for the
// account, else by comparing with the shadow hash. A rejection by su only
// counts once su accepted a password for that account in this run: a PAM
// stack that refuses su to everyone (pam_wheel) must not pass for proof
// that an old password is dead.
func (t *target) TryCredentials(ctx context.Context, system string, creds []connector.Credential) []connector.Tried {
	out := make([]connector.Tried, len(creds))
	h, ok := t.host(system)
	if !ok {
		for i := range out {
			out[i].Err = fmt.Errorf("host %q is not in target %s", system, t.name)
		}
		return out
	}
	var pw []int
	for i, c := range creds {
		switch c.Change.Action {
		case plan.InstallKey:
			out[i].Works, out[i].Err = t.tryKey(ctx, h, c.Change, c.Secret)
		case plan.RotatePassword:
			pw = append(pw, i)
		default:
			out[i].Err = fmt.Errorf("the ssh connector does not rotate %s", c.Change.Action)
		}
	}
	if len(pw) > 0 {
		t.tryPasswords(ctx, h, creds, pw, out)
	}
	return out
}

func (t *target) tryPasswords(ctx context.Context, h hostSpec, creds []connector.Credential, idx []int, out []connector.Tried) {
	var b batch
	var fallback, viaSU []int
	steps := map[int]string{}
	results := map[string]*stepResult{}
	for _, i := range idx {
		user := creds[i].Change.Params["user"]
		if !loginName.MatchString(user) {
			out[i].Err = fmt.Errorf("%q is not a login name", user)
			continue
		}
		if !suFits(creds[i].Secret.Reveal()) {
			fallback = append(fallback, i)
			continue
		}
		viaSU = append(viaSU, i)
		// The su login the credential script ran once it set this password.
		if res, ok := t.takeProof(h.Name, user, creds[i].Secret); ok {
			steps[i] = "kept" + strconv.Itoa(i)
			results[steps[i]] = &res
			continue
		}
		steps[i] = b.su(user, creds[i].Secret.Reveal())
	}
	if b.steps > 0 {
		// Without a connection, the logins not made fall back below, which
		// says why.
		if r, err := t.runnerFor(ctx, h); err == nil {
			b.body.WriteString("wait\n")
			ran, _, _ := t.runBatch(ctx, r, &b)
			maps.Copy(results, ran)
		}
	}
	for _, i := range viaSU {
		ch := creds[i].Change
		key := h.Name + "\x00" + ch.Params["user"]
		works, settled := t.suVerdict(key, results[steps[i]])
		if !settled {
			fallback = append(fallback, i)
			continue
		}
		out[i].Works = works
		t.setMethod(ch.ID, "su login as "+ch.Params["user"]+" (PAM), started by an unprivileged user on the host")
	}
	for _, i := range fallback {
		out[i].Works, out[i].Err = t.tryPassword(ctx, h, creds[i].Change, creds[i].Secret)
	}
}

// suVerdict reads a su login's result for key (host and account): whether
// the password works, and whether su settled it at all. An acceptance
// settles it, and proves su works for the account; a refusal settles it
// only once su accepted a password for that account.
func (t *target) suVerdict(key string, res *stepResult) (works, settled bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case res != nil && res.seen && res.ok:
		t.suWorks[key] = true
		return true, true
	case res != nil && res.seen && res.msg == "rejected" && t.suWorks[key]:
		return false, true
	}
	return false, false
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
	return t.tryLogin(ctx, h, ch.Params["user"], []ssh.AuthMethod{ssh.PublicKeys(signer)}, ch.ID, "fresh SSH login with the key", true)
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
				return t.tryLogin(ctx, h, ch.Params["user"], []ssh.AuthMethod{ssh.PublicKeys(s)}, ch.ID, "fresh SSH login with the key held by ssh-agent", true)
			}
		}
	}
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return false, err
	}
	file := ch.Params["file"]
	states, err := t.fileStates(ctx, r, h.Name, []string{file}, true)
	if err != nil {
		return false, err
	}
	fp := ssh.FingerprintSHA256(pk)
	t.setMethod(ch.ID, "key present in "+file+" (its private key was not available to log in)")
	return slices.ContainsFunc(parseAuthorizedKeys(states[file].Data), func(k authorizedKey) bool { return k.Fingerprint == fp }), nil
}

func (t *target) setMethod(id, m string) {
	t.mu.Lock()
	t.methods[id] = m
	t.mu.Unlock()
}

// tryLogin opens a fresh connection as user: (true, nil) when it
// authenticates, (false, nil) when the host rejects the credential. With
// adopt, a connection as the connection user replaces the host's
// connection, so that the commands that follow run over the credential
// just proven; only the new access key's proof does so, before anything
// else runs on the host (a password proof may run beside other commands).
func (t *target) tryLogin(ctx context.Context, h hostSpec, user string, auth []ssh.AuthMethod, id, method string, adopt bool) (bool, error) {
	t.setMethod(id, method)
	c, err := t.dialer().dial(ctx, h.Name, h.addr(), h.HostKey, user, auth)
	if err != nil {
		if isAuthFailure(err) {
			return false, nil
		}
		return false, err
	}
	if !adopt || user != t.s.User {
		c.Close()
		return true, nil
	}
	t.mu.Lock()
	old := t.conns[h.Name]
	t.conns[h.Name] = c
	t.mu.Unlock()
	if old != nil {
		old.Close() // nothing else runs on the host during this proof
	}
	return true, nil
}

// passwordSSH reports whether the host's sshd takes a password for user,
// per `sshd -T` as the inventory read it (asked again if it did not).
func (t *target) passwordSSH(ctx context.Context, r *runner, system, user string) bool {
	t.mu.Lock()
	var conf map[string]string
	if hc := t.cache[system]; hc != nil && len(hc.sshd) > 0 {
		conf = hc.sshd
	}
	t.mu.Unlock()
	if conf == nil {
		out, err := r.Run(ctx, `export PATH=/usr/sbin:/usr/bin:/sbin:/bin; sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin) '`, nil, []byte{})
		if err != nil {
			return false
		}
		conf = map[string]string{}
		for _, l := range nonEmptyLines(string(out)) {
			k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
			conf[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	if conf["passwordauthentication"] != "yes" && conf["kbdinteractiveauthentication"] != "yes" {
		return false
	}
	return user != "root" || conf["permitrootlogin"] == "yes"
}

// tryPassword proves a password without su: by an SSH password login
// where sshd takes one for the account, else by comparing it with the
// account's shadow hash (locally for SHA-512 crypt, with the host's
// libcrypt through perl otherwise; the password then travels on stdin).
func (t *target) tryPassword(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) (bool, error) {
	user := ch.Params["user"]
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return false, err
	}
	if t.passwordSSH(ctx, r, h.Name, user) {
		return t.tryLogin(ctx, h, user, passwordAuth(cred), ch.ID, "fresh SSH password login", false)
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

func (t *target) Verify(ctx context.Context, system string, applied []plan.Change) ([]connector.Check, error) {
	h, ok := t.host(system)
	if !ok {
		return nil, fmt.Errorf("host %q is not in target %s", system, t.name)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.HostTimeout)
	defer cancel()
	data := t.takeReinventory(system)
	if data == nil {
		var err error
		if data, err = t.readHost(ctx, h, true); err != nil {
			return nil, fmt.Errorf("re-inventory: %w", err)
		}
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
			check(ch, "agent "+a.Name+": no unit left (no unit file, none held by systemd)", len(m.Units) == 0, strings.Join(m.Units, " "))
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
