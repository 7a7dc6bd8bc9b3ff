package ssh

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// TryCredentials proves credentials with fresh logins. The access key:
// by an SSH login with it, which then carries the host's next commands.
// Passwords: by su logins run as an unprivileged user on the host (PAM
// checks the password as for any login), all in one session. A refusal by
// su counts only where the account's shadow entry, read in the same
// script, does not hold the password either: a PAM stack that refuses su
// to everyone (pam_wheel) must not pass for proof that an old password is
// dead. What su cannot settle, by an SSH password login where sshd takes
// one for the account, else by comparing with the shadow hash.
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
			out[i] = t.tryKey(ctx, h, c.Change, c.Secret)
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

// CheckStored proves stored credentials for a freshness check. A
// password whose account's shadow hash, read anew, is the stored password
// (SHA-512 crypt, the scheme the connector sets, compared locally) is
// what pam_unix accepts for that account: no su login is made for it.
// Every other credential, and every password the hash does not settle
// (another scheme, a locked or missing entry, a hash that differs), is
// proven as TryCredentials proves it, so that a credential is never
// called broken without a login refusing it.
func (t *target) CheckStored(ctx context.Context, system string, creds []connector.Credential) []connector.Tried {
	out := make([]connector.Tried, len(creds))
	h, ok := t.host(system)
	var pw, rest []int
	var users []string
	for i, c := range creds {
		user := c.Change.Params["user"]
		if ok && c.Change.Action == plan.RotatePassword && loginName.MatchString(user) {
			pw = append(pw, i)
			if !slices.Contains(users, user) {
				users = append(users, user)
			}
			continue
		}
		rest = append(rest, i)
	}
	// The access key first: its proof is a fresh login that then carries
	// the host's commands, the shadow read below included.
	t.tryGroup(ctx, system, creds, rest, out)
	if len(pw) == 0 {
		return out
	}
	hashes := map[string]string{}
	// The access key's proof may have opened the connection: the store's
	// password for sudo is looked up as a dial does.
	t.loadStored(ctx, h.Name)
	if r, err := t.runnerFor(ctx, h); err == nil {
		var b batch
		step := b.shadowHashes(users)
		if results, _, err := t.runBatch(ctx, r, &b); err == nil && results[step] != nil {
			for _, l := range results[step].logs {
				if u, hash, ok := strings.Cut(l, " "); ok {
					hashes[u] = hash
				}
			}
		}
	}
	var unsettled []int
	for _, i := range pw {
		user := creds[i].Change.Params["user"]
		b := creds[i].Secret.RevealBytes()
		match, known := t.hashes.matches(b, hashes[user])
		clear(b)
		if known && match {
			out[i] = connector.Tried{Works: true, Method: "shadow hash of " + user + " read anew: the stored password's (SHA-512 crypt, compared locally, as pam_unix checks it)"}
			continue
		}
		unsettled = append(unsettled, i)
	}
	t.tryGroup(ctx, system, creds, unsettled, out)
	return out
}

// tryGroup proves creds[idx] with TryCredentials, into out.
func (t *target) tryGroup(ctx context.Context, system string, creds []connector.Credential, idx []int, out []connector.Tried) {
	if len(idx) == 0 {
		return
	}
	sub := make([]connector.Credential, len(idx))
	for j, i := range idx {
		sub[j] = creds[i]
	}
	for j, tr := range t.TryCredentials(ctx, system, sub) {
		out[idx[j]] = tr
	}
}

func suMethod(user string) string {
	return "su login as " + user + " (PAM), started by an unprivileged user on the host"
}

// Long: one su script for the group, with the shadow entries read beside,
// then each credential's verdict or fallback.
func (t *target) tryPasswords(ctx context.Context, h hostSpec, creds []connector.Credential, idx []int, out []connector.Tried) {
	var b batch
	var fallback, viaSU []int
	var users []string
	steps := map[int]string{}
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
		steps[i] = b.su(user, creds[i].Secret.Reveal())
		if !slices.Contains(users, user) {
			users = append(users, user)
		}
	}
	results := map[string]*stepResult{}
	hashes := map[string]string{}
	if b.steps > 0 {
		shadow := b.shadowHashes(users)
		// Without a connection, the logins not made fall back below, which
		// says why.
		b.wait()
		if r, err := t.runnerFor(ctx, h); err == nil {
			results, _, _ = t.runBatch(ctx, r, &b)
		}
		// The connection user's own password may be among those tried:
		// after a run cut once it was set on the host, neither sshd nor
		// sudo take the one handover knew. When the script could not run
		// (no step reported), it runs again logged in and sudoing with
		// each candidate for the connection user's password; the one the
		// host takes then proves itself by its su step like the others,
		// and stays the connection's password.
		for _, i := range viaSU {
			if results[shadow] != nil || creds[i].Change.Params["user"] != t.s.User || !t.passwordLogin() {
				continue
			}
			t.mu.Lock()
			prev, had := t.login[h.Name]
			t.login[h.Name] = secret.New(creds[i].Secret.Reveal())
			t.mu.Unlock()
			t.dropConn(h.Name)
			if r, err := t.runnerFor(ctx, h); err == nil {
				results, _, _ = t.runBatch(ctx, r, &b)
			}
			if results[shadow] != nil {
				prev.Destroy()
				continue
			}
			t.mu.Lock()
			t.login[h.Name].Destroy()
			if had {
				t.login[h.Name] = prev
			} else {
				delete(t.login, h.Name)
			}
			t.mu.Unlock()
			t.dropConn(h.Name)
		}
		if res := results[shadow]; res != nil {
			for _, l := range res.logs {
				if u, hash, ok := strings.Cut(l, " "); ok {
					hashes[u] = hash
				}
			}
		}
	}
	for _, i := range viaSU {
		user := creds[i].Change.Params["user"]
		res := results[steps[i]]
		switch {
		case res != nil && res.seen && res.ok:
			out[i] = connector.Tried{Works: true, Method: suMethod(user)}
		case res != nil && res.seen && res.msg == "rejected" && t.notTheHash(creds[i].Secret, hashes[user]):
			out[i] = connector.Tried{Works: false, Method: suMethod(user),
				Detail: "su refused it, and it is not the password " + user + "'s shadow entry holds (SHA-512 crypt, compared locally)"}
		default:
			fallback = append(fallback, i)
		}
	}
	for _, i := range fallback {
		out[i] = t.tryPassword(ctx, h, creds[i].Change, creds[i].Secret)
	}
}

// notTheHash reports whether hash, a SHA-512 crypt string, is certainly
// not pw's; false when it cannot tell (another scheme, no entry).
func (t *target) notTheHash(pw secret.Secret, hash string) bool {
	b := pw.RevealBytes()
	defer clear(b)
	match, known := t.hashes.matches(b, hash)
	return known && !match
}

func (t *target) tryKey(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) connector.Tried {
	b := cred.RevealBytes()
	signer, err := ssh.ParsePrivateKey(b)
	clear(b)
	if err != nil {
		// An operator-supplied public key: prove it with the agent holding
		// its private half, or, failing that, by its presence on the host.
		return t.tryPublicKey(ctx, h, ch, cred)
	}
	return t.tryLogin(ctx, h, ch.Params["user"], []ssh.AuthMethod{ssh.PublicKeys(signer)}, "fresh SSH login with the key", true)
}

func (t *target) tryPublicKey(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) connector.Tried {
	pk, err := publicKeyOf(cred)
	if err != nil {
		return connector.Tried{Err: err}
	}
	if signers, closeAgent, err := agentSigners(); err == nil {
		defer closeAgent()
		for _, s := range signers {
			if bytes.Equal(s.PublicKey().Marshal(), pk.Marshal()) {
				return t.tryLogin(ctx, h, ch.Params["user"], []ssh.AuthMethod{ssh.PublicKeys(s)}, "fresh SSH login with the key held by ssh-agent", true)
			}
		}
	}
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return connector.Tried{Err: err}
	}
	file := ch.Params["file"]
	states, err := t.fileStates(ctx, r, h.Name, []string{file}, true)
	if err != nil {
		return connector.Tried{Err: err}
	}
	fp := ssh.FingerprintSHA256(pk)
	return connector.Tried{
		Works:  slices.ContainsFunc(parseAuthorizedKeys(states[file].Data), func(k authorizedKey) bool { return k.Fingerprint == fp }),
		Method: "key present in " + file + " (its private key was not available to log in)",
	}
}

// tryLogin opens a fresh connection as user: Works when it authenticates,
// not when the host rejects the credential, Err when it cannot tell. With
// adopt, a connection as the connection user replaces the host's
// connection, so that the commands that follow run over the credential
// just proven; only the new access key's proof does so, before anything
// else runs on the host (a password proof may run beside other commands).
func (t *target) tryLogin(ctx context.Context, h hostSpec, user string, auth []ssh.AuthMethod, method string, adopt bool) connector.Tried {
	c, err := t.dialer().Dial(ctx, h.Name, h.addr(), h.HostKey, user, auth)
	if err != nil {
		if isAuthFailure(err) {
			return connector.Tried{Method: method}
		}
		return connector.Tried{Err: err, Method: method}
	}
	if !adopt || user != t.s.User {
		c.Close()
		return connector.Tried{Works: true, Method: method}
	}
	t.mu.Lock()
	old := t.conns[h.Name]
	t.conns[h.Name] = c
	t.mu.Unlock()
	if old != nil {
		old.Close() // nothing else runs on the host during this proof
	}
	return connector.Tried{Works: true, Method: method}
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
		out, err := r.Run(ctx, strings.TrimSuffix(sshdPasswordScript, "\n"), nil, []byte{})
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
func (t *target) tryPassword(ctx context.Context, h hostSpec, ch plan.Change, cred secret.Secret) connector.Tried {
	user := ch.Params["user"]
	r, err := t.runnerFor(ctx, h)
	if err != nil {
		return connector.Tried{Err: err}
	}
	if t.passwordSSH(ctx, r, h.Name, user) {
		return t.tryLogin(ctx, h, user, passwordAuth(cred), "fresh SSH password login", false)
	}
	out, err := r.Run(ctx, shadowHashScript, []string{user}, []byte{})
	if err != nil {
		return connector.Tried{Err: fmt.Errorf("read shadow entry of %s: %w", user, err)}
	}
	hash := strings.TrimSpace(string(out))
	if hash == "" || strings.HasPrefix(hash, "!") || hash == "*" {
		return connector.Tried{Method: "shadow entry check: the account has no usable password"}
	}
	pw := cred.RevealBytes()
	defer clear(pw)
	if match, ok := t.hashes.matches(pw, hash); ok {
		return connector.Tried{Works: match, Method: "compared with the shadow hash (SHA-512 crypt, computed locally; sshd takes no password login for " + user + ")"}
	}
	in := append(append(append([]byte{}, pw...), '\n'), []byte(hash+"\n")...)
	defer clear(in)
	res, err := r.Run(ctx, perlCryptScript, nil, in)
	if err != nil {
		return connector.Tried{Err: fmt.Errorf("compare with the %s shadow hash of %s on the host: %w", hashScheme(hash), user, err)}
	}
	return connector.Tried{Works: strings.TrimSpace(string(res)) == "match", Method: "compared with the shadow hash (" + hashScheme(hash) + ", by the host's libcrypt; sshd takes no password login for " + user + ")"}
}
