package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// The rekey follows the write-ahead protocol with Vault's own
// verification step: NewCredential starts a rekey that requires
// verification and gives it the old shares, so Vault makes new shares
// but keeps the old ones in force; the engine stores the new shares as
// pending; SetCredentials verifies them, which is when Vault switches.
// A crash before verification leaves the old shares in force (the next
// rekey cancels the unfinished one). Shares are tried with a
// generate-root attempt (its root token revoked at once), never by
// sealing a production Vault.

// NewCredential makes the new key shares of a rekey change.
func (t *Target) NewCredential(ctx context.Context, ch plan.Change, _ io.Reader) (secret.Secret, error) {
	if ch.Params["kind"] != "rekey" {
		return secret.Secret{}, fmt.Errorf("vault: no credential to make for %s", ch.Object)
	}
	c, err := t.conn(ctx)
	if err != nil {
		return secret.Secret{}, err
	}
	recovery := ch.Params["target"] == "recovery"
	n, _ := strconv.Atoi(ch.Params["shares"])
	th, _ := strconv.Atoi(ch.Params["threshold"])
	old, ok, err := t.oldShares(ctx)
	if err != nil || !ok {
		return secret.Secret{}, fmt.Errorf("rekey: the key shares handed over: %v", err)
	}
	defer old.Destroy()
	sys := c.Sys()
	cancel, init, update := sys.RekeyCancelWithContext, sys.RekeyInitWithContext, sys.RekeyUpdateWithContext
	if recovery {
		cancel, init, update = sys.RekeyRecoveryKeyCancelWithContext, sys.RekeyRecoveryKeyInitWithContext, sys.RekeyRecoveryKeyUpdateWithContext
	}
	_ = cancel(ctx) // an unfinished rekey of an earlier, interrupted run
	st, err := init(ctx, &api.RekeyInitRequest{SecretShares: n, SecretThreshold: th, RequireVerification: true})
	if err != nil {
		return secret.Secret{}, capErr("update", "sys/rekey/init", err)
	}
	for _, share := range strings.Fields(old.Reveal()) {
		u, err := update(ctx, share, st.Nonce)
		if err != nil {
			_ = cancel(ctx)
			return secret.Secret{}, fmt.Errorf("rekey with the handed-over shares: %s", vaultWords(err))
		}
		if u.Complete {
			if !u.VerificationRequired {
				return secret.Secret{}, errors.New("rekey: Vault did not require verification: the new shares are already in force")
			}
			// The plain shares stay in memory for this run's proofs (a
			// generate-root attempt may need some of them to reach a
			// threshold above the shares handed over).
			t.mu.Lock()
			if t.plain == nil {
				t.plain = map[string]secret.Secret{}
			}
			if old, ok := t.plain[ch.ID]; ok {
				old.Destroy()
			}
			t.plain[ch.ID] = secret.New(strings.Join(u.KeysB64, "\n"))
			t.mu.Unlock()
			if len(t.s.KeyShares.Recipients) == 0 {
				return secret.New(strings.Join(u.KeysB64, "\n")), nil
			}
			// Encrypted to their recipients before the engine writes
			// anything: the store keeps the bundle only.
			bundle, err := sealShares(t.s.KeyShares.Recipients, u.KeysB64)
			if err != nil {
				_ = cancel(ctx)
				return secret.Secret{}, fmt.Errorf("rekey: %w (the rekey is cancelled: the old shares stay in force)", err)
			}
			return bundle, nil
		}
	}
	_ = cancel(ctx)
	return secret.Secret{}, fmt.Errorf("rekey: the %d shares handed over are fewer than the threshold", len(strings.Fields(old.Reveal())))
}

// rekeyVerify gives Vault the new shares for verification: the rekey
// then takes effect.
func (t *Target) rekeyVerify(ctx context.Context, c *api.Client, ch plan.Change, next secret.Secret) error {
	sys := c.Sys()
	status, update := sys.RekeyVerificationStatusWithContext, sys.RekeyVerificationUpdateWithContext
	if ch.Params["target"] == "recovery" {
		status, update = sys.RekeyRecoveryKeyVerificationStatusWithContext, sys.RekeyRecoveryKeyVerificationUpdateWithContext
	}
	st, err := status(ctx)
	if err != nil {
		return capErr("read", "sys/rekey/verify", err)
	}
	if sealed(next) {
		p, ok := t.plainShares(ch)
		if !ok {
			return errors.New("rekey verification: the new shares went to their recipients encrypted, and their plain form is gone (the run was interrupted): the rekey stays unverified, the old shares stay in force; run again")
		}
		defer p.Destroy()
		next = p
	}
	for _, share := range strings.Fields(next.Reveal()) {
		u, err := update(ctx, share, st.Nonce)
		if err != nil {
			return fmt.Errorf("rekey verification: %s", vaultWords(err))
		}
		if u.Complete {
			return nil
		}
	}
	return errors.New("rekey verification: not complete after every new share")
}

// plainShares is a copy of the plain new shares of ch, kept in memory
// when they went to recipients encrypted.
func (t *Target) plainShares(ch plan.Change) (secret.Secret, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.plain[ch.ID]
	if !ok {
		return secret.Secret{}, false
	}
	return secret.New(v.Reveal()), true
}

// currentPlain is the new shares the store holds as current, when they
// are plain (no recipients): a later check can top an attempt up with
// them.
func (t *Target) currentPlain(ctx context.Context, ch plan.Change) (secret.Secret, bool) {
	if t.env.Secrets == nil || ch.SecretPath == "" {
		return secret.Secret{}, false
	}
	v, ok, err := t.env.Secrets.Current(ctx, ch.SecretPath)
	if err != nil || !ok {
		return secret.Secret{}, false
	}
	if sealed(v) {
		v.Destroy()
		return secret.Secret{}, false
	}
	return v, true
}

// oldShares are the shares the playbook says were handed over, one per
// line.
func (t *Target) oldShares(ctx context.Context) (secret.Secret, bool, error) {
	if t.s.KeyShares == nil || len(t.s.KeyShares.Shares) == 0 {
		return secret.Secret{}, false, nil
	}
	var parts []string
	for _, ref := range t.s.KeyShares.Shares {
		v, err := t.resolve(ctx, ref)
		if err != nil {
			return secret.Secret{}, false, err
		}
		parts = append(parts, v.Reveal())
		v.Destroy()
	}
	return secret.New(strings.Join(parts, "\n")), true, nil
}

// tryShares proves whether shares are the Vault's: a generate-root
// attempt with them. Vault checks the shares once the threshold is
// reached; a root token made that way is revoked at once.
func (t *Target) tryShares(ctx context.Context, ch plan.Change, shares secret.Secret) connector.Tried {
	method := "generate-root attempt with the shares (the root token it makes is revoked at once)"
	if sealed(shares) {
		p, ok := t.plainShares(ch)
		if !ok {
			// Vault has one set of shares in force: if the shares handed
			// over still work, these (other) shares are not it — what a
			// recovery after an interrupted rekey needs to know.
			if old, have, err := t.oldShares(ctx); err == nil && have {
				tr := t.tryShares(ctx, ch, old)
				old.Destroy()
				if tr.Err == nil && tr.Works {
					return connector.Tried{Works: false, Method: "the shares handed over, tried instead (" + tr.Method + ")",
						Detail: "the shares handed over still work, so the encrypted new shares are not in force"}
				}
			}
			return connector.Tried{Err: errors.New("the new shares are encrypted to their recipients: handover cannot try them (their holders can: a generate-root attempt, or an unseal after a seal)")}
		}
		defer p.Destroy()
		shares = p
		method = "generate-root attempt with the new shares, before they left handover's memory encrypted to their recipients (the root token it makes is revoked at once)"
	}
	c, err := t.conn(ctx)
	if err != nil {
		return connector.Tried{Err: err}
	}
	sys := c.Sys()
	cancel, init, update := sys.GenerateRootCancelWithContext, sys.GenerateRootInitWithContext, sys.GenerateRootUpdateWithContext
	if ch.Params["target"] == "recovery" {
		cancel, init, update = sys.GenerateRecoveryOperationTokenCancelWithContext, sys.GenerateRecoveryOperationTokenInitWithContext, sys.GenerateRecoveryOperationTokenUpdateWithContext
		method = "generate-root (recovery operation token) attempt with the shares"
	}
	_ = cancel(ctx)
	st, err := init(ctx, "", "")
	if err != nil {
		return connector.Tried{Err: capErr("update", "sys/generate-root/attempt", err)}
	}
	defer cancel(ctx)
	tried := strings.Fields(shares.Reveal())
	submit := tried
	if len(tried) < st.Required {
		// Fewer shares than the threshold (the new one may be above the
		// old): Vault checks shares only at the threshold, so the attempt
		// is topped up with new shares, fewer than the threshold on their
		// own: it succeeds only if the tried shares are the Vault's.
		plain, ok := t.plainShares(ch)
		if !ok && !sealed(shares) {
			plain, ok = t.currentPlain(ctx, ch)
		}
		if !ok {
			return connector.Tried{Err: fmt.Errorf("generate-root: %d share(s) to try, fewer than the threshold %d, and no new shares in handover's hands to complete the attempt", len(tried), st.Required)}
		}
		defer plain.Destroy()
		fill := strings.Fields(plain.Reveal())
		need := st.Required - len(tried)
		if need > len(fill) {
			return connector.Tried{Err: fmt.Errorf("generate-root: %d share(s) to try and %d new, fewer than the threshold %d", len(tried), len(fill), st.Required)}
		}
		submit = append(append([]string{}, tried...), fill[:need]...)
		method += fmt.Sprintf(", topped up with %d of the new shares (fewer than the threshold %d on their own)", need, st.Required)
	}
	for _, share := range submit {
		u, err := update(ctx, share, st.Nonce)
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
			return connector.Tried{Works: false, Method: method, Detail: vaultWords(err)}
		}
		if err != nil {
			return connector.Tried{Err: fmt.Errorf("generate-root: %s", vaultWords(err))}
		}
		if u.Complete {
			if err := t.revokeEncoded(ctx, u.EncodedToken, st.OTP); err != nil {
				return connector.Tried{Works: true, Method: method, Detail: "the shares work; revoking the root token the attempt made failed: " + err.Error()}
			}
			return connector.Tried{Works: true, Method: method, Detail: "accepted; the root token it made was revoked"}
		}
	}
	return connector.Tried{Err: fmt.Errorf("generate-root: fewer shares than the threshold")}
}

// revokeEncoded decodes a generate-root token with its OTP and revokes it.
func (t *Target) revokeEncoded(ctx context.Context, encoded, otp string) error {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(b) != len(otp) {
		return fmt.Errorf("decode: token and OTP lengths differ")
	}
	tok := make([]byte, len(b))
	for i := range b {
		tok[i] = b[i] ^ otp[i]
	}
	defer clear(tok)
	cl, err := t.newClient()
	if err != nil {
		return err
	}
	cl.SetToken(string(tok))
	defer cl.ClearToken()
	return cl.Auth().Token().RevokeSelfWithContext(ctx, "")
}

// verifyRekey re-reads the seal status: the shares and threshold are the
// new ones, and the shares handed over are refused.
func (t *Target) verifyRekey(ctx context.Context, c *api.Client, ch plan.Change) ([]connector.Check, error) {
	st, err := c.Sys().SealStatusWithContext(ctx)
	if err != nil {
		return nil, describeErr(t.s.Address, "sys/seal-status", err)
	}
	n, _ := strconv.Atoi(ch.Params["shares"])
	th, _ := strconv.Atoi(ch.Params["threshold"])
	out := []connector.Check{t.check(ch, connector.State, "sys/seal-status shows the new shares and threshold", st.N == n && st.T == th, fmt.Sprintf("%d shares, threshold %d", st.N, st.T))}
	// The engine proves no old value of an installed key: the shares
	// handed over are tried here.
	old, ok, err := t.oldShares(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		defer old.Destroy()
		tr := t.tryShares(ctx, ch, old)
		if tr.Err != nil {
			return nil, tr.Err
		}
		out = append(out, t.check(ch, connector.OldRejected, "the key shares handed over are refused ("+tr.Method+")", !tr.Works, tr.Detail))
	}
	return out, nil
}
