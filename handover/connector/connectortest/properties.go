package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// Each property returns what it found wrong; Run turns that into test
// errors, and the suite's own tests read it to see that a flawed
// connector is caught. t is used for the harness and temporary
// directories only.

// readOnly: the harness's snapshot of the target does not change across
// inventory, plan and check, on the planted state and after a run.
func (s *suite) readOnly(t *testing.T) []error {
	_, pb := s.planted(t)
	ctx := s.ctx(t)
	e := newEngine(s.h.Registry, debugLogger(io.Discard))
	errs := s.readPhase(ctx, e, pb, "on the planted state")
	sess, err := e.Load(ctx, pb)
	if err != nil {
		return append(errs, fmt.Errorf("load: %w", err))
	}
	_, err = sess.Run(ctx, engine.RunOptions{})
	sess.Close()
	if err != nil {
		return append(errs, fmt.Errorf("run: %w", err))
	}
	return append(errs, s.readPhase(ctx, e, pb, "after a run")...)
}

func (s *suite) readPhase(ctx context.Context, e *engine.Engine, pb, when string) []error {
	var errs []error
	before, err := s.h.Snapshot(ctx)
	if err != nil {
		return []error{fmt.Errorf("snapshot %s: %w", when, err)}
	}
	same := func(after string) {
		now, err := s.h.Snapshot(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s, after %s: %w", when, after, err))
			return
		}
		if now != before {
			errs = append(errs, fmt.Errorf("%s, %s changed the target: %s", when, after, diff(before, now)))
			before = now // one culprit per change
		}
	}
	sess, err := e.Load(ctx, pb)
	if err != nil {
		return []error{fmt.Errorf("load: %w", err)}
	}
	defer sess.Close()
	invs := sess.Inventory(ctx, 0)
	errs = append(errs, inventoryErrors(invs)...)
	same("inventory")
	// Freshness checks diff a fresh inventory against the signed
	// dossier: a second reading of an unchanged target diffs clean (stable
	// finding ids; what changes without meaning marked volatile).
	errs = append(errs, stableReadings(invs, sess.Inventory(ctx, 0), when)...)
	same("a second inventory")
	sess.Plan(invs)
	same("plan")
	if _, err := sess.Check(ctx, engine.CheckOptions{NoBaseline: true}); err != nil {
		errs = append(errs, fmt.Errorf("check %s: %w", when, err))
	}
	same("check")
	return errs
}

// stableReadings compares two readings of an unchanged estate as `handover
// check` compares a fresh inventory with a signed dossier (the first
// reading made plain JSON, as report.json holds it): they must not differ.
func stableReadings(first, second []*connector.Inventory, when string) []error {
	var dossier []connector.Inventory
	for _, inv := range first {
		dossier = append(dossier, *inv)
	}
	b, err := json.Marshal(dossier)
	if err == nil {
		dossier = nil
		err = json.Unmarshal(b, &dossier)
	}
	if err != nil {
		return []error{fmt.Errorf("%s, the inventory does not encode as a dossier: %w", when, err)}
	}
	var errs []error
	for _, it := range drift.Compare(drift.FromReport(&report.Report{Dossier: dossier}), second) {
		errs = append(errs, fmt.Errorf("%s, a second inventory of the unchanged target differs from the first (freshness checks would report it as drift): %s %s %s/%s %s: %s -> %s",
			when, it.Kind, it.Change, it.Target, it.System, it.ID, it.From, it.To))
	}
	return errs
}

func inventoryErrors(invs []*connector.Inventory) []error {
	var errs []error
	for _, inv := range invs {
		for _, sys := range inv.Systems {
			if sys.Error != "" {
				errs = append(errs, fmt.Errorf("target %s system %s was not inventoried: %s", inv.Target, sys.Name, sys.Error))
			}
		}
	}
	return errs
}

// diff names the lines one snapshot has and the other has not, a few of
// each.
func diff(before, after string) string {
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	var gone, added []string
	for _, l := range b {
		if !slices.Contains(a, l) {
			gone = append(gone, l)
		}
	}
	for _, l := range a {
		if !slices.Contains(b, l) {
			added = append(added, l)
		}
	}
	cut := func(ls []string) string {
		if len(ls) > 5 {
			ls = append(ls[:5:5], fmt.Sprintf("(%d more)", len(ls)-5))
		}
		return strings.Join(ls, " | ")
	}
	switch {
	case len(gone)+len(added) == 0:
		return "same lines, in another order or count"
	case len(gone) == 0:
		return "added: " + cut(added)
	case len(added) == 0:
		return "removed: " + cut(gone)
	}
	return "removed: " + cut(gone) + "; added: " + cut(added)
}

// planNoIO: the plan made from an inventory is the same when the target is
// cut off, and after every target was closed.
func (s *suite) planNoIO(t *testing.T) []error {
	_, pb := s.planted(t)
	ctx := s.ctx(t)
	sess, err := newEngine(s.h.Registry, debugLogger(io.Discard)).Load(ctx, pb)
	if err != nil {
		return []error{fmt.Errorf("load: %w", err)}
	}
	invs := sess.Inventory(ctx, 0)
	errs := inventoryErrors(invs)
	open := sess.Plan(invs)
	if len(open.Changes) == 0 {
		errs = append(errs, errors.New("the planted state plans no change, so nothing is proven"))
	}
	if s.h.Cut != nil {
		restore := s.h.Cut(t)
		cut := sess.Plan(invs)
		restore()
		errs = append(errs, samePlan("with the target cut off", open, cut)...)
	}
	if err := sess.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	closed := sess.Plan(invs)
	return append(errs, samePlan("after Close", open, closed)...)
}

func samePlan(when string, want, got *plan.Plan) []error {
	key := func(p *plan.Plan) string {
		b, _ := json.Marshal(struct {
			C []plan.Change
			W []plan.Waived
			P []plan.Problem
		}{p.Changes, p.Waived, p.Problems})
		return string(b)
	}
	if key(want) == key(got) {
		return nil
	}
	var why []string
	for _, p := range got.Problems {
		if !slices.Contains(want.Problems, p) {
			why = append(why, p.Error)
		}
	}
	return []error{fmt.Errorf("plan %s differs from the plan made with the target reachable: %d changes instead of %d; problems: %s",
		when, len(got.Changes), len(want.Changes), strings.Join(why, "; "))}
}

// ran is one run of the planted state, for the properties that look at
// what it did.
type ran struct {
	dir       string
	playbook  string
	stateDir  string
	storePath string
	res       *engine.Result
	records   []journal.Record
	// known are the handed-over credentials of the rotated accounts.
	known   []secret.Secret
	outputs []string // the plan and inventory, written as the CLI would
	logs    *logs
	child   string // a killed child run's output
}

// run makes one run of the planted state.
func (s *suite) run(t *testing.T) (*ran, error) {
	dir, pb := s.planted(t)
	ctx := s.ctx(t)
	return s.runIn(ctx, dir, pb, &logs{})
}

func (s *suite) runIn(ctx context.Context, dir, pb string, lg *logs) (*ran, error) {
	sess, err := newEngine(s.h.Registry, debugLogger(lg)).Load(ctx, pb)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer sess.Close()
	sp, err := storePath(sess)
	if err != nil {
		return nil, err
	}
	res, err := sess.Run(ctx, engine.RunOptions{})
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	recs, _, err := journal.VerifyFile(res.Journal)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r := &ran{dir: dir, playbook: pb, stateDir: sess.StateDir(), storePath: sp, res: res, records: recs, logs: lg}
	r.known = knownCredentials(ctx, sess, res)
	out := filepath.Join(dir, "outputs")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	planJSON, err := res.Plan.Marshal()
	if err != nil {
		return nil, err
	}
	invJSON, err := json.MarshalIndent(res.Dossier, "", "  ")
	if err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{"plan.json": planJSON, "inventory.json": invJSON} {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
		r.outputs = append(r.outputs, p)
	}
	return r, nil
}

// knownCredentials are the credentials the playbook hands over for the
// accounts the run rotated.
func knownCredentials(ctx context.Context, sess *engine.Session, res *engine.Result) []secret.Secret {
	var out []secret.Secret
	for _, a := range append(slices.Clone(res.Recovered), res.Actions...) {
		if a.Change.Action != plan.RotatePassword {
			continue
		}
		for _, t := range sess.Targets {
			rot, ok := t.Impl.(connector.Rotator)
			if t.Spec.Name != a.Change.Target || !ok {
				continue
			}
			if v, ok, err := rot.KnownCredential(ctx, a.Change); err == nil && ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func isCredential(a plan.Action) bool { return a == plan.RotatePassword || a == plan.InstallKey }

// coverage: the planted state gives the proofs something to prove.
func coverage(r *ran) []error {
	var creds, others int
	for _, a := range r.res.Actions {
		if isCredential(a.Change.Action) {
			creds++
		} else {
			others++
		}
	}
	var errs []error
	if creds == 0 {
		errs = append(errs, errors.New("the planted state plans no rotation: plant an account the policy rotates"))
	}
	if others == 0 {
		errs = append(errs, errors.New("the planted state plans no removal: plant some of the provider's access"))
	}
	return errs
}

// proofs: every change of the run applied and proven by checks of the
// right kinds; the run's result explained by nothing else.
func proofs(r *ran) []error {
	errs := coverage(r)
	res := r.res
	if res.Plan != nil {
		for _, p := range res.Plan.Problems {
			errs = append(errs, fmt.Errorf("plan problem on %s %s: %s", p.Target, p.System, p.Error))
		}
	}
	for _, a := range res.Actions {
		errs = append(errs, actionProof(a, r.records)...)
	}
	for _, a := range res.Recovered {
		errs = append(errs, checkShapes(a)...)
	}
	if res.Report == nil {
		return append(errs, errors.New("the run wrote no report"))
	}
	switch got := res.Report.Run.Result; got {
	case report.RunSuccess:
	case report.RunPartial:
		// Only untested old credentials may keep the run from success:
		// actionProof accepted them, and reported everything else.
	default:
		errs = append(errs, fmt.Errorf("run result %q", got))
	}
	return errs
}

func name(a report.Action) string {
	return fmt.Sprintf("%s %s/%s %s", a.Change.Action, a.Change.Target, a.Change.System, a.Change.Object)
}

// checkShapes: every check of an action has a known kind, says what it
// looked at, and belongs to the action.
func checkShapes(a report.Action) []error {
	var errs []error
	for _, c := range a.Verification {
		if !c.Kind.Known() {
			errs = append(errs, fmt.Errorf("%s: check %q has no known kind (%q)", name(a), c.What, c.Kind))
		}
		if strings.TrimSpace(c.What) == "" {
			errs = append(errs, fmt.Errorf("%s: a %s check does not say what it looked at", name(a), c.Kind))
		}
		if c.Change != a.Change.ID {
			errs = append(errs, fmt.Errorf("%s: check %q names change %q", name(a), c.What, c.Change))
		}
	}
	return errs
}

func actionProof(a report.Action, recs []journal.Record) []error {
	if !a.Result.OK() {
		return []error{fmt.Errorf("%s: %s: %s", name(a), a.Result, a.Error)}
	}
	errs := checkShapes(a)
	by := func(k connector.CheckKind) []connector.Check {
		var out []connector.Check
		for _, c := range a.Verification {
			if c.Kind == k {
				out = append(out, c)
			}
		}
		return out
	}
	allPass, proving := true, 0
	var failing []string
	for _, c := range a.Verification {
		if c.Kind == connector.Note {
			continue
		}
		proving++
		if !c.OK {
			allPass = false
			failing = append(failing, fmt.Sprintf("%s %q: %s", c.Kind, c.What, c.Detail))
		}
	}
	if !isCredential(a.Change.Action) {
		if len(by(connector.Absent))+len(by(connector.Present))+len(by(connector.State)) == 0 {
			errs = append(errs, fmt.Errorf("%s: no absent, present or state check proves it", name(a)))
		}
		if want := allPass && proving > 0; a.Verified != want {
			errs = append(errs, fmt.Errorf("%s: verified is %v, but its checks say %v", name(a), a.Verified, want))
		}
		if !allPass {
			errs = append(errs, fmt.Errorf("%s: not proven: %s", name(a), strings.Join(failing, "; ")))
		}
		return errs
	}
	if !slices.ContainsFunc(by(connector.NewWorks), func(c connector.Check) bool { return c.OK }) {
		errs = append(errs, fmt.Errorf("%s: no passing new-works check", name(a)))
	}
	if a.Verified && !allPass {
		errs = append(errs, fmt.Errorf("%s: verified, but checks fail: %s", name(a), strings.Join(failing, "; ")))
	}
	if a.Change.Action != plan.RotatePassword {
		return errs
	}
	olds := by(connector.OldRejected)
	if len(olds) == 0 {
		errs = append(errs, fmt.Errorf("%s: no old-rejected check", name(a)))
	}
	for _, c := range olds {
		if !c.OK && strings.TrimSpace(c.Detail) == "" {
			errs = append(errs, fmt.Errorf("%s: old-rejected check %q fails without saying why", name(a), c.What))
		}
	}
	for _, rec := range recs {
		if rec.Kind == journal.Verified && rec.Change == a.Change.ID && rec.Result == plan.OldAccepted {
			errs = append(errs, fmt.Errorf("%s: the previous credential still logs in", name(a)))
		}
	}
	for _, c := range a.Verification {
		if !c.OK && c.Kind != connector.Note && c.Kind != connector.OldRejected {
			errs = append(errs, fmt.Errorf("%s: %s check %q fails: %s", name(a), c.Kind, c.What, c.Detail))
		}
	}
	return errs
}

// idempotent: after the run, a fresh session plans nothing and a second
// run changes nothing.
func (s *suite) idempotent(t *testing.T, r *ran) []error {
	ctx := s.ctx(t)
	e := newEngine(s.h.Registry, debugLogger(r.logs))
	sess, err := e.Load(ctx, r.playbook)
	if err != nil {
		return []error{fmt.Errorf("load: %w", err)}
	}
	invs := sess.Inventory(ctx, 0)
	errs := inventoryErrors(invs)
	p := sess.Plan(invs)
	for _, ch := range p.Changes {
		errs = append(errs, fmt.Errorf("second plan: %s %s/%s %s (%s)", ch.Action, ch.Target, ch.System, ch.Object, ch.Reason))
	}
	for _, pr := range p.Problems {
		errs = append(errs, fmt.Errorf("second plan: problem on %s %s: %s", pr.Target, pr.System, pr.Error))
	}
	res, err := sess.Run(ctx, engine.RunOptions{})
	sess.Close()
	if err != nil {
		return append(errs, fmt.Errorf("second run: %w", err))
	}
	if n := len(res.Actions) + len(res.Recovered); n > 0 {
		errs = append(errs, fmt.Errorf("second run made or recovered %d changes", n))
	}
	if got := res.Report.Run.Result; got != report.RunNoChanges {
		errs = append(errs, fmt.Errorf("second run result %q, want %q", got, report.RunNoChanges))
	}
	return errs
}

// noSecrets: no value the store ever held, and no handed-over credential,
// appears in the state directory, the report, the written plan and
// inventory, or the logs.
func noSecrets(ctx context.Context, r *ran) []error {
	st, err := openStore(r.storePath)
	if err != nil {
		return []error{fmt.Errorf("secret store: %w", err)}
	}
	versions, err := st.List(ctx)
	if err != nil {
		return []error{fmt.Errorf("secret store: %w", err)}
	}
	var ns []needle
	for _, v := range versions {
		val, _, err := st.Get(ctx, v.Path, v.Version)
		if err != nil {
			return []error{fmt.Errorf("secret store %s#%d: %w", v.Path, v.Version, err)}
		}
		ns = append(ns, newNeedle(fmt.Sprintf("the %s value %s#%d", v.State, v.Path, v.Version), val))
	}
	if len(ns) == 0 {
		return []error{errors.New("the store holds no value to look for: the run rotated nothing")}
	}
	for i, k := range r.known {
		// Short handed-over values would match by chance.
		if len(k.Reveal()) >= 8 {
			ns = append(ns, newNeedle(fmt.Sprintf("handed-over credential %d", i+1), k))
		}
	}
	var errs []error
	look := func(where, text string) {
		for _, n := range ns {
			if n.in(text) {
				errs = append(errs, fmt.Errorf("%s holds %s", where, n.what))
			}
		}
	}
	files := slices.Clone(r.outputs)
	for _, root := range []string{r.stateDir, r.res.ReportDir} {
		if root == "" {
			continue
		}
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(p, r.storePath) || slices.Contains(files, p) {
				return nil
			}
			files = append(files, p)
			return nil
		})
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		look(f, string(b))
	}
	look("the logs", r.logs.String())
	if r.child != "" {
		look("the killed run's output", r.child)
	}
	return errs
}

// needle is a secret in the forms it could leak in: as is, escaped in
// JSON, and, for a multi-line value (a private key), each long line.
type needle struct {
	what  string
	forms []string
}

func newNeedle(what string, v secret.Secret) needle {
	s := v.Reveal()
	n := needle{what: what, forms: []string{s}}
	if b, err := json.Marshal(s); err == nil {
		if q := string(b[1 : len(b)-1]); q != s {
			n.forms = append(n.forms, q)
		}
	}
	if strings.Contains(s, "\n") {
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 20 && !strings.HasPrefix(l, "-----") {
				n.forms = append(n.forms, l)
			}
		}
	}
	return n
}

func (n needle) in(text string) bool {
	for _, f := range n.forms {
		if f != "" && strings.Contains(text, f) {
			return true
		}
	}
	return false
}
