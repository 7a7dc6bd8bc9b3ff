package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
)

// ShardsDir is the directory of a merged report that keeps a copy of every
// shard's signed report, one sub-directory per shard (1, 2, …).
const ShardsDir = "shards"

// MergeMode is the Run.Mode of a merged report.
const MergeMode = "merge"

// Shard is one shard of a merged report: a signed report of one
// `handover run --limit` of the same playbook, whose files are kept under
// Dir, and whose report.json has the digest SHA256.
type Shard struct {
	// Dir is the shard's copy, relative to the merged report: shards/N.
	Dir    string    `json:"dir"`
	RunID  string    `json:"run_id"`
	Limit  string    `json:"limit,omitempty"`
	SHA256 string    `json:"report_sha256"`
	Result RunResult `json:"result"`
	// JournalHead is the head of the shard's journal, which its report
	// signed.
	JournalHead string `json:"journal_head"`
	Signer      string `json:"signer_fingerprint"`
	Systems     int    `json:"systems"`
}

// MergeInfo is what a merged report says of itself, beside what it takes
// from its shards.
type MergeInfo struct {
	RunID    string
	Operator string
	Tool     Tool
	Lang     string // "" means the first shard's
}

// Merge builds the merged report of shards (in the order given; infos
// describes each): the dossier, re-inventory, credentials, actions,
// provider access and deviations of every shard, the summary added up per
// target. The shards must come from the same playbook (same SHA-256) and
// the same report format, and cover disjoint systems: a system in two
// shards means their --limit patterns overlap, which Merge refuses. The
// playbook's declared items and their attestations are playbook-wide: the
// merged report takes them from the first shard that has any. Merge is
// deterministic: Verify makes it again from the shards and compares.
func Merge(shards []*Report, infos []Shard, m MergeInfo) (*Report, error) {
	if len(shards) == 0 || len(shards) != len(infos) {
		return nil, errors.New("report merge: no shards")
	}
	first := shards[0]
	out := &Report{
		FormatVersion: FormatVersion,
		Tool:          m.Tool,
		Lang:          cmp.Or(m.Lang, first.Lang),
		Formats:       slices.Clone(first.Formats),
		Handover:      first.Handover,
		Playbook:      first.Playbook,
		Run:           Run{ID: m.RunID, Mode: MergeMode, Operator: m.Operator, Result: RunNoChanges},
		Credentials:   []Credential{},
		Actions:       []Action{},
		Outgoing:      []ProviderAccess{},
		Shards:        infos,
	}
	owner := map[string]int{} // target\x00system → shard index
	var problems []string
	summary := map[string]*TargetSummary{}
	var order []string
	var declaredFrom = -1
	results := map[RunResult]int{}
	for i, r := range shards {
		name := infos[i].Dir
		if r.FormatVersion != FormatVersion {
			problems = append(problems, fmt.Sprintf("%s is a report of format %d, not %d: merge shards written by this version of handover", name, r.FormatVersion, FormatVersion))
			continue
		}
		if r.Playbook.Hash != first.Playbook.Hash {
			problems = append(problems, fmt.Sprintf("%s was run from a playbook with SHA-256 %s, %s from %s: shards must run the same playbook", name, short(r.Playbook.Hash), infos[0].Dir, short(first.Playbook.Hash)))
			continue
		}
		if r.Run.Mode == MergeMode || len(r.Shards) > 0 {
			problems = append(problems, fmt.Sprintf("%s is itself a merged report: merge the shards' own reports", name))
			continue
		}
		for _, inv := range r.Dossier {
			for _, s := range inv.Systems {
				k := inv.Target + "\x00" + s.Name
				if j, ok := owner[k]; ok && j != i {
					problems = append(problems, fmt.Sprintf("system %q of target %q is in %s (--limit %q) and in %s (--limit %q): the shards' limits overlap, so both may have changed it", s.Name, inv.Target, infos[j].Dir, infos[j].Limit, name, infos[i].Limit))
					continue
				}
				owner[k] = i
			}
		}
		out.Dossier = mergeInventories(out.Dossier, r.Dossier)
		out.After = mergeInventories(out.After, r.After)
		if p := r.Presentation; p != nil {
			if out.Presentation == nil {
				out.Presentation = &Presentation{}
			}
			for _, k := range p.Kinds {
				if !slices.ContainsFunc(out.Presentation.Kinds, func(x connector.KindLook) bool { return x.Kind == k.Kind }) {
					out.Presentation.Kinds = append(out.Presentation.Kinds, k)
				}
			}
			out.Presentation.Cards = append(out.Presentation.Cards, p.Cards...)
		}
		out.Credentials = append(out.Credentials, r.Credentials...)
		out.Actions = append(out.Actions, r.Actions...)
		out.Outgoing = append(out.Outgoing, r.Outgoing...)
		out.Deviations.Failures = append(out.Deviations.Failures, r.Deviations.Failures...)
		out.Deviations.Waivers = append(out.Deviations.Waivers, r.Deviations.Waivers...)
		for _, x := range r.Deviations.Residual {
			if !slices.Contains(out.Deviations.Residual, x) {
				out.Deviations.Residual = append(out.Deviations.Residual, x)
			}
		}
		out.Handoffs = append(out.Handoffs, r.Handoffs...)
		for _, t := range r.Summary.Targets {
			s, ok := summary[t.Target]
			if !ok {
				s = &TargetSummary{Target: t.Target, Type: t.Type}
				summary[t.Target] = s
				order = append(order, t.Target)
			}
			s.Systems += t.Systems
			s.Reached += t.Reached
			s.Findings += t.Findings
			s.Planned += t.Planned
			s.Applied += t.Applied
			s.Verified += t.Verified
			s.Failed += t.Failed
			s.Waived += t.Waived
		}
		if declaredFrom < 0 && len(r.Declared) > 0 {
			declaredFrom = i
			out.Declared, out.Attestations = r.Declared, r.Attestations
		}
		if out.Run.Started.IsZero() || r.Run.Started.Before(out.Run.Started) {
			out.Run.Started = r.Run.Started
		}
		if r.Run.Finished.After(out.Run.Finished) {
			out.Run.Finished = r.Run.Finished
		}
		results[r.Run.Result]++
	}
	if len(problems) > 0 {
		return nil, &MergeError{Problems: problems}
	}
	for _, t := range order {
		out.Summary.Targets = append(out.Summary.Targets, *summary[t])
	}
	out.Run.Result = mergedResult(results, len(shards))
	out.Completeness = mergedCompleteness(shards, declaredFrom)
	return out, nil
}

// MergeError lists why shards cannot be merged.
type MergeError struct{ Problems []string }

func (e *MergeError) Error() string {
	return "report merge: the shards cannot be merged:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// mergeInventories adds the inventories of one shard: a target already
// there gets the shard's systems, the target's times span both.
func mergeInventories(into, add []connector.Inventory) []connector.Inventory {
	for _, inv := range add {
		i := slices.IndexFunc(into, func(x connector.Inventory) bool { return x.Target == inv.Target })
		if i < 0 {
			inv.Systems = slices.Clone(inv.Systems)
			into = append(into, inv)
			continue
		}
		t := &into[i]
		t.Systems = append(t.Systems, inv.Systems...)
		if inv.Started.Before(t.Started) {
			t.Started = inv.Started
		}
		if inv.Finished.After(t.Finished) {
			t.Finished = inv.Finished
		}
	}
	return into
}

// mergedResult: success only when every shard succeeded (or had nothing
// to do); failed only when every shard failed; partial otherwise.
func mergedResult(results map[RunResult]int, n int) RunResult {
	switch {
	case results[RunNoChanges] == n:
		return RunNoChanges
	case results[RunSuccess]+results[RunNoChanges] == n:
		return RunSuccess
	case results[RunFailed] == n:
		return RunFailed
	}
	return RunPartial
}

// mergedCompleteness adds up the shards' changes, and counts the declared
// items once (those of the shard the merged report takes them from).
func mergedCompleteness(shards []*Report, declaredFrom int) *Completeness {
	c := &Completeness{}
	any := false
	for i, r := range shards {
		sc := r.Completeness
		if sc == nil {
			continue
		}
		any = true
		d := declaredCounts(r.Declared)
		if i == declaredFrom {
			d = Completeness{}
		}
		c.Items += sc.Items - d.Items
		c.Done += sc.Done - d.Done
		c.Awaiting += sc.Awaiting - d.Awaiting
		c.Stale += sc.Stale - d.Stale
		c.Waived += sc.Waived - d.Waived
		c.Failed += sc.Failed - d.Failed
		for _, m := range sc.Missing {
			if i != declaredFrom && strings.HasPrefix(m, "declared ") {
				continue
			}
			c.Missing = append(c.Missing, m)
		}
	}
	if !any {
		return nil
	}
	slices.Sort(c.Missing)
	c.Complete = c.Done+c.Waived == c.Items
	return c
}

// declaredCounts is the declared items' part of a completeness figure, as
// the engine counts it.
func declaredCounts(items []DeclaredItem) Completeness {
	var c Completeness
	for _, it := range items {
		c.Items++
		switch it.Status {
		case DeclaredDone, DeclaredNotRequired:
			c.Done++
		case DeclaredWaived:
			c.Waived++
		case DeclaredStale:
			c.Stale++
		default:
			c.Awaiting++
		}
	}
	return c
}

// ShardOf describes a verified shard report for Merge.
func ShardOf(n int, v *Verification) Shard {
	r := v.Report
	s := Shard{
		Dir:         ShardsDir + "/" + strconv.Itoa(n),
		RunID:       r.Run.ID,
		SHA256:      v.ReportSHA256,
		Result:      r.Run.Result,
		JournalHead: r.Journal.Head,
		Signer:      v.Fingerprint,
	}
	if len(r.Journal.Records) > 0 {
		s.Limit = r.Journal.Records[0].Detail["limit"]
	}
	for _, inv := range r.Dossier {
		s.Systems += len(inv.Systems)
	}
	return s
}

// MergeOptions are how WriteMerged merges.
type MergeOptions struct {
	Trust    Trust
	Info     MergeInfo
	Signer   Signer
	Playbook string // the playbook's SHA-256 the shards must have been run from; "" skips
	Now      func() time.Time
}

// WriteMerged verifies every shard report (signatures, journal, renderings,
// with the trust given), merges them (Merge), copies each shard's signed
// files into out/shards/N, and writes the merged report in out, signed,
// with a journal of its own that records each shard's report digest.
func WriteMerged(ctx context.Context, out string, shardReports []string, o MergeOptions) (Files, error) {
	if len(shardReports) < 2 {
		return Files{}, errors.New("report merge: give at least two shard reports")
	}
	if _, err := os.Lstat(out); err == nil {
		return Files{}, fmt.Errorf("report merge: %s exists: a merged report is written in a new directory", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Files{}, fmt.Errorf("report merge: %w", err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var reports []*Report
	var infos []Shard
	var problems []string
	seen := map[string]string{}
	for i, p := range shardReports {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, JSONFile)
		}
		v, err := Verify(ctx, p, o.Trust)
		if err != nil {
			problems = append(problems, fmt.Sprintf("shard %d (%s) does not verify: %v", i+1, p, err))
			continue
		}
		if prev, ok := seen[v.ReportSHA256]; ok {
			problems = append(problems, fmt.Sprintf("shard %d (%s) is the same report as %s", i+1, p, prev))
			continue
		}
		seen[v.ReportSHA256] = p
		if o.Playbook != "" && v.Report.Playbook.Hash != o.Playbook {
			problems = append(problems, fmt.Sprintf("shard %d (%s) was run from a playbook with SHA-256 %s, not the one given (%s)", i+1, p, short(v.Report.Playbook.Hash), short(o.Playbook)))
			continue
		}
		reports = append(reports, v.Report)
		infos = append(infos, ShardOf(i+1, v))
	}
	if len(problems) > 0 {
		return Files{}, &MergeError{Problems: problems}
	}
	merged, err := Merge(reports, infos, o.Info)
	if err != nil {
		return Files{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".merge-")
	if err != nil {
		return Files{}, fmt.Errorf("report merge: %w", err)
	}
	defer os.RemoveAll(tmp)
	jpath := filepath.Join(tmp, "merge-journal", JournalFile)
	j, err := journal.Create(jpath, o.Info.RunID, o.Info.Operator, now)
	if err != nil {
		return Files{}, err
	}
	recs := []journal.Record{{Kind: journal.RunStart, Detail: map[string]string{"mode": MergeMode, "playbook": merged.Playbook.File, "playbook_sha256": merged.Playbook.Hash, "tool_version": o.Info.Tool.Version, "shards": strconv.Itoa(len(infos))}}}
	for _, s := range infos {
		recs = append(recs, journal.Record{Kind: journal.Event, Action: "merge-shard", Object: s.Dir, Detail: map[string]string{
			"run": s.RunID, "limit": s.Limit, "report_sha256": s.SHA256, "journal_head": s.JournalHead, "signer": s.Signer, "result": string(s.Result),
		}})
	}
	recs = append(recs, journal.Record{Kind: journal.RunEnd, Detail: map[string]string{"result": string(merged.Run.Result)}})
	written, err := j.AppendAll(recs)
	cerr := j.Close()
	if err != nil {
		return Files{}, err
	}
	if cerr != nil {
		return Files{}, cerr
	}
	merged.Journal = Journal{File: JournalFile, Head: written[len(written)-1].Hash, Records: written}
	// The shards' copies first, in the temporary directory; the merged
	// report is written into it and the whole is renamed into place.
	for i, p := range shardReports {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			p = filepath.Dir(p)
		}
		if err := copySigned(p, filepath.Join(tmp, "report", filepath.FromSlash(infos[i].Dir)), reports[i]); err != nil {
			return Files{}, err
		}
	}
	f, err := Write(ctx, filepath.Join(tmp, "report"), merged, jpath, o.Signer)
	if err != nil {
		return Files{}, err
	}
	if err := os.Rename(filepath.Join(tmp, "report"), out); err != nil {
		return Files{}, fmt.Errorf("report merge: %w", err)
	}
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		return filepath.Join(out, filepath.Base(p))
	}
	f.Dir, f.JSON, f.HTML, f.Markdown, f.Journal, f.AllowedSigners = out, rel(f.JSON), rel(f.HTML), rel(f.Markdown), rel(f.Journal), rel(f.AllowedSigners)
	for i := range f.Signatures {
		f.Signatures[i] = rel(f.Signatures[i])
	}
	return f, nil
}

// copySigned copies a signed report's files (and nothing else) from dir
// to dst.
func copySigned(dir, dst string, r *Report) error {
	names := []string{JSONFile, cmp.Or(r.Journal.File, JournalFile)}
	if r.Renders("html") {
		names = append(names, HTMLFile)
	}
	if r.Renders("md") {
		names = append(names, MarkdownFile)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		for _, f := range []string{n, n + SigSuffix} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return fmt.Errorf("report merge: %w", err)
			}
			if err := atomicfile.Write(filepath.Join(dst, f), b, 0o644); err != nil {
				return err
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, AllowedSignersFile))
	if err != nil {
		return fmt.Errorf("report merge: %w", err)
	}
	return atomicfile.Write(filepath.Join(dst, AllowedSignersFile), b, 0o644)
}

// verifyShards checks a merged report down to its shards: each shard's
// copy verifies with the same trust, is the report the merged one
// recorded (same digest), and the merged content is exactly the merge of
// the shards.
func (vr *verifier) verifyShards(ctx context.Context, r *Report, js []byte, jsonName string, trust Trust) {
	if len(r.Shards) == 0 {
		if r.Run.Mode == MergeMode {
			vr.problem(jsonName, "", "is a merged report that lists no shards")
		}
		return
	}
	var reports []*Report
	want := map[string]bool{}
	for i, s := range r.Shards {
		where := "shards[" + strconv.Itoa(i) + "]"
		exp := ShardsDir + "/" + strconv.Itoa(i+1)
		if s.Dir != exp {
			vr.problem(jsonName, where, "shard directory is %q, expected %q", s.Dir, exp)
			return
		}
		want[strconv.Itoa(i+1)] = true
		p := filepath.Join(vr.dir, filepath.FromSlash(s.Dir), JSONFile)
		t := trust
		if t.mode == trustShipped {
			t.file, t.signers = "", nil
		}
		sv, err := Verify(ctx, p, t)
		for _, pr := range sv.Problems {
			pr.File = filepath.ToSlash(filepath.Join(s.Dir, pr.File))
			vr.v.Problems = append(vr.v.Problems, pr)
		}
		if err != nil && len(sv.Problems) == 0 {
			vr.problem(s.Dir, "", "does not verify: %v", err)
		}
		if sv.ReportSHA256 != "" && sv.ReportSHA256 != s.SHA256 {
			vr.problem(s.Dir+"/"+JSONFile, "", "has SHA-256 %s, but the merged report recorded %s for this shard: it was replaced", short(sv.ReportSHA256), short(s.SHA256))
		}
		if err != nil || sv.Report == nil {
			return
		}
		if got := ShardOf(i+1, sv); got != s {
			vr.problem(jsonName, where, "does not describe %s as it is (%+v recorded, %+v found)", s.Dir, s, got)
		}
		reports = append(reports, sv.Report)
		vr.v.Shards++
	}
	if entries, err := os.ReadDir(filepath.Join(vr.dir, ShardsDir)); err == nil {
		for _, e := range entries {
			if !want[e.Name()] {
				vr.problem(ShardsDir+"/"+e.Name(), "", "is not one of the shards report.json lists: move it out of the report directory")
			}
		}
	}
	again, err := Merge(reports, r.Shards, MergeInfo{RunID: r.Run.ID, Operator: r.Run.Operator, Tool: r.Tool, Lang: r.Lang})
	if err != nil {
		vr.problem(jsonName, "", "its shards cannot be merged: %v", err)
		return
	}
	again.Journal, again.Signature = r.Journal, r.Signature
	canon, err := Marshal(again)
	if err != nil {
		vr.problem(jsonName, "", "%v", err)
		return
	}
	if string(canon) != string(js) {
		line, col, got, wanted := lineDiff(js, canon)
		vr.problem(jsonName, "line "+strconv.Itoa(line), "is not the merge of its shards: the first difference is at column %d: found %q, the shards give %q", col, got, wanted)
	}
}
