package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// The kill matrix runs the real handover binary (a test build, the only
// one with the kill hooks) against a connector's real target, kills it
// with SIGKILL at one instant of one change, lets `handover resume` and
// the next `handover run` finish, and proves the guarantees hold:
//
//   - every credential is recoverable from the store (nothing pending,
//     every rotated account has a current version) and works on the
//     target (`check` from a fresh session logs in with each);
//   - the handed-over credential of every rotated account fails;
//   - nothing is half-removed: a removal the kill interrupted either
//     completed or is planned again and applied, and a fresh plan is
//     empty;
//   - every journal's hash chain verifies, and `handover verify` accepts
//     every report written;
//   - the reports tell what happened: the interrupted credential is
//     settled by the recovery the instant implies, and the last run
//     succeeds.
//
// An instant is a step of the run (HANDOVER_CRASH_AT: each step of the
// rotation protocol, a removal's intent and outcome, the recovery of an
// earlier kill, the report) or a point inside the target call
// (HANDOVER_CRASH_IN: after N % of a remote script was sent, once an LDAP
// modify or a Vault write left, after its first bytes).

// MatrixEnv selects the matrix: "full" runs every instant of every action
// kind the planted state plans, with in-flight points sampled afresh each
// run (MatrixSeedEnv replays a sample); "list" lists the full matrix's
// instants and runs none; anything else runs the connector's fixed slice
// (Matrix.Slice), which `make test` runs.
const (
	MatrixEnv     = "HANDOVER_KILL_MATRIX"
	MatrixSeedEnv = "HANDOVER_KILL_MATRIX_SEED"
)

// Instant is one place to kill a run: a Step of the run (engine.Step*),
// or In, a point inside the target call, as HANDOVER_CRASH_IN takes it
// without the action: "set:50%", "apply:end", "ldap-modify:end",
// "vault-write:3". Action is the kind of change killed.
type Instant struct {
	Action plan.Action
	Step   string
	In     string
}

func (i Instant) String() string {
	at := i.Step
	if i.In != "" {
		at = "in-" + strings.ReplaceAll(i.In, "%", "pct")
	}
	return string(i.Action) + "/" + at
}

// LastRotation, as an Instant's Action, is the rotation made last: the
// connector's own login (an LDAP bind account, the SSH user that sudoes)
// rotating itself.
const LastRotation plan.Action = "last"

func isRotation(a plan.Action) bool { return isCredential(a) || a == LastRotation }

// Matrix is a connector's kill matrix.
type Matrix struct {
	// Slice is the fixed, representative instants `make test` runs.
	Slice []Instant
	// Binary is a test build of cmd/handover (BuildCrashBinary), shared
	// by a test's matrices; empty: KillMatrix builds one.
	Binary string
	// InFlight are the connector's own points inside a target call, as
	// Instant.In without the place (ldap-modify, vault-write), tried for
	// every action kind in the full matrix beside the engine's set and
	// apply.
	InFlight []string
}

// FullMatrix says whether the full matrix was asked for ("full", or
// "list": list its instants and run none).
func FullMatrix() bool { v := os.Getenv(MatrixEnv); return v == "full" || v == "list" }

// credentialSteps and removalSteps are the run's steps for each kind of
// change.
var (
	credentialSteps = []string{engine.StepPending, engine.StepIntent, engine.StepSet, engine.StepOutcome, engine.StepVerify}
	removalSteps    = []string{engine.StepApplyIntent, engine.StepApplyOutcome}
)

// KillMatrix runs the matrix against the harness's target. The caller
// holds the target's testenv lock exclusively and resets it at the end,
// as for Run.
func KillMatrix(t *testing.T, h Harness, m Matrix) {
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	bin := m.Binary
	if bin == "" {
		bin = BuildCrashBinary(t)
	}
	if os.Getenv(MatrixEnv) == "list" {
		bin = ""
	}
	instants := m.Slice
	if FullMatrix() {
		seed := uint64(time.Now().UnixNano())
		if s := os.Getenv(MatrixSeedEnv); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("%s=%s: %v", MatrixSeedEnv, s, err)
			}
			seed = n
		}
		t.Logf("kill matrix: full, in-flight points sampled with %s=%d", MatrixSeedEnv, seed)
		instants = fullInstants(t, h, m, rand.New(rand.NewPCG(seed, seed^0x5eed)))
	}
	if len(instants) == 0 {
		t.Fatal("connectortest: the kill matrix has no instant: give Matrix.Slice")
	}
	t.Logf("kill matrix: %d instants", len(instants))
	if os.Getenv(MatrixEnv) == "list" {
		for _, in := range instants {
			t.Logf("  %s", in)
		}
		return
	}
	for _, in := range instants {
		t.Run(in.String(), func(t *testing.T) {
			start := time.Now()
			for _, err := range killOnce(t, h, bin, in) {
				t.Error(err)
			}
			t.Logf("%s: %.1fs", in, time.Since(start).Seconds())
		})
	}
}

// fullInstants lists every instant for every action kind the planted
// state plans. The engine makes a system's changes in groups (the new
// access and the rotations together, the removals together, the
// rotation made last apart): a step of the run is the same instant for
// every kind of one group, so each group is killed once at each step, as
// is the end of its request; inside the call, every kind is killed at a
// point sampled afresh (a share of the remote script, or of the first
// write to a socket, and the connector's own points at a sampled byte).
// Recovery and the report are killed once each.
func fullInstants(t *testing.T, h Harness, m Matrix, rng *rand.Rand) []Instant {
	groups := plannedGroups(t, h)
	var out []Instant
	for _, g := range groups {
		steps, call := removalSteps, "apply"
		if isRotation(g[0]) {
			steps, call = credentialSteps, "set"
		}
		for _, s := range steps {
			out = append(out, Instant{Action: g[0], Step: s})
		}
		out = append(out, Instant{Action: g[0], In: call + ":end"})
		for _, p := range m.InFlight {
			out = append(out, Instant{Action: g[0], In: p + ":end"})
		}
		for _, k := range g {
			out = append(out, Instant{Action: k, In: fmt.Sprintf("%s:%d%%", call, 1+rng.IntN(99))})
			for _, p := range m.InFlight {
				out = append(out, Instant{Action: k, In: fmt.Sprintf("%s:%d", p, 1+rng.IntN(64))})
			}
		}
	}
	for _, g := range groups {
		if isRotation(g[0]) {
			out = append(out, Instant{Action: g[0], Step: engine.StepRecover})
			break
		}
	}
	return append(out, Instant{Step: engine.StepReport})
}

// plannedGroups are the groups of change kinds the planted state plans,
// as the engine applies them (consecutive changes of a system that are
// all rotations or all not, and the rotation made last apart), each
// group once.
func plannedGroups(t *testing.T, h Harness) [][]plan.Action {
	t.Helper()
	h.Reset(t)
	dir := t.TempDir()
	pb := h.Playbook(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess, err := newEngine(h.Registry, debugLogger(&logs{})).Load(ctx, pb)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer sess.Close()
	p := sess.Plan(sess.Inventory(ctx, 0))
	bySystem := map[string][]plan.Change{}
	var systems []string
	for _, ch := range p.Changes {
		k := ch.Target + "/" + ch.System
		if _, ok := bySystem[k]; !ok {
			systems = append(systems, k)
		}
		bySystem[k] = append(bySystem[k], ch)
	}
	seen := map[string]bool{}
	var out [][]plan.Action
	for _, sys := range systems {
		chs := bySystem[sys]
		for i := 0; i < len(chs); {
			j := i + 1
			for j < len(chs) && isCredential(chs[j].Action) == isCredential(chs[i].Action) && chs[j].Last == chs[i].Last {
				j++
			}
			var g []plan.Action
			if chs[i].Last && isCredential(chs[i].Action) {
				g = []plan.Action{LastRotation}
			} else {
				for _, ch := range chs[i:j] {
					if !slices.Contains(g, ch.Action) {
						g = append(g, ch.Action)
					}
				}
				slices.Sort(g)
			}
			key := fmt.Sprint(g)
			if !seen[key] {
				seen[key] = true
				out = append(out, g)
			}
			i = j
		}
	}
	if len(out) == 0 {
		t.Fatal("the planted state plans nothing")
	}
	return out
}

// BuildCrashBinary builds cmd/handover with the crash-test tag (the
// kill hooks) into t's temporary directory.
func BuildCrashBinary(t *testing.T) string {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("kill matrix: test build of cmd/handover in %.1fs", time.Since(start).Seconds()) }()
	bin := filepath.Join(t.TempDir(), "handover-crashtest")
	cmd := exec.Command("go", "build", "-tags", "handover_crashtest", "-o", bin, "github.com/handoverhq/handover/cmd/handover")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags handover_crashtest: %v\n%s", err, out)
	}
	return bin
}

// invocation is one run of the binary.
type invocation struct {
	args   []string
	out    string
	code   int
	killed bool
}

func (iv invocation) String() string {
	how := fmt.Sprintf("exit %d", iv.code)
	if iv.killed {
		how = "killed"
	}
	return fmt.Sprintf("handover %s: %s\n%s", strings.Join(iv.args, " "), how, tail(iv.out, 3000))
}

func runBinary(ctx context.Context, bin string, env []string, args ...string) (invocation, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HANDOVER_CONNECTORTEST_PASSPHRASE="+storePassphrase)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	iv := invocation{args: args, out: out.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		iv.killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
		iv.code = ws.ExitStatus()
	default:
		return iv, err
	}
	return iv, nil
}

// withSigning appends the testenv operator's signing key to a suite
// playbook, so that the binary signs its reports and `handover verify`
// can check them.
func withSigning(t *testing.T, pb string) {
	t.Helper()
	e := testenv.Require(t)
	if e.Operator == nil {
		t.Fatal("the test estate has no operator signing key: run `make testenv-up`")
	}
	f, err := os.OpenFile(pb, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "signing:\n  key: %s\n  identity: %s\n", e.Operator.SigningKey, e.Operator.Identity); err != nil {
		t.Fatal(err)
	}
}

// killOnce kills a run at one instant and checks what follows.
func killOnce(t *testing.T, h Harness, bin string, in Instant) []error {
	t0 := time.Now()
	lap := func(what string) { t.Logf("%6.1fs %s", time.Since(t0).Seconds(), what) }
	h.Reset(t)
	lap("reset")
	dir := t.TempDir()
	pb := h.Playbook(t, dir)
	withSigning(t, pb)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var env []string
	switch {
	case in.In != "":
		op, at, _ := strings.Cut(in.In, ":")
		spec := op
		if in.Action != "" {
			spec += "@" + string(in.Action)
		}
		if at != "" {
			spec += ":" + at
		}
		env = append(env, "HANDOVER_CRASH_IN="+spec)
	case in.Step == engine.StepRecover:
		// First a kill in the middle of the change, then one in the
		// recovery of it.
		iv, err := runBinary(ctx, bin, []string{"HANDOVER_CRASH_AT=" + engine.StepSet + "@" + string(in.Action)}, "run", "--yes", "--parallel", "1", pb)
		if err != nil || !iv.killed {
			return []error{fmt.Errorf("the run to recover was not killed: %v\n%s", err, iv)}
		}
		env = append(env, "HANDOVER_CRASH_AT="+engine.StepRecover)
	case in.Action != "":
		env = append(env, "HANDOVER_CRASH_AT="+in.Step+"@"+string(in.Action))
	default:
		env = append(env, "HANDOVER_CRASH_AT="+in.Step)
	}
	args := []string{"run", "--yes", "--parallel", "1", pb}
	if in.Step == engine.StepRecover {
		args = []string{"resume", pb}
	}
	killed, err := runBinary(ctx, bin, env, args...)
	if err != nil {
		return []error{err}
	}
	if !killed.killed {
		return []error{fmt.Errorf("the run was not killed at %s (%s)", in, killed)}
	}
	lap("killed run")
	// What the killed runs journaled, before anything else runs.
	before, _ := filepath.Glob(filepath.Join(dir, "state", "runs", "*", "journal.jsonl"))
	interrupted := unfinished(before)

	resumed, err := runBinary(ctx, bin, nil, "resume", pb)
	if err != nil {
		return []error{err}
	}
	next, err := runBinary(ctx, bin, nil, "run", "--yes", pb)
	if err != nil {
		return []error{err}
	}
	lap("resume and run")
	var errs []error
	if resumed.code != 0 {
		errs = append(errs, fmt.Errorf("resume after a kill at %s: %s", in, resumed))
	}
	if next.code != 0 {
		errs = append(errs, fmt.Errorf("the run after a kill at %s: %s", in, next))
	}
	reports, rerrs := readReports(ctx, bin, pb, dir)
	errs = append(errs, rerrs...)
	errs = append(errs, journalsVerify(dir)...)
	errs = append(errs, toldWhatHappened(in, reports, interrupted)...)
	lap("reports")
	errs = append(errs, h.settledAfterKill(ctx, pb, dir, reports)...)
	lap("settled")
	if err := leakedInOutput(ctx, dir, killed.out+resumed.out+next.out); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("outputs:\n%s\n%s\n%s", killed, resumed, next))
	}
	return errs
}

// pendingChange is a change an interrupted run journaled the intent of,
// and no outcome.
type pendingChange struct {
	key    string // target/system/action/object
	action plan.Action
}

func changeKey(target, system, action, object string) string {
	return target + "/" + system + "/" + action + "/" + object
}

// unfinished lists the changes with an intent and no outcome in the
// journals.
func unfinished(journals []string) []pendingChange {
	var out []pendingChange
	for _, j := range journals {
		recs, err := journal.Read(j)
		if err != nil {
			continue
		}
		open := map[string]journal.Record{}
		var order []string
		for _, r := range recs {
			switch r.Kind {
			case journal.Intent:
				if _, ok := open[r.Change]; !ok {
					order = append(order, r.Change)
				}
				open[r.Change] = r
			case journal.Outcome:
				delete(open, r.Change)
			}
		}
		for _, id := range order {
			if r, ok := open[id]; ok {
				out = append(out, pendingChange{key: changeKey(r.Target, r.System, r.Action, r.Object), action: plan.Action(r.Action)})
			}
		}
	}
	return out
}

// readReports reads every report the runs wrote, oldest first, and has
// the binary verify each.
func readReports(ctx context.Context, bin, pb, dir string) ([]*report.Report, []error) {
	dirs, _ := filepath.Glob(filepath.Join(dir, "state", "reports", "*"))
	sort.Strings(dirs)
	var out []*report.Report
	var errs []error
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "report.json"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
			continue
		}
		out = append(out, &r)
		iv, err := runBinary(ctx, bin, nil, "verify", "--playbook", pb, filepath.Join(d, "report.json"))
		if err != nil || iv.code != 0 {
			errs = append(errs, fmt.Errorf("verify %s: %v %s", d, err, iv))
		}
	}
	if len(out) < 2 {
		errs = append(errs, fmt.Errorf("%d reports after the kill, want the resume's and the next run's", len(out)))
	}
	return out, errs
}

// journalsVerify: every run's journal chain verifies, the killed runs'
// included.
func journalsVerify(dir string) []error {
	js, _ := filepath.Glob(filepath.Join(dir, "state", "runs", "*", "journal.jsonl"))
	var errs []error
	if len(js) < 3 {
		errs = append(errs, fmt.Errorf("%d journals, want the killed run's, the resume's and the next run's", len(js)))
	}
	for _, j := range js {
		if _, _, err := journal.VerifyFile(j); err != nil {
			errs = append(errs, fmt.Errorf("journal %s: %w", j, err))
		}
	}
	return errs
}

// recoveredAfter is what recovery may make of a rotation killed at a
// step or in flight. A kill inside the call may come before or after the
// target took the value; never-applied would mean an intent was missing.
func recoveredAfter(in Instant) []plan.Result {
	switch {
	case in.In != "":
		return []plan.Result{plan.RolledBack, plan.Recovered}
	case in.Step == engine.StepRecover:
		return []plan.Result{plan.Recovered}
	}
	if r, ok := recoveredAs[in.Step]; ok {
		return []plan.Result{r}
	}
	return nil
}

// toldWhatHappened: the reports settle every credential the kill left
// pending as the instant implies, never leave one unresolved, end with a
// successful run, and every change left unfinished was applied by the
// next run unless it had completed (settled below by the empty plan).
func toldWhatHappened(in Instant, reports []*report.Report, interrupted []pendingChange) []error {
	if len(reports) == 0 {
		return nil
	}
	var errs []error
	var recovered []report.Action
	applied := map[string]bool{}
	for _, r := range reports {
		for _, a := range r.Actions {
			switch a.Result {
			case plan.Recovered, plan.RolledBack, plan.NeverApplied, plan.Discarded, plan.Unresolved:
				recovered = append(recovered, a)
			case plan.Applied:
				applied[changeKey(a.Change.Target, a.Change.System, string(a.Change.Action), a.Change.Object)] = true
			}
			if a.Result == plan.Failed || a.Result == plan.Aborted || a.Result == plan.Skipped {
				errs = append(errs, fmt.Errorf("report %s: %s %s", r.Run.ID, name(a), a.Result))
			}
		}
	}
	want := recoveredAfter(in)
	credKill := isRotation(in.Action) && in.Step != engine.StepReport
	if credKill && len(recovered) == 0 {
		errs = append(errs, fmt.Errorf("no report tells of a recovery after a kill at %s", in))
	}
	for _, a := range recovered {
		if len(want) > 0 && !slices.Contains(want, a.Result) {
			errs = append(errs, fmt.Errorf("recovery of %s: %s, want one of %v: %s", name(a), a.Result, want, a.Error))
		}
		if a.Result == plan.Recovered {
			if why := unproven(a); why != "" {
				errs = append(errs, fmt.Errorf("recovery of %s: not proven: %s", name(a), why))
			}
		}
	}
	for _, p := range interrupted {
		if isCredential(p.action) {
			continue // settled by recovery, above
		}
		if applied[p.key] {
			continue // planned again and applied
		}
		// Else the interrupted removal had completed: the next run did
		// not plan it, and the empty plan below proves it absent.
	}
	last := reports[len(reports)-1]
	if last.Run.Result != report.RunSuccess && last.Run.Result != report.RunNoChanges {
		errs = append(errs, fmt.Errorf("the last run's result is %q", last.Run.Result))
	}
	return errs
}

// settledAfterKill: nothing pending in the store, every rotated account
// has a current credential that logs in and a handed-over one that does
// not, and a check from a fresh session finds no drift (its plan is
// empty: nothing is half-removed).
func (h Harness) settledAfterKill(ctx context.Context, pb, dir string, reports []*report.Report) []error {
	var errs []error
	st, err := openStore(filepath.Join(dir, "secrets.age"))
	if err != nil {
		return []error{fmt.Errorf("secret store: %w", err)}
	}
	vs, err := st.List(ctx)
	if err != nil {
		return []error{fmt.Errorf("secret store: %w", err)}
	}
	current := map[string]bool{}
	for _, v := range vs {
		switch v.State {
		case secret.Pending:
			errs = append(errs, fmt.Errorf("%s#%d is still pending", v.Path, v.Version))
		case secret.Current:
			current[v.Path] = true
		}
	}
	// check first, from a session of its own: trying a handed-over
	// credential below must not change what the check logs in with.
	csess, err := newEngine(h.Registry, debugLogger(&logs{})).Load(ctx, pb)
	if err != nil {
		return append(errs, fmt.Errorf("load: %w", err))
	}
	cr, err := csess.Check(ctx, engine.CheckOptions{NoBaseline: true})
	csess.Close()
	if err != nil {
		return append(errs, fmt.Errorf("check: %w", err))
	}
	for _, d := range cr.Drift {
		errs = append(errs, fmt.Errorf("check after the kill: %s on %s/%s %s: %s", d.Kind, d.Target, d.System, d.Object, d.Detail))
	}
	sess, err := newEngine(h.Registry, debugLogger(&logs{})).Load(ctx, pb)
	if err != nil {
		return append(errs, fmt.Errorf("load: %w", err))
	}
	defer sess.Close()
	rotated := map[string]plan.Change{}
	for _, r := range reports {
		for _, a := range r.Actions {
			if isCredential(a.Change.Action) && (a.Result == plan.Applied || a.Result == plan.Recovered) {
				rotated[changeKey(a.Change.Target, a.Change.System, string(a.Change.Action), a.Change.Object)] = a.Change
			}
		}
	}
	for _, ch := range rotated {
		path := connector.SecretPath(ch.Target, ch.System, ch.Object)
		if ch.Action == plan.InstallKey {
			continue // stored under the connector's own path; check logs in with it
		}
		if !current[path] {
			errs = append(errs, fmt.Errorf("%s: rotated, and no current version in the store", path))
		}
		var rot connector.Rotator
		for _, t := range sess.Targets {
			if r, ok := t.Impl.(connector.Rotator); ok && t.Spec.Name == ch.Target {
				rot = r
			}
		}
		if rot == nil {
			continue
		}
		old, known, err := rot.KnownCredential(ctx, ch)
		if err != nil || !known {
			continue
		}
		tried := rot.TryCredentials(ctx, ch.System, []connector.Credential{{Change: ch, Secret: old}})
		if len(tried) == 1 && tried[0].Err == nil && tried[0].Works {
			errs = append(errs, fmt.Errorf("%s: the handed-over credential still works (%s)", path, tried[0].Method))
		}
	}
	return errs
}

// leakedInOutput: no value of the store appears in a run's output.
func leakedInOutput(ctx context.Context, dir, out string) error {
	st, err := openStore(filepath.Join(dir, "secrets.age"))
	if err != nil {
		return nil // reported by settledAfterKill
	}
	vs, err := st.List(ctx)
	if err != nil {
		return nil
	}
	for _, v := range vs {
		val, _, err := st.Get(ctx, v.Path, v.Version)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(val.Reveal(), "\n") {
			if len(line) >= 8 && strings.Contains(out, line) {
				return fmt.Errorf("the value of %s#%d appears in a run's output", v.Path, v.Version)
			}
		}
	}
	return nil
}
