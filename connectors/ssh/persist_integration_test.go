package ssh

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// persistenceHosts are the fleet hosts with planted persistence: some of
// the first five, and the systemd host.
func persistenceHosts(t *testing.T, e *testenv.Env) []testenv.Host {
	t.Helper()
	var out []testenv.Host
	for _, h := range sampleHosts(e) {
		if len(h.Persistence) > 0 {
			out = append(out, h)
		}
	}
	if e.Fleet.SystemdHost == nil {
		t.Fatalf("testenv has no systemd host (%s): run bin/testenv up -only fleet", e.Fleet.SystemdHostError)
	}
	out = append(out, *e.Fleet.SystemdHost)
	if len(out) < 3 {
		t.Fatalf("the fleet plants persistence on %d hosts, want 3 (bin/testenv reset -only fleet with this tree's testenv)", len(out))
	}
	return out
}

// plantedFinding is the provider finding of kind about file, if any.
func plantedFinding(sys connector.System, p testenv.Persistence) (connector.Finding, bool) {
	for _, f := range sys.Findings {
		if f.Kind == p.Kind && f.Provider && (f.Detail[detailFile] == p.File || f.Object == p.File) {
			return f, true
		}
	}
	return connector.Finding{}, false
}

// TestPersistenceFoundRemovedProven: on every host with planted
// persistence, each item is found and attributed to the provider; each
// one a run can remove safely is planned, removed and proven gone by a
// re-inventory whose checks name what they read, and gone by an
// independent look over SSH; each other one is planned for nobody and
// says the step to take by hand, and is still there after.
//
// Long: one host at a time, the whole cycle and its independent checks.
func TestPersistenceFoundRemovedProven(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	resetFleet(t) // this tree's plants, whatever binary reset the fleet last
	t.Cleanup(func() { resetFleet(t) })
	e = testenv.Require(t)
	for _, h := range persistenceHosts(t, e) {
		t.Run(h.Name, func(t *testing.T) {
			ip := strings.TrimSuffix(h.Addr, ":22")
			tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
			inv := okInventory(t, tg)
			sys := inv.Systems[0]
			changes, err := tg.Plan(inv, decisions(inv))
			if err != nil {
				t.Fatal(err)
			}
			byFinding := map[string]plan.Change{}
			for _, ch := range changes {
				byFinding[ch.Finding] = ch
			}
			var apply []plan.Change
			var gone, stays []string // files, for the independent look
			for _, p := range h.Persistence {
				f, ok := plantedFinding(sys, p)
				if !ok {
					t.Errorf("%s %s: not found as the provider's; findings of that kind: %v", p.Kind, p.File, findingsOf(sys, p.Kind))
					continue
				}
				ch, planned := byFinding[f.ID]
				switch {
				case p.Removed && !planned:
					t.Errorf("%s: not planned for removal (%s)", f.ID, f.Summary)
				case !p.Removed && planned:
					t.Errorf("%s: planned (%s %s), want the step left by hand", f.ID, ch.Action, ch.Object)
				case !p.Removed && f.Detail["manual"] == "":
					t.Errorf("%s: left without the step to take by hand: %s", f.ID, f.Summary)
				case p.Removed:
					if !slices.ContainsFunc(apply, func(c plan.Change) bool { return c.ID == ch.ID }) {
						apply = append(apply, ch)
					}
					if ch.Params["op"] != persistLine {
						gone = append(gone, p.File)
					}
				default:
					stays = append(stays, p.File)
				}
			}
			if t.Failed() {
				t.FailNow()
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
			if len(checks) < len(apply) {
				t.Errorf("%d checks for %d changes", len(checks), len(apply))
			}
			for _, c := range checks {
				if !c.OK || c.What == "" || c.Detail == "" {
					t.Errorf("check %q: ok=%v: %s", c.What, c.OK, c.Detail)
				}
			}
			// An independent look: a fresh inventory, and the host itself.
			again := okInventory(t, tg).Systems[0]
			for _, p := range h.Persistence {
				_, found := plantedFinding(again, p)
				if p.Removed && found && !slices.ContainsFunc(h.Persistence, func(q testenv.Persistence) bool { return q.File == p.File && !q.Removed }) {
					t.Errorf("%s %s: still found after its removal", p.Kind, p.File)
				}
				if !p.Removed && !found {
					t.Errorf("%s %s: left by hand, but no longer found", p.Kind, p.File)
				}
			}
			script := "for f in " + strings.Join(quoteAll(gone), " ") + `; do test ! -e "$f" || echo "left: $f"; done; for f in ` + strings.Join(quoteAll(stays), " ") + `; do test -e "$f" || echo "lost: $f"; done; grep -l prestanet /etc/rc.local /etc/ld.so.preload /home/*/.forward /home/*/.ssh/rc /etc/pam.d/sshd 2>/dev/null | grep -v pam.d/sshd; grep -c pam_exec /etc/pam.d/sshd; ls /etc/rc2.d | grep prestanet; for p in $(pgrep -x sshd); do c=$(tr '\0' ' ' < /proc/$p/cmdline); case $c in *sshd_config_support*) echo "listening: $c" ;; esac; done; true`
			out, err := rootSSH(e, ip, script)
			if err != nil {
				t.Fatalf("look at the host: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != "0" {
				t.Errorf("on the host after the run (want only the count 0 of pam_exec lines):\n%s", got)
			}
		})
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}

// TestPersistenceUserUnitSwappedForLink: an account's unit the run
// removes is swapped for a link to /etc/shadow between the inventory and
// the removal. The removal runs with the account's rights and refuses
// the link: /etc/shadow is untouched, the change fails and says why.
func TestPersistenceUserUnitSwappedForLink(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	resetFleet(t)
	t.Cleanup(func() { resetFleet(t) })
	e = testenv.Require(t)
	var h testenv.Host
	for _, x := range sampleHosts(e) {
		if slices.ContainsFunc(x.Persistence, func(p testenv.Persistence) bool { return strings.HasSuffix(p.File, "/sync-docs.service") }) {
			h = x
		}
	}
	if h.Name == "" {
		t.Fatal("no host of the fleet has the client's user unit planted (bin/testenv reset -only fleet with this tree's testenv)")
	}
	ip := strings.TrimSuffix(h.Addr, ":22")
	unit := "/home/" + clientUser(h) + "/.config/systemd/user/sync-docs.service"
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	inv := okInventory(t, tg)
	changes, err := tg.Plan(inv, decisions(inv))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(changes, func(c plan.Change) bool { return c.Action == plan.RemovePersistence && c.Params["file"] == unit })
	if i < 0 {
		t.Fatalf("no removal of %s planned: %v", unit, changes)
	}
	before, err := rootSSH(e, ip, "sha256sum /etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := rootSSH(e, ip, "rm "+unit+" && ln -s /etc/shadow "+unit+" && chown -h "+clientUser(h)+": "+unit); err != nil {
		t.Fatalf("swap: %v\n%s", err, out)
	}
	res := tg.Apply(context.Background(), h.Name, changes[i:i+1], nil).Results[0]
	if res.Err == nil || !strings.Contains(res.Err.Error(), "link") {
		t.Errorf("removal through the swapped link: err = %v, want a refusal naming the link", res.Err)
	}
	after, err := rootSSH(e, ip, "sha256sum /etc/shadow; test -L "+unit+" && echo link-kept")
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before)+"link-kept\n" {
		t.Errorf("after the refused removal:\n%s\nwant:\n%slink-kept", after, before)
	}
}

// clientUser is the fleet's client account (jdupont), whose key is the
// one provider-free key of accounts other than root.
func clientUser(h testenv.Host) string {
	for _, k := range h.Keys {
		if !k.Provider && k.User != "root" {
			return k.User
		}
	}
	return "jdupont"
}
