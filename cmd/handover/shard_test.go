package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestShardAndMerge runs one playbook over the fleet's five hosts as
// three shards at once (--limit, each with its own --state-dir, the
// Vault store shared), merges their signed reports, and verifies the
// merged report down to its shards; a shard changed after the merge, or
// missing, makes verify fail, naming it.
func TestShardAndMerge(t *testing.T) {
	env := testenv.Require(t)
	if env.Vault == nil || env.Fleet == nil || env.Operator == nil || len(env.Fleet.Hosts) < 5 {
		t.Fatal("the test needs the fleet (5 hosts), Vault and the operator's key: run `make testenv-up`")
	}
	waited := time.Now()
	testenv.LockComponent(t, "fleet", true)
	testenv.LockComponent(t, "vault", false)
	start := time.Now()
	t.Logf("waited %s for the fleet and Vault", start.Sub(waited).Round(time.Millisecond))
	defer func() { t.Logf("ran for %s once they were free", time.Since(start).Round(time.Millisecond)) }()
	resetFleet(t)
	t.Cleanup(func() { resetFleet(t) })
	hosts := env.Fleet.Hosts[:5]

	dir := t.TempDir()
	prefix := "handover/shards-" + filepath.Base(dir)
	var list, passwords strings.Builder
	old := map[string]string{}
	for _, h := range hosts {
		fmt.Fprintf(&list, "      - {name: %s, address: %s}\n", h.Name, strings.Split(h.Addr, ":")[0])
		fmt.Fprintf(&passwords, "      - {account: root, password: \"${file:%s}\", hosts: [%s]}\n", h.RootPasswordFile, h.Name)
		old[h.Name] = testenv.ReadSecret(t, h.RootPasswordFile)
	}
	pb := writePlaybook(t, dir, fmt.Sprintf(`version: 1
handover:
  client: {name: Mairie de Saint-Exemple}
  outgoing: {name: Prestanet Informatique}
state: %[1]s/state
secrets:
  vault:
    address: %[2]s
    prefix: %[3]s
    token: ${file:%[4]s}
    ca_cert: %[5]s
signing:
  key: %[6]s
  identity: %[7]s
outgoing:
  domains: [prestanet.test]
  key_comments: ["*@prestanet.test", "*prestanet*"]
policy:
  rotate: {admins: false, accounts: ["parc:root"]}
targets:
  - name: parc
    type: ssh
    hosts:
%[8]s    auth: {key_file: %[9]s}
    known_hosts: %[10]s
    access_key: false
    passwords:
%[11]s`, dir, env.Vault.Addr, prefix, env.Vault.RootTokenFile, env.CACert, env.Operator.SigningKey, env.Operator.Identity,
		list.String(), env.Fleet.OperatorKey, env.Fleet.KnownHosts, passwords.String()))

	limits := []string{
		hosts[0].Name + "," + hosts[1].Name,
		hosts[2].Name + ":" + hosts[3].Name,
		hosts[4].Name,
	}
	shards := make([]string, len(limits))
	var wg sync.WaitGroup
	for i, l := range limits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
			out, code, _ := handover(t, nil, "run", "--yes", "--limit", l, "--state-dir", state, pb)
			if code != 0 {
				t.Errorf("shard %d (--limit %s): exit %d:\n%s", i, l, code, out)
				return
			}
			m, _ := filepath.Glob(filepath.Join(state, "reports", "*", report.JSONFile))
			if len(m) != 1 {
				t.Errorf("shard %d: %d reports in its state directory %s, want 1:\n%s", i, len(m), state, out)
				return
			}
			shards[i] = filepath.Dir(m[0])
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err == nil {
		t.Error("a shard wrote in the playbook's state directory although --state-dir named its own")
	}

	// Nothing lost: every host's new root password is current in the
	// shared Vault and logs in; the handed-over one fails.
	st, err := secret.OpenVaultStore(context.Background(), secret.VaultConfig{Address: env.Vault.Addr, Prefix: prefix, CACert: env.CACert,
		Token: secret.New(testenv.ReadSecret(t, env.Vault.RootTokenFile))})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		cur, v, err := st.Get(context.Background(), connector.SecretPath("parc", h.Name, "root"), 0)
		if err != nil || v.State != secret.Current {
			t.Errorf("%s: no current root credential in Vault: %v %+v", h.Name, err, v)
			continue
		}
		if !passwordWorks(t, env, h.Addr, "root", cur.Reveal()) {
			t.Errorf("%s: the password stored in Vault does not log in", h.Name)
		}
		if passwordWorks(t, env, h.Addr, "root", old[h.Name]) {
			t.Errorf("%s: the handed-over password still logs in", h.Name)
		}
	}

	merged := filepath.Join(dir, "merged")
	out, code, _ := handover(t, nil, "report", "merge", shards[0], shards[1], shards[2], "--playbook", pb, "-o", merged)
	if code != 0 {
		t.Fatalf("report merge: exit %d:\n%s", code, out)
	}
	out, code, _ = handover(t, nil, "verify", "--playbook", pb, filepath.Join(merged, report.JSONFile))
	if code != 0 || !strings.Contains(out, "OK: ") {
		t.Fatalf("verify of the merged report: exit %d:\n%s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(merged, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Shards) != 3 || r.Run.Mode != report.MergeMode {
		t.Fatalf("merged report: mode %q, %d shards", r.Run.Mode, len(r.Shards))
	}
	systems, rotated := 0, map[string]bool{}
	for _, inv := range r.Dossier {
		systems += len(inv.Systems)
	}
	for _, a := range r.Actions {
		if a.Change.Action == "rotate-password" && a.Result == "applied" && a.Verified {
			rotated[a.Change.System] = true
		}
	}
	if systems != 5 || len(rotated) != 5 {
		t.Errorf("merged report: %d systems in the dossier, root rotated and proven on %d hosts; want 5 and 5", systems, len(rotated))
	}
	for i, s := range r.Shards {
		if s.Limit != limits[i] || s.Result != report.RunSuccess {
			t.Errorf("shard %d: %s", i+1, shardJSON(s))
		}
	}

	t.Run("the same shard twice is refused", func(t *testing.T) {
		out, code, _ := handover(t, nil, "report", "merge", shards[0], shards[0], "--playbook", pb, "-o", filepath.Join(t.TempDir(), "m"))
		if code != exitError || !strings.Contains(out, "is the same report as") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("a shard changed after the merge", func(t *testing.T) {
		tampered := copyTree(t, merged)
		p := filepath.Join(tampered, "shards", "2", report.JSONFile)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.Replace(string(b), hosts[2].Name, hosts[2].Name+"x", 1))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, code, _ := handover(t, nil, "verify", "--playbook", pb, filepath.Join(tampered, report.JSONFile))
		if code != exitError || !strings.Contains(out, "shards/2/report.json") {
			t.Errorf("verify of a merged report whose shard 2 was changed: exit %d:\n%s", code, out)
		}
	})
	t.Run("a shard missing", func(t *testing.T) {
		tampered := copyTree(t, merged)
		if err := os.RemoveAll(filepath.Join(tampered, "shards", "3")); err != nil {
			t.Fatal(err)
		}
		out, code, _ := handover(t, nil, "verify", "--playbook", pb, filepath.Join(tampered, report.JSONFile))
		if code != exitError || !strings.Contains(out, "shards/3") {
			t.Errorf("verify of a merged report without shard 3: exit %d:\n%s", code, out)
		}
	})
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// shardJSON is for messages.
func shardJSON(s report.Shard) string {
	b, _ := json.Marshal(s)
	return string(b)
}
