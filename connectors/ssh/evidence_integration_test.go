package ssh

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestAccountsByEvidence: on the hosts where the fleet plants them, the
// accounts that are the provider's by evidence alone (only its key logs
// in; its GECOS names it under a system-looking name; a second uid 0) are
// attributed, locked and expired, and their sudo rules removed wherever
// they are, the main sudoers file included. Proven by re-inventory, and
// independently: the provider's key no longer logs in to the account,
// sudo grants it nothing, sudoers still parses, root's own shadow entry
// and processes are untouched by the uid 0 account's lock.
//
// Long: the whole cycle per host, with its independent checks.
func TestAccountsByEvidence(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	resetFleet(t)
	t.Cleanup(func() { resetFleet(t) })
	e = testenv.Require(t)
	var hosts []testenv.Host
	for _, h := range sampleHosts(e) {
		if len(h.EvidenceAccounts) > 0 {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) < 2 {
		t.Fatalf("%d hosts with accounts planted as the provider's by evidence, want 2 (bin/testenv reset -only fleet with this tree's testenv)", len(hosts))
	}
	for _, h := range hosts {
		t.Run(h.Name, func(t *testing.T) {
			ip := strings.TrimSuffix(h.Addr, ":22")
			tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
			inv := okInventory(t, tg)
			sys := inv.Systems[0]
			changes, err := tg.Plan(inv, decisions(inv))
			if err != nil {
				t.Fatal(err)
			}
			var apply []plan.Change
			for _, u := range h.EvidenceAccounts {
				i := slices.IndexFunc(sys.Findings, func(f connector.Finding) bool { return f.ID == "account:"+u })
				if i < 0 || !sys.Findings[i].Provider {
					t.Errorf("account %s: not the provider's; accounts found: %v", u, findingsOf(sys, connector.KindAccount))
					continue
				}
				j := slices.IndexFunc(changes, func(c plan.Change) bool { return c.Action == plan.LockAccount && c.Object == u })
				if j < 0 {
					t.Errorf("account %s: no lock planned", u)
					continue
				}
				if sys.Findings[i].Detail["uid"] == "0" && changes[j].Params["sessions"] != "keep" {
					t.Errorf("account %s has uid 0, and its lock would end root's processes: %v", u, changes[j].Params)
				}
				apply = append(apply, changes[j])
			}
			for _, file := range h.EvidenceSudoers {
				i := slices.IndexFunc(changes, func(c plan.Change) bool {
					return c.Action == plan.RemoveGrant && c.Params["file"] == file && slices.ContainsFunc(h.EvidenceAccounts, func(u string) bool { return strings.Contains(c.Params["members"], u) })
				})
				if i < 0 {
					t.Errorf("no removal of the rule in %s planned", file)
					continue
				}
				apply = append(apply, changes[i])
			}
			if t.Failed() {
				t.FailNow()
			}
			// The provider's key logs in to the keys-only account before.
			keysOnly := slices.Contains(h.EvidenceAccounts, "svc-backup")
			if keysOnly && !providerKeyLogsIn(t, e, h, "svc-backup") {
				t.Fatal("the provider's key does not log in as svc-backup before the run")
			}
			rootBefore, err := rootSSH(e, ip, "grep ^root: /etc/shadow")
			if err != nil {
				t.Fatal(err)
			}
			res := tg.Apply(context.Background(), h.Name, apply, nil)
			for i, r := range res.Results {
				if r.Err != nil {
					t.Errorf("apply %s %s: %v", apply[i].Action, apply[i].Object, r.Err)
				}
			}
			checks, err := tg.Verify(context.Background(), h.Name, done(apply), res.After)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range checks {
				if !c.OK {
					t.Errorf("check %q: %s", c.What, c.Detail)
				}
			}
			if keysOnly && providerKeyLogsIn(t, e, h, "svc-backup") {
				t.Error("the provider's key still logs in as svc-backup")
			}
			look := "visudo -c >/dev/null && echo sudoers-ok; grep ^root: /etc/shadow; "
			for _, u := range h.EvidenceAccounts {
				look += "sudo -l -U " + u + " | grep -c NOPASSWD; "
			}
			out, _ := rootSSH(e, ip, look)
			want := "sudoers-ok\n" + string(rootBefore) + strings.Repeat("0\n", len(h.EvidenceAccounts))
			if string(out) != want {
				t.Errorf("on the host after the run:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

// providerKeyLogsIn reports whether any of the provider's keys logs in
// to h as user.
func providerKeyLogsIn(t *testing.T, e *testenv.Env, h testenv.Host, user string) bool {
	t.Helper()
	for _, file := range e.Fleet.ProviderKeys {
		pem, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := sshDial(t, e, h, user, keyAuth(t, pem)); err == nil {
			c.Close()
			return true
		}
	}
	return false
}
