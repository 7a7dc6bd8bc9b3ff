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
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// NewCredential makes the new access key: an SSH key pair of the type the
// plan chose (policy.access_key_type, RSA where the host's sshd takes no
// ed25519). With an operator-supplied access key the "secret" is that
// public key. Passwords are the engine's, by the password policy.
func (t *target) NewCredential(ctx context.Context, ch plan.Change, rnd io.Reader) (secret.Secret, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if ch.Action != plan.InstallKey {
		return secret.Secret{}, fmt.Errorf("the ssh connector makes access keys, not %s credentials", ch.Action)
	}
	if t.s.AccessKey.PublicKey != "" {
		return secret.New(t.s.AccessKey.PublicKey), nil
	}
	comment := t.s.AccessKey.Comment
	var blk *pem.Block
	var err error
	switch cmp.Or(ch.Params["key_type"], "ed25519") {
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

// SetCredentials installs the access key and sets password hashes, in one
// script. A password's hash is computed here (SHA-512 crypt) and set with
// chpasswd -e: the password itself never reaches the host. Each new
// password is then tried by a su login in the same script, which is
// returned as its proof when su accepted it.
//
// Long: like Apply, steps, one run, then each credential's result.
func (t *target) SetCredentials(ctx context.Context, system string, creds []connector.Credential) []connector.Set {
	out := make([]connector.Set, len(creds))
	r, _, err := t.runnerForSystem(ctx, system)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	errs := make([]error, len(creds))
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
				t.hashes.remember(hash, pw)
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
	// Each new password is then tried by a su login in the same script,
	// once chpasswd set it.
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
			b.wait()
		}
	}
	if b.steps == 0 {
		return sets(errs)
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
			// Only an acceptance proves anything: su may refuse everyone
			// (pam_wheel), and the engine then tries the password itself.
			if res := results[s]; res != nil && res.seen && res.ok {
				out[i].Proven = &connector.Tried{Works: true, Method: suMethod(ch.Params["user"]) + ", right after chpasswd"}
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
	for i, err := range errs {
		out[i].Err = err
	}
	return out
}

func sets(errs []error) []connector.Set {
	out := make([]connector.Set, len(errs))
	for i, err := range errs {
		out[i].Err = err
	}
	return out
}

// suFits reports whether su can be given pw: it reads one line.
func suFits(pw string) bool { return pw != "" && !strings.ContainsAny(pw, "\n\r\x00") }

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
	out, err := r.Run(ctx, strings.TrimSuffix(idsScript, "\n"), []string{user}, []byte{})
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

// accessKeyPath is where a host's access key is stored.
func (t *target) accessKeyPath(system string) string {
	return connector.SecretPath(t.name, system, t.s.AccessKey.User+".access-key")
}

// accessKeyFingerprint is the fingerprint of the host's access key: the
// configured public key, or the one in the store, or "" when none yet.
func (t *target) accessKeyFingerprint(ctx context.Context, system string) (string, error) {
	if t.s.AccessKey.PublicKey != "" {
		pk, err := parsePublicKeyLine(t.s.AccessKey.PublicKey)
		if err != nil {
			return "", err
		}
		return ssh.FingerprintSHA256(pk), nil
	}
	if t.env.Secrets == nil {
		return "", nil
	}
	cur, ok, err := t.env.Secrets.Current(ctx, t.accessKeyPath(system))
	if err != nil {
		return "", fmt.Errorf("secret store: %w", err)
	}
	if !ok {
		return "", nil
	}
	defer cur.Destroy()
	pk, err := publicKeyOf(cur)
	if err != nil {
		return "", fmt.Errorf("access key in the store at %s: %w", t.accessKeyPath(system), err)
	}
	return ssh.FingerprintSHA256(pk), nil
}

// publicKeyOf reads an access-key secret: an OpenSSH private key, or a
// public key line when the operator supplied the key.
func publicKeyOf(s secret.Secret) (ssh.PublicKey, error) {
	b := s.RevealBytes()
	defer clear(b)
	if signer, err := ssh.ParsePrivateKey(b); err == nil {
		return signer.PublicKey(), nil
	}
	return parsePublicKeyLine(string(b))
}
