package dossier

import (
	"io"
	"text/template"
)

func textTemplate(name, src string, w io.Writer, data any) error {
	return template.Must(template.New(name).Parse(src)).Execute(w, data)
}

var letterWords = map[string]map[string]string{
	"fr": {
		"commitment.title": "Engagement de confidentialité et de cessation de tout accès",
		"remise.title":     "Procès-verbal de remise du dossier",
		"from":             "Le prestataire sortant",
		"to":               "Le client",
		"incoming":         "Le prestataire entrant",
		"contract":         "Contrat",
		"no_contract":      "le contrat liant les parties",
		"handover_date":    "Date de la réversibilité",
		"intro":            "Le prestataire sortant soussigné, en application du contrat ci-dessus et de sa clause de confidentialité",
		"c1":               "s'engage à respecter la clause de confidentialité du contrat pour toutes les informations dont il a eu connaissance, pendant et après le contrat\u00a0;",
		"c2":               "s'engage à n'avoir plus aucun accès ni aucune interaction avec les systèmes d'information du client, directement ou par un tiers, à compter de la date de signature\u00a0;",
		"c3":               "s'engage à restituer ou détruire toutes les copies (données, identifiants, documentation, sauvegardes) qu'il détient, dans un délai de",
		"c3b":              "et à en confirmer la destruction par écrit\u00a0;",
		"c4":               "prend acte que les accès ci-dessous ont été retirés et que les identifiants ci-dessous ont été changés, aux dates indiquées.",
		"delay_default":    "le délai contractuel",
		"removed":          "Accès retirés",
		"rotated":          "Identifiants changés",
		"col.target":       "Cible",
		"col.system":       "Système",
		"col.what":         "Accès",
		"col.object":       "Objet",
		"col.account":      "Compte",
		"col.date":         "Date",
		"none":             "Aucun.",
		"report":           "Rapport signé de référence",
		"report.run":       "Exécution",
		"report.sha":       "SHA-256 de report.json",
		"report.note":      "Ce document et le rapport signé se désignent mutuellement : le rapport est identifié ci-dessus par son empreinte SHA-256 ; sa signature se vérifie avec « handover verify » ou « ssh-keygen -Y verify ».",
		"parties":          "Parties",
		"bundle":           "Dossier remis (fichier chiffré)",
		"bundle.sha":       "SHA-256 du dossier chiffré",
		"manifest.sha":     "SHA-256 du manifeste",
		"bundle.exported":  "Exporté le",
		"bundle.by":        "par",
		"bundle.to":        "Chiffré pour les clés",
		"bundle.files":     "Fichiers du rapport",
		"bundle.creds":     "Identifiants (emplacement et version ; les valeurs ne figurent que dans le dossier chiffré)",
		"bundle.none":      "Aucun export du dossier n'est enregistré : exporter le dossier avant d'établir ce procès-verbal.",
		"receipts":         "Accusés de réception signés",
		"remise.intro":     "Les parties constatent la remise, par le client au prestataire entrant, du dossier technique décrit ci-dessous, identifié par les empreintes de ses fichiers.",
		"deviations":       "Écarts et réserves",
		"deviations.none":  "Aucun écart constaté.",
		"reserves":         "Réserves éventuelles du prestataire entrant (éléments manquants) :",
		"sign.title":       "Signatures",
		"sign.note":        "Nom, qualité, date, signature (précédée de « lu et approuvé »)",
		"done_at":          "Fait le",
		"file":             "Fichier",
		"colon":            "\u00a0:",
	},
	"en": {
		"commitment.title": "Commitment to confidentiality and to no further access",
		"remise.title":     "Record of the handover of the dossier",
		"from":             "The outgoing provider",
		"to":               "The client",
		"incoming":         "The incoming provider",
		"contract":         "Contract",
		"no_contract":      "the contract between the parties",
		"handover_date":    "Handover date",
		"intro":            "The undersigned outgoing provider, under the contract above and its confidentiality clause",
		"c1":               "commits to the contract's confidentiality clause for all information it came to know, during and after the contract;",
		"c2":               "commits to no further access to, or interaction with, the client's information systems, directly or through a third party, from the date of signature;",
		"c3":               "commits to return or destroy every copy (data, credentials, documentation, backups) it holds, within",
		"c3b":              "and to confirm their destruction in writing;",
		"c4":               "acknowledges that the accesses below were removed and the credentials below were changed, on the dates given.",
		"delay_default":    "the contractual delay",
		"removed":          "Accesses removed",
		"rotated":          "Credentials changed",
		"col.target":       "Target",
		"col.system":       "System",
		"col.what":         "Access",
		"col.object":       "Object",
		"col.account":      "Account",
		"col.date":         "Date",
		"none":             "None.",
		"report":           "Signed report referred to",
		"report.run":       "Run",
		"report.sha":       "SHA-256 of report.json",
		"report.note":      "This document and the signed report refer to each other: the report is identified above by its SHA-256; its signature is checked with “handover verify” or “ssh-keygen -Y verify”.",
		"parties":          "Parties",
		"bundle":           "Dossier handed over (encrypted file)",
		"bundle.sha":       "SHA-256 of the encrypted dossier",
		"manifest.sha":     "SHA-256 of the manifest",
		"bundle.exported":  "Exported on",
		"bundle.by":        "by",
		"bundle.to":        "Encrypted to the keys",
		"bundle.files":     "Report files",
		"bundle.creds":     "Credentials (location and version; the values are only in the encrypted dossier)",
		"bundle.none":      "No export of the dossier is recorded: export the dossier before drawing up this record.",
		"receipts":         "Signed receipts",
		"remise.intro":     "The parties record that the client handed over to the incoming provider the technical dossier described below, identified by the SHA-256 of its files.",
		"deviations":       "Deviations and reservations",
		"deviations.none":  "No deviation.",
		"reserves":         "Reservations of the incoming provider, if any (missing items):",
		"sign.title":       "Signatures",
		"sign.note":        "Name, title, date, signature",
		"done_at":          "Done on",
		"file":             "File",
		"colon":            ":",
	},
}

const htmlHead = `<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<style>
@page { size: A4; margin: 18mm; }
body { font: 11pt/1.45 "DejaVu Sans", Arial, sans-serif; color: #111; max-width: 180mm; margin: 0 auto; }
h1 { font-size: 17pt; margin: 0 0 4mm; } h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; } th, td { border: 1px solid #bbb; padding: 1.5mm 2mm; text-align: left; vertical-align: top; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; word-break: break-all; }
.sigs { display: flex; gap: 6mm; margin-top: 4mm; } .sigs > div { flex: 1; border: 1px solid #999; min-height: 40mm; padding: 2mm; }
.role { font-weight: bold; } .small { font-size: 8.5pt; color: #444; } .reserve { border: 1px solid #999; min-height: 25mm; }
</style>
`
const htmlFoot = `
<h2>{{index .T "report"}}</h2>
<table><tbody>
<tr><th>{{index .T "report.run"}}</th><td class="mono">{{.In.Report.Run.ID}}</td></tr>
<tr><th>{{index .T "report.sha"}}</th><td class="mono" id="report-sha256">{{.In.ReportSHA256}}</td></tr>
</tbody></table>
<p class="small">{{index .T "report.note"}}</p>
</body></html>
`

const commitmentHTML = `<title>{{index .T "commitment.title"}}</title></head><body>
<h1>{{index .T "commitment.title"}}</h1>
<table><tbody>
<tr><th>{{index .T "from"}}</th><td>{{.In.Report.Handover.Outgoing.Name}} {{with .In.Report.Handover.Outgoing.Domain}}({{.}}){{end}}</td></tr>
<tr><th>{{index .T "to"}}</th><td>{{.In.Report.Handover.Client.Name}} {{with .In.Report.Handover.Client.Domain}}({{.}}){{end}}</td></tr>
<tr><th>{{index .T "contract"}}</th><td>{{.Contract}}</td></tr>
<tr><th>{{index .T "handover_date"}}</th><td>{{.HandoverDate}}</td></tr>
</tbody></table>
<p>{{index .T "intro"}}{{index .T "colon"}}</p>
<ol>
<li>{{index .T "c1"}}</li>
<li>{{index .T "c2"}}</li>
<li>{{index .T "c3"}} {{.Delay}} {{index .T "c3b"}}</li>
<li>{{index .T "c4"}}</li>
</ol>
<h2>{{index .T "removed"}}</h2>
{{if .Removed}}<table class="removed"><thead><tr><th>{{index .T "col.target"}}</th><th>{{index .T "col.system"}}</th><th>{{index .T "col.what"}}</th><th>{{index .T "col.date"}}</th></tr></thead><tbody>
{{range .Removed}}<tr><td>{{.Target}}</td><td>{{.System}}</td><td>{{.What}}<div class="mono small">{{.Object}}</div></td><td>{{.Date}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{index .T "none"}}</p>{{end}}
<h2>{{index .T "rotated"}}</h2>
{{if .Rotated}}<table class="rotated"><thead><tr><th>{{index .T "col.target"}}</th><th>{{index .T "col.system"}}</th><th>{{index .T "col.account"}}</th><th>{{index .T "col.date"}}</th></tr></thead><tbody>
{{range .Rotated}}<tr><td>{{.Target}}</td><td>{{.System}}</td><td class="mono">{{.Object}}</td><td>{{.Date}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{index .T "none"}}</p>{{end}}
<h2>{{index .T "sign.title"}}</h2>
<p>{{index .T "done_at"}} {{.Date}}</p>
<div class="sigs">
<div><div class="role">{{index .T "from"}}</div><div>{{.In.Report.Handover.Outgoing.Name}}</div><div class="small">{{index .T "sign.note"}}</div></div>
<div><div class="role">{{index .T "to"}}</div><div>{{.In.Report.Handover.Client.Name}}</div><div class="small">{{index .T "sign.note"}}</div></div>
</div>
`

const remiseHTML = `<title>{{index .T "remise.title"}}</title></head><body>
<h1>{{index .T "remise.title"}}</h1>
<p>{{index .T "remise.intro"}}</p>
<h2>{{index .T "parties"}}</h2>
<table><tbody>
<tr><th>{{index .T "to"}}</th><td>{{.In.Report.Handover.Client.Name}} {{with .In.Report.Handover.Client.Domain}}({{.}}){{end}}</td></tr>
<tr><th>{{index .T "from"}}</th><td>{{.In.Report.Handover.Outgoing.Name}} {{with .In.Report.Handover.Outgoing.Domain}}({{.}}){{end}}</td></tr>
<tr><th>{{index .T "incoming"}}</th><td>{{.In.Report.Handover.Incoming.Name}} {{with .In.Report.Handover.Incoming.Domain}}({{.}}){{end}}</td></tr>
<tr><th>{{index .T "contract"}}</th><td>{{.Contract}}</td></tr>
<tr><th>{{index .T "handover_date"}}</th><td>{{.HandoverDate}}</td></tr>
</tbody></table>
<h2>{{index .T "bundle"}}</h2>
{{with .In.Export}}<table><tbody>
<tr><th>{{index $.T "bundle.sha"}}</th><td class="mono" id="bundle-sha256">{{.BundleSHA256}}</td></tr>
<tr><th>{{index $.T "manifest.sha"}}</th><td class="mono">{{.ManifestSHA256}}</td></tr>
<tr><th>{{index $.T "bundle.exported"}}</th><td>{{.Time.UTC.Format "2006-01-02 15:04:05Z"}} {{index $.T "bundle.by"}} {{.By}} <span class="mono small">({{.ID}})</span></td></tr>
<tr><th>{{index $.T "bundle.to"}}</th><td class="mono">{{range .Recipients}}<div>{{.}}</div>{{end}}</td></tr>
</tbody></table>
<h2>{{index $.T "bundle.files"}}</h2>
<table><thead><tr><th>{{index $.T "file"}}</th><th>SHA-256</th></tr></thead><tbody>
{{range $.In.ReportFiles}}<tr><td class="mono">{{.Name}}</td><td class="mono">{{.SHA256}}</td></tr>
{{end}}</tbody></table>
<h2>{{index $.T "bundle.creds"}}</h2>
{{if .Credentials}}<ul class="mono">{{range .Credentials}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>{{index $.T "none"}}</p>{{end}}
{{else}}<p><strong>{{index .T "bundle.none"}}</strong></p>{{end}}
{{if .In.Receipts}}<h2>{{index .T "receipts"}}</h2>
<table><tbody>{{range .In.Receipts}}<tr><td>{{.Time.UTC.Format "2006-01-02 15:04:05Z"}}</td><td>{{.By}}</td><td class="mono">{{.Fingerprint}}</td><td>{{.Imported}}</td></tr>{{end}}</tbody></table>{{end}}
<h2>{{index .T "deviations"}}</h2>
{{if .Deviations}}<ul>{{range .Deviations}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>{{index .T "deviations.none"}}</p>{{end}}
<p>{{index .T "reserves"}}</p>
<div class="reserve"></div>
<h2>{{index .T "sign.title"}}</h2>
<p>{{index .T "done_at"}} {{.Date}}</p>
<div class="sigs">
<div><div class="role">{{index .T "to"}}</div><div>{{.In.Report.Handover.Client.Name}}</div><div class="small">{{index .T "sign.note"}}</div></div>
<div><div class="role">{{index .T "incoming"}}</div><div>{{.In.Report.Handover.Incoming.Name}}</div><div class="small">{{index .T "sign.note"}}</div></div>
<div><div class="role">{{index .T "from"}}</div><div>{{.In.Report.Handover.Outgoing.Name}}</div><div class="small">{{index .T "sign.note"}}</div></div>
</div>
`

const mdFoot = `
## {{index .T "report"}}

- {{index .T "report.run"}}{{index $.T "colon"}} ` + "`{{.In.Report.Run.ID}}`" + `
- {{index .T "report.sha"}}{{index $.T "colon"}} ` + "`{{.In.ReportSHA256}}`" + `

{{index .T "report.note"}}
`

const commitmentMD = `# {{index .T "commitment.title"}}

- {{index .T "from"}}{{index $.T "colon"}} {{.In.Report.Handover.Outgoing.Name}}
- {{index .T "to"}}{{index $.T "colon"}} {{.In.Report.Handover.Client.Name}}
- {{index .T "contract"}}{{index $.T "colon"}} {{.Contract}}
- {{index .T "handover_date"}}{{index $.T "colon"}} {{.HandoverDate}}

{{index .T "intro"}}{{index .T "colon"}}

1. {{index .T "c1"}}
2. {{index .T "c2"}}
3. {{index .T "c3"}} {{.Delay}} {{index .T "c3b"}}
4. {{index .T "c4"}}

## {{index .T "removed"}}

{{range .Removed}}- {{.Target}} / {{.System}}: {{.What}} (` + "`{{.Object}}`" + `) — {{.Date}}
{{else}}{{index .T "none"}}
{{end}}
## {{index .T "rotated"}}

{{range .Rotated}}- {{.Target}} / {{.System}}: ` + "`{{.Object}}`" + ` — {{.Date}}
{{else}}{{index .T "none"}}
{{end}}
## {{index .T "sign.title"}}

{{index .T "done_at"}} {{.Date}}

| {{index .T "from"}} | {{index .T "to"}} |
|---|---|
| {{.In.Report.Handover.Outgoing.Name}} | {{.In.Report.Handover.Client.Name}} |
| {{index .T "sign.note"}} | {{index .T "sign.note"}} |
` + mdFoot

const remiseMD = `# {{index .T "remise.title"}}

{{index .T "remise.intro"}}

## {{index .T "parties"}}

- {{index .T "to"}}{{index $.T "colon"}} {{.In.Report.Handover.Client.Name}}
- {{index .T "from"}}{{index $.T "colon"}} {{.In.Report.Handover.Outgoing.Name}}
- {{index .T "incoming"}}{{index $.T "colon"}} {{.In.Report.Handover.Incoming.Name}}
- {{index .T "contract"}}{{index $.T "colon"}} {{.Contract}}
- {{index .T "handover_date"}}{{index $.T "colon"}} {{.HandoverDate}}

## {{index .T "bundle"}}

{{with .In.Export}}- {{index $.T "bundle.sha"}}{{index $.T "colon"}} ` + "`{{.BundleSHA256}}`" + `
- {{index $.T "manifest.sha"}}{{index $.T "colon"}} ` + "`{{.ManifestSHA256}}`" + `
- {{index $.T "bundle.exported"}} {{.Time.UTC.Format "2006-01-02 15:04:05Z"}} {{index $.T "bundle.by"}} {{.By}} ({{.ID}})
- {{index $.T "bundle.to"}}{{index $.T "colon"}} {{range .Recipients}}` + "`{{.}}`" + ` {{end}}

### {{index $.T "bundle.files"}}

{{range $.In.ReportFiles}}- ` + "`{{.Name}}`" + ` ` + "`{{.SHA256}}`" + `
{{end}}
### {{index $.T "bundle.creds"}}

{{range .Credentials}}- ` + "`{{.}}`" + `
{{else}}{{index $.T "none"}}
{{end}}{{else}}**{{index .T "bundle.none"}}**
{{end}}
## {{index .T "deviations"}}

{{range .Deviations}}- {{.}}
{{else}}{{index .T "deviations.none"}}
{{end}}
{{index .T "reserves"}}

## {{index .T "sign.title"}}

{{index .T "done_at"}} {{.Date}}

| {{index .T "to"}} | {{index .T "incoming"}} | {{index .T "from"}} |
|---|---|---|
| {{.In.Report.Handover.Client.Name}} | {{.In.Report.Handover.Incoming.Name}} | {{.In.Report.Handover.Outgoing.Name}} |
| {{index .T "sign.note"}} | {{index .T "sign.note"}} | {{index .T "sign.note"}} |
` + mdFoot
