package ssh

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// outgoingFleet recognises the testenv's outgoing provider the way a
// playbook would.
func outgoingFleet(e *testenv.Env) playbook.Outgoing {
	return playbook.Outgoing{
		Names:       []string{testenv.ProviderName, "Prestanet"},
		Domains:     []string{testenv.ProviderDomain},
		SSHKeys:     e.Fleet.ProviderFingerprints,
		KeyComments: []string{"*prestanet*"},
		Accounts:    []string{"prestanet*"},
	}
}

type recorded struct {
	mu     sync.Mutex
	events []map[string]string
}

func (r *recorded) Record(kind, system string, detail map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := map[string]string{"kind": kind, "system": system}
	for k, v := range detail {
		d[k] = v
	}
	r.events = append(r.events, d)
}

// storeReader adapts a store to the connector's read-only view.
type storeReader struct{ s secret.Store }

func (r storeReader) Current(ctx context.Context, path string) (secret.Secret, bool, error) {
	v, _, err := r.s.Get(ctx, path, 0)
	if err != nil {
		if strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "no current") {
			return secret.Secret{}, false, nil
		}
		return secret.Secret{}, false, err
	}
	return v, true, nil
}

// configure builds a target from YAML settings against the fleet.
func configure(t *testing.T, e *testenv.Env, settingsYAML string, store secret.Store, rec connector.Recorder) *target {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(settingsYAML), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("test.yaml")
	pb := &playbook.Playbook{Outgoing: outgoingFleet(e), Policy: playbook.Policy{RotateAdmins: true, Password: secret.DefaultPolicy, AccessKeyType: "ed25519", Parallel: 16}}
	env := connector.Env{Playbook: pb, Resolver: &playbook.Resolver{Dir: t.TempDir()}, Secrets: storeReader{store}, Recorder: rec, Now: time.Now}
	tg := New().Configure(d, playbook.Target{Name: "fleet", Type: "ssh", Settings: doc.Content[0]}, env)
	if ds := d.Diagnostics(); len(ds) > 0 {
		t.Fatalf("settings: %v", ds)
	}
	t.Cleanup(func() { tg.Close() })
	return tg.(*target)
}

func fleetSettings(e *testenv.Env, extra string) string {
	var hosts []string
	for _, h := range e.Fleet.Hosts {
		hosts = append(hosts, fmt.Sprintf("  - {name: %s, address: %s}", h.Name, strings.TrimSuffix(h.Addr, ":22")))
	}
	return fmt.Sprintf("hosts:\n%s\nauth: {key_file: %s}\nknown_hosts: %s\n%s", strings.Join(hosts, "\n"), e.Fleet.OperatorKey, e.Fleet.KnownHosts, extra)
}

// resetFleet brings back the planted state, through the testenv command.
func resetFleet(t *testing.T) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "testenv")
	build := exec.Command("go", "build", "-o", bin, "./testenv/cmd/testenv")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build testenv: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "reset", "-only", "fleet")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv reset -only fleet: %v\n%s", err, out)
	}
}

func findingsOf(sys connector.System, kind string) []connector.Finding {
	var out []connector.Finding
	for _, f := range sys.Findings {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

func TestInventoryFindsEveryPlantedArtefact(t *testing.T) {
	e := testenv.Require(t)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	tg := configure(t, e, fleetSettings(e, ""), secret.NewMemoryStore(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv, err := tg.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range e.Fleet.Hosts {
		sys := inv.Systems[i]
		t.Run(h.Name, func(t *testing.T) {
			if sys.Error != "" {
				t.Fatalf("host error: %s", sys.Error)
			}
			byID := map[string]connector.Finding{}
			for _, f := range sys.Findings {
				byID[f.ID] = f
			}
			for _, k := range h.Keys {
				id := "ssh-key:" + k.User + ":" + k.Fingerprint + ":" + k.File
				f, ok := byID[id]
				if !ok {
					t.Errorf("key %s of %s in %s not found", k.Fingerprint, k.User, k.File)
					continue
				}
				if f.Provider != k.Provider {
					t.Errorf("key %s (%s) in %s: provider=%v, want %v (reasons %v)", k.Fingerprint, k.Comment, k.File, f.Provider, k.Provider, f.Reasons)
				}
				if k.Options != "" && f.Detail["options"] == "" {
					t.Errorf("key %s: options %q not reported", k.Fingerprint, k.Options)
				}
			}
			for _, c := range h.Cron {
				var got []connector.Finding
				for _, f := range findingsOf(sys, connector.KindCron) {
					if f.Detail[detailFile] == c.File {
						got = append(got, f)
					}
				}
				if len(got) == 0 {
					t.Errorf("cron file %s: no entry found", c.File)
				}
				for _, f := range got {
					if f.Provider != c.Provider {
						t.Errorf("cron %s: provider=%v, want %v (reasons %v)", f.Summary, f.Provider, c.Provider, f.Reasons)
					}
				}
			}
			for _, file := range h.Sudoers {
				found := false
				for _, f := range findingsOf(sys, connector.KindGrant) {
					if f.Detail[detailFile] == file {
						found = true
						if !f.Provider {
							t.Errorf("grant %s not attributed to the provider", f.Summary)
						}
					}
				}
				if !found {
					t.Errorf("sudoers file %s: no grant found", file)
				}
			}
			for _, a := range h.AgentDetails {
				f, ok := byID["agent:"+a.Name]
				if !ok {
					t.Errorf("agent %s (%s) not found", a.Name, a.State)
					continue
				}
				if !f.Provider || len(f.Reasons) == 0 {
					t.Errorf("agent %s not attributed: %v", a.Name, f.Reasons)
				}
				if a.Package != "" && !strings.Contains(f.Detail["packages"], a.Package) {
					t.Errorf("agent %s: package %s not reported: %v", a.Name, a.Package, f.Detail)
				}
				if a.Running && !strings.Contains(f.Detail["processes"], a.Daemon) {
					t.Errorf("agent %s: process %s not reported: %v", a.Name, a.Daemon, f.Detail)
				}
				if a.State == "rc" && !strings.Contains(f.Summary, "rc") {
					t.Errorf("agent %s: rc state not reported: %s", a.Name, f.Summary)
				}
			}
			var provider, admin connector.Account
			for _, a := range sys.Accounts {
				switch a.Name {
				case h.ProviderUser:
					provider = a
				case h.Admin:
					admin = a
				}
			}
			if !provider.Provider || !provider.Admin {
				t.Errorf("provider account %s: provider=%v admin=%v via %v", h.ProviderUser, provider.Provider, provider.Admin, provider.AdminVia)
			}
			if !admin.Admin || admin.Provider {
				t.Errorf("admin account %s: admin=%v provider=%v", h.Admin, admin.Admin, admin.Provider)
			}
			if sys.Hardware == nil || sys.Hardware.CPUs == 0 || sys.Hardware.MemoryMB == 0 {
				t.Errorf("hardware not read: %+v", sys.Hardware)
			}
			if len(sys.Software) == 0 {
				t.Error("no packages read")
			}
			hasSSHD := slices.ContainsFunc(sys.Ports, func(p connector.Port) bool { return strings.HasSuffix(p.Addr, ":22") })
			if !hasSSHD {
				t.Errorf("sshd's port not among %v", sys.Ports)
			}
		})
	}
}

var _ = ssh.FingerprintSHA256
var _ = os.Getenv
var _ = plan.Actions
