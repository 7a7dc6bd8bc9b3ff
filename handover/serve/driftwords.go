package serve

import (
	"cmp"
	"fmt"

	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/engine"
)

// The engine and the drift comparison describe each item in English
// (engine.Drift.Detail, kept as it is in the check's JSON). A page in
// another language names the item's kind and change in that language and
// composes its detail from the item's fields: what it quotes from the
// estate (names, addresses, states, error messages) stays as it is.

var kindWords = map[string]map[string]string{
	"fr": {
		drift.KindSystem: "système", drift.KindUnreachable: "injoignable", drift.KindAdmin: "administrateur",
		drift.KindAccount: "compte", drift.KindPackages: "paquets", drift.KindPackage: "paquet de prise en main",
		drift.KindPort: "port en écoute", drift.KindServiceUnit: "service",
		"change-needed": "changement requis", "pending": "rotation inachevée", "credential-age": "ancienneté de l'identifiant",
		"credential-broken": "identifiant invalide", "waiver-expired": "dérogation expirée",
		"attestation-age": "attestation trop ancienne", "attestation-missing": "attestation manquante",
		"attestations-broken": "attestations illisibles",
		"ssh-key":             "clé SSH", "account": "compte", "grant": "droit", "cron": "tâche planifiée",
		"agent": "logiciel de prise en main", "forward": "renvoi", "token": "jeton",
		"auth-method": "méthode d'authentification", "membership": "appartenance", "policy": "politique",
		"master-user": "utilisateur maître", "service": "service", "process": "processus",
		"persistence": "persistance", "tunnel": "tunnel", "cloud-service": "service cloud",
		"dns-record": "enregistrement DNS", "audit-device": "journal d'audit", "approle": "AppRole",
		"root-token": "jeton root", "key-shares": "parts de clé", "acl": "droit sur une boîte",
	},
}

var changeWords = map[string]map[drift.Change]string{
	"fr": {drift.Added: "apparu", drift.Removed: "disparu", drift.Changed: "modifié"},
}

// Kind is a drift item's kind in the page's language.
func (w words) Kind(kind string) string {
	if w.Lang == "en" {
		return kind
	}
	return cmp.Or(kindWords[w.Lang][kind], kind)
}

// Change is a drift item's change in the page's language.
func (w words) Change(c drift.Change) string {
	if w.Lang == "en" {
		return string(c)
	}
	return cmp.Or(changeWords[w.Lang][c], string(c))
}

// Detail is a drift item's detail in the page's language.
func (w words) Detail(d engine.Drift) string {
	if w.Lang != "fr" {
		return d.Detail
	}
	what := cmp.Or(d.Object, d.ID)
	fromTo := ""
	switch {
	case d.From != "" && d.To != "":
		fromTo = fmt.Sprintf(" (%s → %s)", d.From, d.To)
	case d.To != "":
		fromTo = fmt.Sprintf(" (%s)", d.To)
	case d.From != "":
		fromTo = fmt.Sprintf(" (était %s)", d.From)
	}
	switch d.Change {
	case drift.Added:
		return fmt.Sprintf("%s %s absent du dossier signé%s", w.Kind(d.Kind), what, fromTo)
	case drift.Removed:
		return fmt.Sprintf("%s %s du dossier signé n'est plus là%s", w.Kind(d.Kind), what, fromTo)
	case drift.Changed:
		return fmt.Sprintf("%s %s a changé%s", w.Kind(d.Kind), what, fromTo)
	}
	switch d.Kind {
	case "change-needed":
		return fmt.Sprintf("le plan n'est plus vide : un changement est à faire sur %s", cmp.Or(what, "ce système"))
	case "pending":
		return fmt.Sprintf("rotation de %s inachevée : `handover resume` la termine", what)
	case "credential-age":
		return fmt.Sprintf("l'identifiant de %s est plus ancien que policy.max_credential_age", what)
	case "credential-broken":
		return fmt.Sprintf("l'identifiant stocké de %s ne fonctionne plus (erreur : %s)", what, d.Detail)
	case drift.KindUnreachable:
		return fmt.Sprintf("lecture impossible (erreur : %s)", d.Detail)
	case "waiver-expired":
		return fmt.Sprintf("la dérogation sur %s a expiré", what)
	case "attestation-age":
		return fmt.Sprintf("l'attestation de %s est plus ancienne que sa période de rotation", what)
	case "attestation-missing":
		return fmt.Sprintf("aucune attestation pour %s", what)
	case "attestations-broken":
		return fmt.Sprintf("le fichier d'attestations %s est illisible (erreur : %s)", what, d.Detail)
	}
	return fmt.Sprintf("%s %s%s", w.Kind(d.Kind), what, fromTo)
}
