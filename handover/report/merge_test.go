package report_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// shardOf is the part of r on the systems keep accepts, as a --limit
// shard's report would hold it.
func shardOf(t *testing.T, r *report.Report, runID string, keep func(target, system string) bool) *report.Report {
	t.Helper()
	b, err := report.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	s.Signature = nil
	s.Run.ID = runID
	filter := func(invs []connector.Inventory) []connector.Inventory {
		var out []connector.Inventory
		for _, inv := range invs {
			inv.Systems = slices.DeleteFunc(inv.Systems, func(x connector.System) bool { return !keep(inv.Target, x.Name) })
			if len(inv.Systems) > 0 {
				out = append(out, inv)
			}
		}
		return out
	}
	s.Dossier, s.After = filter(s.Dossier), filter(s.After)
	s.Actions = slices.DeleteFunc(s.Actions, func(a report.Action) bool { return !keep(a.Change.Target, a.Change.System) })
	s.Credentials = slices.DeleteFunc(s.Credentials, func(c report.Credential) bool { return !keep(c.Target, c.System) })
	s.Outgoing = slices.DeleteFunc(s.Outgoing, func(o report.ProviderAccess) bool { return !keep(o.Target, o.System) })
	if s.Presentation != nil {
		s.Presentation.Cards = slices.DeleteFunc(s.Presentation.Cards, func(c report.Card) bool { return !keep(c.Target, c.System) })
	}
	return s
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := reporttest.Write(ctx, filepath.Join(dir, "fixture"), reporttest.Options{Hosts: 4})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := report.LoadSigner(ctx, playbook.SigningSettings{Key: f.Key, Identity: f.Identity}, "")
	if err != nil {
		t.Fatal(err)
	}
	trust := report.TrustAllowedSigners(f.Files.AllowedSigners)
	journalFile := filepath.Join(f.Dir, "run", "journal.jsonl")
	servers := f.Report.Dossier[0]
	first := map[string]bool{servers.Systems[0].Name: true, servers.Systems[1].Name: true}
	write := func(name string, r *report.Report) string {
		t.Helper()
		d := filepath.Join(dir, name)
		if _, err := report.Write(ctx, d, r, journalFile, signer); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Shard a: two servers and every other target; shard b: the other
	// two servers.
	a := write("a", shardOf(t, f.Report, "run-a", func(tg, s string) bool { return tg != servers.Target || first[s] }))
	b := write("b", shardOf(t, f.Report, "run-b", func(tg, s string) bool { return tg == servers.Target && !first[s] }))
	opts := report.MergeOptions{Trust: trust, Signer: signer, Playbook: f.Report.Playbook.Hash,
		Info: report.MergeInfo{RunID: "merge-1", Operator: "j.martin", Tool: report.Tool{Name: "handover", Version: "test"}}}

	out := filepath.Join(dir, "merged")
	files, err := report.WriteMerged(ctx, out, []string{a, b}, opts)
	if err != nil {
		t.Fatal(err)
	}
	v, err := report.Verify(ctx, files.JSON, trust)
	if err != nil {
		t.Fatalf("the merged report does not verify: %v", err)
	}
	m := v.Report
	count := func(invs []connector.Inventory) (n int) {
		for _, inv := range invs {
			n += len(inv.Systems)
		}
		return n
	}
	if count(m.Dossier) != count(f.Report.Dossier) || len(m.Actions) != len(f.Report.Actions) || len(m.Credentials) != len(f.Report.Credentials) || len(m.Outgoing) != len(f.Report.Outgoing) {
		t.Errorf("merged: %d systems, %d actions, %d credentials, %d accesses; the whole run had %d, %d, %d, %d",
			count(m.Dossier), len(m.Actions), len(m.Credentials), len(m.Outgoing), count(f.Report.Dossier), len(f.Report.Actions), len(f.Report.Credentials), len(f.Report.Outgoing))
	}
	if len(m.Shards) != 2 || m.Shards[0].RunID != "run-a" || m.Shards[1].Dir != "shards/2" || m.Run.Mode != report.MergeMode {
		t.Errorf("shards: %+v, mode %s", m.Shards, m.Run.Mode)
	}
	for _, r := range []string{report.HTMLFile, report.MarkdownFile} {
		b, _ := os.ReadFile(filepath.Join(out, r))
		if !strings.Contains(string(b), "Lot 2") || !strings.Contains(string(b), m.Shards[1].SHA256[:12]) {
			t.Errorf("%s does not list the shards", r)
		}
	}

	t.Run("verify checks the merge against its shards", func(t *testing.T) {
		// A merged report signed by the right key whose content is not
		// the merge of its shards: one shard's action dropped.
		r := *m
		r.Signature = nil
		r.Actions = r.Actions[1:]
		bad := filepath.Join(t.TempDir(), "bad")
		wrote, err := report.Write(ctx, bad, &r, files.Journal, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(bad, report.ShardsDir), os.DirFS(filepath.Join(out, report.ShardsDir))); err != nil {
			t.Fatal(err)
		}
		_, err = report.Verify(ctx, wrote.JSON, trust)
		if err == nil || !strings.Contains(err.Error(), "is not the merge of its shards") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("overlapping shards are refused", func(t *testing.T) {
		c := write("c", shardOf(t, f.Report, "run-c", func(tg, s string) bool { return tg == servers.Target && s == servers.Systems[3].Name }))
		_, err := report.WriteMerged(ctx, filepath.Join(t.TempDir(), "m"), []string{a, b, c}, opts)
		var me *report.MergeError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), "limits overlap") || !strings.Contains(err.Error(), servers.Systems[3].Name) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("another playbook is refused", func(t *testing.T) {
		other := shardOf(t, f.Report, "run-d", func(tg, s string) bool { return tg == servers.Target && !first[s] })
		other.Playbook.Hash = strings.Repeat("0", 64)
		d := write("d", other)
		_, err := report.WriteMerged(ctx, filepath.Join(t.TempDir(), "m"), []string{a, d}, opts)
		if err == nil || !strings.Contains(err.Error(), "not the one given") {
			t.Errorf("got %v", err)
		}
		opts := opts
		opts.Playbook = ""
		_, err = report.WriteMerged(ctx, filepath.Join(t.TempDir(), "m"), []string{a, d}, opts)
		if err == nil || !strings.Contains(err.Error(), "shards must run the same playbook") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an unsigned shard is refused", func(t *testing.T) {
		e := filepath.Join(t.TempDir(), "e")
		if err := os.CopyFS(e, os.DirFS(b)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(e, report.JournalFile+report.SigSuffix))
		_, err := report.WriteMerged(ctx, filepath.Join(t.TempDir(), "m"), []string{a, e}, opts)
		if err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("the output exists", func(t *testing.T) {
		if _, err := report.WriteMerged(ctx, out, []string{a, b}, opts); err == nil {
			t.Error("a merged report was written over another")
		}
	})
}
