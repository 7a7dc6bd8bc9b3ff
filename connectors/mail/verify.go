package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/smtp"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// Verify proves the system's changes by an independent re-observation: the
// configuration, passwd-files, scripts and tables read again over SSH;
// master and provider logins tried over IMAP with their handed-over
// passwords (after flushing Dovecot's auth cache); and, when smtp is set,
// a test message delivered through Postfix to every mailbox a removed
// forward concerned, then the log and the queue read to see it delivered
// locally and nothing queued for the provider's domains.
//
// Long: one block per kind of change.
func (t *target) Verify(ctx context.Context, system string, done []connector.Done, _ connector.Observation) ([]connector.Check, error) {
	var e *estate
	var err error
	reread := "doveadm sieve get over SSH"
	if t.s.Mode == modeMailbox {
		e, _, err = t.readMailboxes(ctx)
		reread = "GETSCRIPT over ManageSieve as the mailbox"
	} else {
		e, err = t.read(ctx)
	}
	if err != nil {
		return nil, err
	}
	var checks []connector.Check
	add := func(ch plan.Change, kind connector.CheckKind, ok bool, what, detail string) {
		checks = append(checks, connector.Check{Change: ch.ID, Kind: kind, OK: ok, What: what, Detail: detail, At: t.now()})
	}
	var forwards []plan.Change
	var recipients []string
	flushed := false
	flush := func() error {
		if flushed {
			return nil
		}
		flushed = true
		t.settle(ctx)
		return t.flushAuthCache(ctx)
	}
	for _, d := range done {
		ch := d.Change
		switch ch.Action {
		case plan.RemoveGrant:
			logins := []string{ch.Params["login"]}
			if ch.Params["kind"] == "acl" {
				var rights []string
				read := false
				for _, a := range e.ACLs {
					if a.User != ch.Params["user"] || a.Mailbox != ch.Params["mailbox"] {
						continue
					}
					read = true
					for _, en := range a.Entries {
						if en.Identifier == ch.Params["id"] {
							rights = append(rights, en.Rights)
						}
					}
				}
				detail := "the mailbox has no ACL file any more"
				if read {
					detail = "rights now: " + strings.Join(rights, " ")
				}
				add(ch, connector.Absent, len(rights) == 0, fmt.Sprintf("IMAP ACL of %s on %s of %s: no entry (its dovecot-acl re-read over SSH)", ch.Params["id"], ch.Params["mailbox"], ch.Params["user"]), detail)
				continue
			}
			if ch.Params["kind"] == "master-passdb" {
				file := ch.Params["file"]
				var still []string
				for _, db := range e.DBs {
					if db.Kind == "passdb" && db.Master && db.File == file {
						still = append(still, db.label())
					}
				}
				add(ch, connector.Absent, len(still) == 0, fmt.Sprintf("no master passdb on %s in Dovecot's configuration (doveconf -n re-read over SSH, after doveadm reload)", file), strings.Join(still, "; "))
				logins = nil
				for _, h := range t.s.MasterUsers {
					logins = append(logins, h.Login)
				}
			} else {
				file := passdbFileOf(e, logins[0], true)
				add(ch, connector.Absent, file == "", fmt.Sprintf("master user %s: no entry in any master passdb (doveconf -n and the passwd-files re-read over SSH)", logins[0]), file)
			}
			for _, login := range logins {
				t.verifyMasterLogin(ctx, e, ch, login, flush, add)
			}
		case plan.ProveLogin:
			t.verifyDirectoryLogin(ctx, ch, flush, add)
		case plan.LockAccount:
			login := ch.Params["login"]
			state := "absent"
			for _, en := range e.Passwd[ch.Params["file"]] {
				if en.User == login {
					state = "enabled"
					if extraHas(en.Extra, "nologin") {
						state = "disabled (nologin)"
					}
				}
			}
			add(ch, connector.State, state == "disabled (nologin)", fmt.Sprintf("mailbox %s in %s re-read over SSH: %s", login, ch.Params["file"], state), "")
			pw, known, err := t.KnownCredential(ctx, ch)
			if err == nil && known {
				if err := flush(); err == nil {
					works, why, lerr := t.imapLogin(ctx, login, pw)
					if lerr != nil {
						add(ch, connector.State, false, t.imapMethod(login)+" with its handed-over password", lerr.Error())
					} else {
						add(ch, connector.State, !works, t.imapMethod(login)+" with its handed-over password: refused", refusedDetail(works, why))
					}
				}
				pw.Destroy()
			}
		case plan.RemoveForward:
			forwards = append(forwards, ch)
			drop := strings.Split(ch.Params["drop"], ",")
			switch ch.Params["kind"] {
			case "sieve":
				user, name := ch.Params["user"], ch.Params["script"]
				s, ok := findScript(e, user, name)
				if !ok {
					add(ch, connector.Absent, false, fmt.Sprintf("Sieve script %q of %s re-read (%s)", name, user, reread), "the script is gone")
					continue
				}
				var left []string
				kept := 0
				for _, a := range s.Actions {
					sends := slices.ContainsFunc(a.Addresses, func(v string) bool { return t.out.Domain(v) != "" })
					if sends && (a.Kind == "redirect" || a.Kind == "notify") {
						left = append(left, a.Text)
					} else if a.Kind != "include" {
						kept++
					}
				}
				add(ch, connector.Absent, len(left) == 0 && s.ParseErr == "", fmt.Sprintf("Sieve script %q of %s re-read (%s) and parsed: no action sends to %s", name, user, reread, strings.Join(drop, ", ")), strings.Join(append(left, s.ParseErr), " "))
				want := 0
				fmt.Sscan(ch.Params["kept"], &want)
				add(ch, connector.Present, kept >= want, fmt.Sprintf("Sieve script %q of %s keeps its %d other action(s) (vacation, fileinto, redirects elsewhere)", name, user, want), fmt.Sprintf("%d found", kept))
				backup := false
				for _, o := range e.Scripts {
					if o.User == user && strings.HasPrefix(o.Name, backupName(name, "")) && !o.Active {
						backup = true
					}
				}
				add(ch, connector.Present, backup, fmt.Sprintf("the old script of %s kept inactive as %s* (its script list re-read)", user, backupName(name, "")), "")
				if s.Active && !slices.Contains(recipients, user) {
					recipients = append(recipients, user)
				}
			case "postfix":
				file, key := ch.Params["file"], ch.Params["key"]
				var values []string
				found := false
				for _, m := range e.Maps {
					if m.File != file {
						continue
					}
					found = true
					for _, en := range m.Entries {
						if en.Key == key {
							values = en.Values
						}
					}
				}
				left := slices.DeleteFunc(slices.Clone(values), func(v string) bool { return !slices.Contains(drop, v) })
				what := fmt.Sprintf("Postfix table %s:%s re-read with %s -s over SSH: %s no longer sends to %s", ch.Params["type"], file, mapTool(ch.Params["param"]), key, strings.Join(drop, ", "))
				add(ch, connector.Absent, found && len(left) == 0, what, "now: "+strings.Join(values, ", "))
				if strings.Contains(key, "@") && !slices.Contains(recipients, key) {
					recipients = append(recipients, key)
				}
			case "sieve-global":
				file := ch.Params["file"]
				var s *script
				for i := range e.Scripts {
					if e.Scripts[i].Global && e.Scripts[i].Path == file {
						s = &e.Scripts[i]
					}
				}
				if s == nil {
					add(ch, connector.Absent, false, "global Sieve script "+file+" re-read over SSH", "the script is gone")
					continue
				}
				var left []string
				kept := 0
				for _, a := range s.Actions {
					if slices.ContainsFunc(a.Addresses, func(v string) bool { return t.out.Domain(v) != "" }) && (a.Kind == "redirect" || a.Kind == "notify") {
						left = append(left, a.Text)
					} else if a.Kind != "include" {
						kept++
					}
				}
				add(ch, connector.Absent, len(left) == 0 && s.ParseErr == "", "global Sieve script "+file+" re-read over SSH and parsed: no action sends to "+strings.Join(drop, ", "), strings.Join(append(left, s.ParseErr), " "))
				want := 0
				fmt.Sscan(ch.Params["kept"], &want)
				add(ch, connector.Present, kept >= want, fmt.Sprintf("global Sieve script %s keeps its %d other action(s)", file, want), fmt.Sprintf("%d found", kept))
			case "forward":
				var targets []string
				for _, f := range e.Forwards {
					if f.Path == ch.Params["file"] {
						targets = f.Targets
					}
				}
				left := slices.DeleteFunc(slices.Clone(targets), func(v string) bool { return !slices.Contains(drop, v) })
				add(ch, connector.Absent, len(left) == 0, ch.Params["file"]+" re-read over SSH: no destination in the provider's domains", strings.Join(targets, ", "))
				if a := ch.Params["address"]; a != "" && !slices.Contains(recipients, a) {
					recipients = append(recipients, a)
				}
			}
		}
	}
	if len(forwards) > 0 && t.s.SMTP != "" && len(recipients) > 0 && t.s.Mode == modeServer {
		ok, what, detail := t.deliveryProof(ctx, recipients)
		for _, ch := range forwards {
			add(ch, connector.Absent, ok, what, detail)
		}
	}
	return checks, nil
}

// verifyDirectoryLogin proves a mailbox's rotation by the directory's
// target over IMAP: the store's current password for its entry logs in,
// the handed-over one is refused, both after Dovecot's auth cache (which
// caches LDAP lookups) is flushed.
func (t *target) verifyDirectoryLogin(ctx context.Context, ch plan.Change, flush func() error, add func(plan.Change, connector.CheckKind, bool, string, string)) {
	login, path := ch.Params["login"], ch.Params["secret_path"]
	method := t.imapMethod(login)
	flushed := "; Dovecot's auth cache flushed first"
	if err := flush(); err != nil {
		add(ch, connector.NewWorks, false, "IMAP login of "+login+" not tried", err.Error())
		return
	}
	if t.env.Secrets == nil {
		add(ch, connector.NewWorks, false, "IMAP login of "+login+" with the directory's new password", "no secret store to read it from")
		return
	}
	next, ok, err := t.env.Secrets.Current(ctx, path)
	switch {
	case err != nil:
		add(ch, connector.NewWorks, false, "IMAP login of "+login+" with the directory's new password", "reading "+path+": "+err.Error())
	case !ok:
		add(ch, connector.NewWorks, false, "IMAP login of "+login+" with the directory's new password",
			fmt.Sprintf("the store holds no current password at %s: target %s did not rotate %s in this run; name it in policy.rotate.accounts (%s:%s)", path, ch.Params["directory"], ch.Params["dn"], ch.Params["directory"], ch.Params["dn"]))
	default:
		works, why, lerr := t.imapLogin(ctx, login, next)
		next.Destroy()
		what := fmt.Sprintf("%s with the password target %s set on %s (store %s)%s", method, ch.Params["directory"], ch.Params["dn"], path, flushed)
		if lerr != nil {
			add(ch, connector.NewWorks, false, what, lerr.Error())
		} else {
			add(ch, connector.NewWorks, works, what, why)
		}
	}
	old, known, err := t.KnownCredential(ctx, ch)
	if err != nil || !known {
		add(ch, connector.Note, true, "handed-over password of "+login+" not tried: the playbook hands over none", "")
		return
	}
	works, why, lerr := t.imapLogin(ctx, login, old)
	old.Destroy()
	what := method + " with the handed-over password" + flushed
	if lerr != nil {
		add(ch, connector.OldRejected, false, what, lerr.Error())
		return
	}
	add(ch, connector.OldRejected, !works, what, refusedDetail(works, why))
}

// verifyMasterLogin tries a master login MAILBOX<separator>login with
// the master user's handed-over password: it must be refused.
func (t *target) verifyMasterLogin(ctx context.Context, e *estate, ch plan.Change, login string, flush func() error, add func(plan.Change, connector.CheckKind, bool, string, string)) {
	pw, known, err := t.KnownCredential(ctx, plan.Change{Object: login})
	if err != nil || !known {
		add(ch, connector.Note, true, "master login not tried: the playbook hands over no password for "+login+" (master_users:)", "")
		return
	}
	defer pw.Destroy()
	mailbox := anyMailbox(e)
	sep := e.Conf.get("auth_master_user_separator")
	if sep == "" {
		sep = "*"
	}
	if err := flush(); err != nil {
		add(ch, connector.Absent, false, "master login "+mailbox+sep+login+" not tried", err.Error())
		return
	}
	works, why, lerr := t.imapLogin(ctx, mailbox+sep+login, pw)
	what := fmt.Sprintf("master login %s%s%s with the handed-over master password: %s; Dovecot's auth cache flushed first", mailbox, sep, login, t.imapMethod(mailbox+sep+login))
	if lerr != nil {
		add(ch, connector.Absent, false, what, lerr.Error())
		return
	}
	add(ch, connector.Absent, !works, what, refusedDetail(works, why))
}

func mapTool(param string) string {
	if param == "alias_maps" {
		return "postalias"
	}
	return "postmap"
}

func refusedDetail(works bool, why string) string {
	if works {
		return "the server accepted it"
	}
	return "the server refused it: " + why
}

// anyMailbox is a mailbox of the server, for a master login to open.
func anyMailbox(e *estate) string {
	for _, db := range e.DBs {
		if db.Kind == "passdb" && !db.Master && db.File != "" {
			for _, en := range e.Passwd[db.File] {
				if en.User != "" {
					return en.User
				}
			}
		}
	}
	return "postmaster"
}

// queued is one message of `postqueue -j`.
type queued struct {
	Queue      string `json:"queue_name"`
	ID         string `json:"queue_id"`
	Arrival    int64  `json:"arrival_time"`
	Recipients []struct {
		Address string `json:"address"`
		Reason  string `json:"delay_reason"`
	} `json:"recipients"`
}

// deliveryProof sends one test message through Postfix (SMTP, from the
// network) to recipients, waits until the log shows every recipient
// delivered, and reads the log and the queue: the proof holds when each is
// delivered, no log line of the message sends it to a provider domain, and
// no message queued since the sending has a recipient there.
func (t *target) deliveryProof(ctx context.Context, recipients []string) (bool, string, string) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	mid := fmt.Sprintf("handover-%s@%s", hex.EncodeToString(nonce), t.s.Name)
	what := fmt.Sprintf("test message <%s> sent over SMTP to %s at %s: delivered in the mailboxes, nothing sent or queued for the provider's domains (Postfix log and postqueue -j read over SSH)", mid, strings.Join(recipients, ", "), t.s.SMTP)
	sent := t.now().Add(-2 * time.Second).Unix()
	if err := t.sendTest(ctx, mid, recipients); err != nil {
		return false, what, "sending: " + err.Error()
	}
	r, err := t.runner(ctx)
	if err != nil {
		return false, what, err.Error()
	}
	deadline := time.Now().Add(30 * time.Second)
	var allDelivered time.Time
	for {
		out, err := r.Run(ctx, queueScript, []string{mid}, nil)
		if err != nil {
			return false, what, err.Error()
		}
		recs, _ := parseRecords(out)
		var log, queue string
		nolog := false
		for _, rec := range recs {
			switch rec.Kind {
			case "log":
				log = rec.Content
			case "nolog":
				nolog = true
			case "queue":
				queue = rec.Content
			}
		}
		var leaks, delivered []string
		for _, l := range strings.Split(log, "\n") {
			to := between(l, " to=<", ">")
			if to == "" {
				continue
			}
			if t.out.Domain(to) != "" {
				leaks = append(leaks, strings.TrimSpace(l))
			}
			// An alias's delivery names the alias as orig_to.
			for _, rc := range []string{to, between(l, " orig_to=<", ">")} {
				if strings.Contains(l, "status=sent") && slices.Contains(recipients, rc) && !slices.Contains(delivered, rc) {
					delivered = append(delivered, rc)
				}
			}
		}
		for _, l := range strings.Split(queue, "\n") {
			var q queued
			if json.Unmarshal([]byte(l), &q) != nil || q.Arrival < sent {
				continue
			}
			for _, rc := range q.Recipients {
				if t.out.Domain(rc.Address) != "" {
					leaks = append(leaks, fmt.Sprintf("queued %s (%s) for %s: %s", q.ID, q.Queue, rc.Address, rc.Reason))
				}
			}
		}
		switch {
		case len(leaks) > 0:
			return false, what, strings.Join(leaks, "; ")
		case nolog:
			return false, what, "no Postfix log found (maillog_file, /var/log/mail.log): delivery cannot be told"
		case len(delivered) == len(recipients):
			// A Sieve redirect is queued during the local delivery: the
			// log and the queue are read once more two seconds later.
			if allDelivered.IsZero() {
				allDelivered = time.Now()
			} else if time.Since(allDelivered) >= 2*time.Second {
				return true, what, "delivered to " + strings.Join(delivered, ", ")
			}
		case time.Now().After(deadline):
			return false, what, fmt.Sprintf("delivered only to %s after 30 s", strings.Join(delivered, ", "))
		}
		select {
		case <-ctx.Done():
			return false, what, ctx.Err().Error()
		case <-time.After(time.Second):
		}
	}
}

func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}

// sendTest sends the test message with net/smtp, bounded by the timeout.
func (t *target) sendTest(ctx context.Context, mid string, to []string) error {
	d := net.Dialer{Timeout: t.s.Timeout}
	conn, err := d.DialContext(ctx, "tcp", t.s.SMTP)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(t.s.Timeout))
	host, _, _ := net.SplitHostPort(t.s.SMTP)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	from := "handover@" + strings.SplitN(to[0], "@", 2)[1]
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: handover: test de remise (permis de construire)\r\nMessage-ID: <%s>\r\nDate: %s\r\n\r\nMessage de test envoye par handover pour verifier qu'aucune copie ne part chez l'ancien prestataire.\r\n",
		from, strings.Join(to, ", "), mid, t.now().Format(time.RFC1123Z))
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
