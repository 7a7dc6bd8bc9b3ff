package mail

import (
	"context"

	"github.com/handoverhq/handover/handover/connector"
)

// inventoryMailboxes is mode mailbox's inventory: each handed-over
// mailbox's login proven over IMAP. What mode mailbox cannot see is in
// docs/connectors/mail.md.
func (t *target) inventoryMailboxes(ctx context.Context, sys *connector.System) {
	sys.Facts = append(sys.Facts, connector.Fact{Name: "mode", Value: "mailbox (IMAP only: no server configuration, master users, Postfix maps or other users' scripts are visible)"})
	for _, h := range t.s.Mailboxes {
		a := connector.Account{Name: h.Login, State: "enabled", Admin: true,
			AdminVia: []string{"mailbox whose password the outgoing provider handed over (mailboxes:)"}}
		a.Reasons = t.out.Account(h.Login, h.Login)
		a.Provider = len(a.Reasons) > 0
		if !a.Provider {
			a.Password = &connector.Password{Held: t.heldByLogin(ctx, h.Login)}
		}
		sys.Accounts = append(sys.Accounts, a)
	}
}

// heldByLogin tells whether the store's current password of login logs in
// (mode mailbox has no hash to compare with).
func (t *target) heldByLogin(ctx context.Context, login string) connector.Held {
	if t.env.Secrets == nil {
		return connector.HeldUnknown
	}
	cur, ok, err := t.env.Secrets.Current(ctx, connector.SecretPath(t.name, t.s.Name, login))
	if err != nil {
		return connector.HeldUnknown
	}
	if !ok {
		return connector.HeldAbsent
	}
	defer cur.Destroy()
	works, _, err := t.imapLogin(ctx, login, cur)
	switch {
	case err != nil:
		return connector.HeldUnknown
	case works:
		return connector.HeldCurrent
	}
	return connector.HeldDiffers
}
