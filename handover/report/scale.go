package report

import (
	"maps"
	"strconv"
)

// What format 3 adds to the HTML page so that it stays usable at a
// thousand hosts and prints as a procès-verbal: a table of contents, a
// search box that filters systems, findings and actions (inline script, no
// network; without script the page reads as it is), tables that wrap
// inside the page, and the procès-verbal de fin de réversibilité. Reports
// of earlier formats render without them, as they were signed.

// scaleLabels are the words these parts print, merged into labels.
var scaleLabels = map[string]map[string]string{
	"fr": {
		"toc":                "Sommaire",
		"toc.targets":        "Systèmes par cible",
		"toc.pv":             "Procès-verbal de fin de réversibilité",
		"filter.label":       "Rechercher un système, une constatation, une action",
		"filter.placeholder": "nom, adresse, compte, objet…",
		"filter.count":       "ligne(s) correspondante(s)",
		"filter.clear":       "Effacer",
		"pv.title":           "Procès-verbal de fin de réversibilité",
		"pv.intro":           "Les parties soussignées constatent la fin de la réversibilité prévue au contrat %s et la passation, à la date du %s, des accès d'administration et du dossier technique décrits dans le présent rapport.",
		"pv.parties":         "Parties",
		"pv.handed":          "Éléments remis",
		"pv.handed.systems":  "%d système(s) inventorié(s) sur %d cible(s), décrits au dossier technique (section 2).",
		"pv.handed.creds":    "%d identifiant(s) d'administration renouvelé(s) et rangé(s) dans le coffre-fort du client (section 2.4).",
		"pv.handed.access":   "%d accès du prestataire sortant relevé(s), dont %d retiré(s) ou verrouillé(s) (section 4).",
		"pv.handed.handoffs": "%d remise(s) d'identifiants consignée(s) au journal.",
		"pv.handed.journal":  "Le journal d'exécution (%d enregistrement(s)) et son empreinte, section 6.",
		"pv.deviations":      "Écarts et réserves",
		"pv.deviations.none": "Aucun écart : toutes les actions prévues ont été réalisées et vérifiées.",
		"pv.deviations.some": "%d action(s) en échec, %d dérogation(s) approuvée(s), %d point(s) résiduel(s) : détail en section 5.",
		"pv.reserves":        "Réserves des parties :",
		"pv.proof":           "Le présent procès-verbal se rapporte au rapport dont l'empreinte SHA-256 de report.json est :",
		"pv.sign":            "Fait pour valoir ce que de droit.",
		"pv.name":            "Nom et qualité du signataire",
		"pv.date":            "Date",
		"pv.signature":       "Signature, précédée de « Lu et approuvé »",
	},
	"en": {
		"toc":                "Contents",
		"toc.targets":        "Systems by target",
		"toc.pv":             "Statement of the end of reversibility",
		"filter.label":       "Search a system, a finding, an action",
		"filter.placeholder": "name, address, account, object…",
		"filter.count":       "matching row(s)",
		"filter.clear":       "Clear",
		"pv.title":           "Statement of the end of reversibility",
		"pv.intro":           "The undersigned parties record the end of the reversibility provided for in contract %s and the handover, on %s, of the administrative access and technical file described in this report.",
		"pv.parties":         "Parties",
		"pv.handed":          "Handed over",
		"pv.handed.systems":  "%d system(s) inventoried on %d target(s), described in the technical file (section 2).",
		"pv.handed.creds":    "%d administrative credential(s) renewed and stored in the client's vault (section 2.4).",
		"pv.handed.access":   "%d access(es) of the outgoing provider found, %d of them removed or locked (section 4).",
		"pv.handed.handoffs": "%d credential handoff(s) recorded in the journal.",
		"pv.handed.journal":  "The run journal (%d record(s)) and its hash, section 6.",
		"pv.deviations":      "Deviations and reservations",
		"pv.deviations.none": "No deviation: every planned action was carried out and verified.",
		"pv.deviations.some": "%d failed action(s), %d approved waiver(s), %d residual point(s): see section 5.",
		"pv.reserves":        "Reservations of the parties:",
		"pv.proof":           "This statement refers to the report whose report.json SHA-256 is:",
		"pv.sign":            "Signed for all due purposes.",
		"pv.name":            "Name and capacity of the signatory",
		"pv.date":            "Date",
		"pv.signature":       "Signature",
	},
}

func init() {
	for lang, m := range scaleLabels {
		maps.Copy(labels[lang], m)
	}
}

// pvView is the procès-verbal's content.
type pvView struct {
	Intro     string
	Date      string
	Handed    []string
	Deviation string
}

func procesVerbal(r *Report, v *view, w words) pvView {
	date := longDate(r.Handover.Date, w.lang)
	p := pvView{Intro: w.F("pv.intro", r.Handover.Contract, date), Date: date}
	systems := 0
	for _, inv := range r.Dossier {
		systems += len(inv.Systems)
	}
	p.Handed = append(p.Handed, w.F("pv.handed.systems", systems, len(r.Dossier)))
	if n := len(r.Credentials); n > 0 {
		p.Handed = append(p.Handed, w.F("pv.handed.creds", n))
	}
	if n := len(r.Outgoing); n > 0 {
		handled := 0
		for _, o := range r.Outgoing {
			if o.Fate.Handled() {
				handled++
			}
		}
		p.Handed = append(p.Handed, w.F("pv.handed.access", n, handled))
	}
	if n := len(v.Handoffs); n > 0 {
		p.Handed = append(p.Handed, w.F("pv.handed.handoffs", n))
	}
	p.Handed = append(p.Handed, w.F("pv.handed.journal", len(r.Journal.Records)))
	if v.NoDeviation {
		p.Deviation = w.T("pv.deviations.none")
	} else {
		p.Deviation = w.F("pv.deviations.some", len(v.Failures), len(v.Waivers), len(v.Residual))
	}
	return p
}

// tocTarget is one target's entry in the table of contents.
type tocTarget struct{ Anchor, Name, Count string }

func tocTargets(tvs []targetView) []tocTarget {
	out := make([]tocTarget, 0, len(tvs))
	for i, tv := range tvs {
		out = append(out, tocTarget{Anchor: "target-" + strconv.Itoa(i+1), Name: tv.Name, Count: tv.Count})
	}
	return out
}

// scaleTemplates are the named templates html.go calls for format 3.
const scaleTemplates = `
{{define "v3head"}}<style>
nav.toc{border:1px solid var(--line);border-radius:5px;padding:10px 16px;margin:14px 0;background:var(--soft)}
nav.toc h2{margin:0 0 .4rem;border:0;padding:0;font-size:1.15rem}
nav.toc ol{margin:.2rem 0;padding-left:0;list-style:none}
nav.toc ol ol{padding-left:1.2rem;font-size:.92rem}
nav.toc>ol{columns:2 18rem;column-gap:2rem}
nav.toc>ol>li{break-inside:avoid}
nav.toc a{color:var(--accent)}
.filter{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:.6rem 0 0}
.filter[hidden]{display:none}
.filter label{font-weight:600}
.filter input{flex:1;min-width:16rem;font:inherit;padding:5px 8px;border:1px solid var(--muted);border-radius:4px}
.filter output{color:var(--muted);font-size:.9rem}
table{table-layout:auto;max-width:100%}
td,th{overflow-wrap:anywhere}
td.addr{white-space:normal}
.tbox{max-width:100%;overflow-x:auto}
.page{max-width:1280px}
table.actions{table-layout:fixed}
table.actions td,table.actions th{overflow-wrap:break-word}
table.actions td.mono{overflow-wrap:anywhere}
table.actions col.n{width:3em}table.actions col.time{width:6.6em}table.actions col.sys{width:9%}table.actions col.act{width:11%}
table.actions col.obj{width:14%}table.actions col.res{width:9%}table.actions col.proof{width:6.2em}
table.actions .pill{white-space:normal}
[data-filtered]{display:none!important}
#journal,#outgoing,table.admins,#handoffs{content-visibility:auto;contain-intrinsic-size:auto 1500px}
section.pv{margin-top:2rem}
.pv .parties-list td,.pv .parties-list th{font-size:.95rem}
.pv .signs{display:grid;grid-template-columns:repeat(3,1fr);gap:14px;margin-top:12px}
.pv .signs>div{border:1px solid var(--ink);padding:8px 10px;min-height:190px;display:flex;flex-direction:column;gap:4px}
.pv .signs .role{font-weight:700}
.pv .signs .line{border-bottom:1px dotted var(--muted);min-height:1.6em;font-size:.8rem;color:var(--muted)}
.pv .signs .box{flex:1;font-size:.8rem;color:var(--muted)}
.pv .reserves{border:1px solid var(--line);min-height:70px;padding:6px 10px;color:var(--muted);font-size:.85rem}
@media print{
 nav.toc,.filter{display:none}
 [data-filtered]{display:revert!important}
 #journal,#outgoing,table.admins,#handoffs{content-visibility:visible}
 .tbox{overflow:visible}
 section.pv{break-before:page}
 .pv .signs>div{break-inside:avoid}
 footer{display:none}
}
</style>
<script>
// The search box filters the systems (their row and their detail, findings
// included), the actions and the provider's accesses; it opens the folded
// sections that hold a match. Without script the box stays hidden.
document.addEventListener("DOMContentLoaded",function(){
var box=document.getElementById("filter"),q=document.getElementById("filter-q"),out=document.getElementById("filter-n");
box.hidden=false;var items=null,timer=0;
function index(){items=[];document.querySelectorAll("table.systems tbody tr, details.system, table.actions tbody tr, table.access tbody tr").forEach(function(el){items.push([el,el.textContent.toLowerCase()])});}
function run(){if(!items)index();var s=q.value.trim().toLowerCase(),n=0,open=new Set();
items.forEach(function(it){var el=it[0],hit=!s||it[1].indexOf(s)>=0;
if(hit){el.removeAttribute("data-filtered");if(s&&el.tagName==="TR"){n++;var d=el.closest("details");if(d)open.add(d)}}else el.setAttribute("data-filtered","")});
document.querySelectorAll("details.target,details.actions").forEach(function(d){if(s){if(open.has(d))d.open=true}});
out.textContent=s?n+" "+out.getAttribute("data-label"):"";}
q.addEventListener("input",function(){clearTimeout(timer);timer=setTimeout(run,120)});
});
</script>{{end}}

{{define "v3toc"}}<nav class="toc" id="toc" aria-label="{{t "toc"}}">
<h2>{{t "toc"}}</h2>
<ol>
<li><a href="#summary">{{t "s1"}}</a></li>
<li><a href="#dossier">{{t "s2"}}</a>
<ol><li><a href="#systems">{{t "toc.targets"}}</a><ol>{{range .TOC}}<li><a href="#{{.Anchor}}">{{.Name}}</a> <span class="muted">{{.Count}}</span></li>{{end}}</ol></li></ol></li>
<li><a href="#actions">{{t "s3"}}</a></li>
<li><a href="#outgoing">{{t "s4"}}</a></li>
<li><a href="#deviations">{{t "s5"}}</a></li>
{{- if .Handoffs}}<li><a href="#handoffs">{{t "hand"}}</a></li>{{end}}
<li><a href="#journal">{{t "s6"}}</a></li>
<li><a href="#pv">{{t "toc.pv"}}</a></li>
</ol>
<div class="filter" id="filter" hidden><label for="filter-q">{{t "filter.label"}}</label><input type="search" id="filter-q" placeholder="{{t "filter.placeholder"}}" autocomplete="off"><output id="filter-n" data-label="{{t "filter.count"}}"></output></div>
</nav>
{{end}}

{{define "v3pv"}}<section id="pv" class="pv">
<h2 class="major">{{t "pv.title"}}</h2>
<p>{{.PV.Intro}}</p>
<h3>{{t "pv.parties"}}</h3>
<table class="parties-list"><tbody>
{{- range .Parties}}<tr><th>{{.Role}}</th><td><strong>{{.Name}}</strong>{{if .Domain}} · {{.Domain}}{{end}}{{if .Contact}} · {{.Contact}}{{end}}</td></tr>{{end}}
<tr><th>{{t "meta.contract"}}</th><td>{{.R.Handover.Contract}}</td></tr>
<tr><th>{{t "meta.date"}}</th><td>{{.PV.Date}}</td></tr>
</tbody></table>
<h3>{{t "pv.handed"}}</h3>
<ul class="points">{{range .PV.Handed}}<li>{{.}}</li>{{end}}</ul>
<h3>{{t "pv.deviations"}}</h3>
<p>{{.PV.Deviation}}</p>
<p>{{t "pv.reserves"}}</p>
<div class="reserves"></div>
<p>{{t "pv.proof"}}</p>
<div class="hash">{{.SHA}}</div>
<p>{{t "pv.sign"}}</p>
<div class="signs">
{{- range .Parties}}<div><div class="role">{{.Role}}</div><div>{{.Name}}</div><div class="line">{{t "pv.name"}}</div><div class="line">{{t "pv.date"}}</div><div class="box">{{t "pv.signature"}}</div></div>{{end}}
</div>
</section>{{end}}
`
