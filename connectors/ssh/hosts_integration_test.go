package ssh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestRPMHost runs the whole job on the fleet's RHEL-family host (rpm and
// dnf, no dpkg, the admin in wheel, root's crontab in /var/spool/cron):
// every planted artefact found and attributed, the packaged agent removed
// by the host's package manager (dnf) and proven gone by re-inventory and
// by rpm itself, passwords rotated and proven, and nothing left to plan.
func TestRPMHost(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || e.Fleet.RPMHost == nil {
		t.Fatal("testenv has no RHEL-family host: run bin/testenv up -only fleet")
	}
	h := *e.Fleet.RPMHost
	t.Cleanup(func() { resetFleet(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, _, inv := plantedInventory(t, ctx, e, h)
	sys := inv.Systems[0]
	if t.Failed() {
		t.FailNow()
	}
	var os string
	for _, f := range sys.Facts {
		if f.Name == "os" {
			os = f.Value
		}
	}
	if !strings.HasPrefix(os, "Rocky Linux") {
		t.Errorf("os %q, want Rocky Linux's os-release", os)
	}
	if !slices.ContainsFunc(sys.Software, func(p connector.Package) bool {
		return p.Name == "teamviewer" && strings.HasSuffix(p.Version, ".el9")
	}) {
		t.Errorf("the teamviewer rpm is not among the packages: %v", sys.Software)
	}
	for _, a := range sys.Accounts {
		if a.Name == h.Admin && !slices.Contains(a.AdminVia, "wheel group") {
			t.Errorf("%s is an admin via %v, want the wheel group", a.Name, a.AdminVia)
		}
	}

	_, tg, _ := runEngine(t, e, []testenv.Host{h}, "")
	ip := strings.TrimSuffix(h.Addr, ":22")
	out, err := rootSSH(e, ip, "rpm -q teamviewer; pgrep -x teamviewerd; ls /opt/teamviewer /usr/lib/systemd/system/teamviewerd.service")
	if err == nil || !strings.Contains(string(out), "package teamviewer is not installed") {
		t.Errorf("teamviewer is still on the host:\n%s", out)
	}
	// Removed by the host's package manager, which logs what it erased.
	out, err = rootSSH(e, ip, "cat /var/log/dnf.rpm.log")
	if err != nil || !strings.Contains(string(out), "teamviewer") {
		t.Errorf("dnf did not remove teamviewer (%v):\n%s", err, out)
	}
	checkHandedOver(t, ctx, e, h, tg)
}

// TestSystemdHost runs the whole job on the fleet's systemd host, booted
// as a real server is: systemd is PID 1, started sshd and the agents'
// units, and restarts an agent that dies (Restart=always). The inventory
// reads the running units from systemd; the removal stops and disables
// them through systemctl, so that none comes back and no unit is left
// failed; the host's manager ends the run as healthy as it started.
func TestSystemdHost(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	if out, err := rootSSH(e, ip, "cat /proc/1/comm; systemctl is-system-running"); err != nil || string(out) != "systemd\nrunning\n" {
		t.Fatalf("the systemd host is not booted by a healthy systemd (%v):\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, _, inv := plantedInventory(t, ctx, e, h)
	sys := inv.Systems[0]
	if !slices.ContainsFunc(sys.Facts, func(f connector.Fact) bool { return f.Name == "systemd" && f.Value == "running" }) {
		t.Errorf("systemd not reported running: %v", sys.Facts)
	}
	var units []string
	for _, a := range h.AgentDetails {
		if !a.Running {
			continue
		}
		units = append(units, a.Unit)
		if !slices.ContainsFunc(sys.Services, func(s connector.Service) bool { return s.Name == a.Unit && s.Running && s.Enabled }) {
			t.Errorf("service %s not reported enabled and running (from systemd): %v", a.Unit, sys.Services)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	_, tg, _ := runEngine(t, e, []testenv.Host{h}, "")
	// Past the units' RestartSec (5 s): a unit killed rather than stopped
	// would be running again, or failed.
	time.Sleep(6 * time.Second)
	out, err := rootSSH(e, ip, "systemctl is-system-running; systemctl --failed --no-legend --plain; systemctl show -p Id,LoadState,ActiveState "+strings.Join(units, " ")+
		"; for p in "+strings.Join(agentDaemons(h), " ")+"; do pgrep -x $p && echo running: $p; done; dpkg -l teamviewer anydesk 2>&1 | grep '^[a-z][a-z] ' || echo no-packages")
	got := string(out)
	if err != nil || !strings.HasPrefix(got, "running\n") || strings.Contains(got, "running:") || !strings.Contains(got, "no-packages") {
		t.Errorf("after the run (%v):\n%s", err, got)
	}
	for _, u := range units {
		if !strings.Contains(got, "Id="+u+"\nLoadState=not-found\nActiveState=inactive") && !strings.Contains(got, "LoadState=not-found\nActiveState=inactive\nId="+u) {
			t.Errorf("unit %s is still known to systemd:\n%s", u, got)
		}
	}
	checkHandedOver(t, ctx, e, h, tg)
}

// TestSystemdUnitWithoutFile: an agent whose unit file is gone while
// systemd still runs it (deleted by hand, no reload since: systemd keeps
// the unit and restarts it when it dies) is found by the unit systemd
// holds, stopped through systemd and forgotten by it, not merely killed.
func TestSystemdUnitWithoutFile(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	const unit = "ninjarmm-agent.service"
	if out, err := rootSSH(e, ip, "rm /etc/systemd/system/"+unit+" /etc/systemd/system/multi-user.target.wants/"+unit+" && systemctl show -p LoadState,ActiveState "+unit); err != nil || string(out) != "LoadState=loaded\nActiveState=active\n" {
		t.Fatalf("unit file removed behind systemd's back (%v):\n%s", err, out)
	}
	tg := configure(t, e, fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {key_file: %s}\nknown_hosts: %s\n",
		h.Name, ip, e.Fleet.OperatorKey, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
	remove := plannedChange(t, tg, plan.RemoveAgent, "ninjarmm")
	if !strings.Contains(remove.Before+" "+remove.Params["units"], unit) {
		t.Errorf("the removal does not name %s: %s %v", unit, remove.Before, remove.Params)
	}
	ctx := context.Background()
	if res := tg.Apply(ctx, h.Name, []plan.Change{remove}, nil).Results[0]; res.Err != nil {
		t.Fatalf("remove ninjarmm: %v", res.Err)
	} else if !strings.Contains(res.Detail, "stopped and disabled "+unit) {
		t.Errorf("the unit was not stopped through systemd: %s", res.Detail)
	}
	checks, err := tg.Verify(ctx, h.Name, done([]plan.Change{remove}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
	time.Sleep(6 * time.Second) // past RestartSec
	out, err := rootSSH(e, ip, "systemctl is-system-running; systemctl show -p LoadState,ActiveState "+unit+"; pgrep -x ninjarmm-linage || echo no-process")
	if err != nil || string(out) != "running\nLoadState=not-found\nActiveState=inactive\nno-process\n" {
		t.Errorf("after the removal (%v):\n%s", err, out)
	}
}

// TestProviderUnitOfItsOwn: the provider left a supervision job of its own
// as a systemd service and timer (no catalogue entry knows it). The
// inventory reports both as the provider's; with a catalogue extension
// describing the job, it is removed like any agent: timer stopped and
// disabled, files gone, systemd healthy, re-inventory clean.
func TestProviderUnitOfItsOwn(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	script := `printf '[Unit]\nDescription=Supervision\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/prestanet-check\n' > /etc/systemd/system/prestanet-supervision.service &&
printf '[Timer]\nOnBootSec=1min\nOnUnitActiveSec=5min\n[Install]\nWantedBy=timers.target\n' > /etc/systemd/system/prestanet-supervision.timer &&
printf '#!/bin/sh\necho ok\n' > /usr/local/bin/prestanet-check && chmod 755 /usr/local/bin/prestanet-check &&
systemctl daemon-reload && systemctl enable --now prestanet-supervision.timer 2>/dev/null && systemctl is-active prestanet-supervision.timer`
	if out, err := rootSSH(e, ip, script); err != nil || string(out) != "active\n" {
		t.Fatalf("plant the provider's job (%v):\n%s", err, out)
	}
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	sys := okInventory(t, tg).Systems[0]
	for _, u := range []string{"prestanet-supervision.service", "prestanet-supervision.timer"} {
		i := slices.IndexFunc(sys.Findings, func(f connector.Finding) bool { return f.ID == "service:"+u })
		if i < 0 || !sys.Findings[i].Provider {
			t.Errorf("the provider's %s is not reported as the provider's: %v", u, findingsOf(sys, connector.KindService))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	ext := filepath.Join(t.TempDir(), "agents-extra.yaml")
	if err := os.WriteFile(ext, []byte(`agents:
  - name: prestanet-supervision
    title: Prestanet supervision job
    vendor: Prestanet Informatique
    source: https://prestanet.test/supervision
    packages: []
    units: [prestanet-supervision.service]
    processes: [prestanet-check]
    paths: [/usr/local/bin/prestanet-check]
    configs: []
    cron: []
    timers: [prestanet-supervision.timer]
    removal:
      purge: false
      uninstaller: ""
      files: [/usr/local/bin/prestanet-check]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tg = configure(t, e, operatorSettings(e, h)+"catalog: "+ext+"\n", secret.NewMemoryStore(), nil)
	remove := plannedChange(t, tg, plan.RemoveAgent, "prestanet-supervision")
	if res := tg.Apply(context.Background(), h.Name, []plan.Change{remove}, nil).Results[0]; res.Err != nil {
		t.Fatalf("remove: %v", res.Err)
	}
	checks, err := tg.Verify(context.Background(), h.Name, done([]plan.Change{remove}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
	out, err := rootSSH(e, ip, "systemctl is-system-running; systemctl show -p LoadState prestanet-supervision.timer prestanet-supervision.service; ls /usr/local/bin/prestanet-check 2>&1")
	if err == nil || !strings.HasPrefix(string(out), "running\nLoadState=not-found\n\nLoadState=not-found\n") || !strings.Contains(string(out), "No such file") {
		t.Errorf("after the removal (%v):\n%s", err, out)
	}
	for _, f := range findingsOf(okInventory(t, tg).Systems[0], connector.KindService) {
		if strings.HasPrefix(f.Object, "prestanet-supervision.") {
			t.Errorf("still reported: %v", f)
		}
	}
}

// TestRPMHostPackageManagers removes the RHEL-family host's packaged agent
// where dnf is not the tool at hand: yum alone (as on RHEL 7, or RHEL 8+
// where yum is dnf under its old name), and rpm alone (a minimal image).
// Each time the agent's package is gone, by rpm's own account and by
// re-inventory.
func TestRPMHostPackageManagers(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	if e.Fleet == nil || e.Fleet.RPMHost == nil {
		t.Fatal("testenv has no RHEL-family host: run bin/testenv up -only fleet")
	}
	h := *e.Fleet.RPMHost
	ip := strings.TrimSuffix(h.Addr, ":22")
	t.Cleanup(func() { resetFleet(t) })
	for _, tc := range []struct {
		name, prepare string
		byDnf         bool // dnf's log records the erase
	}{
		{"yum", "mv /usr/bin/dnf /usr/bin/dnf.hidden && ln -s dnf-3 /usr/bin/yum", true},
		{"rpm", "mv /usr/bin/dnf /usr/bin/dnf.hidden", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetFleet(t)
			if out, err := rootSSH(e, ip, tc.prepare); err != nil {
				t.Fatalf("%s: %v\n%s", tc.prepare, err, out)
			}
			tg := configure(t, e, fmt.Sprintf("hosts: [{name: %s, address: %s}]\nauth: {key_file: %s}\nknown_hosts: %s\n",
				h.Name, ip, e.Fleet.OperatorKey, e.Fleet.KnownHosts), secret.NewMemoryStore(), nil)
			ctx := context.Background()
			remove := []plan.Change{plannedChange(t, tg, plan.RemoveAgent, "teamviewer")}
			if res := tg.Apply(ctx, h.Name, remove, nil).Results[0]; res.Err != nil {
				t.Fatalf("remove teamviewer: %v", res.Err)
			}
			checks, err := tg.Verify(ctx, h.Name, done(remove), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range checks {
				if !c.OK {
					t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
				}
			}
			out, _ := rootSSH(e, ip, "rpm -q teamviewer; cat /var/log/dnf.rpm.log 2>/dev/null")
			if !strings.Contains(string(out), "package teamviewer is not installed") {
				t.Errorf("rpm still has teamviewer:\n%s", out)
			}
			if logged := strings.Contains(string(out), "Erase: teamviewer"); logged != tc.byDnf {
				t.Errorf("dnf's log records the erase: %v, want %v:\n%s", logged, tc.byDnf, out)
			}
		})
	}
}
