package mail

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/handoverhq/handover/connectors/internal/shacrypt"
	"github.com/handoverhq/handover/connectors/internal/sshremote"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
)

// stepResults runs a batch and returns each step's outcome by step name.
func runBatch(ctx context.Context, r *sshremote.Runner, b *batch) (map[string]error, error) {
	out, err := r.Run(ctx, b.script(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("apply script: %w", err)
	}
	recs, _ := parseRecords(out)
	res := map[string]error{}
	ended := false
	for _, rec := range recs {
		switch rec.Kind {
		case "ok":
			res[rec.Name] = nil
		case "fail":
			res[rec.Name] = errors.New(rec.Content)
		case "end":
			ended = true
		}
	}
	if !ended {
		return res, fmt.Errorf("apply script ended early: %s", strings.TrimSpace(string(out)))
	}
	return res, nil
}

// fileState is a file read just before it is edited: its content and the
// digest the write checks it still has.
type fileState struct {
	content string
	sum     string
}

// readFiles reads files afresh over SSH; a file that is absent or a
// symbolic link is an error.
func readFiles(ctx context.Context, r *sshremote.Runner, paths []string) (map[string]fileState, error) {
	var args []string
	for _, p := range paths {
		args = append(args, "file:"+p)
	}
	out, err := r.Run(ctx, readScript, args, nil)
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	recs, _ := parseRecords(out)
	got := map[string]fileState{}
	var errs []error
	for _, rec := range recs {
		switch rec.Kind {
		case "file":
			got[rec.Name] = fileState{content: rec.Content, sum: sha256hex(rec.Content)}
		case "absent":
			errs = append(errs, fmt.Errorf("%s is absent", rec.Name))
		case "link":
			errs = append(errs, fmt.Errorf("%s is a symbolic link: the connector does not follow one", rec.Name))
		}
	}
	return got, errors.Join(errs...)
}

// readAuth reads the configuration's passdbs and userdbs (doveconf -n)
// and their passwd-files, as they are now: what a rotation needs, without
// the rest of the inventory.
func (t *target) readAuth(ctx context.Context, r *sshremote.Runner) (*estate, map[string]fileState, error) {
	out, err := r.Run(ctx, inventoryScript, []string{"auth"}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory script: %w", err)
	}
	recs, _ := parseRecords(out)
	e := &estate{Passwd: map[string][]passwdEntry{}, Raw: map[string]string{}}
	for _, rec := range recs {
		switch rec.Kind {
		case "missing":
			return nil, nil, fmt.Errorf("%s is not installed on the mail host (or not on root's PATH)", rec.Name)
		case "doveconf":
			if e.Conf, err = parseDoveconf(rec.Content); err != nil {
				return nil, nil, err
			}
		}
	}
	if e.Conf == nil {
		return nil, nil, fmt.Errorf("doveconf -n gave no configuration")
	}
	e.DBs = authDBs(e.Conf)
	var paths []string
	for _, db := range e.DBs {
		if db.Kind == "passdb" && db.File != "" && !db.Variables && !slices.Contains(paths, db.File) {
			paths = append(paths, db.File)
		}
	}
	// A passdb file that is absent or a link only matters if a login to
	// rotate is in it; then the login is in no file read, and says so.
	files, _ := readFiles(ctx, r, paths)
	for p, st := range files {
		e.Passwd[p] = parsePasswdFile(st.content)
	}
	return e, files, nil
}

// passdbFileOf finds the passwd-file passdb holding login (masters
// included), from a fresh read of the configuration.
func passdbFileOf(e *estate, login string, master bool) string {
	for _, db := range e.DBs {
		if db.Kind != "passdb" || db.File == "" || db.Master != master {
			continue
		}
		for _, en := range e.Passwd[db.File] {
			if en.User == login {
				return db.File
			}
		}
	}
	return ""
}

// SetCredentials sets new passwords in their passwd-files: each hash is
// computed here ({SHA512-CRYPT}), each file read afresh, its lines edited
// and the file replaced atomically (never through a symbolic link, and
// only if unchanged since it was read). Dovecot's auth cache is then
// flushed and the accounts' sessions ended, and each new password is
// proven by an IMAP login over the network.
func (t *target) SetCredentials(ctx context.Context, system string, creds []connector.Credential) []connector.Set {
	t.writing.Lock()
	defer t.writing.Unlock()
	out := make([]connector.Set, len(creds))
	fail := func(err error) []connector.Set {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	r, err := t.runner(ctx)
	if err != nil {
		return fail(err)
	}
	// The passdbs and their passwd-files only: two round trips, whatever
	// the number of mailboxes.
	e, files, err := t.readAuth(ctx, r)
	if err != nil {
		return fail(err)
	}
	byFile := map[string][]int{}
	for i, c := range creds {
		if c.Change.Action != plan.RotatePassword {
			out[i].Err = fmt.Errorf("mail: cannot rotate %s", c.Change.Action)
			continue
		}
		login := c.Change.Object
		file := passdbFileOf(e, login, false)
		if file == "" {
			file = passdbFileOf(e, login, true)
		}
		if file == "" {
			out[i].Err = fmt.Errorf("%s is in no passwd-file passdb of the server", login)
			continue
		}
		byFile[file] = append(byFile[file], i)
	}
	var paths []string
	for f := range byFile {
		paths = append(paths, f)
	}
	slices.Sort(paths)
	var b batch
	step := map[int]string{}
	var users []string
	for _, f := range paths {
		hashes := map[string]string{}
		for _, i := range byFile[f] {
			pw := creds[i].Secret.RevealBytes()
			h, err := shacrypt.New(pw, rand.Reader)
			clear(pw)
			if err != nil {
				out[i].Err = err
				continue
			}
			hashes[creds[i].Change.Object] = "{SHA512-CRYPT}" + h
			users = append(users, creds[i].Change.Object)
		}
		var logins []string
		for l := range hashes {
			logins = append(logins, l)
		}
		text, missing := editPasswdFile(files[f].content, logins, func(user string, fields []string) []string {
			fields[1] = hashes[user]
			return fields
		})
		if len(missing) > 0 {
			for _, i := range byFile[f] {
				out[i].Err = fmt.Errorf("%s: no entry for %s", f, strings.Join(missing, ", "))
			}
			continue
		}
		name := fmt.Sprintf("w%d", len(step))
		for _, i := range byFile[f] {
			step[i] = name
		}
		b.call("write_file", name, f, files[f].sum, b64(text))
	}
	b.call("try", "flush", "doveadm", "auth", "cache", "flush")
	b.call("kick_users", append([]string{"kick"}, users...)...)
	res, err := runBatch(ctx, r, &b)
	t.wrote()
	t.settle(ctx)
	if ferr := t.flushAuthCache(ctx); ferr != nil && err == nil {
		err = ferr
	}
	var proofs []int
	for i := range creds {
		if out[i].Err != nil {
			continue
		}
		s, ok := step[i]
		switch {
		case !ok:
			out[i].Err = errors.New("not written")
		case err != nil && res[s] == nil:
			if _, done := res[s]; !done {
				out[i].Err = err
			}
		default:
			out[i].Err = res[s]
		}
		if out[i].Err == nil {
			proofs = append(proofs, i)
		}
	}
	parallel(len(proofs), func(k int) {
		i := proofs[k]
		login := imapLoginOf(creds[i].Change)
		works, why, lerr := t.imapLogin(ctx, login, creds[i].Secret)
		out[i].Proven = &connector.Tried{Works: works, Err: lerr, Method: t.imapMethod(login) + ", right after the passwd-file was replaced and Dovecot's auth cache flushed", Detail: why}
	})
	return out
}

// TryCredentials flushes Dovecot's auth cache (so that a password changed
// since cannot answer from it), then logs in over IMAP afresh with each
// credential.
func (t *target) TryCredentials(ctx context.Context, system string, creds []connector.Credential) []connector.Tried {
	out := make([]connector.Tried, len(creds))
	flushed := "Dovecot's auth cache flushed first (doveadm auth cache flush over SSH)"
	t.settle(ctx)
	if t.s.Mode == modeServer {
		if err := t.flushAuthCache(ctx); err != nil {
			for i := range out {
				out[i].Err = fmt.Errorf("flush Dovecot's auth cache before trying: %w", err)
			}
			return out
		}
	} else {
		flushed = "mode mailbox: Dovecot's auth cache could not be flushed; an old password may answer from it until its TTL"
	}
	parallel(len(creds), func(i int) {
		login := imapLoginOf(creds[i].Change)
		works, why, err := t.imapLogin(ctx, login, creds[i].Secret)
		out[i] = connector.Tried{Works: works, Err: err, Method: t.imapMethod(login) + "; " + flushed, Detail: why}
	})
	return out
}

func (t *target) flushAuthCache(ctx context.Context) error {
	r, err := t.runner(ctx)
	if err != nil {
		return err
	}
	var b batch
	b.call("run", "flush", "doveadm", "auth", "cache", "flush")
	res, err := runBatch(ctx, r, &b)
	if err != nil {
		return err
	}
	return res["flush"]
}

// KnownCredential returns the password the playbook says was handed over
// for ch's mailbox or master user.
func (t *target) KnownCredential(ctx context.Context, ch plan.Change) (secret.Secret, bool, error) {
	login := ch.Params["login"]
	if login == "" {
		login = ch.Object
	}
	for _, h := range append(slices.Clone(t.s.Mailboxes), t.s.MasterUsers...) {
		if strings.EqualFold(h.Login, login) {
			v, err := t.resolve(ctx, h.Password)
			if err != nil {
				return secret.Secret{}, false, err
			}
			return v, true, nil
		}
	}
	return secret.Secret{}, false, nil
}

// Apply makes a system's other changes in one SSH session: the master
// users' entries removed and the provider's mailboxes disabled
// (passwd-files), the Sieve scripts rewritten (sievec first, the old one
// kept inactive), the Postfix sources edited and their tables rebuilt,
// then Postfix reloaded and Dovecot's auth cache flushed.
//
// Long: one pass per kind of change, then one script.
func (t *target) Apply(ctx context.Context, system string, changes []plan.Change, _ connector.SecretReader) connector.Applied {
	t.writing.Lock()
	defer t.writing.Unlock()
	if t.s.Mode == modeMailbox {
		return t.applyMailboxes(ctx, changes)
	}
	res := make([]connector.ChangeResult, len(changes))
	failAll := func(err error) connector.Applied {
		for i := range res {
			res[i].Err = err
		}
		return connector.Applied{Results: res}
	}
	r, err := t.runner(ctx)
	if err != nil {
		return failAll(err)
	}
	e, err := t.read(ctx)
	if err != nil {
		return failAll(err)
	}
	// Files to edit: passwd-files, Postfix sources, .forward files.
	fileChanges := map[string][]int{}
	var confChanges []int
	details := map[int]string{}
	for i, ch := range changes {
		switch {
		case ch.Action == plan.RemoveGrant && ch.Params["kind"] == "master-passdb":
			confChanges = append(confChanges, i)
		case ch.Action == plan.RemoveGrant && ch.Params["kind"] == "acl":
			// doveadm acl delete, below.
		case ch.Action == plan.ProveLogin:
			details[i] = "nothing changed on the mail server: the password is the directory's, set by target " + ch.Params["directory"] + "; proven over IMAP by the verification"
		case ch.Action == plan.RemoveGrant || ch.Action == plan.LockAccount:
			fileChanges[ch.Params["file"]] = append(fileChanges[ch.Params["file"]], i)
		case ch.Action == plan.RemoveForward && (ch.Params["kind"] == "postfix" || ch.Params["kind"] == "forward"):
			if ch.Params["type"] == "texthash" {
				res[i].Err = fmt.Errorf("a texthash table is read by Postfix at start: edit %s by hand", ch.Params["file"])
				continue
			}
			fileChanges[ch.Params["file"]] = append(fileChanges[ch.Params["file"]], i)
		case ch.Action == plan.RemoveForward && ch.Params["kind"] == "sieve":
		case ch.Action == plan.RemoveForward && ch.Params["kind"] == "sieve-global":
			fileChanges[ch.Params["file"]] = append(fileChanges[ch.Params["file"]], i)
		default:
			res[i].Err = fmt.Errorf("mail: cannot apply %s", ch.Action)
		}
	}
	var paths []string
	for f := range fileChanges {
		if f != "" {
			paths = append(paths, f)
		}
	}
	slices.Sort(paths)
	files := map[string]fileState{}
	if len(paths) > 0 {
		if files, err = readFiles(ctx, r, paths); err != nil {
			return failAll(err)
		}
	}
	var b batch
	stepOf := map[int]string{}
	var rebuild [][2]string       // tool, type:file
	var globalBackups [][3]string // step, file, backup
	for _, f := range paths {
		text := files[f].content
		name := fmt.Sprintf("f%d", len(stepOf))
		changed := false
		for _, i := range fileChanges[f] {
			ch := changes[i]
			if res[i].Err != nil {
				continue
			}
			switch ch.Action {
			case plan.RemoveGrant:
				var missing []string
				text, missing = editPasswdFile(text, []string{ch.Params["login"]}, func(string, []string) []string { return nil })
				if len(missing) > 0 {
					details[i] = "already absent from " + f
					continue
				}
				details[i] = "entry removed from " + f
			case plan.LockAccount:
				text, _ = editPasswdFile(text, []string{ch.Params["login"]}, func(_ string, fields []string) []string {
					for len(fields) < 8 {
						fields = append(fields, "")
					}
					extra := strings.Join(fields[7:], ":")
					if !extraHas(extra, "nologin") {
						extra = strings.TrimSpace(extra + " nologin reason=Compte_desactive_par_handover")
					}
					return append(fields[:7], extra)
				})
				details[i] = "nologin set in " + f
			case plan.RemoveForward:
				if ch.Params["kind"] == "sieve-global" {
					s := newScript("", path.Base(f), f, true, true, text)
					if s.ParseErr != "" {
						res[i].Err = fmt.Errorf("global script %s cannot be parsed now (%s): not changed", f, s.ParseErr)
						continue
					}
					var spans [][2]int
					for _, a := range s.Actions {
						if (a.Kind == "redirect" || a.Kind == "notify") && slices.ContainsFunc(a.Addresses, func(v string) bool { return t.out.Domain(v) != "" }) {
							spans = append(spans, [2]int{a.Start, a.End})
						}
					}
					if len(spans) == 0 {
						details[i] = "no action sends to the provider any more"
						continue
					}
					globalBackups = append(globalBackups, [3]string{name, f, f + ".avant-handover-" + t.now().UTC().Format("20060102-150405")})
					text = removeSieveActions(text, spans)
					details[i] = fmt.Sprintf("%d action(s) removed; the old script kept as %s.avant-handover-*", len(spans), path.Base(f))
					break
				}
				drop := strings.Split(ch.Params["drop"], ",")
				isDrop := func(v string) bool {
					return slices.ContainsFunc(drop, func(d string) bool { return strings.EqualFold(d, v) })
				}
				var ok bool
				if ch.Params["kind"] == "forward" {
					text, ok = dropForward(text, isDrop)
				} else {
					text, ok = dropMapValues(text, ch.Params["param"] == "alias_maps", ch.Params["key"], isDrop)
					tool := "postmap"
					if ch.Params["param"] == "alias_maps" {
						tool = "postalias"
					}
					if rb := [2]string{tool, ch.Params["type"] + ":" + f}; !slices.Contains(rebuild, rb) {
						rebuild = append(rebuild, rb)
					}
				}
				if !ok {
					details[i] = "no provider address left in " + f
					continue
				}
				details[i] = "removed " + ch.Params["drop"] + " from " + f
			}
			changed = true
			stepOf[i] = name
		}
		if changed {
			isGlobal := false
			for _, g := range globalBackups {
				if g[0] == name {
					isGlobal = true
					// Checked and kept before the file is replaced; then
					// compiled where Dovecot looks for its binary.
					b.call("sieve_global", name, f, g[2], files[f].sum, b64(files[f].content), b64(text))
				}
			}
			switch {
			case isGlobal:
			case path.Base(f) == ".forward":
				content := b64(text)
				if len(forwardTargets(text)) == 0 {
					content = "" // nothing left: the file goes
				}
				b.call("forward_write", name, f, files[f].sum, f+".avant-handover-"+t.now().UTC().Format("20060102-150405"), content)
			default:
				b.call("write_file", name, f, files[f].sum, b64(text))
			}
		}
	}
	date := t.now().UTC().Format("20060102-150405")
	for i, ch := range changes {
		if ch.Action != plan.RemoveGrant || ch.Params["kind"] != "acl" || res[i].Err != nil {
			continue
		}
		if !slices.ContainsFunc(e.ACLs, func(a aclFile) bool {
			return a.User == ch.Params["user"] && a.Mailbox == ch.Params["mailbox"] &&
				slices.ContainsFunc(a.Entries, func(en aclEntry) bool { return en.Identifier == ch.Params["id"] })
		}) {
			details[i] = "no such ACL entry any more"
			continue
		}
		name := fmt.Sprintf("a%d", i)
		stepOf[i] = name
		details[i] = fmt.Sprintf("doveadm acl delete -u %s %s %s", ch.Params["user"], ch.Params["mailbox"], ch.Params["id"])
		b.call("run", name, "doveadm", "acl", "delete", "-u", ch.Params["user"], ch.Params["mailbox"], ch.Params["id"])
	}
	// Configuration edits come last: doveadm reload restarts Dovecot's
	// services, and a doveadm command run meanwhile can fail.
	var confCalls [][]string
	for _, i := range confChanges {
		ch := changes[i]
		if res[i].Err != nil {
			continue
		}
		if !slices.ContainsFunc(e.DBs, func(db authDB) bool { return db.Kind == "passdb" && db.Master && db.File == ch.Params["file"] }) {
			details[i] = "no master passdb on " + ch.Params["file"] + " any more"
			continue
		}
		file, st, block, err := t.findMasterPassdb(ctx, r, ch.Params["conf"], ch.Params["file"])
		if err != nil {
			res[i].Err = err
			continue
		}
		name := fmt.Sprintf("c%d", i)
		stepOf[i] = name
		backup := file + ".avant-handover-" + date
		details[i] = fmt.Sprintf("passdb block (lines %d-%d) removed from %s, checked with doveconf -n, Dovecot reloaded; the old file kept as %s", block.Start+1, block.End+1, file, backup)
		text := removeBlock(st.content, block, fmt.Sprintf("passdb (master = yes, %s) removed by handover on %s: master users of the outgoing provider; the old file is %s", ch.Params["file"], date, path.Base(backup)))
		confCalls = append(confCalls, []string{name, file, st.sum, backup, b64(text)})
	}
	for i, ch := range changes {
		if ch.Action != plan.RemoveForward || ch.Params["kind"] != "sieve" || res[i].Err != nil {
			continue
		}
		s, ok := findScript(e, ch.Params["user"], ch.Params["script"])
		if !ok {
			details[i] = "the script is gone"
			continue
		}
		if s.ParseErr != "" {
			res[i].Err = fmt.Errorf("script %q of %s cannot be parsed now (%s): not changed", s.Name, s.User, s.ParseErr)
			continue
		}
		var spans [][2]int
		for _, a := range s.Actions {
			if a.Kind != "redirect" && a.Kind != "notify" {
				continue
			}
			if slices.ContainsFunc(a.Addresses, func(v string) bool { return t.out.Domain(v) != "" }) {
				spans = append(spans, [2]int{a.Start, a.End})
			}
		}
		if len(spans) == 0 {
			details[i] = "no action sends to the provider any more"
			continue
		}
		name := fmt.Sprintf("s%d", i)
		stepOf[i] = name
		backup := backupName(s.Name, date)
		details[i] = fmt.Sprintf("%d action(s) removed; the old script kept inactive as %q", len(spans), backup)
		b.call("sieve_replace", name, s.User, s.Name, backup, s.RawSum, b64(s.Content), b64(removeSieveActions(s.Content, spans)))
	}
	for _, rb := range rebuild {
		b.call("run", "rebuild "+rb[1], rb[0], rb[1])
	}
	if len(rebuild) > 0 {
		b.call("run", "reload", "postfix", "reload")
	}
	b.call("try", "flush", "doveadm", "auth", "cache", "flush")
	// Sessions opened before the change keep their access: end them. A
	// master login shows as its mailbox's owner, so removing a master user
	// ends every session (mail clients log in again by themselves).
	kickAll := false
	for i, ch := range changes {
		if res[i].Err != nil {
			continue
		}
		switch ch.Action {
		case plan.RemoveGrant:
			kickAll = true
		case plan.LockAccount:
			b.call("try", "kick", "doveadm", "kick", ch.Params["login"])
		}
	}
	if kickAll {
		b.call("try", "kick", "doveadm", "kick", "*")
	}
	for _, c := range confCalls {
		b.call("conf_replace", c...)
	}
	if len(confCalls) > 0 && kickAll {
		// Sessions opened between the kick and the reload: once Dovecot
		// answers again, once more.
		b.call("try", "kick again", "doveadm", "kick", "*")
	}
	var results map[string]error
	if b.steps > 0 {
		results, err = runBatch(ctx, r, &b)
		t.wrote()
	}
	for i := range changes {
		if res[i].Err != nil {
			continue
		}
		res[i].Detail = details[i]
		s, ok := stepOf[i]
		if !ok {
			continue // nothing left to do
		}
		if rerr, done := results[s]; done {
			res[i].Err = rerr
		} else if err != nil {
			res[i].Err = err
		} else {
			res[i].Err = errors.New("step did not run")
		}
		if res[i].Err == nil && changes[i].Params["kind"] == "postfix" {
			for _, rb := range rebuild {
				if strings.HasSuffix(rb[1], ":"+changes[i].Params["file"]) {
					if rerr := results["rebuild "+rb[1]]; rerr != nil {
						res[i].Err = fmt.Errorf("source edited, table not rebuilt: %w", rerr)
					}
				}
			}
			if rerr := results["reload"]; res[i].Err == nil && rerr != nil {
				res[i].Err = fmt.Errorf("table rebuilt, postfix not reloaded: %w", rerr)
			}
		}
	}
	return connector.Applied{Results: res}
}

// findMasterPassdb finds the file of Dovecot's configuration that
// declares the master passdb of passwd-file file: the main file conf, or
// a file it includes (!include, !include_try), three levels deep at most.
func (t *target) findMasterPassdb(ctx context.Context, r *sshremote.Runner, conf, file string) (string, fileState, confBlock, error) {
	files, err := readFiles(ctx, r, []string{conf})
	if err != nil {
		return "", fileState{}, confBlock{}, err
	}
	for range 3 {
		var patterns []string
		var names []string
		for name := range files {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			st := files[name]
			if b, ok := masterPassdbBlock(st.content, file); ok {
				return name, st, b, nil
			}
			patterns = append(patterns, includes(st.content, path.Dir(name))...)
		}
		if len(patterns) == 0 {
			break
		}
		var args []string
		for _, p := range patterns {
			args = append(args, "glob:"+p)
		}
		out, err := r.Run(ctx, readScript, args, nil)
		if err != nil {
			return "", fileState{}, confBlock{}, fmt.Errorf("read script: %w", err)
		}
		recs, _ := parseRecords(out)
		files = map[string]fileState{}
		for _, rec := range recs {
			if rec.Kind == "file" {
				files[rec.Name] = fileState{content: rec.Content, sum: sha256hex(rec.Content)}
			}
		}
	}
	return "", fileState{}, confBlock{}, fmt.Errorf("no passdb block with master = yes and %s found in %s or the files it includes: remove it by hand", file, conf)
}

func findScript(e *estate, user, name string) (script, bool) {
	for _, s := range e.Scripts {
		if !s.Global && s.User == user && s.Name == name {
			return s, true
		}
	}
	return script{}, false
}

// dropForward removes destinations from a .forward file's lines.
func dropForward(text string, drop func(string) bool) (string, bool) {
	lines := strings.Split(text, "\n")
	changed := false
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			out = append(out, l)
			continue
		}
		var keep []string
		for _, v := range strings.Split(t, ",") {
			v = strings.TrimSpace(v)
			if drop(strings.Trim(strings.TrimPrefix(v, `\`), `"`)) {
				changed = true
				continue
			}
			keep = append(keep, v)
		}
		if len(keep) > 0 {
			out = append(out, strings.Join(keep, ", "))
		}
	}
	return strings.Join(out, "\n"), changed
}

// loginParallel bounds the IMAP logins made at once: each is a TLS
// handshake and a Dovecot login process.
const loginParallel = 8

// parallel runs fn(0..n-1), loginParallel at a time.
func parallel(n int, fn func(int)) {
	sem := make(chan struct{}, loginParallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// imapLoginOf is the IMAP login that proves a change's password: the
// mailbox's, or for a master user MAILBOX<separator>MASTER.
func imapLoginOf(ch plan.Change) string {
	if l := ch.Params["imap_login"]; l != "" {
		return l
	}
	return ch.Object
}
