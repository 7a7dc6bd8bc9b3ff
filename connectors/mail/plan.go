package mail

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Plan derives the changes from an inventory and the engine's decisions,
// without I/O:
//
//   - rotate-password for every mailbox or master user the engine decided
//     to rotate (passwd-file passdbs);
//   - remove-grant for each master user of the provider (its passdb entry);
//   - lock-account for each mailbox of the provider still enabled (login
//     disabled with Dovecot's nologin field; its mail is kept);
//   - remove-forward for each Sieve script, Postfix table entry and
//     .forward file sending mail to the provider.
func (t *target) Plan(inv *connector.Inventory, d connector.Decisions) ([]plan.Change, error) {
	var changes []plan.Change
	for _, sys := range inv.Systems {
		if sys.Error != "" {
			continue
		}
		files := map[string]string{}
		for _, f := range sys.Findings {
			if m, ok := f.Data.(mailboxData); ok {
				files[m.Login] = m.File
			}
		}
		for _, a := range sys.Accounts {
			if a.Provider {
				if a.State == "enabled" {
					file := files[a.Name]
					if file == "" {
						continue
					}
					changes = append(changes, plan.Change{
						Target: inv.Target, System: sys.Name, Action: plan.LockAccount, Object: a.Name,
						Before: "login enabled", After: "login disabled (nologin in " + file + "); its mail is kept",
						Reason:  "mailbox of the outgoing provider: " + strings.Join(a.Reasons, "; ") + "; disabled rather than deleted, its mail is evidence",
						Finding: "account:" + a.Name,
						Params:  map[string]string{"file": file, "login": a.Name},
					})
				}
				continue
			}
			r, ok := d.Rotation(sys.Name, a.Name)
			if !ok || a.Password == nil {
				continue
			}
			changed := "of unknown age (a passwd-file keeps no date)"
			if a.PasswordChanged != nil {
				changed = "last changed " + a.PasswordChanged.Format(time.RFC3339)
			}
			ch := plan.Change{
				Target: inv.Target, System: sys.Name, Action: plan.RotatePassword, Object: a.Name,
				Before: "password " + changed, After: "new generated password, stored before it is set (SHA512-CRYPT, hashed by handover)",
				Reason: r.Reason, SecretPath: connector.SecretPath(inv.Target, sys.Name, a.Name),
				Params: map[string]string{"login": a.Name},
			}
			if isMaster(a) {
				// A master user logs in only as MAILBOX<separator>MASTER.
				if box := someMailbox(sys); box != "" {
					ch.Params["imap_login"] = box + factOf(sys, "master_user_separator") + a.Name
				}
			}
			changes = append(changes, ch)
		}
		for _, f := range sys.Findings {
			if _, directory := f.Data.(ldapMailboxData); f.Data == nil || !f.Provider && !directory {
				continue
			}
			switch x := f.Data.(type) {
			case masterData:
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.RemoveGrant, Object: "master user " + x.Login,
					Before: "entry in the master passdb " + x.File + ": opens every mailbox", After: "no such entry: a master login fails",
					Reason: "master user of the outgoing provider: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
					Params: map[string]string{"file": x.File, "login": x.Login},
				})
			case masterPassdbData:
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.RemoveGrant, Object: "master passdb " + x.File,
					Before: f.Summary + ", declared in " + x.Conf,
					After:  fmt.Sprintf("no master passdb: its block removed from the file of %s that declares it (checked with doveconf -n, the old file kept beside it as NAME.avant-handover-DATE), Dovecot reloaded", x.Conf),
					Reason: "master passdb of the outgoing provider's master users only: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
					Params: map[string]string{"kind": "master-passdb", "file": x.File, "conf": x.Conf},
				})
			case ldapMailboxData:
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.ProveLogin, Object: x.Login,
					Before: "password in the directory (" + x.DN + "), as the outgoing provider handed it over",
					After:  "the password target " + x.Directory + " sets on " + x.DN + " (its rotation, made before this proof) logs in over IMAP; the handed-over one is refused; nothing is changed on the mail server",
					Reason: "mailbox authenticated by the directory: rotated by target " + x.Directory + ", proven over IMAP here", Finding: f.ID,
					Params: map[string]string{"kind": "ldap", "login": x.Login, "dn": x.DN, "directory": x.Directory, "secret_path": x.SecretPath},
				})
			case aclData:
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.RemoveGrant, Object: "acl " + x.Owner + " " + x.Mailbox + " " + x.Identifier,
					Before: f.Summary, After: x.Identifier + " has no right on " + x.Mailbox + " of " + x.Owner + " (doveadm acl delete)",
					Reason: "IMAP ACL opening a client's mailbox to the outgoing provider: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
					Params: map[string]string{"kind": "acl", "user": x.Owner, "mailbox": x.Mailbox, "id": x.Identifier, "file": x.File},
				})
			case sieveData:
				if x.Global {
					changes = append(changes, plan.Change{
						Target: inv.Target, System: sys.Name, Action: plan.RemoveForward, Object: "sieve global " + x.Path,
						Before: f.Summary,
						After:  fmt.Sprintf("the script without its actions sending to %s (checked with sievec; the old one kept beside it as %s, a name Dovecot does not run)", strings.Join(x.Drop, ", "), path.Base(x.Path)+".avant-handover-DATE"),
						Reason: "global Sieve rule (run for every mailbox) sending mail to the outgoing provider: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
						Params: map[string]string{"kind": "sieve-global", "file": x.Path, "drop": strings.Join(x.Drop, ","), "kept": fmt.Sprint(x.Kept)},
					})
					continue
				}
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.RemoveForward, Object: "sieve " + x.User + " " + x.Script,
					Before: f.Summary,
					After:  fmt.Sprintf("the script without its actions sending to %s (checked with sievec; the old one kept inactive as %s)", strings.Join(x.Drop, ", "), backupName(x.Script, "DATE")),
					Reason: "Sieve rule sending the mailbox's mail to the outgoing provider: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
					Params: map[string]string{"kind": "sieve", "user": x.User, "script": x.Script, "drop": strings.Join(x.Drop, ","), "kept": fmt.Sprint(x.Kept)},
				})
			case mapData:
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.RemoveForward, Object: "postfix " + x.File + " " + x.Key,
					Before: f.Summary, After: fmt.Sprintf("%s without %s (source edited, table rebuilt, postfix reloaded)", x.Key, strings.Join(x.Drop, ", ")),
					Reason: "Postfix " + x.Param + " entry copying mail to the outgoing provider: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
					Params: map[string]string{"kind": "postfix", "param": x.Param, "type": x.Type, "file": x.File, "key": x.Key, "drop": strings.Join(x.Drop, ",")},
				})
			case forwardData:
				changes = append(changes, plan.Change{
					Target: inv.Target, System: sys.Name, Action: plan.RemoveForward, Object: "forward " + x.Path,
					Before: f.Summary, After: x.Path + " without " + strings.Join(x.Drop, ", ") + " (edited as the account that owns its directory; removed if nothing is left; the old file kept beside it as " + path.Base(x.Path) + ".avant-handover-DATE)",
					Reason: ".forward sending mail to the outgoing provider: " + strings.Join(f.Reasons, "; "), Finding: f.ID,
					Params: map[string]string{"kind": "forward", "file": x.Path, "drop": strings.Join(x.Drop, ","), "address": x.Address},
				})
			}
		}
	}
	for i := range changes {
		changes[i].MakeID()
	}
	return changes, nil
}

// backupName is the name a rewritten script's old version is kept under.
func backupName(script, date string) string {
	return script + "-avant-handover-" + date
}

func isMaster(a connector.Account) bool {
	return len(a.AdminVia) > 0 && strings.HasPrefix(a.AdminVia[0], "master passdb")
}

// someMailbox is a mailbox of the system (not a master user) for a master
// login to open.
func someMailbox(sys connector.System) string {
	for _, a := range sys.Accounts {
		if !isMaster(a) && !a.Provider && a.State == "enabled" {
			return a.Name
		}
	}
	return ""
}

func factOf(sys connector.System, name string) string {
	for _, f := range sys.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
