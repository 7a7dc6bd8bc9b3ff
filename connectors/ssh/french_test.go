package ssh

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/frenchtest"
)

// TestFrenchReportOfTheHosts renders in French what the connector makes
// of the captured hosts, of a host holding every kind of what starts
// again on its own, of a second uid 0 and of a provider's process: the
// findings and their manual steps, the plan's before and after, the
// checks of a re-inventory. No English wording of the tool's may be left
// in the HTML or the Markdown; the estate's values stay as they are.
func TestFrenchReportOfTheHosts(t *testing.T) {
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	out := connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}, Domains: []string{"prestanet.test"}, Accounts: []string{"prestanet*"}, KeyComments: []string{"*prestanet*"}})
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	inv := connector.Inventory{Target: "serveurs", Type: "ssh"}
	hosts := map[string]*hostData{}
	for _, name := range []string{"srv-fichiers-01", "srv-app-01", "poste-accueil-01"} {
		raw, err := os.ReadFile("testdata/inventory-" + name + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		h, err := parseInventory(raw)
		if err != nil {
			t.Fatal(err)
		}
		hosts[name] = h
		inv.Systems = append(inv.Systems, buildSystem(h, hostContext{Name: name, Outgoing: out, Catalog: cat, AccessUser: "root", Now: now,
			Held: func(string, string) connector.Held { return connector.HeldDiffers }}))
	}
	// What starts again on its own, a second root and a tunnel process.
	ph := persistHost()
	hosts["srv-persist"] = ph
	persist := connector.System{Name: "srv-persist", Kind: KindHost,
		Findings: persistFindings(ph, hostContext{Outgoing: persistOutgoing}, nil, map[string]bool{"prestanet": true}, nil)}
	persist.Findings = append(persist.Findings, secondRoot(passwdEntry{Name: "toor", UID: 0}, "enabled"))
	procs := &hostData{Procs: []procInfo{{PID: 4242, Comm: "autossh", Args: "/usr/bin/autossh -M 0 -N -R 2222:localhost:22 tunnel@bastion.prestanet.test"}}}
	persist.Findings = append(persist.Findings, processFindings(procs, hostContext{Outgoing: out}, nil)...)
	inv.Systems = append(inv.Systems, persist)

	tg := &target{name: "serveurs", s: settings{User: "root", AccessKey: accessKeySettings{User: "root"}}}
	d := connector.Decisions{AccessKeyType: "ed25519"}
	for _, s := range inv.Systems[:3] {
		d.Rotate = append(d.Rotate, connector.Rotation{System: s.Name, Account: "root", Reason: "administrator account"})
	}
	changes, err := tg.Plan(&inv, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) < 20 {
		t.Fatalf("only %d changes planned", len(changes))
	}
	var actions []report.Action
	for _, ch := range changes {
		a := report.Action{Change: ch, Result: plan.Applied, Verified: true}
		// The checks a re-inventory words, printed with the action.
		var checks []proofCheck
		switch ch.Action {
		case plan.RemovePersistence:
			checks = persistGone(ph, persist.Findings, ch)
		case plan.RemoveKey, plan.RemoveGrant, plan.RemoveCron:
			checks = []proofCheck{artefactGone(hosts[ch.System], nil, ch)}
		case plan.LockAccount:
			checks = []proofCheck{accountLocked(&hostData{Shadow: map[string]shadowEntry{}}, ch.Object, now)}
		case plan.RemoveAgent:
			for _, a := range cat.Agents {
				if a.Name == ch.Object {
					checks = agentGone(&hostData{}, a)
				}
			}
		}
		for _, c := range checks {
			a.Verification = append(a.Verification, connector.Check{Change: ch.ID, Kind: connector.Note, What: c.what, OK: c.ok, Detail: c.detail, At: now})
		}
		actions = append(actions, a)
	}
	r := &report.Report{FormatVersion: report.FormatVersion, Lang: "fr", Dossier: []connector.Inventory{inv}, Actions: actions}
	for _, s := range inv.Systems {
		for _, f := range s.Findings {
			if f.Provider {
				r.Outgoing = append(r.Outgoing, report.ProviderAccess{Target: inv.Target, System: s.Name, Finding: f, Fate: report.FateRemaining})
			}
		}
	}

	ws, err := frenchtest.ToolWordings("../..")
	if err != nil {
		t.Fatal(err)
	}
	fragments := frenchtest.AllFragments(ws)
	for _, format := range []string{"html", "md"} {
		b, err := report.Render(r, format, "fr")
		if err != nil {
			t.Fatal(err)
		}
		text := frenchtest.Text(b, format)
		for _, leak := range frenchtest.Leaks(text, fragments) {
			t.Errorf("%s: English left: %s", format, frenchtest.Where(text, leak))
		}
		// The manual steps read in French, their commands and the
		// estate's values as they are.
		for _, want := range []string{"à la main : supprimer la ligne 3 (\"ForceCommand /bin/true\") de /etc/ssh/sshd_config", "usermod -L -e 1 toor", "/etc/apt/apt.conf.d/99prestanet", "wg-quick down wg0"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", format, want)
			}
		}
	}
}
