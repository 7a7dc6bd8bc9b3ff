package ssh

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// plantProcs runs script on the host as root; each line it prints is
// "NAME PID" for a process it started. They are returned by name.
func plantProcs(t *testing.T, e *testenv.Env, ip, script string) map[string]int {
	t.Helper()
	out, err := rootSSH(e, ip, script)
	if err != nil {
		t.Fatalf("plant the processes (%v):\n%s", err, out)
	}
	pids := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, pid, _ := strings.Cut(l, " ")
		n, err := strconv.Atoi(pid)
		if err != nil {
			t.Fatalf("plant the processes: %q", out)
		}
		pids[name] = n
	}
	return pids
}

// procSignalsOn reads the host (a fresh inventory) and returns the signals
// that tie each process to agent, by PID.
func procSignalsOn(t *testing.T, tg *target, h testenv.Host, agent string) map[int][]string {
	t.Helper()
	data, err := tg.readHost(context.Background(), tg.s.Hosts[0], false)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tg.catalog.Lookup(agent)
	got := map[int][]string{}
	for _, p := range findAgent(data, a).Processes {
		got[p.PID] = p.Signals
	}
	return got
}

// running tells, for each PID, whether the process still runs on the host
// (a zombie does not).
func running(t *testing.T, e *testenv.Env, ip string, pids map[string]int) map[string]bool {
	t.Helper()
	var list []string
	for _, p := range pids {
		list = append(list, strconv.Itoa(p))
	}
	out, err := rootSSH(e, ip, "for p in "+strings.Join(list, " ")+"; do s=$(sed -n 's/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p' /proc/$p/status 2>/dev/null); echo \"$p ${s:-gone}\"; done")
	if err != nil {
		t.Fatalf("read the processes' states (%v):\n%s", err, out)
	}
	state := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pid, s, _ := strings.Cut(l, " ")
		state[pid] = s
	}
	alive := map[string]bool{}
	for name, p := range pids {
		s := state[strconv.Itoa(p)]
		alive[name] = s != "gone" && s != "Z"
	}
	return alive
}

// removeAndVerify removes agent from the target's one host and returns
// the removal's result and Verify's checks.
func removeAndVerify(t *testing.T, tg *target, h testenv.Host, agent string) (connector.ChangeResult, []connector.Check) {
	t.Helper()
	remove := plannedChange(t, tg, plan.RemoveAgent, agent)
	ctx := context.Background()
	applied := tg.Apply(ctx, h.Name, []plan.Change{remove}, nil)
	checks, err := tg.Verify(ctx, h.Name, done([]plan.Change{remove}), applied.After)
	if err != nil {
		t.Fatal(err)
	}
	return applied.Results[0], checks
}

func processCheck(t *testing.T, checks []connector.Check, agent string) connector.Check {
	t.Helper()
	i := slices.IndexFunc(checks, func(c connector.Check) bool { return strings.HasPrefix(c.What, "agent "+agent+": no process left") })
	if i < 0 {
		t.Fatalf("no process check: %v", checks)
	}
	c := checks[i]
	for _, read := range []string{"exe", "cmdline", "cwd", "maps", "cgroups"} {
		if !strings.Contains(c.What, read) {
			t.Errorf("the process check does not say it read %s: %s", read, c.What)
		}
	}
	return c
}

// TestAgentProcessShapes: TeamViewer's install directory on the first
// fleet host runs processes of every shape an agent takes besides its
// daemon: interpreters (python3, perl) running a script of it, a process
// under an exec -a name of it, one whose executable (under it) was deleted
// after it started, one that only has its working directory there, one
// that only holds a file of it open, one that only maps a file of it. The
// inventory ties each to TeamViewer by that signal. The proof (Verify's
// process check, which reads every process's exe, cmdline, cwd, fds, maps
// and cgroups) fails while all of them run, and still fails, naming it,
// while a single one is left; the removal ends them all, and only then
// does the proof pass. A process tied to nothing runs on.
//
// (The unit cgroup's shape is TestAgentProcessInUnitCgroup's, on the
// systemd host.)
func TestAgentProcessShapes(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	shapes := map[string][]string{
		"python":      {"cmdline"},
		"perl":        {"cmdline"},
		"exec-a":      {"cmdline"},
		"deleted-exe": {"exe", "maps"},
		"cwd":         {"cwd"},
		"open-file":   {"fd"},
		"mapped-file": {"maps"},
		"unrelated":   nil,
	}
	pids := plantProcs(t, e, ip, `set -e
d=/opt/teamviewer/tv_bin
test -d $d
cd /
printf 'import time\ntime.sleep(600)\n' > $d/agent.py
printf 'sleep 600;\n' > $d/agent.pl
cp /bin/sleep $d/tvhelper
head -c 4096 /dev/zero > $d/tv.dat
setsid python3 $d/agent.py </dev/null >/dev/null 2>&1 & echo python $!
setsid perl $d/agent.pl </dev/null >/dev/null 2>&1 & echo perl $!
setsid bash -c 'exec -a TeamViewer_Desk sleep 600' </dev/null >/dev/null 2>&1 & echo exec-a $!
setsid bash -c "exec -a sleeper $d/tvhelper 600" </dev/null >/dev/null 2>&1 & echo deleted-exe $!
cd /opt/teamviewer
setsid bash -c 'exec -a idle sleep 600' </dev/null >/dev/null 2>&1 & echo cwd $!
cd /
setsid bash -c "exec 3<$d/agent.py; exec -a idle sleep 600" </dev/null >/dev/null 2>&1 & echo open-file $!
setsid bash -c 'exec -a idle sleep 600' </dev/null >/dev/null 2>&1 & echo unrelated $!
sleep 0.5
rm $d/tvhelper`)
	// The mapped file: mapped with the C library's mmap, its descriptor
	// closed (Python's own mmap keeps a duplicate), its path in the
	// environment only (which no signal reads): tied by maps alone.
	mapped := plantProcs(t, e, ip, `set -e
cd /
TVDAT=/opt/teamviewer/tv_bin/tv.dat setsid python3 -c '
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open(os.environ["TVDAT"], os.O_RDONLY)
if libc.mmap(None, 4096, 1, 1, fd, 0) in (None, ctypes.c_void_p(-1).value):
    raise SystemExit("mmap failed")
os.close(fd)
time.sleep(600)' </dev/null >/dev/null 2>&1 & echo mapped-file $!
sleep 0.5`)
	pids["mapped-file"] = mapped["mapped-file"]
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	got := procSignalsOn(t, tg, h, "teamviewer")
	for name, want := range shapes {
		if s := got[pids[name]]; !slices.Equal(s, want) {
			t.Errorf("%s (pid %d): tied to teamviewer by %v, want %v", name, pids[name], s, want)
		}
	}
	if t.Failed() {
		out, _ := rootSSH(e, ip, "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(cat $p/comm) $(readlink $p/exe) $(readlink $p/cwd) $(tr '\\0' ' ' < $p/cmdline)\"; done")
		t.Fatalf("the host's processes:\n%s", out)
	}

	// The proof, before anything is removed: it must fail, naming every
	// shape's process.
	remove := plannedChange(t, tg, plan.RemoveAgent, "teamviewer")
	ctx := context.Background()
	proof := func() connector.Check {
		t.Helper()
		checks, err := tg.Verify(ctx, h.Name, done([]plan.Change{remove}), nil)
		if err != nil {
			t.Fatal(err)
		}
		return processCheck(t, checks, "teamviewer")
	}
	c := proof()
	if c.OK {
		t.Fatalf("the process check passed while every shape runs: %s", c.Detail)
	}
	for name, p := range pids {
		if named := strings.Contains(c.Detail, strconv.Itoa(p)); named != (name != "unrelated") {
			t.Errorf("%s (pid %d): named by the failed check %v: %s", name, p, named, c.Detail)
		}
	}
	// Every shape but one ended by hand: the one left still fails it.
	var others []string
	for name, p := range pids {
		if name != "mapped-file" && name != "unrelated" {
			others = append(others, strconv.Itoa(p))
		}
	}
	if out, err := rootSSH(e, ip, "kill -9 "+strings.Join(others, " ")+"; sleep 0.3"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	if c := proof(); c.OK || !strings.Contains(c.Detail, strconv.Itoa(pids["mapped-file"])) {
		t.Errorf("with only the mapped-file process left, the process check: ok %v, %s; want failed, naming pid %d", c.OK, c.Detail, pids["mapped-file"])
	}
	// The remaining shapes started again, then the removal.
	again := plantProcs(t, e, ip, `set -e
d=/opt/teamviewer/tv_bin
cd /
setsid python3 $d/agent.py </dev/null >/dev/null 2>&1 & echo python $!
setsid bash -c 'exec -a TeamViewer_Desk sleep 600' </dev/null >/dev/null 2>&1 & echo exec-a $!
cd /opt/teamviewer
setsid bash -c 'exec -a idle sleep 600' </dev/null >/dev/null 2>&1 & echo cwd $!
cd /
setsid bash -c "exec 3<$d/agent.py; exec -a idle sleep 600" </dev/null >/dev/null 2>&1 & echo open-file $!
sleep 0.5`)
	for name, p := range again {
		pids[name+"-again"] = p
	}
	res, checks := removeAndVerify(t, tg, h, "teamviewer")
	if res.Err != nil {
		t.Errorf("remove teamviewer: %v", res.Err)
	}
	processCheck(t, checks, "teamviewer")
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
	alive := running(t, e, ip, pids)
	for name, p := range pids {
		if want := name == "unrelated"; alive[name] != want {
			t.Errorf("%s (pid %d): running %v after the removal, want %v", name, p, alive[name], want)
		}
	}
	// And the proof, made again now: passes.
	if c := proof(); !c.OK {
		t.Errorf("after the removal, the process check: %s", c.Detail)
	}
}

// TestAgentProcessRespawned: a watcher outside the agent (a script of its
// own, tied to it by nothing) starts the agent's process again whenever it
// ends. The removal sends TERM, then KILL, and still finds it: the removal
// fails, and Verify's process check fails, naming the process; it is not
// recorded as passed.
func TestAgentProcessRespawned(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	plantProcs(t, e, ip, `set -e
cd /
printf '#!/bin/sh\nwhile :; do bash -c "exec -a TeamViewer_Desk sleep 600"; sleep 0.05; done\n' > /usr/local/sbin/keepalive
chmod 755 /usr/local/sbin/keepalive
setsid /usr/local/sbin/keepalive </dev/null >/dev/null 2>&1 & echo watcher $!
sleep 0.3`)
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	res, checks := removeAndVerify(t, tg, h, "teamviewer")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "still running after KILL") {
		t.Errorf("the removal did not fail on the process that came back: %v (%s)", res.Err, res.Detail)
	}
	c := processCheck(t, checks, "teamviewer")
	if c.OK || !strings.Contains(c.Detail, "TeamViewer_Desk") {
		t.Errorf("process check: ok %v, detail %q; want failed, naming the process", c.OK, c.Detail)
	}
}

// TestAgentProcessInUnitCgroup: on the systemd host, a process tied to the
// NinjaOne agent by nothing but its place in the agent unit's cgroup is
// the agent's for the inventory; the removal ends it (systemd stops the
// unit's cgroup), and Verify passes once it is gone.
func TestAgentProcessInUnitCgroup(t *testing.T) {
	e, h, ip := systemdHostToChange(t)
	const unit = "ninjarmm-agent.service"
	pids := plantProcs(t, e, ip, fmt.Sprintf(`set -e
cd /
setsid bash -c 'exec -a idle sleep 600' </dev/null >/dev/null 2>&1 & p=$!
# The unit's cgroup in every hierarchy that has one (cgroup v2, or v1's
# named and controllers' hierarchies, hybrid or not).
for f in /sys/fs/cgroup/system.slice/%[1]s/cgroup.procs /sys/fs/cgroup/*/system.slice/%[1]s/cgroup.procs; do
	if [ -e $f ]; then echo $p > $f; fi
done
grep -q %[1]s /proc/$p/cgroup
echo in-cgroup $p`, unit))
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	if s := procSignalsOn(t, tg, h, "ninjarmm")[pids["in-cgroup"]]; !slices.Equal(s, []string{"cgroup"}) {
		out, _ := rootSSH(e, ip, fmt.Sprintf("cat /proc/%d/cgroup", pids["in-cgroup"]))
		t.Fatalf("pid %d tied to ninjarmm by %v, want its cgroup:\n%s", pids["in-cgroup"], s, out)
	}
	res, checks := removeAndVerify(t, tg, h, "ninjarmm")
	if res.Err != nil {
		t.Errorf("remove ninjarmm: %v", res.Err)
	}
	processCheck(t, checks, "ninjarmm")
	for _, c := range checks {
		if !c.OK {
			t.Errorf("re-inventory: %s: %s", c.What, c.Detail)
		}
	}
	if running(t, e, ip, pids)["in-cgroup"] {
		t.Errorf("pid %d runs on after the removal", pids["in-cgroup"])
	}
}
