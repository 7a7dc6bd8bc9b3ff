package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
)

// cloudRow is one cloud service a domain uses, as the dns connector read
// it.
type cloudRow struct {
	Domain, Target, Service, Vendor, Roles, Source string
	Evidence                                       []string
	Provider, Unclassified                         bool
}

// declaredRow is one declared item as the report shows it.
type declaredRow struct {
	ID, Kind, Name, Owner, Credential, ProviderKnew, Action string
	Status, StatusClass, Attestation, Evidence, Detail      string
}

// cloudServices lists every cloud-service finding of the dossier, by
// domain; the provider's own first within a domain.
func cloudServices(r *Report) []cloudRow {
	var out []cloudRow
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			for _, f := range s.Findings {
				if f.Kind != connector.KindCloudService {
					continue
				}
				out = append(out, cloudRow{
					Domain: s.Name, Target: inv.Target, Service: f.Object, Vendor: f.Detail["vendor"], Roles: f.Detail["roles"], Source: f.Detail["source"],
					Evidence: strings.Split(f.Detail["evidence"], "\n"),
					Provider: f.Detail["operated_by"] != "", Unclassified: f.Detail["catalogue"] != "",
				})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b cloudRow) int {
		if c := strings.Compare(a.Domain, b.Domain); c != 0 {
			return c
		}
		if a.Provider != b.Provider {
			if a.Provider {
				return -1
			}
			return 1
		}
		if a.Unclassified != b.Unclassified {
			if a.Unclassified {
				return 1
			}
			return -1
		}
		return 0
	})
	return out
}

func declaredRows(r *Report, w words) []declaredRow {
	var out []declaredRow
	for _, it := range r.Declared {
		d := it.Item
		row := declaredRow{
			ID: d.ID, Kind: d.Kind, Name: d.Name, Owner: d.Owner, Credential: d.Credential,
			ProviderKnew: yesNo(d.ProviderKnew, w), Action: d.Action,
			Status: w.Maybe("decl."+string(it.Status), string(it.Status)), Detail: it.Detail,
		}
		switch it.Status {
		case DeclaredDone, DeclaredNotRequired:
			row.StatusClass = "ok"
		case DeclaredWaived:
			row.StatusClass = "info"
		default:
			row.StatusClass = "warn"
		}
		if a := it.Attestation; a != nil {
			row.Attestation = w.F("attest.by", a.By, a.Done.Format(time.DateOnly), a.Note)
			if a.EvidenceSHA256 != "" {
				row.Evidence = w.F("attest.evidence", a.Evidence, a.EvidenceSHA256)
			}
		}
		out = append(out, row)
	}
	return out
}

func yesNo(b bool, w words) string {
	if b {
		return w.T("yes")
	}
	return w.T("no")
}

// completeLine is the completeness figure in one sentence: "Handover
// incomplete: 37 of 41 item(s) done, 2 manual step(s) awaiting
// attestation, 2 waived."
func completeLine(r *Report, w words) string {
	c := r.Completeness
	if c == nil {
		return ""
	}
	title := w.T("hl.complete.no")
	if c.Complete {
		title = w.T("hl.complete.yes")
	}
	parts := []string{w.F("hl.complete.done", c.Done, c.Items)}
	if c.Awaiting > 0 {
		parts = append(parts, w.F("hl.complete.awaiting", c.Awaiting))
	}
	if c.Stale > 0 {
		parts = append(parts, w.F("hl.complete.stale", c.Stale))
	}
	if c.Waived > 0 {
		parts = append(parts, w.F("hl.complete.waived", c.Waived))
	}
	if c.Failed > 0 {
		parts = append(parts, w.F("hl.complete.failed", c.Failed))
	}
	sep := ": "
	if w.lang == "fr" {
		sep = " : "
	}
	return title + sep + strings.Join(parts, ", ") + "."
}

// attestLine says which attestation journal the report carries.
func attestLine(r *Report, w words) string {
	a := r.Attestations
	if a == nil {
		return ""
	}
	if a.Error != "" {
		return w.F("attest.broken", a.File, a.Error)
	}
	return w.F("attest.journal", a.File, len(a.Records), short(a.Head))
}

// markdownDossier writes the cloud services and the declared items.
func markdownDossier(b *strings.Builder, v *view) {
	w := v.W
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n### %s\n\n%s\n\n", w.T("s2.cloud"), w.T("s2.cloud.note"))
	if len(v.Cloud) == 0 {
		p("%s\n\n", w.T("cloud.none"))
	} else {
		table(b, []string{w.T("col.domain"), w.T("col.service"), w.T("col.roles"), w.T("col.evidence")}, func(row func(...string)) {
			for _, c := range v.Cloud {
				svc := c.Service
				if c.Provider {
					svc += " " + providerMark(true, w)
				}
				if c.Unclassified {
					svc += " (" + w.T("cloud.unclassified") + ")"
				}
				ev := make([]string, len(c.Evidence))
				for i, e := range c.Evidence {
					ev[i] = "`" + e + "`"
				}
				row(c.Domain, svc, c.Roles, strings.Join(ev, "<br>"))
			}
		})
	}
	p("### %s\n\n%s\n\n", w.T("s2.declared"), w.T("s2.declared.note"))
	if len(v.Declared) == 0 {
		p("%s\n\n", w.T("declared.none"))
		return
	}
	table(b, []string{w.T("col.name"), w.T("col.kind"), w.T("col.owner"), w.T("col.credential"), w.T("col.providerknew"), w.T("col.action"), w.T("col.state"), w.T("col.attestation")}, func(row func(...string)) {
		for _, d := range v.Declared {
			att := d.Attestation
			for _, x := range []string{d.Evidence, d.Detail} {
				if x != "" {
					att = strings.TrimPrefix(att+"<br>"+x, "<br>")
				}
			}
			row(d.Name+" (`"+d.ID+"`)", d.Kind, d.Owner, d.Credential, d.ProviderKnew, d.Action, "**"+d.Status+"**", att)
		}
	})
	if v.AttestLine != "" {
		p("%s\n\n", md(v.AttestLine))
	}
}
