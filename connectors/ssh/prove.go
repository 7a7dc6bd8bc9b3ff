package ssh

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

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
			b.wait()
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

func (t *target) method(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.methods[id]
}
