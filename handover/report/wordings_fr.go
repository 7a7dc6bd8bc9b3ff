package report

// frenchWordings are the English wordings the connectors and the engine
// write into a report (a finding's summary and the step left to do by
// hand, reasons, a change's before and after, a check's words, an error,
// a deviation), each as its code writes it, a fmt format, with its
// French. In the French, $1, $2... are the format's values in order, kept
// as they are (the estate's names, paths, lines); $R1... the same value
// translated, for a value that is a phrase of the tool's own (an
// account's state, what an agent left, a step to take by hand). The
// French tests read the formats from the code (frenchtest): a wording
// written there without its French here fails them.
var frenchWordings = [][2]string{
	// What several connectors write. A wording with little text of its
	// own ("%s — %s") may fit a text that is not the tool's (an error of
	// the estate's): its French keeps that text as it is, translating only
	// the values that are the tool's phrases.
	{"by hand: %s", "à la main : $R1"},
	{"manual step: %s", "étape manuelle : $R1"},
	{"%s — %s", "$1 — $R2"},

	// The reasons the connector package words for every connector
	// (handover/connector/outgoing.go).
	{"name %q matches outgoing.accounts pattern %q", "le nom $1 correspond au motif $2 (outgoing.accounts du playbook)"},
	{"mail %q is in the provider's domain %s", "l'adresse $1 est dans le domaine du prestataire $2"},
	{"comment %q is in the provider's domain %s", "le commentaire $1 est dans le domaine du prestataire $2"},
	{"fingerprint %s is listed in outgoing.ssh_keys", "l'empreinte $1 figure dans outgoing.ssh_keys du playbook"},
	{"comment %q matches outgoing.key_comments pattern %q", "le commentaire $1 correspond au motif $2 (outgoing.key_comments du playbook)"},
}
