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

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// resetComponents brings components of the test estate back to their
// planted state.
func resetComponents(t *testing.T, only string) {
	t.Helper()
	testenv.Reset(t, only)
}

// TestDemoEndToEnd runs the demo playbook against the test estate as a
// user would: lint, plan, run, verify the signed report, plan again
// (nothing left), check (no drift) — and proves that no secret, handed
// over or generated, appears in any output or any file the runs wrote.
func TestDemoEndToEnd(t *testing.T) {
	env := testenv.Require(t)
	if env.DNS == nil {
		t.Fatal("the demo reads the client's domain from the testenv's DNS server: run `bin/testenv up -only nsd`")
	}
	testenv.LockComponent(t, "nsd", false)
	testenv.LockComponent(t, "fleet", true)
	testenv.LockComponent(t, "slapd", true)
	testenv.LockComponent(t, "samba", true)
	testenv.LockComponent(t, "mailhost", true)
	testenv.LockComponent(t, "vault", true)
	resetComponents(t, "slapd,samba,fleet,mailhost,vault")
	t.Cleanup(func() { resetComponents(t, "slapd,samba,fleet,mailhost,vault") })
	// The reset rewrote env.json (a token's accessor, a planted account).
	env = testenv.Require(t)

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
	out := step(exitChanges, "plan", "--detailed-exitcode", pb, "-o", filepath.Join(dir, "plan.json"))
	if !strings.Contains(out, "Manual: 4 step(s), 3 awaiting attestation.") {
		t.Errorf("the plan does not list the declared items' steps:\n%s", out)
	}
	// Two declared steps done and attested in writing before the run; the
	// registrar is waived, the M365 tenant's step is not done yet.
	step(0, "attest", pb, "pare-feu", "--by", "Jeanne Martin (DSI)", "--note", "mot de passe admin changé, compte prestanet supprimé")
	step(0, "attest", pb, "wifi", "--by", "Jeanne Martin (DSI)", "--note", "clé WPA2 changée sur les 3 bornes")
	out = step(0, "run", "--yes", "--plan", filepath.Join(dir, "plan.json"), pb)
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
	checkDossier(t, env, m[1], filepath.Join(dir, "state", "attestations.jsonl"))
	checkPersistence(t, m[1])

	// Idempotent: nothing left to do, and the estate matches the dossier.
	step(0, "plan", pb)
	// The M365 tenant's step is still awaiting its attestation: check
	// reports it, and nothing else.
	out = step(exitChanges, "check", pb)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		line = strings.Join(strings.Fields(line), " ")
		if !strings.HasPrefix(line, "attestation-missing declared/m365-tenant m365") && !strings.Contains(line, "drift item(s)") && !strings.HasPrefix(line, "baseline ") {
			t.Errorf("check drift other than the M365 step awaiting attestation: %s", line)
		}
	}

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
	if v := env.Vault; v != nil {
		for _, f := range []string{v.ClientPasswordFile, v.ClientSecretIDFile, v.ProviderPasswordFile, v.ProviderOpsPasswordFile, v.ProviderSecretIDFile,
			v.ProviderTokenFile, v.ProviderPeriodicTokenFile, v.ProviderRootTokenFile, v.UnsealKeyFile, v.RootTokenFile} {
			values = append(values, testenv.ReadSecret(t, f))
		}
	}
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
			if a.Change.Target == "coffre" {
				want[1] = "yes" // the rekey: the handed-over key shares refused
			}
		case plan.RemoveAgent:
			agents++
		}
		got := rows[i+1]
		if (a.Change.Action == plan.LockAccount || a.Change.Action == plan.RevokeToken) && got[1] == "yes" {
			want[1] = "yes" // the handed-over password or token refused, where it was given
		}
		if got != want {
			t.Errorf("action %d (%s %s %s): proof columns %v, want %v", i+1, a.Change.System, a.Change.Action, a.Change.Object, got, want)
		}
	}
	if agents == 0 {
		t.Error("the demo removed no agent")
	}
}

// checkDossier reads the demo run's report: the completeness figure counts
// every action and the four declared items (two attested, one waived, one
// awaiting), the attestations are the journal's, and the cloud services of
// the client's domain are listed.
func checkDossier(t *testing.T, env *testenv.Env, dir, attestations string) {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Actions)
	if c := r.Completeness; c == nil || c.Items != n+4 || c.Done != n+2 || c.Waived != 1 || c.Awaiting != 1 || c.Complete {
		t.Errorf("completeness: %+v (%d actions)", r.Completeness, n)
	}
	recs, head, err := journal.VerifyFile(attestations)
	if err != nil || len(recs) != 2 {
		t.Fatalf("attestation journal: %d records, %v", len(recs), err)
	}
	if r.Attestations == nil || r.Attestations.Head != head {
		t.Errorf("the report's attestations are not the journal's: %+v", r.Attestations)
	}
	var services []string
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			for _, f := range s.Findings {
				if f.Kind == connector.KindCloudService {
					services = append(services, f.Object)
				}
			}
		}
	}
	for _, want := range []string{"Microsoft 365", "Google Workspace", env.DNS.ProviderDomain} {
		if !slices.Contains(services, want) {
			t.Errorf("cloud services %v lack %s", services, want)
		}
	}
}

// persistencePlants are the persistence kinds the testenv plants for the
// outgoing provider (testenv/internal/fleet/persist.go), as the ssh
// connector names their findings: host, and a test on the finding's id.
var persistencePlants = []struct {
	kind, host string
	id         func(string) bool
	object     string // the finding's object, when the id does not say
}{
	{"system service naming the provider", "poste-accueil-01", is("service:prestanet-inventaire.service"), ""},
	{"system timer naming the provider", "poste-accueil-01", is("service:prestanet-inventaire.timer"), ""},
	{"system service naming it only in what it runs", "poste-accueil-01", is("service:sync-config.service"), ""},
	{"at job", "poste-accueil-01", is("at:/var/spool/cron/atjobs/a00001019a3c2f"), ""},
	{"rc.local line", "poste-accueil-01", prefix("persistence:/etc/rc.local:"), ""},
	{"init script", "poste-accueil-01", is("init:prestanet-agent"), ""},
	{"~/.ssh/rc", "poste-accueil-01", func(id string) bool {
		return strings.HasPrefix(id, "persistence:/home/") && strings.Contains(id, "/.ssh/rc:")
	}, ""},
	{".forward", "poste-accueil-01", func(id string) bool {
		return strings.HasPrefix(id, "forward:/home/") && strings.Contains(id, "/.forward:")
	}, ""},
	{"ld.so.preload", "poste-accueil-01", prefix("preload:"), ""},
	{"pam_exec line", "poste-accueil-01", prefix("pam:/etc/pam.d/sshd:"), ""},
	{"WireGuard client", "poste-accueil-01", is("tunnel:/etc/wireguard/wg0.conf"), ""},
	{"sshd AuthorizedPrincipalsFile", "poste-accueil-01", prefix("sshd:"), "AuthorizedPrincipalsFile"},
	{"lingering user unit of the provider's account", "poste-urbanisme-01", func(id string) bool {
		return strings.HasPrefix(id, "service:") && strings.HasSuffix(id, ":prestanet-tunnel.service")
	}, ""},
	{"client's user unit calling the provider", "poste-urbanisme-01", func(id string) bool {
		return strings.HasPrefix(id, "service:") && strings.HasSuffix(id, ":sync-docs.service")
	}, ""},
	{"PAM module outside the system's directories", "poste-urbanisme-01", prefix("pam:"), ""},
	{"OpenVPN client", "poste-urbanisme-01", is("tunnel:/etc/openvpn/client/prestanet.conf"), ""},
	{"Tailscale client", "poste-urbanisme-01", is("tunnel:/var/lib/tailscale/tailscaled.state"), ""},
	{"ZeroTier client", "poste-urbanisme-01", is("tunnel:/var/lib/zerotier-one/networks.d/8056c2e21c000001.conf"), ""},
	{"sshd AuthorizedPrincipalsCommand", "poste-urbanisme-01", prefix("sshd:"), "AuthorizedPrincipalsCommand"},
	{"sshd ForceCommand in a Match block", "poste-urbanisme-01", prefix("sshd:"), "ForceCommand"},
	{"second sshd with its own configuration", "srv-systemd-01", is("sshd-instance:/etc/ssh/sshd_config_support"), ""},
}

func is(want string) func(string) bool { return func(id string) bool { return id == want } }
func prefix(want string) func(string) bool {
	return func(id string) bool { return strings.HasPrefix(id, want) }
}

// checkPersistence reads the demo run's report: every persistence kind the
// testenv plants is among the provider's footholds, found on its host, and
// handled: removed by a verified action, or, where it cannot safely be
// stepValue finds what a manual step quotes from the estate: a line in
// quotes, a path.
var stepValue = regexp.MustCompile(`"[^"]+"|/[^\s,;()"]+`)

// removed automatically, left with the exact step for a person, which the
// report shows.
func checkPersistence(t *testing.T, dir string) {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(js)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	en, err := report.Render(r, "md", "en")
	if err != nil {
		t.Fatal(err)
	}
	verified := map[string]bool{}
	for _, a := range r.Actions {
		if a.Change.Finding != "" {
			verified[a.Change.System+"\x00"+a.Change.Finding] = a.Verified
		}
	}
	for _, p := range persistencePlants {
		i := slices.IndexFunc(r.Outgoing, func(o report.ProviderAccess) bool {
			return o.System == p.host && p.id(o.Finding.ID) && (p.object == "" || strings.EqualFold(o.Finding.Object, p.object))
		})
		if i < 0 {
			var ids []string
			for _, o := range r.Outgoing {
				if o.System == p.host {
					ids = append(ids, o.Finding.ID)
				}
			}
			t.Errorf("%s on %s: not among the provider's footholds in the report (there: %q)", p.kind, p.host, ids)
			continue
		}
		o := r.Outgoing[i]
		manual := o.Finding.Detail["manual"]
		switch {
		case o.Fate.Handled():
			if !verified[o.System+"\x00"+o.Finding.ID] {
				t.Errorf("%s on %s (%s): %s, but by no verified action", p.kind, p.host, o.Finding.ID, o.Fate)
			}
		case manual != "":
			// As report.md's tables write a cell: the step in English, and
			// its values (the lines quoted, the paths) in the signed
			// rendering, which is in the playbook's language (French).
			cell := strings.NewReplacer("|", `\|`, "<", "&lt;").Replace
			if !strings.Contains(o.Finding.Summary, manual) || !strings.Contains(string(en), cell(manual)) {
				t.Errorf("%s on %s (%s): left for a person, but the report does not show the step %q", p.kind, p.host, o.Finding.ID, manual)
			}
			for _, v := range stepValue.FindAllString(manual, -1) {
				if !strings.Contains(string(md), cell(v)) {
					t.Errorf("%s on %s (%s): the signed report.md does not show %s of the step %q", p.kind, p.host, o.Finding.ID, v, manual)
				}
			}
		default:
			t.Errorf("%s on %s (%s): fate %s, neither removed nor given a manual step", p.kind, p.host, o.Finding.ID, o.Fate)
		}
	}
}
