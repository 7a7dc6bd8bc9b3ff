package mail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// Mode mailbox works for hosted mail where only mailbox passwords were
// handed over: each mailbox's login proven over IMAP, its Sieve scripts
// read and cleaned over ManageSieve with its own password. It cannot see
// or change the server's configuration, master users, other users'
// scripts, the MTA's aliases and copies, nor change a password (neither
// protocol can): docs/connectors/mail.md lists what it cannot do.

// mailboxPassword is the password mode mailbox logs in with: the
// handed-over one (mode mailbox rotates nothing).
func (t *target) mailboxPassword(ctx context.Context, login string) (secret.Secret, error) {
	for _, h := range t.s.Mailboxes {
		if strings.EqualFold(h.Login, login) {
			return t.resolve(ctx, h.Password)
		}
	}
	return secret.Secret{}, fmt.Errorf("%s is not in mailboxes:", login)
}

// readMailboxes reads every handed-over mailbox's Sieve scripts over
// ManageSieve.
func (t *target) readMailboxes(ctx context.Context) (*estate, map[string]string, error) {
	e := &estate{}
	logins := map[string]string{} // login -> why it could not be read
	for _, h := range t.s.Mailboxes {
		pw, err := t.mailboxPassword(ctx, h.Login)
		if err != nil {
			return nil, nil, err
		}
		c, ok, why, err := t.dialSieve(ctx, h.Login, pw)
		pw.Destroy()
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			logins[h.Login] = "ManageSieve login refused: " + why
			continue
		}
		names, active, err := c.list()
		if err == nil {
			for _, n := range names {
				content, gerr := c.get(n)
				if gerr != nil {
					err = gerr
					break
				}
				s := newScript(h.Login, n, "", n == active, false, content)
				s.RawSum = s.sum()
				e.Scripts = append(e.Scripts, s)
			}
		}
		c.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("managesieve %s: %w", h.Login, err)
		}
	}
	return e, logins, nil
}

// inventoryMailboxes is mode mailbox's inventory.
func (t *target) inventoryMailboxes(ctx context.Context, sys *connector.System) error {
	sys.Facts = append(sys.Facts,
		connector.Fact{Name: "mode", Value: "mailbox: IMAP and ManageSieve with each mailbox's own password; the server's configuration, master users, aliases and other mailboxes are not visible, and no password can be changed"},
		connector.Fact{Name: "imap", Value: t.s.IMAP},
		connector.Fact{Name: "managesieve", Value: t.s.ManageSieve})
	e, refused, err := t.readMailboxes(ctx)
	if err != nil {
		return err
	}
	for _, h := range t.s.Mailboxes {
		a := connector.Account{Name: h.Login, State: "enabled", Admin: true,
			AdminVia: []string{"mailbox whose password the outgoing provider handed over (mailboxes:)"}}
		a.Reasons = t.out.Account(h.Login, h.Login)
		a.Provider = len(a.Reasons) > 0
		pw, err := t.mailboxPassword(ctx, h.Login)
		if err != nil {
			return err
		}
		works, why, err := t.imapLogin(ctx, h.Login, pw)
		pw.Destroy()
		switch {
		case err != nil:
			return err
		case !works:
			a.State = "unknown"
			sys.Findings = append(sys.Findings, connector.Finding{ID: "login:" + h.Login, Kind: connector.KindCredAge, Object: h.Login,
				Summary: "the handed-over password of " + h.Login + " does not log in over IMAP (" + why + "): the provider may have changed it"})
		}
		if r, ok := refused[h.Login]; ok {
			sys.Findings = append(sys.Findings, connector.Finding{ID: "sieve-unread:" + h.Login, Kind: connector.KindForward, Object: h.Login,
				Summary: h.Login + ": Sieve scripts not read (" + r + ")"})
		}
		sys.Accounts = append(sys.Accounts, a)
	}
	sys.Findings = append(sys.Findings, t.sieveFindings(e.Scripts)...)
	return nil
}

// applyMailboxes rewrites Sieve scripts over ManageSieve as each mailbox:
// the server checks the new script (CHECKSCRIPT) before it is stored, the
// old one is kept under a dated name (inactive), and the active script
// stays active (PUTSCRIPT over it).
func (t *target) applyMailboxes(ctx context.Context, changes []plan.Change) connector.Applied {
	res := make([]connector.ChangeResult, len(changes))
	date := t.now().UTC().Format("20060102-150405")
	for i, ch := range changes {
		if ch.Action != plan.RemoveForward || ch.Params["kind"] != "sieve" {
			res[i].Err = fmt.Errorf("mode mailbox cannot %s: it needs the server (mode server)", ch.Action)
			continue
		}
		res[i].Detail, res[i].Err = t.rewriteOverSieve(ctx, ch.Params["user"], ch.Params["script"], date)
	}
	return connector.Applied{Results: res}
}

func (t *target) rewriteOverSieve(ctx context.Context, user, name, date string) (string, error) {
	pw, err := t.mailboxPassword(ctx, user)
	if err != nil {
		return "", err
	}
	c, ok, why, err := t.dialSieve(ctx, user, pw)
	pw.Destroy()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("ManageSieve login refused: " + why)
	}
	defer c.Close()
	content, err := c.get(name)
	if err != nil {
		return "", err
	}
	s := newScript(user, name, "", false, false, content)
	if s.ParseErr != "" {
		return "", fmt.Errorf("script %q of %s cannot be parsed (%s): not changed", name, user, s.ParseErr)
	}
	var spans [][2]int
	for _, a := range s.Actions {
		if (a.Kind == "redirect" || a.Kind == "notify") && slices.ContainsFunc(a.Addresses, func(v string) bool { return t.out.Domain(v) != "" }) {
			spans = append(spans, [2]int{a.Start, a.End})
		}
	}
	if len(spans) == 0 {
		return "no action sends to the provider any more", nil
	}
	next := removeSieveActions(content, spans)
	if err := c.check(next); err != nil {
		return "", fmt.Errorf("the server refused the rewritten script (CHECKSCRIPT): %w", err)
	}
	backup := backupName(name, date)
	if err := c.put(backup, content); err != nil {
		return "", fmt.Errorf("keeping the backup %s: %w", backup, err)
	}
	if err := c.put(name, next); err != nil {
		return "", fmt.Errorf("PUTSCRIPT %s: %w", name, err)
	}
	return fmt.Sprintf("%d action(s) removed over ManageSieve; the old script kept inactive as %q", len(spans), backup), nil
}
