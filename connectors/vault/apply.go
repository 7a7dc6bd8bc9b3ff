package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// SetCredentials sets each credential: a userpass password, or an AppRole
// secret-id (registered as a custom secret-id, then every other secret-id
// of the role destroyed, so the one the provider knew stops working), or
// the new key shares of a rekey (verified, which makes them the Vault's).
func (t *Target) SetCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Set {
	out := make([]connector.Set, len(creds))
	for i, c := range creds {
		out[i].Err = t.set(ctx, c.Change, c.Secret)
	}
	return out
}

func (t *Target) set(ctx context.Context, ch plan.Change, next secret.Secret) error {
	c, err := t.conn(ctx)
	if err != nil {
		return err
	}
	mount, name := ch.Params["mount"], ch.Params["name"]
	switch ch.Params["kind"] {
	case "userpass":
		path := "auth/" + mount + "/users/" + name + "/password"
		if _, err := vaultWrite(ctx, c, path, map[string]any{"password": next.Reveal()}); err != nil {
			return capErr("update", path, err)
		}
		return nil
	case "approle":
		return t.setSecretID(ctx, c, mount, name, next)
	case "rekey":
		return t.rekeyVerify(ctx, c, ch, next)
	}
	return fmt.Errorf("vault: cannot set a credential of kind %q", ch.Params["kind"])
}

// setSecretID registers next as the role's secret-id and destroys every
// other one. A retry after a crash finds next already registered.
func (t *Target) setSecretID(ctx context.Context, c *api.Client, mount, role string, next secret.Secret) error {
	base := "auth/" + mount + "/role/" + role
	keep := ""
	s, err := vaultWrite(ctx, c, base+"/custom-secret-id", map[string]any{
		"secret_id": next.Reveal(),
		"metadata":  `{"set_by":"handover"}`,
	})
	switch {
	case err == nil && s != nil:
		keep, _ = s.Data["secret_id_accessor"].(string)
	case err != nil && strings.Contains(strings.ToLower(vaultWords(err)), "already registered"):
	case err != nil:
		return capErr("update", base+"/custom-secret-id", err)
	}
	if keep == "" {
		l, err := c.Logical().WriteWithContext(ctx, base+"/secret-id/lookup", map[string]any{"secret_id": next.Reveal()})
		if err != nil || l == nil {
			return fmt.Errorf("%s: the new secret-id is not registered: %s", base, vaultWords(err))
		}
		keep, _ = l.Data["secret_id_accessor"].(string)
	}
	accs, err := listKeys(ctx, c, base+"/secret-id")
	if err != nil {
		return capErr("list", base+"/secret-id", err)
	}
	for _, a := range accs {
		if a == keep {
			continue
		}
		if _, err := vaultWrite(ctx, c, base+"/secret-id-accessor/destroy", map[string]any{"secret_id_accessor": a}); err != nil {
			return capErr("update", base+"/secret-id-accessor/destroy", err)
		}
	}
	return nil
}

// TryCredentials logs in afresh with each credential; a login's token is
// revoked at once.
func (t *Target) TryCredentials(ctx context.Context, _ string, creds []connector.Credential) []connector.Tried {
	out := make([]connector.Tried, len(creds))
	for i, c := range creds {
		out[i] = t.try(ctx, c.Change, c.Secret)
	}
	return out
}

func (t *Target) try(ctx context.Context, ch plan.Change, cred secret.Secret) connector.Tried {
	mount, name := ch.Params["mount"], ch.Params["name"]
	switch ch.Params["kind"] {
	case "userpass":
		ok, err := t.userpassLogin(ctx, mount, name, cred.Reveal())
		return connector.Tried{Works: ok, Err: err, Method: "fresh userpass login as " + name + " on auth/" + mount}
	case "approle":
		c, err := t.conn(ctx)
		if err != nil {
			return connector.Tried{Err: err}
		}
		rid, err := c.Logical().ReadWithContext(ctx, "auth/"+mount+"/role/"+name+"/role-id")
		if err != nil || rid == nil {
			return connector.Tried{Err: fmt.Errorf("read role-id of %s/%s: %s", mount, name, vaultWords(err))}
		}
		roleID, _ := rid.Data["role_id"].(string)
		ok, err := t.appRoleLogin(ctx, mount, roleID, cred.Reveal())
		return connector.Tried{Works: ok, Err: err, Method: "fresh AppRole login to " + mount + "/" + name + " (its role_id and the secret-id)"}
	case "rekey":
		return t.tryShares(ctx, ch, cred)
	}
	return connector.Tried{Err: fmt.Errorf("vault: cannot try a credential of kind %q", ch.Params["kind"])}
}

// login posts to a login path with no token: (true, nil) accepted and its
// token revoked, (false, nil) refused, error when it cannot tell.
func (t *Target) login(ctx context.Context, path string, data map[string]any) (bool, error) {
	c, err := t.newClient()
	if err != nil {
		return false, err
	}
	s, err := vaultWrite(ctx, c, path, data)
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusForbidden):
		return false, nil
	case err != nil:
		return false, describeErr(t.s.Address, path, err)
	case s == nil || s.Auth == nil || s.Auth.ClientToken == "":
		return false, fmt.Errorf("%s: accepted but issued no token", path)
	}
	c.SetToken(s.Auth.ClientToken)
	_ = c.Auth().Token().RevokeSelfWithContext(ctx, "")
	c.ClearToken()
	return true, nil
}

func (t *Target) userpassLogin(ctx context.Context, mount, user, password string) (bool, error) {
	return t.login(ctx, "auth/"+mount+"/login/"+user, map[string]any{"password": password})
}

func (t *Target) appRoleLogin(ctx context.Context, mount, roleID, secretID string) (bool, error) {
	return t.login(ctx, "auth/"+mount+"/login", map[string]any{"role_id": roleID, "secret_id": secretID})
}

// KnownCredential returns what the playbook says was handed over for
// ch.Object: an accounts item's password or secret_id, or the key shares.
func (t *Target) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	if ch.Params["kind"] == "rekey" {
		return t.oldShares(ctx)
	}
	a, ok := t.handedOverAccount(ch.Object)
	if !ok {
		return secret.Secret{}, false, nil
	}
	ref := a.Password
	if a.AppRole {
		ref = a.SecretID
	}
	v, err := t.resolve(ctx, ref)
	if err != nil {
		return secret.Secret{}, false, err
	}
	return v, true, nil
}

// Apply makes the removals, one after the other. Each is idempotent:
// what is already gone is not an error.
func (t *Target) Apply(ctx context.Context, _ string, chs []plan.Change, _ connector.SecretReader) connector.Applied {
	out := connector.Applied{Results: make([]connector.ChangeResult, len(chs))}
	c, err := t.conn(ctx)
	for i, ch := range chs {
		if err != nil {
			out.Results[i].Err = err
			continue
		}
		out.Results[i] = t.applyOne(ctx, c, ch)
	}
	return out
}

func (t *Target) applyOne(ctx context.Context, c *api.Client, ch plan.Change) connector.ChangeResult {
	p := ch.Params
	switch p["kind"] {
	case "token":
		_, err := vaultWrite(ctx, c, "auth/token/revoke-accessor", map[string]any{"accessor": p["accessor"]})
		if isStatus(err, http.StatusBadRequest) {
			return connector.ChangeResult{Detail: "already gone (revoked with its parent, or expired)"}
		}
		if err != nil {
			return connector.ChangeResult{Err: capErr("update", "auth/token/revoke-accessor", err)}
		}
		return connector.ChangeResult{Detail: "revoked by accessor"}
	case "userpass":
		path := "auth/" + p["mount"] + "/users/" + p["name"]
		if _, err := vaultDelete(ctx, c, path); err != nil {
			return connector.ChangeResult{Err: capErr("delete", path, err)}
		}
		prefix := "auth/" + p["mount"] + "/login/" + p["name"] + "/"
		if _, err := vaultWrite(ctx, c, "sys/leases/revoke-prefix/"+prefix, nil); err != nil {
			return connector.ChangeResult{Err: capErr("sudo", "sys/leases/revoke-prefix/"+prefix, err)}
		}
		return connector.ChangeResult{Detail: "user deleted; tokens issued under " + prefix + " revoked"}
	case "approle":
		base := "auth/" + p["mount"] + "/role/" + p["name"]
		accs, err := listKeys(ctx, c, base+"/secret-id")
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return connector.ChangeResult{Err: capErr("list", base+"/secret-id", err)}
		}
		for _, a := range accs {
			if _, err := vaultWrite(ctx, c, base+"/secret-id-accessor/destroy", map[string]any{"secret_id_accessor": a}); err != nil {
				return connector.ChangeResult{Err: capErr("update", base+"/secret-id-accessor/destroy", err)}
			}
		}
		if _, err := vaultDelete(ctx, c, base); err != nil {
			return connector.ChangeResult{Err: capErr("delete", base, err)}
		}
		return connector.ChangeResult{Detail: fmt.Sprintf("%d secret-id(s) destroyed, role deleted", len(accs))}
	case "entity":
		path := "identity/entity/id/" + p["id"]
		if _, err := vaultWrite(ctx, c, path, map[string]any{"disabled": true}); err != nil {
			return connector.ChangeResult{Err: capErr("update", path, err)}
		}
		return connector.ChangeResult{Detail: "disabled"}
	case "group":
		path := "identity/group/id/" + p["id"]
		if _, err := vaultDelete(ctx, c, path); err != nil {
			return connector.ChangeResult{Err: capErr("delete", path, err)}
		}
		return connector.ChangeResult{Detail: "deleted"}
	case "detach":
		return t.detach(ctx, c, p)
	case "policy":
		path := "sys/policies/acl/" + p["name"]
		if _, err := vaultDelete(ctx, c, path); err != nil {
			return connector.ChangeResult{Err: capErr("delete", path, err)}
		}
		return connector.ChangeResult{Detail: "deleted"}
	case "audit":
		return t.replaceAudit(ctx, c, p)
	}
	return connector.ChangeResult{Err: fmt.Errorf("vault: cannot apply %s of kind %q", ch.Action, p["kind"])}
}

// holderPath is where a policy holder is read and written.
func holderPath(p map[string]string) (string, string, error) {
	switch p["holder"] {
	case "group":
		return "identity/group/id/" + p["id"], "policies", nil
	case "entity":
		return "identity/entity/id/" + p["id"], "policies", nil
	case "userpass":
		mount, user, _ := strings.Cut(p["id"], "/")
		return "auth/" + mount + "/users/" + user, "token_policies", nil
	case "approle":
		mount, role, _ := strings.Cut(p["id"], "/")
		return "auth/" + mount + "/role/" + role, "token_policies", nil
	}
	return "", "", fmt.Errorf("unknown policy holder %q", p["holder"])
}

func (t *Target) detach(ctx context.Context, c *api.Client, p map[string]string) connector.ChangeResult {
	path, field, err := holderPath(p)
	if err != nil {
		return connector.ChangeResult{Err: err}
	}
	s, err := c.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return connector.ChangeResult{Err: capErr("read", path, err)}
	}
	if s == nil {
		return connector.ChangeResult{Detail: p["holder"] + " " + p["name"] + " is gone"}
	}
	var keep []string
	for _, x := range policiesOf(s.Data) {
		if x != p["policy"] {
			keep = append(keep, x)
		}
	}
	if field == "policies" {
		keep = strs(s.Data["policies"])
		keep = slices.DeleteFunc(keep, func(x string) bool { return x == p["policy"] })
	}
	if keep == nil {
		keep = []string{}
	}
	data := map[string]any{field: keep}
	if field == "token_policies" {
		data["policies"] = keep
	}
	if _, err := vaultWrite(ctx, c, path, data); err != nil {
		return connector.ChangeResult{Err: capErr("update", path, err)}
	}
	return connector.ChangeResult{Detail: fmt.Sprintf("policies now %s", strings.Join(keep, ", "))}
}

// replaceAudit enables the replacement device (if named and not there
// yet), checks it is listed, then disables the provider's.
func (t *Target) replaceAudit(ctx context.Context, c *api.Client, p map[string]string) connector.ChangeResult {
	devs, err := c.Sys().ListAuditWithContext(ctx)
	if err != nil {
		return connector.ChangeResult{Err: capErr("sudo", "sys/audit", err)}
	}
	var detail []string
	if rp := p["replacement_path"]; rp != "" {
		if _, ok := devs[rp]; !ok {
			opts := map[string]string{}
			for k, v := range p {
				if o, ok := strings.CutPrefix(k, "replacement_option."); ok {
					opts[o] = v
				}
			}
			if err := c.Sys().EnableAuditWithOptionsWithContext(ctx, rp, &api.EnableAuditOptions{Type: p["replacement_type"], Description: p["replacement_description"], Options: opts}); err != nil {
				return connector.ChangeResult{Err: fmt.Errorf("enable the replacement audit device %s (the provider's stays enabled): %w", rp, capErr("sudo", "sys/audit/"+rp, err))}
			}
			detail = append(detail, "replacement "+rp+" enabled")
		} else {
			detail = append(detail, "replacement "+rp+" already enabled")
		}
		devs, err = c.Sys().ListAuditWithContext(ctx)
		if err != nil {
			return connector.ChangeResult{Err: capErr("sudo", "sys/audit", err)}
		}
		if _, ok := devs[rp]; !ok {
			return connector.ChangeResult{Err: fmt.Errorf("the replacement audit device %s is not listed after enabling it: the provider's stays enabled", rp)}
		}
	}
	if _, ok := devs[p["path"]]; !ok {
		return connector.ChangeResult{Detail: strings.Join(append(detail, p["path"]+" already disabled"), "; ")}
	}
	if len(devs) < 2 {
		return connector.ChangeResult{Err: fmt.Errorf("%s is the only audit device: name a replacement (audit_replacement) rather than leave Vault without one", p["path"])}
	}
	if err := c.Sys().DisableAuditWithContext(ctx, p["path"]); err != nil {
		return connector.ChangeResult{Err: capErr("sudo", "sys/audit/"+p["path"], err)}
	}
	return connector.ChangeResult{Detail: strings.Join(append(detail, p["path"]+" disabled"), "; ")}
}

func listKeys(ctx context.Context, c *api.Client, path string) ([]string, error) {
	s, err := c.Logical().ListWithContext(ctx, path)
	if err != nil || s == nil {
		return nil, err
	}
	return strs(s.Data["keys"]), nil
}

// capErr names the capability and path a refused request needed.
func capErr(capability, path string, err error) error {
	if isStatus(err, http.StatusForbidden) {
		return fmt.Errorf("permission denied: the connector's token needs %q on %s (%s)", capability, path, vaultWords(err))
	}
	return fmt.Errorf("%s: %s", path, vaultWords(err))
}
