package report

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/handoverhq/handover/handover/connector"
)

// The connectors and the engine write the dossier's reasons, states,
// links, facts, findings' summaries and manual steps, a change's before
// and after, checks, errors and deviations in English, as report.json
// stores them. A format 3 rendering in another language translates these
// words of the tool's own when it prints them: whole phrases
// (toolPhrases), patterns (toolPatterns) and the wordings as the code
// writes them, fmt formats (frenchWordings); what they quote from the
// estate (names, domains, paths, lines, its own errors) stays as it is.
// Reports of earlier formats render as they were signed, untranslated.

// toolPhrases are whole phrases, per language.
var toolPhrases = map[string]map[string]string{
	"fr": {
		// account states
		"current": "à jour", "differs": "différent", "absent": "absent",
		"enabled": "actif", "disabled": "désactivé", "locked": "verrouillé", "expired": "expiré", "unknown": "inconnu",
		// fact names
		"hostname": "nom d'hôte", "os": "système", "os_id": "identifiant du système", "os_version": "version du système",
		"kernel": "noyau", "package_manager": "gestionnaire de paquets", "systemd": "systemd",
		"running": "en marche", "not running (services read from unit files and processes)": "arrêté (services lus dans les fichiers d'unité et les processus)",
		"accounts": "comptes", "accounts_enabled": "comptes actifs", "accounts_disabled": "comptes désactivés",
		"accounts_locked": "comptes verrouillés", "accounts_expired": "comptes expirés",
		"admin_accounts": "comptes administrateurs", "admin_groups": "groupes d'administration",
		"referrals_not_followed": "renvois non suivis", "dialect": "dialecte", "mode": "mode", "resolver": "résolveur",
		"unanswered questions": "questions sans réponse", "answers over TCP": "répond en TCP",
		"registrar (RDAP)": "bureau d'enregistrement (RDAP)", "registrar abuse contact": "contact abus du bureau d'enregistrement",
		"registration expires": "expiration de l'enregistrement",
		"DKIM selectors":       "sélecteurs DKIM", "server": "serveur", "naming context": "contexte de nommage",
		"vendor": "éditeur", "version": "version", "base": "base", "schema": "schéma", "imap": "IMAP", "managesieve": "ManageSieve",
		"sshd_passwordauthentication":       "sshd : authentification par mot de passe (PasswordAuthentication)",
		"sshd_kbdinteractiveauthentication": "sshd : authentification interactive (KbdInteractiveAuthentication)",
		"sshd_permitrootlogin":              "sshd : connexion de root (PermitRootLogin)",
		"sshd_authorizedkeysfile":           "sshd : fichiers de clés autorisées (AuthorizedKeysFile)",
		"sshd_authorizedkeyscommand":        "sshd : commande de clés autorisées (AuthorizedKeysCommand)",
		// link kinds
		"authenticates against": "s'authentifie auprès de", "relays mail to": "relaie le courrier vers",
		"backs up to": "sauvegarde vers", "called": "appelle", "mail": "courrier",
		// finding kinds
		"ssh-key": "clé SSH", "account": "compte", "grant": "droit", "cron": "tâche planifiée", "agent": "logiciel de prise en main",
		"forward": "renvoi", "token": "jeton", "auth-method": "méthode d'authentification", "membership": "appartenance",
		"policy": "politique", "master-user": "utilisateur maître", "credential-age": "ancienneté de l'identifiant",
		"service": "service", "process": "processus", "persistence": "persistance", "tunnel": "tunnel",
		"cloud-service": "service cloud", "dns-record": "enregistrement DNS",
		// admin rights and reasons
		"sudo group": "groupe sudo", "wheel group": "groupe wheel", "uid 0": "uid 0", "password policy": "politique de mots de passe",
		"remote-access agent in the catalogue":                                                    "logiciel de prise en main à distance du catalogue",
		"selected for removal by outgoing.agents":                                                 "désigné pour retrait par outgoing.agents du playbook",
		"account attributed to the provider":                                                      "compte attribué au prestataire",
		"mailbox whose password the outgoing provider handed over (mailboxes:)":                   "boîte dont le prestataire sortant a remis le mot de passe (mailboxes:)",
		"function or admin mailbox whose password the outgoing provider handed over (mailboxes:)": "boîte de fonction ou d'administration dont le prestataire sortant a remis le mot de passe (mailboxes:)",
		"a second account with uid 0: root's rights under another name":                           "un second compte d'uid 0 : les droits de root sous un autre nom",
	},
}

// toolPattern is a phrase with values of the estate in it.
type toolPattern struct {
	re  *regexp.Regexp
	out string
	// needs is the longest stretch of plain text the expression needs
	// (outside its groups), for a quick test before it runs.
	needs string
}

func pattern(expr, out string) toolPattern {
	return toolPattern{re: regexp.MustCompile(expr), out: out, needs: plainText(expr)}
}

// plainText is the longest stretch of an expression's own text, outside
// its groups and operators.
func plainText(expr string) string {
	depth, cur, best := 0, "", ""
	keep := func() {
		if len(cur) > len(best) {
			best = cur
		}
		cur = ""
	}
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\\' && i+1 < len(expr):
			i++
			if depth == 0 && strings.ContainsRune(`.()"'`, rune(expr[i])) {
				cur += string(expr[i])
			} else {
				keep()
			}
		case c == '(':
			keep()
			depth++
		case c == ')':
			depth--
		case depth > 0:
		case strings.ContainsRune("^$.*+?[]{}|", rune(c)):
			keep()
		default:
			cur += string(c)
		}
	}
	keep()
	return best
}

var fieldFR = map[string]string{"name": "le nom", "comment": "le commentaire", "mail": "l'adresse", "display name": "le nom affiché", "description": "la description", "owner": "le propriétaire"}

var toolPatterns = map[string][]toolPattern{
	"fr": {
		pattern(`^(name|comment|mail|display name|description|owner) (".*") matches outgoing\.(\w+) pattern (".*")$`, "$F $2 correspond au motif $4 (outgoing.$3 du playbook)"),
		pattern(`^(name|comment|mail|display name|description|owner) (".*") is in the provider's domain (\S+)$`, "$F $2 est dans le domaine du prestataire $3"),
		pattern(`^(name|comment|mail|display name|description|owner) mentions the provider's name (".*")$`, "$F mentionne le nom du prestataire $2"),
		pattern(`^mentions the provider's domain (\S+)$`, "mentionne le domaine du prestataire $1"),
		pattern(`^mentions the provider's name (".*")$`, "mentionne le nom du prestataire $1"),
		pattern(`^catalogue entry (.*) \((.*), (.*)\)$`, "entrée du catalogue $1 ($2, $3)"),
		pattern(`^grants the provider's account (.*)$`, "donne des droits au compte du prestataire $1"),
		pattern(`^authorises the provider's account (.*)$`, "autorise le compte du prestataire $1"),
		pattern(`^an authorized_keys file of the provider's account (.*)$`, "un fichier authorized_keys du compte du prestataire $1"),
		pattern(`^crontab of the provider's account (.*)$`, "crontab du compte du prestataire $1"),
		pattern(`^runs as the provider's account (.*)$`, "s'exécute sous le compte du prestataire $1"),
		pattern(`^file name (.*)$`, "son nom de fichier $R1"),
		pattern(`^calls (.*), as the provider's entry in (.*) does$`, "appelle $1, comme l'entrée du prestataire dans $2"),
		pattern(`^copies mail to (.*), in the provider's domain (.*)$`, "copie le courrier vers $1, dans le domaine du prestataire $2"),
		pattern(`^copies every message to (.*), in the provider's domain (.*)$`, "copie chaque message vers $1, dans le domaine du prestataire $2"),
		pattern(`^sends mail to (.*), in the provider's domain (.*)$`, "envoie du courrier à $1, dans le domaine du prestataire $2"),
		pattern(`^sends to (.*), in the provider's domain (.*)$`, "envoie à $1, dans le domaine du prestataire $2"),
		pattern(`^forwards to the provider's domain: (.*)$`, "renvoie vers le domaine du prestataire : $1"),
		pattern(`^its only policies are the provider's: (.*)$`, "ses seules politiques sont celles du prestataire : $1"),
		pattern(`^policy (.*)$`, "politique $1"),
		// re-observations written as checks
		pattern(`^(.*) \(store: (\w+)\)$`, "$R1 (coffre : $R2)"),
		pattern(`^access key in (\S+) \(re-inventory: the file's keys read anew\)$`, "clé d'accès présente dans $1 (nouvel inventaire : les clés du fichier relues)"),
		pattern(`^shadow hash of (\S+) is the stored password's \(re-inventory: /etc/shadow read anew, compared with the store\)$`, "l'empreinte de /etc/shadow de $1 est celle du mot de passe rangé au coffre (nouvel inventaire : /etc/shadow relu et comparé)"),
		pattern(`^account (\w+) \(re-read\)$`, "compte $R1 (relu)"),
		pattern(`^account still exists$`, "le compte existe toujours"),
		pattern(`^entity (\S+) disabled \(re-read\)$`, "entité $1 désactivée (relue)"),
		pattern(`^(.+) is still there \(re-read\)$`, "$1 est toujours là (relu)"),
		pattern(`^(.+) is gone from the directory$`, "$1 n'est plus dans l'annuaire"),
		pattern(`^(.+) \((enabled|disabled|locked|expired|unknown)\)$`, "$1 ($R2)"),
		pattern(`^member of (.*)$`, "membre de $1"),
		pattern(`^user (\S+): (.*)$`, "utilisateur $1 : $R2"),
		pattern(`^master passdb (\S+): logs in to any mailbox as (\S+) with its own password$`, "passdb maître $1 : ouvre toute boîte comme $2 avec son propre mot de passe"),
	},
}

// toolFormat is one of the tool's wordings as its code writes it, a fmt
// format (frenchWordings), read back by a regular expression: each verb
// a value, the rest the wording's own text.
type toolFormat struct {
	re *regexp.Regexp
	// greedy reads the values the other way: where two of them could
	// share a ", " (a list, then a name), re gives the first value the
	// least text, greedy the most; the translator keeps the better
	// reading. Nil with fewer than two text values.
	greedy *regexp.Regexp
	// prefix, suffix and chunks are the format's own text: what a phrase
	// of the format starts and ends with, and holds in this order. A
	// phrase without them is not the format's; checking them first spares
	// most expressions.
	prefix, suffix string
	chunks         []string
	out            string
	own            int // how much text of its own the format has
}

// fits reports whether s may be a phrase of f: its own text in order.
func (f *toolFormat) fits(s string) bool {
	if !strings.HasPrefix(s, f.prefix) || !strings.HasSuffix(s, f.suffix) {
		return false
	}
	for _, c := range f.chunks {
		i := strings.Index(s, c)
		if i < 0 {
			return false
		}
		s = s[i+len(c):]
	}
	return true
}

var formatVerb = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)

// compileFormats reads each English format of pairs as an expression:
// %s and %v any text, %q a quoted string, %d a number. They are sorted by
// how much text of their own they have: of two readings of a phrase as
// good, the more specific wording's wins.
func compileFormats(pairs [][2]string) []toolFormat {
	out := make([]toolFormat, 0, len(pairs))
	for _, p := range pairs {
		var re, greedy strings.Builder
		re.WriteString(`(?s)^`)
		greedy.WriteString(`(?s)^`)
		var chunks []string
		total, last, values := 0, 0, 0
		write := func(lazy, most string) {
			re.WriteString(lazy)
			greedy.WriteString(most)
		}
		text := func(t string) {
			write(regexp.QuoteMeta(t), regexp.QuoteMeta(t))
			total += len(t)
			if t != "" {
				chunks = append(chunks, t)
			}
		}
		for _, loc := range formatVerb.FindAllStringIndex(p[0], -1) {
			text(p[0][last:loc[0]])
			last = loc[1]
			switch verb := p[0][loc[0]:loc[1]]; verb[len(verb)-1] {
			case '%':
				text("%")
			case 'q':
				write(`("(?:[^"\\]|\\.)*")`, `("(?:[^"\\]|\\.)*")`)
			case 'd':
				write(`(-?\d+)`, `(-?\d+)`)
			default:
				write(`(.*?)`, `(.*)`)
				values++
			}
		}
		text(p[0][last:])
		write(`$`, `$`)
		f := toolFormat{re: regexp.MustCompile(re.String()), chunks: chunks, out: p[1], own: total}
		if loc := formatVerb.FindStringIndex(p[0]); loc == nil {
			f.prefix = p[0]
		} else {
			f.prefix = p[0][:loc[0]]
			locs := formatVerb.FindAllStringIndex(p[0], -1)
			f.suffix = p[0][locs[len(locs)-1][1]:]
		}
		f.prefix, f.suffix = strings.ReplaceAll(f.prefix, "%%", "%"), strings.ReplaceAll(f.suffix, "%%", "%")
		if values > 1 {
			f.greedy = regexp.MustCompile(greedy.String())
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].own > out[j].own })
	return out
}

// toolFormats are the wordings of frenchWordings, read as expressions.
// Compiled on first use: a command that renders no French report (most
// do not render at all) does not pay for hundreds of expressions.
var toolFormats = map[string]func() []toolFormat{"fr": sync.OnceValue(func() []toolFormat { return compileFormats(frenchWordings) })}

// translator translates the phrases the tool wrote into one language,
// remembering what it read (a report repeats its reasons host after
// host).
type translator struct {
	lang string
	seen map[string]reading
}

// reading is a text as the translator read it: its translation, how
// much of it the tool's phrases account for (their own words, the
// values they quote aside), and the parts none of them reads.
type reading struct {
	out     string
	score   int
	unknown []string
	// lead: the first part was read as one of the tool's phrases.
	lead bool
}

// listSep is how a language joins the tool's phrases that the English
// joins with "; " (French puts a space before the semicolon). Two parts
// neither of which is the tool's keep the separator they had.
var listSep = map[string]string{"fr": " ; "}

func newTranslator(lang string) *translator {
	return &translator{lang: lang, seen: map[string]reading{}}
}

// toolText translates one phrase the tool wrote; a phrase it does not
// know is returned as it is.
func toolText(lang, s string) string {
	out, _, _ := newTranslator(lang).phrase(s)
	return out
}

// phrase translates s as one phrase of the tool's: a whole phrase, an
// engine's identifier, or the wording or pattern that reads it best. ok
// is false when none reads it; score is how many of its characters the
// phrases' own words account for.
func (t *translator) phrase(s string) (out string, score int, ok bool) {
	if t.lang == "en" || s == "" {
		return s, 0, true
	}
	key := "\x01" + s
	if r, ok := t.seen[key]; ok {
		return r.out, r.score, r.unknown == nil
	}
	r := reading{out: s, unknown: []string{s}}
	if p, ok := toolPhrases[t.lang][s]; ok {
		r = reading{out: p, score: len(s)}
	} else if p, ok := engineIdentifier(t.lang, s); ok {
		r = reading{out: p, score: len(s)}
	} else if out, score, ok := t.match(s); ok {
		r = reading{out: out, score: score}
	} else if out, score, ok := t.wrapped(s); ok {
		r = reading{out: out, score: score}
	}
	t.seen[key] = r
	return r.out, r.score, r.unknown == nil
}

// match reads s with the tool's wordings and patterns that fit it whole,
// keeping the reading whose own words account for the most of it (a
// wording of its own rather than a shorter one it happens to fit).
func (t *translator) match(s string) (string, int, bool) {
	out, score, ok := s, 0, false
	if goNetError.MatchString(s) {
		// Go's own words, not a wording of the tool's that starts with
		// the same verb ("read %s: %w").
		return out, score, ok
	}
	try := func(re *regexp.Regexp, template string) bool {
		m := re.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		if o, sc := t.expand(template, m); !ok || sc > score {
			out, score, ok = o, sc, true
		}
		return true
	}
	var formats []toolFormat
	if f := toolFormats[t.lang]; f != nil {
		formats = f()
	}
	for i := range formats {
		// The greedy expression fits the same phrases as the lazy one:
		// only its reading of the values differs.
		if f := &formats[i]; f.fits(s) && try(f.re, f.out) && f.greedy != nil {
			try(f.greedy, f.out)
		}
	}
	for _, p := range toolPatterns[t.lang] {
		if strings.Contains(s, p.needs) {
			try(p.re, p.out)
		}
	}
	return out, score, ok
}

// wrapped reads s as an error of the tool's that a library wrapped in
// its own words ("ssh: handshake failed: host key of ... does not
// match"): the library's prefix stays as it is, what follows it is read
// as one of the tool's wordings (not a lone word of toolPhrases: a
// library's message may be one, "unknown").
func (t *translator) wrapped(s string) (string, int, bool) {
	for i := strings.Index(s, ": "); i >= 0; {
		if out, score, ok := t.match(s[i+2:]); ok && score > 0 {
			return s[:i+2] + out, score, true
		}
		next := strings.Index(s[i+2:], ": ")
		if next < 0 {
			break
		}
		i += 2 + next
	}
	return s, 0, false
}

// goNetError is how Go's network errors start: "read tcp
// 10.0.0.1:5->10.0.0.2:389: ...", "dial udp ...".
var goNetError = regexp.MustCompile(`^(?:read|write|dial|accept|listen|close) (?:tcp|udp|ip|unix|unixgram|unixpacket)[46]? `)

var expandRef = regexp.MustCompile(`\$(?:F|R?\d+)`)

// expand fills a translation's template with what the English held: $1
// as it is, $R1 translated, $F the field a pattern names. One pass, so
// that a value holding "$2" (a shell line) stays as it is. The score is
// the text the wording's own words matched, plus what its translated
// values' phrases account for.
func (t *translator) expand(template string, m []string) (string, int) {
	score := len(m[0])
	for _, g := range m[1:] {
		score -= len(g)
	}
	out := expandRef.ReplaceAllStringFunc(template, func(ref string) string {
		if ref == "$F" {
			score += len(m[1])
			return fieldFR[m[1]]
		}
		i, err := strconv.Atoi(strings.TrimLeft(ref, "$R"))
		if err != nil || i >= len(m) {
			return ref
		}
		if strings.HasPrefix(ref, "$R") {
			r := t.value(m[i])
			score += r.score
			return r.out
		}
		return m[i]
	})
	return out, score
}

// list translates what the tool joined with "; ": a finding's summary
// ("X; by hand: Y"), reasons, an error. The parts are read as the tool's
// phrases the way that accounts for most of the text: one phrase may
// hold "; " itself (a manual step of several commands); a part none
// reads stays as it is.
func (t *translator) list(s string) string { return t.parts(s, "; ").out }

// value translates a phrase of the tool's quoted in another: a state, a
// list joined with "; " or ", ". A value none reads (the estate's) stays
// as it is.
func (t *translator) value(s string) reading {
	r := t.parts(s, "; ")
	if len(r.unknown) > 0 && !strings.Contains(s, "; ") && strings.Contains(s, ", ") {
		if c := t.parts(s, ", "); c.score > r.score {
			return c
		}
	}
	return r
}

// parts reads s as a list of phrases joined with sep: of every way to
// group its parts into phrases, the one whose phrases account for the
// most text.
func (t *translator) parts(s, sep string) reading {
	if t.lang == "en" || s == "" {
		return reading{out: s}
	}
	key := sep + "\x00" + s
	if r, ok := t.seen[key]; ok {
		return r
	}
	parts := strings.Split(s, sep)
	n := len(parts)
	// best[i] is the best reading of parts[i:].
	best := make([]reading, n+1)
	for i := n - 1; i >= 0; i-- {
		var pick reading
		found := false
		for j := n; j > i; j-- {
			text := strings.Join(parts[i:j], sep)
			out, score, ok := t.phrase(text)
			var r reading
			switch {
			case ok:
				r = reading{out: out, score: score, lead: true}
			case j == i+1:
				r = reading{out: text, unknown: []string{text}}
			default:
				continue
			}
			if j < n {
				join := sep
				if fr, ok := listSep[t.lang]; ok && sep == "; " && (r.lead || best[j].lead) {
					join = fr
				}
				r.out += join + best[j].out
				r.score += best[j].score
				r.unknown = append(r.unknown, best[j].unknown...)
			}
			if !found || r.score > pick.score {
				pick, found = r, true
			}
		}
		best[i] = pick
	}
	t.seen[key] = best[0]
	return best[0]
}

// localiseView translates the tool's English words a format 3 view
// carries from report.json into the view's language: what the
// connectors and the engine wrote (states, reasons, summaries, manual
// steps, a change's before and after, checks, errors, deviations), never
// the estate's values they quote.
func localiseView(v *view, w words) {
	lang := w.lang
	if lang == "en" {
		return
	}
	t := newTranslator(lang)
	list, text := t.list, func(s string) string { out, _, _ := t.phrase(s); return out }
	for i := range v.Targets {
		for j := range v.Targets[i].Systems {
			s := &v.Targets[i].Systems[j]
			s.Error = list(s.Error)
			facts := make([]connector.Fact, 0, len(s.Facts))
			for _, f := range s.Facts {
				facts = append(facts, connector.Fact{Name: text(f.Name), Value: factValue(t, f)})
			}
			s.Facts = facts
			for k := range s.Accounts {
				a := &s.Accounts[k]
				a.State, a.Via, a.Reasons = text(a.State), list(a.Via), list(a.Reasons)
			}
			for _, fs := range [][]findingRow{s.Findings, s.After} {
				for k := range fs {
					f := &fs[k]
					f.Kind, f.Summary, f.Reasons = text(f.Kind), list(f.Summary), list(f.Reasons)
				}
			}
			links := make([]connector.Link, 0, len(s.Links))
			for _, l := range s.Links {
				l.Kind = text(l.Kind)
				links = append(links, l)
			}
			s.Links = links
		}
	}
	for i := range v.Actions {
		for k := range v.Actions[i].Rows {
			row := &v.Actions[i].Rows[k]
			row.Before, row.After, row.Error = list(row.Before), list(row.After), list(row.Error)
			other := make([]string, 0, len(row.checks))
			for _, c := range row.checks {
				c.what, c.detail = list(c.what), list(c.detail)
				other = append(other, c.String())
			}
			row.Other = other
		}
	}
	for i := range v.Services {
		c := &v.Services[i]
		lists := make([]namedList, 0, len(c.Lists))
		for _, l := range c.Lists {
			items := make([]connector.CardItem, 0, len(l.Items))
			for _, it := range l.Items {
				it.Text = list(it.Text)
				items = append(items, it)
			}
			lists = append(lists, namedList{Name: text(l.Name), Items: items})
		}
		c.Lists = lists
	}
	for i := range v.Edges {
		v.Edges[i].Kind = text(v.Edges[i].Kind)
	}
	for i := range v.Admins {
		v.Admins[i].Via = list(v.Admins[i].Via)
	}
	for i := range v.Access {
		a := &v.Access[i]
		a.Why, a.Kind, a.Summary = list(a.Why), text(a.Kind), list(a.Summary)
	}
	for i := range v.Cloud {
		v.Cloud[i].Roles = t.value(v.Cloud[i].Roles).out
	}
	for i := range v.Declared {
		d := &v.Declared[i]
		d.Action, d.Detail = engineWord(lang, "decl", d.Action), list(d.Detail)
	}
	// The deviations are the report's own: translated in copies.
	failures := make([]Failure, 0, len(v.Failures))
	for _, f := range v.Failures {
		f.Error = list(f.Error)
		failures = append(failures, f)
	}
	v.Failures = failures
	residual := make([]string, 0, len(v.Residual))
	for _, r := range v.Residual {
		residual = append(residual, list(r))
	}
	v.Residual = residual
	for i := range v.Handoffs {
		v.Handoffs[i].Result = list(v.Handoffs[i].Result)
	}
	for i := range v.Actions {
		for k := range v.Actions[i].Rows {
			row := &v.Actions[i].Rows[k]
			if raw := string(row.result); !w.has("res."+raw) && strings.HasPrefix(row.Result, raw) {
				row.Result = engineWord(lang, "res", raw) + strings.TrimPrefix(row.Result, raw)
			}
		}
	}
	for i := range v.Journal {
		r := &v.Journal[i]
		r.Kind = engineWord(lang, "rec", r.Kind)
		parts := strings.Split(r.What, " · ")
		for k, p := range parts {
			switch {
			case w.has("act." + p):
				parts[k] = w.T("act." + p)
			case w.has("mode." + p):
				parts[k] = w.T("mode." + p)
			default:
				parts[k] = engineWord(lang, "event", p)
			}
		}
		r.What = strings.Join(parts, " · ")
		r.Result = w.Maybe("res."+r.Result, engineWord(lang, "res", r.Result))
		r.Error = list(r.Error)
	}
}

// engineWords are the engine's own identifiers a format 3 rendering
// prints, per language: the journal's record kinds and events, results
// the label table has no word for, a declared item's action. An
// identifier not listed is printed as it is (an action's object, say).
var engineWords = map[string]map[string]string{
	"fr": {
		"rec.run-start": "début d'exécution", "rec.run-end": "fin d'exécution", "rec.inventory": "inventaire", "rec.plan": "plan",
		"rec.intent": "intention", "rec.outcome": "résultat", "rec.verify": "vérification", "rec.recover": "reprise",
		"rec.event": "événement", "rec.export": "export", "rec.import": "import", "rec.receipt": "accusé de réception", "rec.attest": "attestation",
		"event.attestations": "attestations", "event.drift-accepted": "écart accepté", "event.drift-acknowledged": "écart pris en compte",
		"event.host-key-trusted": "clé d'hôte acceptée à la première connexion", "event.merge-shard": "fusion d'un lot", "event.resume": "reprise",
		"res.ok": "ok", "res.aborted": "interrompue", "res.never-applied": "jamais appliquée", "res.unresolved": "non résolue",
		"res.rejected": "refusée par la cible", "res.unknown": "issue inconnue", "res.verified": "vérifiée", "res.unproven": "non prouvée",
		"res.old-rejected": "ancien identifiant refusé", "res.old-accepted": "ancien identifiant encore accepté",
		"res.old-untested": "ancien identifiant non essayé", "res.partial": "partielle", "res.attested": "attestée", "res.done": "faite",
		"decl.rotate": "renouveler l'identifiant", "decl.revoke-provider-account": "révoquer le compte du prestataire",
		"decl.transfer-ownership": "transférer la propriété", "decl.nothing": "rien",
	},
}

// engineIdentifier is an action's or a result's identifier (remove-key,
// failed) as the labels word it, when the engine quotes it in a phrase
// (a failure: "remove-key OBJECT: failed: ERROR").
func engineIdentifier(lang, s string) (string, bool) {
	for _, k := range []string{"act.", "res."} {
		if l, ok := labels[lang][k+s]; ok {
			return l, true
		}
	}
	l, ok := engineWords[lang]["res."+s]
	return l, ok
}

// engineWord is an identifier of the engine's (kind is rec, event, res
// or decl) in lang, or the identifier itself.
func engineWord(lang, kind, id string) string {
	if s, ok := engineWords[lang][kind+"."+id]; ok {
		return s
	}
	return id
}

// factValue translates the values the tool itself words (systemd's
// state, what a connector says of a setting); the estate's values stay
// as they are.
func factValue(t *translator, f connector.Fact) string {
	if f.Name == "systemd" {
		out, _, _ := t.phrase(f.Value)
		return out
	}
	if b, ok := factBool[t.lang][f.Value]; ok {
		return b
	}
	return t.value(f.Value).out
}

// factBool are a yes or no a connector prints as Go does (true, false).
var factBool = map[string]map[string]string{"fr": {"true": "oui", "false": "non"}}
