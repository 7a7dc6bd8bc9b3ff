package report

import (
	"fmt"
	"strconv"
	"strings"
)

// renderMarkdown writes the same report as the HTML, for reading in a
// terminal, a wiki or a merge request. Long lists stay complete: Markdown
// has no folding, and the file is the auditor's grep target.
func renderMarkdown(v *view) ([]byte, error) {
	w := v.W
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	r := v.R

	p("# %s — %s\n\n", w.T("doc.title"), md(r.Handover.Client.Name))
	p("*%s*\n\n", w.T("doc.confidential"))
	p("## %s\n\n", w.T("s1"))
	icon := map[string]string{"ok": "✅", "warn": "⚠️", "bad": "❌", "info": "ℹ️"}[v.Banner.Class]
	p("> **%s %s** — %s\n\n", icon, md(v.Banner.Title), md(v.Banner.Text))
	for _, pt := range v.Points {
		p("- %s\n", md(pt))
	}
	p("\n")
	table(&b, []string{"", w.T("col.name"), w.T("party.contact")}, func(row func(...string)) {
		for _, pa := range v.Parties {
			row(pa.Role, strings.TrimSpace(pa.Name+" "+paren(pa.Domain)), pa.Contact)
		}
	})
	for _, m := range v.Meta {
		if m.V != "" {
			p("- **%s** : %s\n", md(m.K), md(m.V))
		}
	}
	p("\n%s\n\n", w.T("meta.times_utc"))
	p("### %s\n\n", w.T("s1.counts"))
	table(&b, []string{w.T("col.target"), w.T("col.type"), w.T("col.systems"), w.T("col.reached"), w.T("col.findings"), w.T("col.planned"), w.T("col.applied"), w.T("col.verified"), w.T("col.failed"), w.T("col.waived")}, func(row func(...string)) {
		for _, t := range r.Summary.Targets {
			row(t.Target, t.Type, itoa(t.Systems), itoa(t.Reached), itoa(t.Findings), itoa(t.Planned), itoa(t.Applied), itoa(t.Verified), itoa(t.Failed), itoa(t.Waived))
		}
		t := v.Totals
		row("**"+w.T("col.total")+"**", "", itoa(t.Systems), itoa(t.Reached), itoa(t.Findings), itoa(t.Planned), itoa(t.Applied), itoa(t.Verified), itoa(t.Failed), itoa(t.Waived))
	})

	p("## %s\n\n### %s\n\n%s\n\n", w.T("s2"), w.T("s2.schema"), v.SchemaNote)
	switch {
	case len(v.Edges) == 0 && v.V3:
		p("%s\n\n", w.T("s2.schema.none"))
	case len(v.Edges) == 0:
		p("%s\n\n", w.T("none"))
	case !v.V3:
		table(&b, []string{w.T("col.system"), w.T("col.link"), w.T("col.to"), "#"}, func(row func(...string)) {
			for _, e := range v.Edges {
				row(e.From, e.Kind, e.To, itoa(e.Count))
			}
		})
	default:
		table(&b, []string{w.T("col.system"), w.T("col.link"), w.T("col.to"), "#", w.T("col.why.link")}, func(row func(...string)) {
			for _, e := range v.Edges {
				to := e.To
				if e.Provider {
					to += " " + providerMark(true, w)
				}
				row(e.From, e.Kind, to, itoa(e.Count), e.Why)
			}
		})
	}
	p("### %s\n\n", w.T("s2.systems"))
	for _, t := range v.Targets {
		p("#### %s (%s, %s)\n\n", md(t.Name), md(t.Type), t.Count)
		table(&b, []string{w.T("col.system"), w.T("col.kind"), w.T("col.address"), w.T("col.os"), w.T("col.hardware"), w.T("col.software"), w.T("col.services"), w.T("col.admins"), w.T("col.findings"), w.T("col.state")}, func(row func(...string)) {
			for _, s := range t.Systems {
				state := w.T("sys.ok")
				if s.Error != "" {
					state = w.T("sys.unreachable") + ": " + s.Error
				}
				row(s.Name, s.KindLabel, s.Address, s.OS, s.HW, itoa(s.NSoftware), itoa(s.NServices), itoa(s.NAdmins), itoa(s.NProvider), state)
			}
		})
		for _, s := range t.Systems {
			p("##### %s\n\n", md(s.Name))
			if s.Error != "" {
				p("%s: %s\n\n", w.T("sys.unreachable"), md(s.Error))
			}
			if len(s.Facts) > 0 || len(s.Hardware) > 0 {
				table(&b, []string{w.T("col.name"), w.T("col.value")}, func(row func(...string)) {
					for _, f := range s.Facts {
						row(f.Name, f.Value)
					}
					for _, h := range s.Hardware {
						row(h.K, h.V)
					}
					for _, d := range s.Disks {
						row(w.T("col.disk")+" "+d.Name, strconv.FormatInt(d.SizeMB, 10)+" MB "+d.Model)
					}
				})
			}
			if len(s.Accounts) > 0 {
				p("%s :\n\n", w.T("sys.accounts"))
				table(&b, []string{w.T("col.account"), w.T("col.display"), w.T("col.state"), w.T("col.adminvia"), w.T("col.provider")}, func(row func(...string)) {
					for _, a := range s.Accounts {
						row("`"+a.Name+"`", a.Display, a.State, a.Via, yesIf(a.Provider, w)+" "+a.Reasons)
					}
				})
			}
			if len(s.Findings) > 0 {
				p("%s :\n\n", w.T("sys.findings"))
				table(&b, []string{w.T("col.kind"), w.T("col.summary"), w.T("col.object"), w.T("col.why")}, func(row func(...string)) {
					for _, f := range s.Findings {
						row(f.Kind, f.Summary, "`"+f.Object+"`", f.Reasons)
					}
				})
			}
			if len(s.After) > 0 {
				p("%s :\n\n", w.T("sys.after"))
				for _, f := range s.After {
					p("- %s (`%s`)\n", md(f.Summary), f.Object)
				}
				p("\n")
			}
			if len(s.Links) > 0 {
				p("%s :\n\n", w.T("sys.links"))
				for _, l := range s.Links {
					p("- %s → `%s`\n", md(l.Kind), l.To)
				}
				p("\n")
			}
			if len(s.Services) > 0 {
				names := make([]string, 0, len(s.Services))
				for _, sv := range s.Services {
					n := sv.Name
					if sv.Running {
						n += " (" + w.T("col.running") + ")"
					}
					names = append(names, n)
				}
				p("%s : %s\n\n", w.T("sys.services"), md(strings.Join(names, ", ")))
			}
			if len(s.Ports) > 0 {
				ports := make([]string, 0, len(s.Ports))
				for _, pt := range s.Ports {
					ports = append(ports, strings.TrimSpace(pt.Proto+" "+pt.Addr+" "+pt.Process))
				}
				p("%s : %s\n\n", w.T("sys.ports"), md(strings.Join(ports, ", ")))
			}
			if len(s.Software) > 0 {
				pk := make([]string, 0, len(s.Software))
				for _, sw := range s.Software {
					pk = append(pk, strings.TrimSpace(sw.Name+" "+sw.Version))
				}
				p("%s (%d) : %s\n\n", w.T("sys.software"), len(s.Software), md(strings.Join(pk, ", ")))
			}
		}
	}
	p("### %s\n\n", w.T("s2.services"))
	if len(v.Services) == 0 {
		p("%s\n\n", w.T("svc.none"))
	}
	for _, s := range v.Services {
		p("- **%s — %s** (%s). %s\n", md(s.Title), md(s.System), md(s.Target), md(s.Text))
		for _, l := range s.Lists {
			items := make([]string, 0, len(l.Items))
			for _, it := range l.Items {
				items = append(items, strings.TrimSpace(it.Text+" "+providerMark(it.Provider, w)))
			}
			p("  - %s : %s\n", md(l.Name), md(strings.Join(items, "; ")))
		}
	}
	p("\n### %s\n\n%s\n\n", w.T("s2.admins"), w.T("s2.admins.note"))
	table(&b, []string{w.T("col.target"), w.T("col.system"), w.T("col.account"), w.T("col.adminvia"), w.T("col.store"), w.T("col.path"), w.T("col.version"), w.T("col.changed")}, func(row func(...string)) {
		for _, a := range v.Admins {
			store := a.Store
			if a.Location != "" {
				store += " " + a.Location
			}
			row(a.Target, a.System, "`"+a.Account+"`", a.Via, store, a.Path, a.Version, a.Changed)
		}
	})

	if v.V3 {
		markdownDossier(&b, v)
	}

	p("## %s\n\n%s\n\n", w.T("s3"), w.T("s3.note"))
	if len(v.Actions) == 0 {
		p("%s\n\n", w.T("none"))
	}
	for _, g := range v.Actions {
		p("### %s (%s)\n\n", md(g.Target), g.Count)
		table(&b, []string{"#", w.T("col.time"), w.T("col.system"), w.T("col.action"), w.T("col.object"), w.T("col.before"), w.T("col.after"), w.T("col.result"), w.T("col.newworks"), w.T("col.oldrejected"), w.T("col.absent")}, func(row func(...string)) {
			for _, a := range g.Rows {
				res := a.Result
				if a.Error != "" {
					res += " — " + a.Error
				}
				for _, o := range a.Other {
					res += " — " + o
				}
				row(itoa(a.N), a.Time, a.System, a.Action, "`"+a.Object+"`", a.Before, a.After, res, a.New.Text, a.Old.Text, a.Gone.Text)
			}
		})
	}

	p("## %s\n\n%s\n\n", w.T("s4"), w.T("s4.note"))
	if len(v.Access) == 0 {
		p("%s\n\n", w.T("none"))
	} else {
		table(&b, []string{w.T("col.target"), w.T("col.system"), w.T("col.finding"), w.T("col.why"), w.T("col.fate"), w.T("col.change")}, func(row func(...string)) {
			for _, a := range v.Access {
				row(a.Target, a.System, a.Summary+" ("+a.Kind+" `"+a.Object+"`)", a.Why, "**"+a.Fate+"**", a.Change)
			}
		})
	}

	p("## %s\n\n", w.T("s5"))
	if v.NoDeviation {
		p("%s\n\n", w.T("s5.none"))
	}
	if len(v.Failures) > 0 {
		p("### %s\n\n", w.T("s5.failures"))
		table(&b, []string{w.T("col.target"), w.T("col.system"), w.T("col.change"), w.T("col.error")}, func(row func(...string)) {
			for _, f := range v.Failures {
				row(f.Target, f.System, f.Change, f.Error)
			}
		})
	}
	if len(v.Waivers) > 0 {
		p("### %s\n\n", w.T("s5.waivers"))
		table(&b, []string{w.T("col.target"), w.T("col.system"), w.T("col.action"), w.T("col.object"), w.T("col.justification"), w.T("col.approver"), w.T("col.expires")}, func(row func(...string)) {
			for _, x := range v.Waivers {
				row(x.Target, x.System, x.Action, "`"+x.Object+"`", x.Justification, x.Approver, x.Expires)
			}
		})
	}
	if len(v.Residual) > 0 {
		p("### %s\n\n", w.T("s5.residual"))
		for _, s := range v.Residual {
			p("- %s\n", md(s))
		}
		p("\n")
	}

	if len(v.Handoffs) > 0 {
		p("## %s\n\n%s\n\n", w.T("hand"), w.T("hand.note"))
		table(&b, []string{w.T("col.time"), w.T("hand.what"), w.T("hand.by"), w.T("hand.keys"), w.T("hand.content"), w.T("hand.bundle"), w.T("col.result")}, func(row func(...string)) {
			for _, h := range v.Handoffs {
				content := h.Content
				for _, c := range h.Credentials {
					content += "; `" + c + "`"
				}
				keys := ""
				for i, k := range h.Keys {
					if i > 0 {
						keys += "; "
					}
					keys += "`" + k + "`"
				}
				row(h.Time, h.What, h.By, keys, content, "`"+h.Bundle+"`", h.Result)
			}
		})
	}

	p("## %s\n\n%s\n\n", w.T("s6"), w.T("s6.note"))
	p("- **%s** : `%s`\n", w.T("journal.file"), r.Journal.File)
	p("- **%s** : %s\n", w.T("journal.records"), w.F("records.count", len(r.Journal.Records)))
	p("- **%s** : `%s`\n\n", w.T("journal.head"), r.Journal.Head)
	table(&b, []string{w.T("col.seq"), w.T("col.time"), w.T("col.record"), w.T("col.target"), w.T("col.system"), w.T("col.object"), w.T("col.result"), w.T("col.hash")}, func(row func(...string)) {
		for _, j := range v.Journal {
			res := j.Result
			if j.Error != "" {
				res += " — " + j.Error
			}
			row(itoa(j.Seq), j.Time, j.Kind, j.Target, j.System, j.What, res, "`"+j.Hash+"`")
		}
	})
	p("### %s\n\n", w.T("sig.title"))
	if s := r.Signature; s != nil {
		p("- **%s** : %s\n- **%s** : `%s`\n", w.T("sig.by"), md(s.Identity), w.T("sig.key"), s.Fingerprint)
	} else {
		p("%s\n\n", w.T("sig.unsigned"))
	}
	p("- **%s** : `%s`\n\n", w.T("sig.sha"), v.SHA)
	p("%s\n\n    %s\n\n", v.HowTo.Intro, v.HowTo.Cmd)
	p("%s\n\n    %s\n\n", v.HowTo.SSHIntro, v.HowTo.SSHCmd)
	p("### %s\n\n", w.T("sign.title"))
	for _, pa := range v.Parties {
		p("- %s — %s : ______________________ (%s)\n", pa.Role, md(pa.Name), w.T("sign.note"))
	}
	p("\n---\n\nreport.json SHA-256: `%s`\n", v.SHA)
	return []byte(b.String()), nil
}

// table writes a Markdown table; cells are escaped.
func table(b *strings.Builder, head []string, rows func(row func(...string))) {
	b.WriteString("|")
	for _, h := range head {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for range head {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	rows(func(cells ...string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	})
	b.WriteString("\n")
}

// cell keeps a value on one table line and its pipes literal.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.TrimSpace(s)
}

// md neutralises the characters that would turn text into markup or HTML.
func md(s string) string {
	r := strings.NewReplacer("\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func itoa(n int) string { return strconv.Itoa(n) }

func yesIf(b bool, w words) string {
	if b {
		return w.T("yes")
	}
	return ""
}

func providerMark(b bool, w words) string {
	if b {
		return "(" + w.T("col.provider") + ")"
	}
	return ""
}
