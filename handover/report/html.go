package report

import (
	"bytes"
	"fmt"
	"html/template"
)

func renderHTML(v *view) ([]byte, error) {
	t, err := template.New("report").Funcs(template.FuncMap{
		"t": v.W.T,
		"f": v.W.F,
	}).Parse(htmlTemplate)
	if err == nil {
		t, err = t.Parse(scaleTemplates)
	}
	if err != nil {
		return nil, fmt.Errorf("report: html template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("report: render html: %w", err)
	}
	return b.Bytes(), nil
}

// Lang is the rendering's language.
func (v *view) Lang() string { return v.W.lang }

// htmlTemplate is one self-contained page: no external asset, so the file
// can be archived, mailed and printed as it is. The print rules lay it out
// on A4 with a page break before each main section and every folded detail
// opened.
const htmlTemplate = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{{.R.Tool.Name}} {{.R.Tool.Version}}">
<meta name="handover-report-sha256" content="{{.SHA}}">
<title>{{t "doc.title"}} — {{.R.Handover.Client.Name}}</title>
<style>
:root{--ink:#1b2430;--muted:#5b6675;--line:#d8dde4;--soft:#f4f6f8;--accent:#1d3a5f;--ok:#1e7a46;--okbg:#e8f5ee;--warn:#9a5b00;--warnbg:#fdf3e1;--bad:#b42318;--badbg:#fdecea;--info:#1f5fa8;--infobg:#e8f0fb}
*{box-sizing:border-box}
html{font-size:15px}
body{margin:0;background:#e9ecef;color:var(--ink);font-family:"Source Sans 3","Segoe UI","Helvetica Neue",Arial,sans-serif;line-height:1.45}
.page{max-width:1060px;margin:24px auto;background:#fff;padding:44px 56px 56px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1,h2,h3,h4{font-family:Georgia,"Times New Roman",serif;color:var(--accent);line-height:1.2}
h1{font-size:2.1rem;margin:.2rem 0 .3rem}
h2{font-size:1.45rem;margin:2.2rem 0 .8rem;padding-bottom:.3rem;border-bottom:2px solid var(--accent)}
h3{font-size:1.15rem;margin:1.6rem 0 .6rem}
h4{font-size:1rem;margin:1rem 0 .4rem;color:var(--ink)}
p{margin:.4rem 0}
.muted,.note{color:var(--muted)}
.note{font-size:.9rem;margin:.2rem 0 .8rem}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
td.addr{white-space:nowrap}
.cover{border-bottom:1px solid var(--line);padding-bottom:18px}
.topline{display:flex;justify-content:space-between;font-size:.78rem;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);border-bottom:3px double var(--accent);padding-bottom:6px;margin-bottom:22px}
.subtitle{font-size:1.05rem;color:var(--muted);margin:0 0 1rem}
.for{font-size:1.05rem}
.parties{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin:18px 0}
.party{border:1px solid var(--line);border-top:4px solid var(--accent);border-radius:4px;padding:10px 12px}
.party .role{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.party .name{font-weight:700;font-size:1.05rem}
.party .small{font-size:.85rem;color:var(--muted)}
dl.meta{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:4px 16px;margin:10px 0 0;font-size:.92rem}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;font-weight:600}
.banner{display:flex;gap:18px;align-items:center;border-radius:6px;padding:16px 20px;margin:22px 0 10px;border:1px solid}
.banner .mark{flex:none;width:46px;height:46px;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:28px;font-weight:700;color:#fff}
.banner h2{margin:0;border:0;padding:0;font-size:1.5rem}
.banner p{margin:.2rem 0 0}
.banner.ok{background:var(--okbg);border-color:var(--ok)}.banner.ok .mark{background:var(--ok)}.banner.ok h2{color:var(--ok)}
.banner.warn{background:var(--warnbg);border-color:var(--warn)}.banner.warn .mark{background:var(--warn)}.banner.warn h2{color:var(--warn)}
.banner.bad{background:var(--badbg);border-color:var(--bad)}.banner.bad .mark{background:var(--bad)}.banner.bad h2{color:var(--bad)}
.banner.info{background:var(--infobg);border-color:var(--info)}.banner.info .mark{background:var(--info)}.banner.info h2{color:var(--info)}
ul.points{margin:.6rem 0 0;padding-left:1.2rem}
ul.points li{margin:.25rem 0}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.86rem}
th,td{border-bottom:1px solid var(--line);padding:5px 7px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;color:#2c3643;border-top:1px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:700;border-top:2px solid var(--ink)}
tbody tr:nth-child(even) td{background:#fafbfc}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.8rem;font-weight:600;white-space:nowrap}
.pill.ok,.pill.yes{background:var(--okbg);color:var(--ok)}
.pill.warn{background:var(--warnbg);color:var(--warn)}
.pill.bad,.pill.no{background:var(--badbg);color:var(--bad)}
.pill.na{color:var(--muted)}
.err{color:var(--bad);font-size:.85rem}
details{border:1px solid var(--line);border-radius:5px;margin:.5rem 0;background:#fff}
details>summary{cursor:pointer;padding:7px 10px;background:var(--soft);font-weight:600;list-style-position:inside}
details[open]>summary{border-bottom:1px solid var(--line)}
details>.body{padding:8px 12px}
details details>summary{background:#fff;font-weight:500}
summary .count{font-weight:400;color:var(--muted);margin-left:.5rem}
figure{margin:.6rem 0;overflow-x:auto}
svg.schema{max-width:100%;height:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:5px;padding:10px 14px}
.card h4{margin-top:0}
.card ul{margin:.2rem 0 .4rem;padding-left:1.1rem;font-size:.88rem}
.hash{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.9rem;background:var(--soft);border:1px solid var(--line);padding:6px 10px;border-radius:4px;word-break:break-all}
.sig{border:1px solid var(--accent);border-radius:6px;padding:12px 16px;margin:1rem 0;background:#f8fafc}
.sig pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid var(--line);padding:8px;font-size:.78rem}
.visa{display:grid;grid-template-columns:repeat(3,1fr);gap:14px;margin-top:10px}
.visa div{border:1px solid var(--ink);min-height:120px;padding:8px 10px;font-size:.85rem}
.visa .role{font-weight:700}
.visa .small{color:var(--muted);font-size:.78rem}
footer{margin-top:2rem;border-top:1px solid var(--line);padding-top:8px;font-size:.75rem;color:var(--muted)}
@page{size:A4;margin:16mm 14mm 18mm}
@media print{
 html{font-size:10.5pt}
 body{background:#fff}
 .page{max-width:none;margin:0;padding:0;box-shadow:none}
 h2.major{break-before:page}
 h2,h3,h4{break-after:avoid}
 tr,.party,.card,.banner,.sig,.visa{break-inside:avoid}
 thead{display:table-header-group}
 details{border:0}
 details>summary{list-style:none;background:none;padding:4px 0;border:0!important}
 details>summary::-webkit-details-marker{display:none}
 details::details-content{content-visibility:visible;display:block}
 a{color:inherit;text-decoration:none}
}
</style>{{if .V3}}{{template "v3head" .}}{{end}}
<script type="application/json" id="handover-index">{{.Index}}</script>
<script>
// Printing shows everything: open every folded detail, close them after.
(function(){var opened=[];
window.addEventListener("beforeprint",function(){document.querySelectorAll("details:not([open])").forEach(function(d){d.open=true;opened.push(d)})});
window.addEventListener("afterprint",function(){opened.forEach(function(d){d.open=false});opened=[]});})();
</script>
</head>
<body>
<main class="page">
<header class="cover" id="cover">
<div class="topline"><span>{{t "doc.confidential"}}</span><span>{{.R.Handover.Contract}}</span></div>
<h1>{{t "doc.title"}}</h1>
<p class="subtitle">{{t "doc.subtitle"}}</p>
<p class="for">{{t "doc.for"}} <strong>{{.R.Handover.Client.Name}}</strong></p>
<div class="parties">
{{- range .Parties}}
<div class="party"><div class="role">{{.Role}}</div><div class="name">{{.Name}}</div>{{if .Domain}}<div class="small">{{.Domain}}</div>{{end}}{{if .Contact}}<div class="small">{{t "party.contact"}} : {{.Contact}}</div>{{end}}</div>
{{- end}}
</div>
<dl class="meta">
{{- range .Meta}}{{if .V}}<dt>{{.K}}</dt><dd>{{.V}}</dd>{{end}}{{end}}
</dl>
<p class="note">{{t "meta.times_utc"}}</p>
</header>

<section class="banner {{.Banner.Class}}" id="result" role="status">
<div class="mark">{{if eq .Banner.Class "ok"}}✓{{else if eq .Banner.Class "bad"}}✗{{else if eq .Banner.Class "info"}}i{{else}}!{{end}}</div>
<div><h2>{{.Banner.Title}}</h2><p>{{.Banner.Text}}</p></div>
</section>

<section id="summary">
<h2>{{t "s1"}}</h2>
<ul class="points">{{range .Points}}<li>{{.}}</li>{{end}}</ul>
<h3>{{t "s1.counts"}}</h3>
<table class="counts">
<thead><tr><th>{{t "col.target"}}</th><th>{{t "col.type"}}</th><th class="num">{{t "col.systems"}}</th><th class="num">{{t "col.reached"}}</th><th class="num">{{t "col.findings"}}</th><th class="num">{{t "col.planned"}}</th><th class="num">{{t "col.applied"}}</th><th class="num">{{t "col.verified"}}</th><th class="num">{{t "col.failed"}}</th><th class="num">{{t "col.waived"}}</th></tr></thead>
<tbody>
{{- range .R.Summary.Targets}}
<tr><td>{{.Target}}</td><td>{{.Type}}</td><td class="num">{{.Systems}}</td><td class="num">{{.Reached}}</td><td class="num">{{.Findings}}</td><td class="num">{{.Planned}}</td><td class="num">{{.Applied}}</td><td class="num">{{.Verified}}</td><td class="num">{{if .Failed}}<span class="pill bad">{{.Failed}}</span>{{else}}0{{end}}</td><td class="num">{{.Waived}}</td></tr>
{{- end}}
{{- with .Totals}}
<tr class="total"><td colspan="2">{{t "col.total"}}</td><td class="num">{{.Systems}}</td><td class="num">{{.Reached}}</td><td class="num">{{.Findings}}</td><td class="num">{{.Planned}}</td><td class="num">{{.Applied}}</td><td class="num">{{.Verified}}</td><td class="num">{{.Failed}}</td><td class="num">{{.Waived}}</td></tr>
{{- end}}
</tbody>
</table>
</section>{{if .V3}}{{template "v3toc" .}}{{end}}

<section id="dossier">
<h2 class="major">{{t "s2"}}</h2>
<h3>{{t "s2.schema"}}</h3>
<p class="note">{{.SchemaNote}}</p>
<figure id="schema">{{.Schema}}</figure>
{{- if .Edges}}
<details><summary>{{t "schema.links"}}<span class="count">{{len .Edges}}</span></summary><div class="body">
{{- if .V3}}
<table><thead><tr><th>{{t "col.system"}}</th><th>{{t "col.link"}}</th><th>{{t "col.to"}}</th><th class="num">#</th><th>{{t "col.why.link"}}</th></tr></thead><tbody>
{{- range .Edges}}<tr><td>{{.From}}</td><td>{{.Kind}}</td><td>{{.To}}{{if .Provider}} <span class="pill warn">{{t "col.provlink"}}</span>{{end}}</td><td class="num">{{.Count}}</td><td class="mono">{{.Why}}</td></tr>{{end}}
{{- else}}
<table><thead><tr><th>{{t "col.system"}}</th><th>{{t "col.link"}}</th><th>{{t "col.to"}}</th><th class="num">#</th></tr></thead><tbody>
{{- range .Edges}}<tr><td>{{.From}}</td><td>{{.Kind}}</td><td>{{.To}}</td><td class="num">{{.Count}}</td></tr>{{end}}
{{- end}}
</tbody></table></div></details>
{{- else if .V3}}<p class="muted">{{t "s2.schema.none"}}</p>
{{- end}}

<h3{{if .V3}} id="systems"{{end}}>{{t "s2.systems"}}</h3>
{{- range .Targets}}
<details class="target"{{with .ID}} id="{{.}}"{{end}}{{if .Open}} open{{end}}><summary>{{.Name}} <span class="count">{{.Type}} · {{.Count}}</span></summary><div class="body">
<table class="systems">
<thead><tr><th>{{t "col.system"}}</th><th>{{t "col.kind"}}</th><th>{{t "col.address"}}</th><th>{{t "col.os"}}</th><th>{{t "col.hardware"}}</th><th class="num">{{t "col.software"}}</th><th class="num">{{t "col.services"}}</th><th class="num">{{t "col.admins"}}</th><th class="num">{{t "col.findings"}}</th><th>{{t "col.state"}}</th></tr></thead>
<tbody>
{{- range .Systems}}
<tr><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td>{{.KindLabel}}</td><td class="mono addr">{{.Address}}</td><td>{{.OS}}</td><td>{{.HW}}</td><td class="num">{{.NSoftware}}</td><td class="num">{{.NServices}}</td><td class="num">{{.NAdmins}}</td><td class="num">{{if .NProvider}}<span class="pill warn">{{.NProvider}}</span>{{else}}0{{end}}</td><td>{{if .Error}}<span class="pill bad">{{t "sys.unreachable"}}</span> <span class="err">{{.Error}}</span>{{else}}<span class="pill ok">{{t "sys.ok"}}</span>{{end}}</td></tr>
{{- end}}
</tbody></table>
{{- range .Systems}}
<details class="system" id="{{.Anchor}}"><summary>{{.Name}} <span class="count">{{.KindLabel}}{{if .Address}} · {{.Address}}{{end}}</span></summary><div class="body">
{{- if .Error}}<p class="err">{{.Error}}</p>{{end}}
{{- if .Facts}}<h4>{{t "sys.facts"}}</h4><table><thead><tr><th>{{t "col.name"}}</th><th>{{t "col.value"}}</th></tr></thead><tbody>{{range .Facts}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</tbody></table>{{end}}
{{- if or .Hardware .Disks}}<h4>{{t "sys.hardware"}}</h4><table><tbody>{{range .Hardware}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}</tbody></table>
{{- if .Disks}}<table><thead><tr><th>{{t "col.disk"}}</th><th class="num">{{t "col.size"}}</th><th>Model</th></tr></thead><tbody>{{range .Disks}}<tr><td>{{.Name}}</td><td class="num">{{.SizeMB}} MB</td><td>{{.Model}}</td></tr>{{end}}</tbody></table>{{end}}{{end}}
{{- if .Accounts}}<h4>{{t "sys.accounts"}}</h4><table><thead><tr><th>{{t "col.account"}}</th><th>{{t "col.display"}}</th><th>{{t "col.state"}}</th><th>{{t "col.adminvia"}}</th><th>{{t "col.provider"}}</th></tr></thead><tbody>{{range .Accounts}}<tr><td class="mono">{{.Name}}</td><td>{{.Display}}</td><td>{{.State}}</td><td>{{.Via}}</td><td>{{if .Provider}}<span class="pill warn">{{t "yes"}}</span> {{.Reasons}}{{end}}</td></tr>{{end}}</tbody></table>{{end}}
{{- if .Findings}}<h4>{{t "sys.findings"}}</h4><table><thead><tr><th>{{t "col.kind"}}</th><th>{{t "col.summary"}}</th><th>{{t "col.object"}}</th><th>{{t "col.why"}}</th></tr></thead><tbody>{{range .Findings}}<tr><td>{{.Kind}}</td><td>{{.Summary}}</td><td class="mono">{{.Object}}</td><td>{{if .Provider}}<span class="pill warn">{{t "col.provider"}}</span> {{end}}{{.Reasons}}</td></tr>{{end}}</tbody></table>{{end}}
{{- if .After}}<h4>{{t "sys.after"}}</h4><table><thead><tr><th>{{t "col.kind"}}</th><th>{{t "col.summary"}}</th><th>{{t "col.object"}}</th></tr></thead><tbody>{{range .After}}<tr><td>{{.Kind}}</td><td>{{.Summary}}</td><td class="mono">{{.Object}}</td></tr>{{end}}</tbody></table>{{end}}
{{- if .Links}}<h4>{{t "sys.links"}}</h4><ul>{{range .Links}}<li>{{.Kind}} → <span class="mono">{{.To}}</span></li>{{end}}</ul>{{end}}
{{- if .Services}}<h4>{{t "sys.services"}}</h4><table><thead><tr><th>{{t "col.name"}}</th><th>{{t "col.enabled"}}</th><th>{{t "col.running"}}</th></tr></thead><tbody>{{range .Services}}<tr><td>{{.Name}}</td><td>{{if .Enabled}}{{t "yes"}}{{else}}{{t "no"}}{{end}}</td><td>{{if .Running}}{{t "yes"}}{{else}}{{t "no"}}{{end}}</td></tr>{{end}}</tbody></table>{{end}}
{{- if .Ports}}<h4>{{t "sys.ports"}}</h4><table><thead><tr><th>{{t "col.proto"}}</th><th>{{t "col.listen"}}</th><th>{{t "col.process"}}</th></tr></thead><tbody>{{range .Ports}}<tr><td>{{.Proto}}</td><td class="mono">{{.Addr}}</td><td>{{.Process}}</td></tr>{{end}}</tbody></table>{{end}}
{{- if .Software}}<h4>{{t "sys.software"}} <span class="count">({{len .Software}})</span></h4><table class="software"><thead><tr><th>{{t "col.package"}}</th><th>{{t "col.pkgversion"}}</th><th>{{t "col.state"}}</th></tr></thead><tbody>{{range .Software}}<tr><td>{{.Name}}</td><td class="mono">{{.Version}}</td><td>{{.State}}</td></tr>{{end}}</tbody></table>{{end}}
</div></details>
{{- end}}
</div></details>
{{- end}}

<h3>{{t "s2.services"}}</h3>
{{- if .Services}}
<div class="cards">
{{- range .Services}}
<div class="card"><h4>{{.Title}} — {{.System}}</h4><p class="muted">{{.Target}}</p>{{if .Text}}<p>{{.Text}}</p>{{end}}
{{- range .Lists}}<p><strong>{{.Name}}</strong></p><ul>{{range .Items}}<li>{{.Text}}{{if .Provider}} <span class="pill warn">{{t "col.provider"}}</span>{{end}}</li>{{end}}</ul>{{end}}
</div>
{{- end}}
</div>
{{- else}}<p class="muted">{{t "svc.none"}}</p>{{end}}

<h3>{{t "s2.admins"}}</h3>
<p class="note">{{t "s2.admins.note"}}</p>
<table class="admins">
<thead><tr><th>{{t "col.target"}}</th><th>{{t "col.system"}}</th><th>{{t "col.account"}}</th><th>{{t "col.adminvia"}}</th><th>{{t "col.store"}}</th><th>{{t "col.path"}}</th><th class="num">{{t "col.version"}}</th><th>{{t "col.changed"}}</th></tr></thead>
<tbody>
{{- range .Admins}}
<tr><td>{{.Target}}</td><td>{{.System}}</td><td class="mono">{{.Account}}{{if .Display}} <span class="muted">({{.Display}})</span>{{end}}</td><td>{{.Via}}</td>{{if .Managed}}<td>{{.Store}}{{if .Location}} <span class="muted mono">{{.Location}}</span>{{end}}</td><td class="mono">{{.Path}}</td><td class="num">{{.Version}}</td><td>{{.Changed}}</td>{{else}}<td colspan="4" class="muted">{{.Store}}</td>{{end}}</tr>
{{- end}}
</tbody></table>
{{- if .V3}}

<h3 id="cloud">{{t "s2.cloud"}}</h3>
<p class="note">{{t "s2.cloud.note"}}</p>
{{- if .Cloud}}
<table class="cloud">
<thead><tr><th>{{t "col.domain"}}</th><th>{{t "col.service"}}</th><th>{{t "col.roles"}}</th><th>{{t "col.evidence"}}</th></tr></thead>
<tbody>
{{- range .Cloud}}
<tr><td class="mono">{{.Domain}}</td><td>{{.Service}}{{if .Provider}} <span class="pill warn">{{t "col.provider"}}</span>{{end}}{{if .Unclassified}} <span class="muted">({{t "cloud.unclassified"}})</span>{{end}}{{if .Vendor}}<br><span class="muted">{{.Vendor}}</span>{{end}}</td><td>{{.Roles}}</td><td class="mono">{{range .Evidence}}{{.}}<br>{{end}}</td></tr>
{{- end}}
</tbody></table>
{{- else}}<p class="muted">{{t "cloud.none"}}</p>{{end}}

<h3 id="declared-items">{{t "s2.declared"}}</h3>
<p class="note">{{t "s2.declared.note"}}</p>
{{- if .Declared}}
<table class="declared-items">
<thead><tr><th>{{t "col.name"}}</th><th>{{t "col.kind"}}</th><th>{{t "col.owner"}}</th><th>{{t "col.credential"}}</th><th>{{t "col.providerknew"}}</th><th>{{t "col.action"}}</th><th>{{t "col.state"}}</th><th>{{t "col.attestation"}}</th></tr></thead>
<tbody>
{{- range .Declared}}
<tr><td>{{.Name}}<br><span class="mono muted">{{.ID}}</span></td><td>{{.Kind}}</td><td>{{.Owner}}</td><td>{{.Credential}}</td><td>{{.ProviderKnew}}</td><td>{{.Action}}</td><td><span class="pill {{.StatusClass}}">{{.Status}}</span></td><td>{{.Attestation}}{{if .Evidence}}<br><span class="mono muted">{{.Evidence}}</span>{{end}}{{if .Detail}}<br><span class="muted">{{.Detail}}</span>{{end}}</td></tr>
{{- end}}
</tbody></table>
{{- if .AttestLine}}<p class="note">{{.AttestLine}}</p>{{end}}
{{- else}}<p class="muted">{{t "declared.none"}}</p>{{end}}
{{- end}}
</section>

<section id="actions">
<h2 class="major">{{t "s3"}}</h2>
<p class="note">{{t "s3.note"}}</p>
{{- range .Actions}}
<details class="actions"{{if .Open}} open{{end}}><summary>{{.Target}} <span class="count">{{.Count}}</span></summary><div class="body">
{{if $.V3}}<div class="tbox"><table class="actions"><colgroup><col class="n"><col class="time"><col class="sys"><col class="act"><col class="obj"><col><col><col class="res"><col class="proof"><col class="proof"><col class="proof"></colgroup>{{else}}<table>{{end}}
<thead><tr><th class="num">#</th><th>{{t "col.time"}}</th><th>{{t "col.system"}}</th><th>{{t "col.action"}}</th><th>{{t "col.object"}}</th><th>{{t "col.before"}}</th><th>{{t "col.after"}}</th><th>{{t "col.result"}}</th><th>{{t "col.newworks"}}</th><th>{{t "col.oldrejected"}}</th><th>{{t "col.absent"}}</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="num">{{.N}}</td><td class="mono">{{.Time}}</td><td>{{.System}}</td><td>{{.Action}}</td><td class="mono">{{.Object}}</td><td>{{.Before}}</td><td>{{.After}}</td><td><span class="pill {{.ResultClass}}">{{.Result}}</span>{{if .Error}}<div class="err">{{.Error}}</div>{{end}}{{range .Other}}<div class="muted">{{.}}</div>{{end}}</td><td><span class="pill {{.New.Class}}">{{.New.Text}}</span></td><td><span class="pill {{.Old.Class}}">{{.Old.Text}}</span></td><td><span class="pill {{.Gone.Class}}">{{.Gone.Text}}</span></td></tr>
{{- end}}
</tbody></table>{{if $.V3}}</div>{{end}}</div></details>
{{- else}}<p class="muted">{{t "none"}}</p>
{{- end}}
</section>

<section id="outgoing">
<h2>{{t "s4"}}</h2>
<p class="note">{{t "s4.note"}}</p>
{{- if .Access}}
<table class="access">
<thead><tr><th>{{t "col.target"}}</th><th>{{t "col.system"}}</th><th>{{t "col.finding"}}</th><th>{{t "col.why"}}</th><th>{{t "col.fate"}}</th><th>{{t "col.change"}}</th></tr></thead>
<tbody>
{{- range .Access}}
<tr><td>{{.Target}}</td><td>{{.System}}</td><td>{{.Summary}}<div class="muted mono">{{.Kind}} · {{.Object}}</div></td><td>{{.Why}}</td><td><span class="pill {{.FateClass}}">{{.Fate}}</span></td><td class="mono">{{.Change}}</td></tr>
{{- end}}
</tbody></table>
{{- else}}<p class="muted">{{t "none"}}</p>{{end}}
</section>

<section id="deviations">
<h2>{{t "s5"}}</h2>
{{- if .NoDeviation}}<p>{{t "s5.none"}}</p>{{end}}
{{- if .Failures}}
<h3>{{t "s5.failures"}}</h3>
<table class="failures"><thead><tr><th>{{t "col.target"}}</th><th>{{t "col.system"}}</th><th>{{t "col.change"}}</th><th>{{t "col.error"}}</th></tr></thead><tbody>
{{- range .Failures}}<tr><td>{{.Target}}</td><td>{{.System}}</td><td class="mono">{{.Change}}</td><td class="err">{{.Error}}</td></tr>{{end}}
</tbody></table>
{{- end}}
{{- if .Waivers}}
<h3>{{t "s5.waivers"}}</h3>
<table class="waivers"><thead><tr><th>{{t "col.target"}}</th><th>{{t "col.system"}}</th><th>{{t "col.action"}}</th><th>{{t "col.object"}}</th><th>{{t "col.justification"}}</th><th>{{t "col.approver"}}</th><th>{{t "col.expires"}}</th></tr></thead><tbody>
{{- range .Waivers}}<tr><td>{{.Target}}</td><td>{{.System}}</td><td>{{.Action}}</td><td class="mono">{{.Object}}</td><td>{{.Justification}}</td><td>{{.Approver}}</td><td>{{.Expires}}</td></tr>{{end}}
</tbody></table>
{{- end}}
{{- if .Residual}}
<h3>{{t "s5.residual"}}</h3>
<ul class="residual">{{range .Residual}}<li>{{.}}</li>{{end}}</ul>
{{- end}}
</section>

{{- if .Handoffs}}
<section id="handoffs">
<h2>{{t "hand"}}</h2>
<p class="note">{{t "hand.note"}}</p>
<table class="handoffs"><thead><tr><th>{{t "col.time"}}</th><th>{{t "hand.what"}}</th><th>{{t "hand.by"}}</th><th>{{t "hand.keys"}}</th><th>{{t "hand.content"}}</th><th>{{t "hand.bundle"}}</th><th>{{t "col.result"}}</th></tr></thead><tbody>
{{- range .Handoffs}}<tr><td class="mono">{{.Time}}</td><td>{{.What}}</td><td>{{.By}}</td><td class="mono">{{range .Keys}}<div>{{.}}</div>{{end}}</td><td>{{.Content}}{{range .Credentials}}<div class="muted mono">{{.}}</div>{{end}}</td><td class="mono">{{.Bundle}}</td><td>{{.Result}}</td></tr>{{end}}
</tbody></table>
</section>
{{- end}}

<section id="journal">
<h2 class="major">{{t "s6"}}</h2>
<p class="note">{{t "s6.note"}}</p>
<table><tbody>
<tr><th>{{t "journal.file"}}</th><td class="mono">{{.R.Journal.File}}</td></tr>
<tr><th>{{t "journal.records"}}</th><td>{{f "records.count" (len .R.Journal.Records)}}</td></tr>
</tbody></table>
<p><strong>{{t "journal.head"}}</strong></p>
<div class="hash" id="journal-head">{{.R.Journal.Head}}</div>
<details class="journal"><summary>{{t "journal.show"}}<span class="count">{{len .Journal}}</span></summary><div class="body">
<table><thead><tr><th class="num">{{t "col.seq"}}</th><th>{{t "col.time"}}</th><th>{{t "col.record"}}</th><th>{{t "col.target"}}</th><th>{{t "col.system"}}</th><th>{{t "col.object"}}</th><th>{{t "col.result"}}</th><th>{{t "col.hash"}}</th></tr></thead><tbody>
{{- range .Journal}}<tr><td class="num">{{.Seq}}</td><td class="mono">{{.Time}}</td><td>{{.Kind}}</td><td>{{.Target}}</td><td>{{.System}}</td><td class="mono">{{.What}}</td><td>{{.Result}}{{if .Error}} <span class="err">{{.Error}}</span>{{end}}</td><td class="mono">{{.Hash}}</td></tr>{{end}}
</tbody></table></div></details>

<div class="sig" id="signature">
<h3>{{t "sig.title"}}</h3>
{{- with .R.Signature}}
<table><tbody>
<tr><th>{{t "sig.by"}}</th><td>{{.Identity}}</td></tr>
<tr><th>{{t "sig.key"}}</th><td class="mono">{{.Fingerprint}}</td></tr>
</tbody></table>
{{- else}}<p class="muted">{{t "sig.unsigned"}}</p>{{end}}
<p><strong>{{t "sig.sha"}}</strong></p>
<div class="hash" id="report-sha256">{{.SHA}}</div>
<p>{{.HowTo.Intro}}</p>
<pre>{{.HowTo.Cmd}}</pre>
<p>{{.HowTo.SSHIntro}}</p>
<pre>{{.HowTo.SSHCmd}}</pre>
</div>

<h3>{{t "sign.title"}}</h3>
<div class="visa">
{{- range .Parties}}<div><div class="role">{{.Role}}</div><div>{{.Name}}</div><div class="small">{{t "sign.note"}}</div></div>{{end}}
</div>
</section>
{{- if .V3}}

{{template "v3pv" .}}
{{- end}}

<footer>{{t "doc.title"}} · {{.R.Handover.Client.Name}} · {{.R.Handover.Contract}} · report.json SHA-256 <span class="mono">{{.SHA}}</span></footer>
</main>
</body>
</html>
`
