package vault

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Verify re-reads the Vault after the changes: each revoked token is
// unknown to lookup-accessor (and a handed-over one fails lookup-self),
// each deleted login is gone and its handed-over credential refused, each
// detached policy absent from its holder, each deleted policy, group or
// audit device absent, the replacement audit device present, each entity
// disabled, and each rotated AppRole left with only the new secret-id.
func (t *Target) Verify(ctx context.Context, system string, done []connector.Done, _ connector.Observation) ([]connector.Check, error) {
	c, err := t.conn(ctx)
	if err != nil {
		return nil, err
	}
	var checks []connector.Check
	for _, d := range done {
		ch := d.Change
		if ch.System != system {
			continue
		}
		cs, err := t.verifyOne(ctx, c, ch)
		if err != nil {
			return checks, fmt.Errorf("verify %s %s: %w", ch.Action, ch.Object, err)
		}
		checks = append(checks, cs...)
	}
	return checks, nil
}

func (t *Target) check(ch plan.Change, kind connector.CheckKind, what string, ok bool, detail string) connector.Check {
	return connector.Check{Change: ch.ID, Kind: kind, What: what, OK: ok, Detail: detail, At: t.now()}
}

// gone reads path: (true, "") when Vault has nothing there.
func gone(ctx context.Context, c *api.Client, path string) (bool, *api.Secret, error) {
	s, err := c.Logical().ReadWithContext(ctx, path)
	if isStatus(err, http.StatusNotFound) {
		return true, nil, nil
	}
	if err != nil {
		return false, nil, capErr("read", path, err)
	}
	return s == nil, s, nil
}

func (t *Target) verifyOne(ctx context.Context, c *api.Client, ch plan.Change) ([]connector.Check, error) {
	p := ch.Params
	switch p["kind"] {
	case "userpass", "approle":
		if ch.Action == plan.RotatePassword {
			return t.verifyRotation(ctx, c, ch)
		}
	}
	switch p["kind"] {
	case "token":
		var out []connector.Check
		_, err := c.Logical().WriteWithContext(ctx, "auth/token/lookup-accessor", map[string]any{"accessor": p["accessor"]})
		switch {
		case isStatus(err, http.StatusBadRequest):
			out = append(out, t.check(ch, connector.Absent, "lookup-accessor "+p["accessor"]+" says the token is gone", true, vaultWords(err)))
		case err != nil:
			return nil, capErr("update", "auth/token/lookup-accessor", err)
		default:
			out = append(out, t.check(ch, connector.Absent, "lookup-accessor "+p["accessor"]+" says the token is gone", false, "the token is still valid"))
		}
		if i, _ := strconv.Atoi(p["handed_over"]); i > 0 && i <= len(t.s.ProviderTokens) {
			tok, err := t.resolve(ctx, t.s.ProviderTokens[i-1])
			if err != nil {
				return nil, err
			}
			defer tok.Destroy()
			cl, err := t.newClient()
			if err != nil {
				return nil, err
			}
			cl.SetToken(tok.Reveal())
			_, err = cl.Auth().Token().LookupSelfWithContext(ctx)
			cl.ClearToken()
			refused := isStatus(err, http.StatusForbidden)
			if err != nil && !refused {
				return nil, describeErr(t.s.Address, "auth/token/lookup-self", err)
			}
			out = append(out, t.check(ch, connector.OldRejected, "lookup-self with the handed-over token ("+t.s.ProviderTokens[i-1].String()+") is refused", refused, vaultWords(err)))
		}
		return out, nil
	case "userpass":
		path := "auth/" + p["mount"] + "/users/" + p["name"]
		g, _, err := gone(ctx, c, path)
		if err != nil {
			return nil, err
		}
		out := []connector.Check{t.check(ch, connector.Absent, "user "+p["name"]+" gone from auth/"+p["mount"]+" (re-read)", g, path)}
		for _, h := range t.s.ProviderUserpass {
			if h.Mount != p["mount"] || h.Name != p["name"] {
				continue
			}
			pw, err := t.resolve(ctx, h.Password)
			if err != nil {
				return nil, err
			}
			ok, err := t.userpassLogin(ctx, h.Mount, h.Name, pw.Reveal())
			pw.Destroy()
			if err != nil {
				return nil, err
			}
			out = append(out, t.check(ch, connector.OldRejected, "userpass login with the handed-over password is refused", !ok, "fresh login on auth/"+h.Mount))
		}
		return out, nil
	case "approle":
		base := "auth/" + p["mount"] + "/role/" + p["name"]
		g, _, err := gone(ctx, c, base)
		if err != nil {
			return nil, err
		}
		out := []connector.Check{t.check(ch, connector.Absent, "role "+p["name"]+" gone from auth/"+p["mount"]+" (re-read)", g, base)}
		for _, h := range t.s.ProviderAppRoles {
			if h.Mount != p["mount"] || h.Name != p["name"] {
				continue
			}
			rid, err := t.resolve(ctx, h.RoleID)
			if err != nil {
				return nil, err
			}
			sid, err := t.resolve(ctx, h.SecretID)
			if err != nil {
				rid.Destroy()
				return nil, err
			}
			ok, err := t.appRoleLogin(ctx, h.Mount, rid.Reveal(), sid.Reveal())
			rid.Destroy()
			sid.Destroy()
			if err != nil {
				return nil, err
			}
			out = append(out, t.check(ch, connector.OldRejected, "AppRole login with the handed-over role_id and secret_id is refused", !ok, "fresh login on auth/"+h.Mount))
		}
		return out, nil
	case "entity":
		_, s, err := gone(ctx, c, "identity/entity/id/"+p["id"])
		if err != nil {
			return nil, err
		}
		disabled := false
		if s != nil {
			disabled, _ = s.Data["disabled"].(bool)
		}
		return []connector.Check{t.check(ch, connector.State, "entity "+p["name"]+" disabled (re-read)", disabled, fmt.Sprintf("disabled=%v", disabled))}, nil
	case "group":
		g, _, err := gone(ctx, c, "identity/group/id/"+p["id"])
		if err != nil {
			return nil, err
		}
		return []connector.Check{t.check(ch, connector.Absent, "group "+p["name"]+" gone (re-read)", g, "")}, nil
	case "detach":
		path, _, err := holderPath(p)
		if err != nil {
			return nil, err
		}
		g, s, err := gone(ctx, c, path)
		if err != nil {
			return nil, err
		}
		if g {
			return []connector.Check{t.check(ch, connector.Absent, p["holder"]+" "+p["name"]+" no longer carries "+p["policy"]+" (re-read)", true, "the holder itself is gone")}, nil
		}
		pols := policiesOf(s.Data)
		return []connector.Check{
			t.check(ch, connector.Absent, p["holder"]+" "+p["name"]+" no longer carries "+p["policy"]+" (re-read)", !slices.Contains(pols, p["policy"]), "policies: "+strings.Join(pols, ", ")),
			t.check(ch, connector.Present, p["holder"]+" "+p["name"]+" is still there (re-read)", true, ""),
		}, nil
	case "policy":
		text, err := c.Sys().GetPolicyWithContext(ctx, p["name"])
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return nil, capErr("read", "sys/policies/acl/"+p["name"], err)
		}
		return []connector.Check{t.check(ch, connector.Absent, "policy "+p["name"]+" gone (sys/policies/acl re-read)", text == "", "")}, nil
	case "audit":
		devs, err := c.Sys().ListAuditWithContext(ctx)
		if err != nil {
			return nil, capErr("sudo", "sys/audit", err)
		}
		_, still := devs[p["path"]]
		out := []connector.Check{t.check(ch, connector.Absent, "audit device "+p["path"]+" disabled (sys/audit re-read)", !still, fmt.Sprintf("%d device(s) left", len(devs)))}
		if rp := p["replacement_path"]; rp != "" {
			_, ok := devs[rp]
			out = append(out, t.check(ch, connector.Present, "replacement audit device "+rp+" enabled (sys/audit re-read)", ok, ""))
		} else {
			out = append(out, t.check(ch, connector.Present, "another audit device is still enabled (sys/audit re-read)", len(devs) > 0, ""))
		}
		return out, nil
	case "rekey":
		return t.verifyRekey(ctx, c, ch)
	}
	return nil, fmt.Errorf("vault: cannot verify %s of kind %q", ch.Action, p["kind"])
}

// verifyRotation re-reads a rotated login: the user is still there with
// its policies; an AppRole has exactly one secret-id left (the new one).
func (t *Target) verifyRotation(ctx context.Context, c *api.Client, ch plan.Change) ([]connector.Check, error) {
	p := ch.Params
	if p["kind"] == "userpass" {
		path := "auth/" + p["mount"] + "/users/" + p["name"]
		g, _, err := gone(ctx, c, path)
		if err != nil {
			return nil, err
		}
		return []connector.Check{t.check(ch, connector.Present, "user "+p["name"]+" still on auth/"+p["mount"]+" (re-read)", !g, path)}, nil
	}
	base := "auth/" + p["mount"] + "/role/" + p["name"]
	accs, err := listKeys(ctx, c, base+"/secret-id")
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return nil, capErr("list", base+"/secret-id", err)
	}
	return []connector.Check{t.check(ch, connector.State, "role "+p["name"]+" has exactly one secret-id left, the rotation's (secret-id accessors listed; the new secret-id's login is the rotation's own proof)", len(accs) == 1, fmt.Sprintf("%d secret-id accessor(s)", len(accs)))}, nil
}
