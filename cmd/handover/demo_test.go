package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// resetComponents brings components of the test estate back to their
// planted state.
func resetComponents(t *testing.T, only string) {
	t.Helper()
	cmd := exec.Command("../../bin/testenv", "reset", "-only", only)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv reset -only %s: %v\n%s", only, err, out)
	}
}

// TestDemoEndToEnd runs the demo playbook against the test estate as a
// user would: lint, plan, run, verify the signed report, plan again
// (nothing left), check (no drift) — and proves that no secret, handed
// over or generated, appears in any output or any file the runs wrote.
func TestDemoEndToEnd(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	testenv.LockComponent(t, "slapd", true)
	testenv.LockComponent(t, "samba", true)
	testenv.LockComponent(t, "mailhost", true)
	resetComponents(t, "slapd,samba,fleet,mailhost")
	t.Cleanup(func() { resetComponents(t, "slapd,samba,fleet,mailhost") })

	// The demo as shipped, with its state in a temporary directory.
	dir := t.TempDir()
	b, err := os.ReadFile("../../playbooks/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pbText := strings.Replace(string(b), "    path: .handover/demo/secrets.age", "    path: "+dir+"/secrets.age", 1)
	pbText = strings.Replace(pbText, "\nreport:\n", "\nstate: "+dir+"/state\nreport:\n", 1)
	if strings.Contains(string(b), "state:") || pbText == string(b) {
		t.Fatal("demo.yaml changed shape: adapt this test")
	}
	pb := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(pb, []byte(pbText), 0o600); err != nil {
		t.Fatal(err)
	}

	var outputs []string
	step := func(wantCode int, args ...string) string {
		t.Helper()
		out, code, sig := handover(t, nil, args...)
		outputs = append(outputs, out)
		if sig != 0 || code != wantCode {
			t.Fatalf("handover %s: exit %d (signal %v), want %d\n%s", strings.Join(args, " "), code, sig, wantCode, out)
		}
		return out
	}
	step(0, "lint", pb)
	step(exitChanges, "plan", "--detailed-exitcode", pb, "-o", filepath.Join(dir, "plan.json"))
	out := step(0, "run", "--yes", "--plan", filepath.Join(dir, "plan.json"), pb)
	m := regexp.MustCompile(`Report:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("run printed no report directory:\n%s", out)
	}
	reportJSON := filepath.Join(m[1], "report.json")
	// The auditor's own copy of the operator's key, not the file shipped
	// beside the report.
	pub, err := os.ReadFile(env.Operator.SigningPub)
	if err != nil {
		t.Fatal(err)
	}
	trusted := filepath.Join(dir, "trusted_signers")
	if err := os.WriteFile(trusted, []byte(env.Operator.Identity+" "+string(pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	step(0, "verify", "--allowed-signers", trusted, reportJSON)
	step(0, "verify", "--playbook", pb, reportJSON)
	// And with the stock OpenSSH tool, as an auditor would.
	verify := exec.Command("ssh-keygen", "-Y", "verify", "-f", trusted, "-I", env.Operator.Identity, "-n", "handover-report", "-s", reportJSON+".sig")
	f, err := os.Open(reportJSON)
	if err != nil {
		t.Fatal(err)
	}
	verify.Stdin = f
	if out, err := verify.CombinedOutput(); err != nil {
		t.Errorf("ssh-keygen -Y verify: %v\n%s", err, out)
	}
	f.Close()

	checkProofColumns(t, m[1])

	// Idempotent: nothing left to do, and the estate matches the dossier.
	step(0, "plan", pb)
	step(0, "check", pb)

	// No secret anywhere: every value the store holds and every password
	// handed over.
	var values []string
	st, err := secret.OpenFileStore(filepath.Join(dir, "secrets.age"), secret.FileUnlock{Passphrase: secret.New(testenv.ReadSecret(t, env.Operator.PassphraseFile))})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("the run stored no credential")
	}
	for _, v := range vs {
		val, _, err := st.Get(context.Background(), v.Path, v.Version)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, val.Reveal())
	}
	for _, h := range append(slices.Clone(env.Fleet.Hosts), *env.Fleet.RPMHost, *env.Fleet.SystemdHost) {
		values = append(values, testenv.ReadSecret(t, h.RootPasswordFile), testenv.ReadSecret(t, h.AdminPassFile))
	}
	for _, a := range append(env.LDAP.Admins, env.AD.Admins...) {
		values = append(values, testenv.ReadSecret(t, a.PasswordFile))
	}
	values = append(values, testenv.ReadSecret(t, env.Operator.PassphraseFile))
	for _, out := range outputs {
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("a secret value appears in the output of a command")
			}
		}
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasPrefix(filepath.Base(p), "secrets.age") || p == pb {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if strings.Contains(string(b), v) {
				t.Errorf("%s contains a secret value", p)
			}
		}
		return nil
	})
}

// actionRow matches a row of the report's actions table: its number and
// the pills of its three proof columns (new works, old refused, absent).
var actionRow = regexp.MustCompile(`<tr><td class="num">(\d+)</td><td class="mono">[^<]*</td>.*?<td><span class="pill (\w+)">[^<]*</span></td><td><span class="pill (\w+)">[^<]*</span></td><td><span class="pill (\w+)">[^<]*</span></td></tr>`)

// checkProofColumns reads the demo run's report.json and report.html: every
// verified action fills the proof columns its change calls for (a rotation:
// the new credential works and the old one is refused; the new access key:
// it works; anything else, agent removals included: gone on
// re-inventory; a lock also the handed-over password refused, where the
// playbook gives it), and none says "no".
func checkProofColumns(t *testing.T, dir string) {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int][3]string{}
	for _, m := range actionRow.FindAllSubmatch(html, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		rows[n] = [3]string{string(m[2]), string(m[3]), string(m[4])}
	}
	if len(rows) != len(r.Actions) || len(rows) == 0 {
		t.Fatalf("report.html has %d action rows, report.json %d actions", len(rows), len(r.Actions))
	}
	agents := 0
	for i, a := range r.Actions {
		if !a.Verified {
			t.Errorf("action %d (%s %s %s) is not verified", i+1, a.Change.System, a.Change.Action, a.Change.Object)
			continue
		}
		want := [3]string{"na", "na", "yes"}
		switch a.Change.Action {
		case plan.RotatePassword:
			want = [3]string{"yes", "yes", "na"}
		case plan.InstallKey:
			want = [3]string{"yes", "na", "na"}
		case plan.RemoveAgent:
			agents++
		}
		got := rows[i+1]
		if a.Change.Action == plan.LockAccount && got[1] == "yes" {
			want[1] = "yes" // the handed-over password refused, where it was given
		}
		if got != want {
			t.Errorf("action %d (%s %s %s): proof columns %v, want %v", i+1, a.Change.System, a.Change.Action, a.Change.Object, got, want)
		}
	}
	if agents == 0 {
		t.Error("the demo removed no agent")
	}
}
