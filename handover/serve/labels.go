package serve

import (
	"net/http"
	"net/url"
)

// words is the dashboard's wording in one language.
type words struct {
	Lang  string
	query string // "?lang=fr" when not the default
	m     map[string]string
}

// T is the wording of key; the key itself when missing (a test checks
// that every key exists in both languages).
func (w words) T(key string) string {
	if s, ok := w.m[key]; ok {
		return s
	}
	return key
}

func (s *Server) words(r *http.Request) words {
	lang := r.URL.Query().Get("lang")
	if _, ok := labels[lang]; !ok {
		lang = s.opts.Lang
	}
	if _, ok := labels[lang]; !ok {
		lang = "en"
	}
	w := words{Lang: lang, m: labels[lang]}
	if lang != s.opts.Lang {
		w.query = "?" + url.Values{"lang": {lang}}.Encode()
	}
	return w
}

var labels = map[string]map[string]string{
	"en": {
		"title":         "handover — freshness",
		"playbooks":     "Watched playbooks",
		"playbook":      "Playbook",
		"status":        "Status",
		"clean":         "clean",
		"drift":         "drift",
		"failed":        "check failed",
		"nocheck":       "no check yet",
		"running":       "checking now",
		"last":          "Latest check",
		"next":          "Next check",
		"items":         "Drift items",
		"waived":        "Waived",
		"systems":       "Systems reached",
		"baseline":      "Signed dossier compared with",
		"run":           "Run",
		"mode":          "Mode",
		"signedby":      "Signed by",
		"finished":      "Finished",
		"estate":        "Estate",
		"target":        "Target",
		"type":          "Type",
		"reached":       "reached",
		"of":            "of",
		"credentials":   "Stored credentials",
		"system":        "System",
		"account":       "Account",
		"set":           "Set on",
		"age":           "Age",
		"driftnow":      "Drift now",
		"nodrift":       "No drift: the estate matches the signed dossier.",
		"kind":          "Kind",
		"change":        "Change",
		"where":         "Where",
		"was":           "Was",
		"now":           "Now",
		"detail":        "Detail",
		"history":       "History",
		"chart":         "Drift items per check",
		"checked":       "Checked",
		"duration":      "Duration (s)",
		"reports":       "Signed reports",
		"verified":      "verified",
		"notverified":   "does not verify",
		"download":      "download",
		"check":         "Check",
		"error":         "Error",
		"back":          "Back",
		"waiver":        "Waiver",
		"readonly":      "Read-only on the estate: this dashboard changes no target; an acknowledgement is only journaled in the state directory.",
		"acked":         "Acknowledged by",
		"who":           "Who",
		"why":           "Why",
		"ack":           "Acknowledge this drift",
		"ackhelp":       "Stops the reminders until the drift changes. It accepts nothing: the dossier changes only with `handover dossier update`.",
		"otherlang":     "Français",
		"otherlangcode": "fr",
	},
	"fr": {
		"title":         "handover — fraîcheur",
		"playbooks":     "Playbooks surveillés",
		"playbook":      "Playbook",
		"status":        "État",
		"clean":         "conforme",
		"drift":         "dérive",
		"failed":        "contrôle en échec",
		"nocheck":       "pas encore contrôlé",
		"running":       "contrôle en cours",
		"last":          "Dernier contrôle",
		"next":          "Prochain contrôle",
		"items":         "Écarts",
		"waived":        "Dérogés",
		"systems":       "Systèmes atteints",
		"baseline":      "Dossier signé de référence",
		"run":           "Exécution",
		"mode":          "Mode",
		"signedby":      "Signé par",
		"finished":      "Terminé",
		"estate":        "Parc",
		"target":        "Cible",
		"type":          "Type",
		"reached":       "atteints",
		"of":            "sur",
		"credentials":   "Identifiants stockés",
		"system":        "Système",
		"account":       "Compte",
		"set":           "Défini le",
		"age":           "Âge",
		"driftnow":      "Écarts actuels",
		"nodrift":       "Aucun écart : le parc correspond au dossier signé.",
		"kind":          "Nature",
		"change":        "Changement",
		"where":         "Où",
		"was":           "Avant",
		"now":           "Maintenant",
		"detail":        "Détail",
		"history":       "Historique",
		"chart":         "Écarts par contrôle",
		"checked":       "Contrôlé le",
		"duration":      "Durée (s)",
		"reports":       "Rapports signés",
		"verified":      "vérifié",
		"notverified":   "ne se vérifie pas",
		"download":      "télécharger",
		"check":         "Contrôle",
		"error":         "Erreur",
		"back":          "Retour",
		"waiver":        "Dérogation",
		"readonly":      "Lecture seule sur le parc : ce tableau de bord ne modifie aucune cible ; une prise en compte est seulement journalisée dans le répertoire d'état.",
		"acked":         "Pris en compte par",
		"who":           "Qui",
		"why":           "Pourquoi",
		"ack":           "Prendre en compte cet écart",
		"ackhelp":       "Arrête les rappels tant que l'écart ne change pas. N'accepte rien : le dossier ne change qu'avec `handover dossier update`.",
		"otherlang":     "English",
		"otherlangcode": "en",
	},
}
