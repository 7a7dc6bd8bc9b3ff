package report

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// The connectors write the dossier's reasons, states, links and fact
// names in English, as they are stored in report.json. A format 3
// rendering in another language translates these words of the tool's own
// when it prints them; what they quote from the estate (names, domains,
// paths, values) stays as it is. Reports of earlier formats render as they
// were signed, untranslated.

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
}

var fieldFR = map[string]string{"name": "le nom", "comment": "le commentaire", "mail": "l'adresse", "display name": "le nom affiché", "description": "la description", "owner": "le propriétaire"}

var toolPatterns = map[string][]toolPattern{
	"fr": {
		{regexp.MustCompile(`^(name|comment|mail|display name|description|owner) (".*") matches outgoing\.(\w+) pattern (".*")$`), "$F $2 correspond au motif $4 (outgoing.$3 du playbook)"},
		{regexp.MustCompile(`^(name|comment|mail|display name|description|owner) (".*") is in the provider's domain (\S+)$`), "$F $2 est dans le domaine du prestataire $3"},
		{regexp.MustCompile(`^(name|comment|mail|display name|description|owner) mentions the provider's name (".*")$`), "$F mentionne le nom du prestataire $2"},
		{regexp.MustCompile(`^mentions the provider's domain (\S+)$`), "mentionne le domaine du prestataire $1"},
		{regexp.MustCompile(`^mentions the provider's name (".*")$`), "mentionne le nom du prestataire $1"},
		{regexp.MustCompile(`^catalogue entry (.*) \((.*), (.*)\)$`), "entrée du catalogue $1 ($2, $3)"},
		{regexp.MustCompile(`^grants the provider's account (.*)$`), "donne des droits au compte du prestataire $1"},
		{regexp.MustCompile(`^authorises the provider's account (.*)$`), "autorise le compte du prestataire $1"},
		{regexp.MustCompile(`^an authorized_keys file of the provider's account (.*)$`), "un fichier authorized_keys du compte du prestataire $1"},
		{regexp.MustCompile(`^crontab of the provider's account (.*)$`), "crontab du compte du prestataire $1"},
		{regexp.MustCompile(`^runs as the provider's account (.*)$`), "s'exécute sous le compte du prestataire $1"},
		{regexp.MustCompile(`^file name (.*)$`), "nom de fichier : $1"},
		{regexp.MustCompile(`^calls (.*), as the provider's entry in (.*) does$`), "appelle $1, comme l'entrée du prestataire dans $2"},
		{regexp.MustCompile(`^copies mail to (.*), in the provider's domain (.*)$`), "copie le courrier vers $1, dans le domaine du prestataire $2"},
		{regexp.MustCompile(`^copies every message to (.*), in the provider's domain (.*)$`), "copie chaque message vers $1, dans le domaine du prestataire $2"},
		{regexp.MustCompile(`^sends mail to (.*), in the provider's domain (.*)$`), "envoie du courrier à $1, dans le domaine du prestataire $2"},
		{regexp.MustCompile(`^sends to (.*), in the provider's domain (.*)$`), "envoie à $1, dans le domaine du prestataire $2"},
		{regexp.MustCompile(`^forwards to the provider's domain: (.*)$`), "renvoie vers le domaine du prestataire : $1"},
		{regexp.MustCompile(`^its only policies are the provider's: (.*)$`), "ses seules politiques sont celles du prestataire : $1"},
		{regexp.MustCompile(`^policy (.*)$`), "politique $1"},
		// re-observations written as checks
		{regexp.MustCompile(`^(.*) \(store: (\w+)\)$`), "$R1 (coffre : $R2)"},
		{regexp.MustCompile(`^access key in (\S+) \(re-inventory: the file's keys read anew\)$`), "clé d'accès présente dans $1 (nouvel inventaire : les clés du fichier relues)"},
		{regexp.MustCompile(`^shadow hash of (\S+) is the stored password's \(re-inventory: /etc/shadow read anew, compared with the store\)$`), "l'empreinte de /etc/shadow de $1 est celle du mot de passe rangé au coffre (nouvel inventaire : /etc/shadow relu et comparé)"},
		{regexp.MustCompile(`^account (\w+) \(re-read\)$`), "compte $R1 (relu)"},
		{regexp.MustCompile(`^account still exists$`), "le compte existe toujours"},
		{regexp.MustCompile(`^entity (\S+) disabled \(re-read\)$`), "entité $1 désactivée (relue)"},
		{regexp.MustCompile(`^(.+) is still there \(re-read\)$`), "$1 est toujours là (relu)"},
		{regexp.MustCompile(`^(.+) is gone from the directory$`), "$1 n'est plus dans l'annuaire"},
		{regexp.MustCompile(`^(.+) \((enabled|disabled|locked|expired|unknown)\)$`), "$1 ($R2)"},
		{regexp.MustCompile(`^member of (.*)$`), "membre de $1"},
		{regexp.MustCompile(`^user (\S+): (.*)$`), "utilisateur $1 : $R2"},
		{regexp.MustCompile(`^master passdb (\S+): logs in to any mailbox as (\S+) with its own password$`), "passdb maître $1 : ouvre toute boîte comme $2 avec son propre mot de passe"},
	},
}

// toolText translates one phrase the tool wrote; a phrase it does not
// know is returned as it is.
func toolText(lang, s string) string {
	if lang == "en" || s == "" {
		return s
	}
	if t, ok := toolPhrases[lang][s]; ok {
		return t
	}
	for _, p := range toolPatterns[lang] {
		m := p.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		out := p.out
		if strings.Contains(out, "$F") {
			out = strings.Replace(out, "$F", fieldFR[m[1]], 1)
		}
		for i := len(m) - 1; i >= 1; i-- {
			out = strings.ReplaceAll(out, "$R"+strconv.Itoa(i), toolText(lang, m[i]))
			out = strings.ReplaceAll(out, "$"+strconv.Itoa(i), m[i])
		}
		return out
	}
	return s
}

// toolList translates each of a "; "-joined list.
func toolList(lang, s string) string {
	if lang == "en" || s == "" {
		return s
	}
	parts := strings.Split(s, "; ")
	for i, p := range parts {
		parts[i] = toolText(lang, p)
	}
	return strings.Join(parts, "; ")
}

// localiseView translates the tool's English words a format 3 view
// carries from report.json into the view's language.
func localiseView(v *view, w words) {
	lang := w.lang
	if lang == "en" {
		return
	}
	for i := range v.Targets {
		for j := range v.Targets[i].Systems {
			s := &v.Targets[i].Systems[j]
			facts := make([]connector.Fact, 0, len(s.Facts))
			for _, f := range s.Facts {
				facts = append(facts, connector.Fact{Name: toolText(lang, f.Name), Value: factValue(lang, f)})
			}
			s.Facts = facts
			for k := range s.Accounts {
				a := &s.Accounts[k]
				a.State, a.Via, a.Reasons = toolText(lang, a.State), toolList(lang, a.Via), toolList(lang, a.Reasons)
			}
			for _, fs := range [][]findingRow{s.Findings, s.After} {
				for k := range fs {
					fs[k].Kind, fs[k].Reasons = toolText(lang, fs[k].Kind), toolList(lang, fs[k].Reasons)
				}
			}
			links := make([]connector.Link, 0, len(s.Links))
			for _, l := range s.Links {
				l.Kind = toolText(lang, l.Kind)
				links = append(links, l)
			}
			s.Links = links
		}
	}
	for i := range v.Actions {
		for k := range v.Actions[i].Rows {
			row := &v.Actions[i].Rows[k]
			row.Before, row.After = toolText(lang, row.Before), toolText(lang, row.After)
			other := make([]string, 0, len(row.Other))
			for _, o := range row.Other {
				mark, what, ok := strings.Cut(o, " ")
				if ok && (mark == "✓" || mark == "✗") {
					o = mark + " " + toolText(lang, what)
				}
				other = append(other, o)
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
				it.Text = toolText(lang, it.Text)
				items = append(items, it)
			}
			lists = append(lists, namedList{Name: toolText(lang, l.Name), Items: items})
		}
		c.Lists = lists
	}
	for i := range v.Edges {
		v.Edges[i].Kind = toolText(lang, v.Edges[i].Kind)
	}
	for i := range v.Admins {
		v.Admins[i].Via = toolList(lang, v.Admins[i].Via)
	}
	for i := range v.Access {
		a := &v.Access[i]
		a.Why, a.Kind = toolList(lang, a.Why), toolText(lang, a.Kind)
	}
	for i := range v.Journal {
		r := &v.Journal[i]
		r.Kind = w.Maybe("rec."+r.Kind, r.Kind)
		parts := strings.Split(r.What, " · ")
		for k, p := range parts {
			parts[k] = w.Maybe("act."+p, p)
		}
		r.What = strings.Join(parts, " · ")
	}
}

// factValue translates the values the tool itself words (systemd's
// state); every other value is the estate's.
func factValue(lang string, f connector.Fact) string {
	if f.Name == "systemd" {
		return toolText(lang, f.Value)
	}
	return f.Value
}
