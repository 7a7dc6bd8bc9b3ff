package ssh

import (
	"cmp"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// ownAccess tells the changes that would end the connector's own access
// to a host when no access key replaces it (access_key: false): locking
// the connection user, removing the key it logs in with, removing a sudo
// rule it needs. They are not planned: the finding stays open in the
// report, rather than the incoming team locked out by its own run. With an
// access key, proven before any removal, every removal runs over it.
func (t *target) ownAccess() func(plan.Change) bool {
	if !t.s.AccessKey.Disabled {
		return func(plan.Change) bool { return false }
	}
	login := map[string]bool{}
	t.mu.Lock()
	if t.auth != nil {
		for _, s := range t.auth.signers {
			login[ssh.FingerprintSHA256(s.PublicKey())] = true
		}
	}
	t.mu.Unlock()
	return func(ch plan.Change) bool {
		switch ch.Action {
		case plan.LockAccount:
			return ch.Params["user"] == t.s.User
		case plan.RemoveKey:
			return ch.Params["user"] == t.s.User && login[ch.Params["fingerprint"]]
		case plan.RemoveGrant:
			return t.s.Sudo.Use && slices.Contains(strings.Split(ch.Params["members"], ","), t.s.User)
		}
		return false
	}
}

// Plan derives the changes from an inventory and the engine's decisions:
// the new access key, the rotations the engine decided, the removal of
// the provider's access found. It does no I/O.
func (t *target) Plan(inv *connector.Inventory, d connector.Decisions) ([]plan.Change, error) {
	var out []plan.Change
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		out = append(out, t.planSystem(sys, d)...)
	}
	return out, nil
}

// Long: one case per finding kind, each the change it plans.
func (t *target) planSystem(sys connector.System, d connector.Decisions) []plan.Change {
	var out []plan.Change
	held := t.ownAccess()
	add := func(ch plan.Change) {
		if held(ch) {
			return
		}
		ch.Target, ch.System = t.name, sys.Name
		ch.MakeID()
		out = append(out, ch)
	}
	fact := func(name string) string {
		for _, f := range sys.Facts {
			if f.Name == name {
				return f.Value
			}
		}
		return ""
	}
	accounts := map[string]connector.Account{}
	for _, a := range sys.Accounts {
		accounts[a.Name] = a
	}

	if !t.s.AccessKey.Disabled {
		have := slices.ContainsFunc(sys.Findings, func(f connector.Finding) bool {
			k, _ := f.Data.(keyData)
			return f.Kind == connector.KindSSHKey && k.AccessKey && k.User == t.s.AccessKey.User
		})
		file := fact(factAccessKeyFile)
		if !have && file != "" {
			ch := plan.Change{
				Action: plan.InstallKey, Object: t.s.AccessKey.User,
				After:      "new access key authorised for " + t.s.AccessKey.User + " in " + file,
				Reason:     "the incoming team's own access, installed before anything is removed",
				SecretPath: t.accessKeyPath(sys.Name),
				Params:     map[string]string{"user": t.s.AccessKey.User, "file": file},
			}
			if t.s.AccessKey.PublicKey == "" {
				kt := cmp.Or(d.AccessKeyType, "ed25519")
				if kt == "ed25519" && fact(factEd25519) == "refused" {
					kt = "rsa"
					ch.Reason += "; rsa key: this host's sshd does not take ed25519 keys"
				}
				ch.Params["key_type"] = kt
			}
			add(ch)
		}
	}
	for _, a := range sys.Accounts {
		r, ok := d.Rotation(sys.Name, a.Name)
		if !ok || a.Password == nil {
			continue
		}
		add(plan.Change{
			Action: plan.RotatePassword, Object: a.Name,
			Before: "password handed over by the outgoing provider", After: "new generated password, in the secret store",
			Reason:     r.Reason,
			SecretPath: connector.SecretPath(t.name, sys.Name, a.Name),
			Params:     map[string]string{"user": a.Name},
			// Rotating the password the connector itself logs in (or
			// sudoes) with goes last: every other change still uses the
			// old one.
			Last: a.Password.Connector,
		})
	}
	for _, f := range sys.Findings {
		switch data := f.Data.(type) {
		case nil:
			a := accounts[f.Object]
			if f.Kind != connector.KindAccount || !f.Provider || a.State == "expired" {
				continue
			}
			ch := plan.Change{
				Action: plan.LockAccount, Object: f.Object, Finding: f.ID,
				Before: "account " + a.State, After: "password locked and account expired (not deleted): neither its password nor its keys log in",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"user": f.Object},
			}
			if f.Detail["uid_shared"] == "true" {
				// Its processes are another account's too (root's for
				// uid 0): they are not ended by its uid.
				ch.Params["sessions"] = "keep"
				ch.After += "; its processes are not ended: its uid " + f.Detail["uid"] + " is another account's too"
			}
			add(ch)
		case keyData:
			if !f.Provider {
				continue
			}
			add(plan.Change{
				Action: plan.RemoveKey, Object: f.Object + ":" + data.File, Finding: f.ID,
				Before: f.Summary, After: "key removed, the file's other keys and options kept",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"user": data.User, "file": data.File, "fingerprint": data.Fingerprint},
			})
		case grantData:
			if !f.Provider {
				continue
			}
			ch := plan.Change{
				Action: plan.RemoveGrant, Object: data.File + ":" + data.Text, Finding: f.ID,
				Before: f.Summary, After: "rule removed (checked with visudo before the file is replaced)",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"file": data.File, "text": data.Text, "members": strings.Join(data.Members, ",")},
			}
			switch {
			case data.Rewritten != "":
				// The rule also grants others: only the provider's users go.
				ch.Params["replace"] = data.Rewritten
				ch.After = "rule kept for " + strings.Join(data.Keep, ",") + " without the provider's " + strings.Join(data.Drop, ",") + ": " + data.Rewritten + " (checked with visudo)"
				ch.Params["members"] = strings.Join(data.Drop, ",")
			case data.SharedAlias:
				// The provider is in an alias shared with others: removing
				// the rule would take their rights too. Left for the admin
				// to edit; the finding stays open in the report.
				continue
			}
			add(ch)
		case cronData:
			if !f.Provider {
				continue
			}
			obj := data.File + ":" + data.Text
			if strings.Contains(data.Text, redacted) {
				// Two lines may differ only in what is hidden: the hash
				// keeps their changes (and ids) apart.
				obj += " #" + data.Hash[:12]
			}
			add(plan.Change{
				Action: plan.RemoveCron, Object: obj, Finding: f.ID,
				Before: f.Summary, After: "entry removed",
				Reason: strings.Join(f.Reasons, "; "),
				// The line's hash, not the line: it may hold a password,
				// and the plan goes into the journal and the report.
				Params: map[string]string{"file": data.File, "hash": data.Hash},
			})
		case persistData:
			if !f.Provider {
				continue
			}
			if ch, ok := persistChange(f, data); ok {
				add(ch)
			}
		case agentData:
			if !f.Provider {
				continue
			}
			add(plan.Change{
				Action: plan.RemoveAgent, Object: f.Object, Finding: f.ID,
				Before: f.Summary, After: "units stopped and disabled, packages purged, processes ended, files removed",
				Reason: strings.Join(f.Reasons, "; "),
				Params: map[string]string{"agent": f.Object, "packages": strings.Join(data.Packages, " "), "units": strings.Join(data.Units, " "), "paths": strings.Join(data.Paths, "\n")},
			})
		}
	}
	return out
}
