package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
)

// Render renders r as "html" (one self-contained, printable file) or "md"
// in lang ("fr" or "en"; "" means r.Lang, then DefaultLang). The rendering
// is deterministic and embeds the SHA-256 of r's canonical JSON, so Verify
// can prove a rendering was made from a given report.json.
func Render(r *Report, format, lang string) ([]byte, error) {
	js, err := Marshal(r)
	if err != nil {
		return nil, err
	}
	return render(r, js, format, lang)
}

func render(r *Report, js []byte, format, lang string) ([]byte, error) {
	if lang == "" {
		lang = cmp.Or(r.Lang, DefaultLang)
	}
	w, err := wordsFor(lang)
	if err != nil {
		return nil, err
	}
	v, err := buildView(r, js, w)
	if err != nil {
		return nil, err
	}
	switch format {
	case "html":
		return renderHTML(v)
	case "md", "markdown":
		return renderMarkdown(v)
	}
	return nil, fmt.Errorf("report: format %q is not supported (html, md)", format)
}

// renderAll renders the HTML and Markdown reports from one view, side by
// side: a large estate's report takes a noticeable time at the end of a
// run.
// renderAll renders the report's renderings (r.Renders): the HTML and the
// Markdown from one view, side by side; nil for one not wanted.
func renderAll(r *Report, js []byte) (html, md []byte, err error) {
	w, err := wordsFor(cmp.Or(r.Lang, DefaultLang))
	if err != nil {
		return nil, nil, err
	}
	v, err := buildView(r, js, w)
	if err != nil {
		return nil, nil, err
	}
	var herr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r.Renders("html") {
			html, herr = renderHTML(v)
		}
	}()
	if r.Renders("md") {
		md, err = renderMarkdown(v)
	}
	<-done
	return html, md, errors.Join(herr, err)
}

// view is what the templates print: everything computed, sorted and
// worded here, so the templates only lay it out.
type view struct {
	W           words
	R           *Report
	SHA         string
	Index       template.JS
	Banner      banner
	Points      []string
	Parties     []party
	Meta        []kv
	Totals      TargetSummary
	Schema      template.HTML
	Edges       []edgeRow
	Targets     []targetView
	Services    []serviceView
	Admins      []adminRow
	Actions     []actionGroup
	Access      []accessRow
	Failures    []Failure
	Waivers     []waiverRow
	Residual    []string
	Handoffs    []handoffRow
	Journal     []recordRow
	NoDeviation bool
	HowTo       howTo
	// Cloud services, declared items and the attestation journal
	// (dossier.go).
	Cloud      []cloudRow
	Declared   []declaredRow
	AttestLine string
	// V3: the report is of format 3 or later, and shows what format 3
	// added; earlier reports render as they were signed.
	V3         bool
	SchemaNote string
	// Format 3's table of contents and procès-verbal (scale.go).
	TOC []tocTarget
	PV  pvView
}

// howTo tells the auditor how to verify the report, in words and
// commands.
type howTo struct{ Intro, Cmd, SSHIntro, SSHCmd string }

// verifyHowTo is the verification instructions a report prints. From
// format 2 on, they have the auditor use their own copy of the signer's
// key; format 1's renderings, signed, keep the words they were signed
// with, which used the allowed_signers shipped with the report.
func verifyHowTo(r *Report, w words) howTo {
	identity := "IDENTITY"
	if r.Signature != nil {
		identity = r.Signature.Identity
	}
	if r.FormatVersion == format1 {
		return howTo{
			Intro:    w.T("sig.howto"),
			Cmd:      "handover verify report.json --allowed-signers allowed_signers",
			SSHIntro: w.T("sig.howto.ssh"),
			SSHCmd:   "ssh-keygen -Y verify -f allowed_signers -I " + identity + " -n handover-report -s report.json.sig < report.json",
		}
	}
	return howTo{
		Intro:    w.T("sig.howto.own"),
		Cmd:      "handover verify --allowed-signers trusted_signers report.json",
		SSHIntro: w.T("sig.howto.ssh"),
		SSHCmd:   "ssh-keygen -Y verify -f trusted_signers -I " + identity + " -n handover-report -s report.json.sig < report.json",
	}
}

type banner struct{ Class, Title, Text string }

type party struct{ Role, Name, Domain, Contact string }

type kv struct{ K, V string }

type targetView struct {
	Name, Type string
	Count      string
	ID         string // format 3: the table of contents' anchor
	Open       bool
	Systems    []systemView
}

type systemView struct {
	Anchor, Name, Kind, KindLabel, Address, Error string
	OS, HW                                        string
	NSoftware, NServices, NAdmins, NProvider      int
	Facts                                         []connector.Fact
	Hardware                                      []kv
	Disks                                         []connector.Disk
	Software                                      []connector.Package
	Services                                      []connector.Service
	Ports                                         []connector.Port
	Accounts                                      []accountRow
	Findings                                      []findingRow
	Links                                         []connector.Link
	After                                         []findingRow
}

type accountRow struct {
	Name, Display, State, Via string
	Admin, Provider, Service  bool
	Reasons                   string
}

type findingRow struct {
	Kind, Object, Summary, Reasons string
	Provider                       bool
}

type serviceView struct {
	Title, Target, System, Text string
	Lists                       []namedList
}

type namedList struct {
	Name  string
	Items []connector.CardItem
}

type adminRow struct {
	Target, System, Account, Display, Via   string
	Store, Location, Path, Version, Changed string
	Managed                                 bool
}

type actionGroup struct {
	Target, Count string
	Open          bool
	Rows          []actionRow
}

type actionRow struct {
	N                                  int
	Time, System, Action, Object       string
	Before, After, Result, ResultClass string
	New, Old, Gone                     tri
	Other                              []string
	Error                              string
	// checks are Other's checks in the connector's words, and result
	// the action's result as the engine wrote it, for localiseView to
	// word them again.
	checks []checkWords
	result plan.Result
}

// checkWords is a check as a row prints it: ✓ or ✗, what was looked at,
// what else it showed.
type checkWords struct{ mark, what, detail string }

func (c checkWords) String() string {
	s := c.mark + " " + c.what
	if c.detail != "" {
		s += " (" + c.detail + ")"
	}
	return s
}

// tri is a verification outcome: yes, no or not applicable.
type tri struct{ Text, Class string }

type accessRow struct {
	Target, System, Kind, Summary, Object, Why, Fate, FateClass, Change string
}

type waiverRow struct {
	Target, System, Action, Object, Justification, Approver, Expires string
}

type recordRow struct {
	Seq                                      int
	Time, Kind, Target, System, What, Result string
	Hash, Error                              string
}

func buildView(r *Report, js []byte, w words) (*view, error) {
	ss, err := spans(js)
	if err != nil {
		return nil, fmt.Errorf("report: index: %w", err)
	}
	idx, err := json.Marshal(map[string]any{"report_sha256": SHA256(js), "index": indexOf(ss)})
	if err != nil {
		return nil, err
	}
	v := &view{W: w, R: r, SHA: SHA256(js), Index: template.JS(idx), HowTo: verifyHowTo(r, w)}
	v.Parties = []party{
		{w.T("party.client"), r.Handover.Client.Name, r.Handover.Client.Domain, r.Handover.Client.Contact},
		{w.T("party.outgoing"), r.Handover.Outgoing.Name, r.Handover.Outgoing.Domain, r.Handover.Outgoing.Contact},
		{w.T("party.incoming"), r.Handover.Incoming.Name, r.Handover.Incoming.Domain, r.Handover.Incoming.Contact},
	}
	v.Meta = []kv{
		{w.T("meta.contract"), r.Handover.Contract},
		{w.T("meta.date"), longDate(r.Handover.Date, w.lang)},
		{w.T("meta.operator"), cmp.Or(r.Run.Operator, r.Handover.Operator)},
		{w.T("meta.started"), stamp(r.Run.Started)},
		{w.T("meta.finished"), stamp(r.Run.Finished)},
		{w.T("meta.run"), r.Run.ID + " (" + w.Maybe("mode."+r.Run.Mode, r.Run.Mode) + ")"},
		{w.T("meta.tool"), strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version)},
		{w.T("meta.playbook"), r.Playbook.File + " · SHA-256 " + short(r.Playbook.Hash)},
	}
	for i, sh := range r.Shards {
		val := fmt.Sprintf("%s · %s · %s · report.json SHA-256 %s", sh.Dir, sh.RunID, fmt.Sprintf(w.T("meta.shard.systems"), sh.Systems), short(sh.SHA256))
		if sh.Limit != "" {
			val += " · --limit " + sh.Limit
		}
		v.Meta = append(v.Meta, kv{fmt.Sprintf(w.T("meta.shard"), i+1), val})
	}
	for _, t := range r.Summary.Targets {
		v.Totals.Systems += t.Systems
		v.Totals.Reached += t.Reached
		v.Totals.Findings += t.Findings
		v.Totals.Planned += t.Planned
		v.Totals.Applied += t.Applied
		v.Totals.Verified += t.Verified
		v.Totals.Failed += t.Failed
		v.Totals.Waived += t.Waived
	}
	v.Banner = resultBanner(r, w)
	v.Points = highlights(r, w)
	if line := completeLine(r, w); line != "" {
		v.Points = append([]string{line}, v.Points...)
	}
	v.V3 = r.FormatVersion > format2
	v.SchemaNote = w.T("s2.schema.note")
	if v.V3 {
		v.SchemaNote = w.T("s2.schema.note.v3")
	}
	v.Cloud = cloudServices(r)
	v.Declared = declaredRows(r, w)
	v.AttestLine = attestLine(r, w)
	lk := looksOf(r, w.lang)
	svg, edges := schema(r, w, lk)
	v.Schema, v.Edges = template.HTML(svg), edges
	v.Targets = dossier(r, w, lk)
	v.Services = cards(lk, w)
	v.Admins = admins(r, w)
	v.Actions = actions(r, w)
	v.Access = access(r, w)
	v.Failures = r.Deviations.Failures
	for _, x := range r.Deviations.Waivers {
		v.Waivers = append(v.Waivers, waiverRow{
			Target: x.Change.Target, System: x.Change.System,
			Action: w.Maybe("act."+string(x.Change.Action), string(x.Change.Action)), Object: x.Change.Object,
			Justification: x.Justification, Approver: x.Approver, Expires: day(x.Expires),
		})
	}
	v.Residual = r.Deviations.Residual
	v.NoDeviation = len(v.Failures)+len(v.Waivers)+len(v.Residual) == 0
	v.Handoffs = handoffRows(r, w)
	if v.V3 {
		v.TOC = tocTargets(v.Targets)
		for i := range v.Targets {
			v.Targets[i].ID = v.TOC[i].Anchor
		}
		v.PV = procesVerbal(r, v, w)
	}
	for _, rec := range r.Journal.Records {
		v.Journal = append(v.Journal, recordRow{
			Seq: rec.Seq, Time: stamp(rec.Time), Kind: string(rec.Kind), Target: rec.Target, System: rec.System,
			What: recordWhat(rec), Result: string(rec.Result), Error: rec.Error, Hash: short(rec.Hash),
		})
	}
	if v.V3 {
		localiseView(v, w)
	}
	return v, nil
}

func recordWhat(r journal.Record) string {
	parts := []string{}
	for _, s := range []string{r.Detail["mode"], r.Detail["event"], r.Action, r.Object, r.Change, r.Secret} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if r.Attempt > 0 {
		parts = append(parts, "#"+strconv.Itoa(r.Attempt))
	}
	return strings.Join(parts, " · ")
}

func resultBanner(r *Report, w words) banner {
	switch r.Run.Result {
	case RunSuccess:
		return banner{"ok", w.T("result.success"), w.T("result.success.text")}
	case RunPartial:
		return banner{"warn", w.T("result.partial"), w.T("result.partial.text")}
	case RunFailed:
		return banner{"bad", w.T("result.failed"), w.T("result.failed.text")}
	case RunNoChanges:
		return banner{"info", w.T("result.nochange"), w.T("result.nochange.text")}
	}
	return banner{"warn", w.T("result.unknown") + " : " + string(r.Run.Result), ""}
}

// highlights are the summary's plain sentences for a reader who will not
// read the tables.
func highlights(r *Report, w words) []string {
	var out []string
	systems := 0
	for _, inv := range r.Dossier {
		systems += len(inv.Systems)
	}
	out = append(out, w.F("hl.systems", systems, len(r.Dossier)))
	var rot, rotOK, agents, agentsOK, failed int
	for _, a := range r.Actions {
		done := a.Result.OK() && a.Verified
		switch a.Change.Action {
		case plan.RotatePassword:
			rot++
			if done {
				rotOK++
			}
		case plan.RemoveAgent:
			agents++
			if done {
				agentsOK++
			}
		}
		if a.Result == plan.Failed {
			failed++
		}
	}
	if rot > 0 {
		out = append(out, w.F("hl.rotated", rotOK, rot))
	}
	if len(r.Outgoing) > 0 {
		var handled, waived, open int
		for _, o := range r.Outgoing {
			switch {
			case o.Fate.Handled():
				handled++
			case o.Fate == FateWaived:
				waived++
			default:
				open++
			}
		}
		out = append(out, w.F("hl.access", len(r.Outgoing), handled, waived, open))
	}
	if agents > 0 {
		out = append(out, w.F("hl.agents", agentsOK, agents))
	}
	if failed > 0 {
		out = append(out, w.F("hl.failures", failed))
	}
	if n := len(r.Deviations.Waivers); n > 0 {
		out = append(out, w.F("hl.waivers", n))
	}
	return out
}

// sysKey indexes systems by target and name, so the renderers join the
// dossier, the re-inventory, credentials and actions in linear time.
type sysKey struct{ target, system string }

func dossier(r *Report, w words, lk looks) []targetView {
	after := map[sysKey]*connector.System{}
	for i := range r.After {
		for j := range r.After[i].Systems {
			s := &r.After[i].Systems[j]
			after[sysKey{r.After[i].Target, s.Name}] = s
		}
	}
	var tvs []targetView
	for _, inv := range r.Dossier {
		tv := targetView{Name: inv.Target, Type: inv.Type, Count: w.F("systems.count", len(inv.Systems)), Open: len(inv.Systems) <= 12}
		for _, s := range inv.Systems {
			sv := systemView{
				Anchor: anchor(inv.Target, s.Name), Name: s.Name, Kind: s.Kind, KindLabel: lk.label(s.Kind, w),
				Address: s.Address, Error: s.Error, OS: osOf(s.Facts), HW: hwSummary(s.Hardware, w),
				NSoftware: len(s.Software), NServices: len(s.Services),
				Facts: s.Facts, Software: s.Software, Services: s.Services, Ports: s.Ports, Links: s.Links,
			}
			if hw := s.Hardware; hw != nil {
				sv.Hardware = hardwareRows(hw, w)
				sv.Disks = hw.Disks
			}
			for _, a := range s.Accounts {
				if a.Admin {
					sv.NAdmins++
				}
				sv.Accounts = append(sv.Accounts, accountRow{
					Name: a.Name, Display: a.Display, State: a.State, Via: strings.Join(a.AdminVia, "; "),
					Admin: a.Admin, Provider: a.Provider, Service: a.Service, Reasons: strings.Join(a.Reasons, "; "),
				})
			}
			for _, f := range s.Findings {
				if f.Provider {
					sv.NProvider++
				}
				sv.Findings = append(sv.Findings, finding(f))
			}
			if as := after[sysKey{inv.Target, s.Name}]; as != nil {
				for _, f := range as.Findings {
					if f.Provider {
						sv.After = append(sv.After, finding(f))
					}
				}
			}
			tv.Systems = append(tv.Systems, sv)
		}
		tvs = append(tvs, tv)
	}
	return tvs
}

func finding(f connector.Finding) findingRow {
	return findingRow{Kind: f.Kind, Object: f.Object, Summary: f.Summary, Reasons: strings.Join(f.Reasons, "; "), Provider: f.Provider}
}

// cards are the presentation's cards in the view's language.
func cards(lk looks, w words) []serviceView {
	var out []serviceView
	for _, c := range lk.cards {
		sv := serviceView{Title: c.Title.In(w.lang), Target: c.Target, System: c.System, Text: c.Text.In(w.lang)}
		for _, l := range c.Lists {
			sv.Lists = append(sv.Lists, namedList{Name: l.Name.In(w.lang), Items: l.Items})
		}
		out = append(out, sv)
	}
	return out
}

// admins lists every admin account of the dossier with where its current
// credential is stored, then any other stored credential.
func admins(r *Report, w words) []adminRow {
	type acctKey struct{ target, system, account string }
	creds := map[acctKey]Credential{}
	for _, c := range r.Credentials {
		creds[acctKey{c.Target, c.System, c.Account}] = c
	}
	used := map[acctKey]bool{}
	var out []adminRow
	row := func(target, system, account, display, via string) adminRow {
		k := acctKey{target, system, account}
		ar := adminRow{Target: target, System: system, Account: account, Display: display, Via: via, Store: w.T("cred.none")}
		if c, ok := creds[k]; ok {
			used[k] = true
			ar.Managed = true
			ar.Store, ar.Location, ar.Path = c.Store, c.Where, c.Path
			ar.Version, ar.Changed = strconv.Itoa(c.Version), stamp(c.Changed)
		}
		return ar
	}
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			for _, a := range s.Accounts {
				if a.Admin {
					out = append(out, row(inv.Target, s.Name, a.Name, a.Display, strings.Join(a.AdminVia, "; ")))
				}
			}
		}
	}
	for _, c := range r.Credentials {
		if !used[acctKey{c.Target, c.System, c.Account}] {
			out = append(out, row(c.Target, c.System, c.Account, "", ""))
		}
	}
	return out
}

func actions(r *Report, w words) []actionGroup {
	var groups []actionGroup
	at := map[string]int{}
	for i, a := range r.Actions {
		gi, ok := at[a.Change.Target]
		if !ok {
			gi = len(groups)
			at[a.Change.Target] = gi
			groups = append(groups, actionGroup{Target: a.Change.Target})
		}
		row := actionRow{
			N: i + 1, Time: clock(a.Started), System: a.Change.System,
			Action: w.Maybe("act."+string(a.Change.Action), string(a.Change.Action)), Object: a.Change.Object,
			Before: a.Change.Before, After: a.Change.After,
			Result: w.Maybe("res."+string(a.Result), string(a.Result)), ResultClass: resultClass(a.Result), Error: a.Error,
			result: a.Result,
		}
		if a.Change.Action == plan.RotatePassword {
			// Whatever the connector wrote, a password is shown only as
			// where its new value lives.
			row.Before = w.T("secret.redacted")
			row.After = w.T("secret.redacted")
		}
		if a.Secret != "" {
			row.After = strings.TrimSpace(row.After + " — " + w.T("secret.stored") + " " + a.Secret)
		}
		if a.Attempts > 1 {
			row.Result += fmt.Sprintf(" (%d %s)", a.Attempts, w.T("attempts"))
		}
		var newC, oldC, goneC []bool
		credential := a.Change.Action == plan.RotatePassword || a.Change.Action == plan.InstallKey
		for _, c := range a.Verification {
			kind := checkKind(r, c)
			if kind == connector.State && !credential {
				// A lock or a disable: the access is gone as the state
				// re-observed shows, which the check's words say.
				goneC = append(goneC, c.OK)
			}
			switch kind {
			case connector.NewWorks:
				newC = append(newC, c.OK)
			case connector.OldRejected:
				oldC = append(oldC, c.OK)
			case connector.Absent:
				goneC = append(goneC, c.OK)
			default:
				cw := checkWords{mark: "✓", what: c.What, detail: c.Detail}
				if !c.OK {
					cw.mark = "✗"
				}
				row.checks = append(row.checks, cw)
				row.Other = append(row.Other, cw.String())
			}
		}
		row.New, row.Old, row.Gone = triOf(newC, w), triOf(oldC, w), triOf(goneC, w)
		groups[gi].Rows = append(groups[gi].Rows, row)
	}
	for i := range groups {
		groups[i].Count = w.F("actions.count", len(groups[i].Rows))
		groups[i].Open = len(groups[i].Rows) <= 40
	}
	return groups
}

func triOf(oks []bool, w words) tri {
	if len(oks) == 0 {
		return tri{w.T("na"), "na"}
	}
	if slices.Contains(oks, false) {
		return tri{w.T("no"), "no"}
	}
	return tri{w.T("yes"), "yes"}
}

func resultClass(res plan.Result) string {
	switch {
	case res.OK():
		return "ok"
	case res == plan.Failed:
		return "bad"
	}
	return "warn"
}

// checkKind is what a check proves: its kind, or for a report of format 1,
// whose checks had none, the kind its words gave it then.
func checkKind(r *Report, c connector.Check) connector.CheckKind {
	if r.FormatVersion == format1 {
		return format1CheckKind(c)
	}
	return c.Kind
}

func access(r *Report, w words) []accessRow {
	var out []accessRow
	for _, o := range r.Outgoing {
		class := "bad"
		switch {
		case o.Fate.Handled():
			class = "ok"
		case o.Fate == FateWaived:
			class = "warn"
		}
		out = append(out, accessRow{
			Target: o.Target, System: o.System, Kind: o.Finding.Kind, Summary: o.Finding.Summary, Object: o.Finding.Object,
			Why: strings.Join(o.Finding.Reasons, "; "), Fate: w.Maybe("fate."+string(o.Fate), string(o.Fate)), FateClass: class, Change: o.Change,
		})
	}
	return out
}

// osOf picks the fact that names the operating system or server software.
func osOf(facts []connector.Fact) string {
	for _, want := range []string{"os", "os_release", "os-release", "operating_system", "pretty_name", "distribution", "server", "version"} {
		for _, f := range facts {
			if strings.EqualFold(f.Name, want) {
				return f.Value
			}
		}
	}
	return ""
}

func hwSummary(hw *connector.Hardware, w words) string {
	if hw == nil {
		return ""
	}
	var parts []string
	if hw.CPUs > 0 {
		parts = append(parts, w.F("hw.cpus", hw.CPUs))
	}
	if hw.MemoryMB > 0 {
		parts = append(parts, megabytes(hw.MemoryMB))
	}
	var disk int64
	for _, d := range hw.Disks {
		disk += d.SizeMB
	}
	if disk > 0 {
		parts = append(parts, megabytes(disk)+diskWord(w))
	}
	return strings.Join(parts, " · ")
}

func diskWord(w words) string {
	if w.lang == "fr" {
		return " disque"
	}
	return " disk"
}

func hardwareRows(hw *connector.Hardware, w words) []kv {
	var out []kv
	add := func(k, v string) {
		if v != "" {
			out = append(out, kv{k, v})
		}
	}
	add("Vendor", hw.Vendor)
	add("Model", hw.Model)
	add(w.T("hw.serial"), hw.Serial)
	add("CPU", strings.TrimSpace(hw.CPUModel+" "+ifPositive(hw.CPUs, w.F("hw.cpus", hw.CPUs))))
	if hw.MemoryMB > 0 {
		add("RAM", megabytes(hw.MemoryMB))
	}
	add(w.T("hw.ips"), strings.Join(hw.IPs, ", "))
	return out
}

func ifPositive(n int, s string) string {
	if n > 0 {
		return "(" + s + ")"
	}
	return ""
}

func megabytes(mb int64) string {
	switch {
	case mb >= 1024*1024:
		return strconv.FormatFloat(float64(mb)/(1024*1024), 'f', 1, 64) + " TB"
	case mb >= 1024:
		return strconv.FormatFloat(float64(mb)/1024, 'f', 1, 64) + " GB"
	}
	return strconv.FormatInt(mb, 10) + " MB"
}

// anchor makes an HTML id for a system.
func anchor(target, system string) string {
	var b strings.Builder
	b.WriteString("sys-")
	for _, r := range target + "-" + system {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// stamp prints an instant in UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// clock prints an instant's UTC date and time, compact for tables.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

var months = map[string][12]string{
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
}

// longDate writes a date as people do in letters.
func longDate(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	m := months[lang][t.Month()-1]
	if lang == "en" {
		return fmt.Sprintf("%s %d, %d", m, t.Day(), t.Year())
	}
	d := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		d = "1er"
	}
	return fmt.Sprintf("%s %s %d", d, m, t.Year())
}
