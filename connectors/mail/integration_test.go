package mail

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/testenv"
)

// configure builds a target from a playbook text for the mail host.
func configure(t *testing.T, text string) *target {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "playbook.yaml")
	full := "version: 1\nhandover:\n  client: {name: C}\n  outgoing: {name: P}\n  date: 2026-01-01\nstate: " + dir + "/state\nsecrets:\n  file: {path: " + dir + "/s.age, passphrase: '${env:HANDOVER_TEST_UNUSED}'}\n" + text
	if err := os.WriteFile(p, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	pb, d, err := playbook.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if ds := d.Diagnostics(); len(ds) > 0 {
		t.Fatalf("playbook: %v", ds)
	}
	env := connector.Env{Outgoing: connector.NewOutgoing(pb.Outgoing), Resolver: &playbook.Resolver{Dir: filepath.Dir(p)}}
	tg := New().Configure(d, pb.Targets[0], env)
	if ds := d.Diagnostics(); len(ds) > 0 || tg == nil {
		t.Fatalf("configure: %v", ds)
	}
	t.Cleanup(func() { tg.Close() })
	return tg.(*target)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestInventoryFindsThePlantedEstate: every planted item of
// docs/testenv/mail.md is found and attributed, over SSH only.
func TestInventoryFindsThePlantedEstate(t *testing.T) {
	e := requireMailHost(t)
	testenv.LockComponent(t, "mailhost", false)
	tg := configure(t, mailPlaybook(e, ""))
	inv, err := tg.Inventory(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	sys := inv.Systems[0]
	if sys.Error != "" {
		t.Fatalf("inventory: %s", sys.Error)
	}
	byID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		byID[f.ID] = f
		t.Logf("finding %s provider=%v: %s", f.ID, f.Provider, f.Summary)
	}
	for _, a := range sys.Accounts {
		t.Logf("account %s admin=%v provider=%v state=%s", a.Name, a.Admin, a.Provider, a.State)
	}
	want := []string{"master-user:prestanet-master", "account:prestanet-support@" + testenv.ClientDomain}
	for _, u := range e.MailHost.Forwarding {
		found := false
		for id, f := range byID {
			if strings.HasPrefix(id, "sieve:"+u+":") && f.Provider {
				found = true
			}
		}
		if !found {
			t.Errorf("no provider Sieve finding for %s", u)
		}
	}
	if e.MailHost.GlobalSieve == "" {
		t.Fatal("the mail host has no global script: bin/testenv reset -only mailhost with this tree")
	}
	want = append(want, "sieve:global "+e.MailHost.GlobalSieve+":"+filepath.Base(e.MailHost.GlobalSieve))
	for _, pc := range e.MailHost.PostfixCopies {
		file, key, _ := strings.Cut(pc, ":")
		want = append(want, "postfix:"+file+":"+key)
	}
	for _, fw := range e.MailHost.Forwards {
		want = append(want, "forward:"+fw)
	}
	for _, acl := range e.MailHost.ProviderACLs {
		want = append(want, "acl:"+acl)
	}
	if len(e.MailHost.Forwards) == 0 || len(e.MailHost.ProviderACLs) == 0 {
		t.Fatal("the mail host plants no .forward or no ACL: bin/testenv reset -only mailhost with this tree")
	}
	want = append(want, "master-passdb:/etc/dovecot/master-users")
	quota := false
	for _, f := range sys.Facts {
		quota = quota || f.Name == "quota" && strings.Contains(f.Value, "storage=1G")
	}
	if !quota {
		t.Error("no quota fact")
	}
	for _, id := range want {
		if f, ok := byID[id]; !ok || !f.Provider {
			t.Errorf("finding %s: found %v, provider %v", id, ok, f.Provider)
		}
	}
	if f := byID["sieve:accueil@"+testenv.ClientDomain+":absence"]; f.Provider || !strings.Contains(f.Summary, "vacation") {
		t.Errorf("the vacation reply: %+v", f)
	}
	if !slices.ContainsFunc(sys.Accounts, func(a connector.Account) bool { return a.Name == "prestanet-master" && a.Provider && a.Admin }) {
		t.Error("the master user is not an admin account of the provider")
	}
}
