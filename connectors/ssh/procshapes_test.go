package ssh

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shapeProcs starts, on this machine, one process of each shape an agent
// may run as, all tied to an agent installed in dir (process name
// hovagentd) by one signal each, and a process tied to nothing; it
// returns their PIDs by shape. They are ended when the test ends.
func shapeProcs(t *testing.T, dir string) map[string]int {
	t.Helper()
	for _, tool := range []string{"bash", "perl", "sleep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "agent.pl"), []byte("sleep 600;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sleep, _ := exec.LookPath("sleep")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "helper"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	shapes := []struct{ name, cwd, script string }{
		{"interpreter", "/", "exec perl " + dir + "/agent.pl"},
		{"exec -a", "/", "exec -a /usr/lib/elsewhere/hovagentd sleep 600"},
		{"deleted exe", "/", "exec -a sleeper " + dir + "/helper 600"},
		{"cwd", dir, "exec -a idle sleep 600"},
		{"open file", "/", "exec 3<" + dir + "/data; exec -a idle sleep 600"},
		{"unrelated", "/", "exec -a idle sleep 600"},
	}
	pids := map[string]int{}
	for _, s := range shapes {
		cmd := exec.Command("bash", "-c", s.script)
		cmd.Dir = s.cwd
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pids[s.name] = cmd.Process.Pid
		go cmd.Wait() // reaped once ended: no zombie is left to be seen
		t.Cleanup(func() { cmd.Process.Kill() })
	}
	time.Sleep(300 * time.Millisecond) // each has exec'd its program
	if err := os.Remove(filepath.Join(dir, "helper")); err != nil {
		t.Fatal(err)
	}
	return pids
}

func shapeAgent(dir string) Agent {
	return Agent{Name: "hovagent", Processes: []string{"hovagentd"}, Units: []string{"hovagent.service"}, Paths: []string{dir}}
}

// TestInventoryProcessShapes runs the inventory script on this machine:
// each shape's process is attributed to the agent by its signal, the
// unrelated one is not.
func TestInventoryProcessShapes(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("reads other processes' /proc as root")
	}
	dir := t.TempDir()
	pids := shapeProcs(t, dir)
	a := shapeAgent(dir)
	out, err := exec.Command("sh", "-c", inventoryScript(&Catalog{Agents: []Agent{a}}, map[string]string{"x": "y"})).Output()
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseInventory(out)
	if err != nil {
		t.Fatal(err)
	}
	m := findAgent(h, a)
	got := map[int][]string{}
	for _, p := range m.Processes {
		got[p.PID] = p.Signals
	}
	for shape, want := range map[string]string{"interpreter": "cmdline", "exec -a": "cmdline", "deleted exe": "exe", "cwd": "cwd", "open file": "fd"} {
		if !slices.Contains(got[pids[shape]], want) {
			t.Errorf("%s (pid %d): signals %v, want %s", shape, pids[shape], got[pids[shape]], want)
		}
	}
	if s := got[pids["deleted exe"]]; !slices.Contains(s, "maps") {
		t.Errorf("deleted exe: signals %v, want its mapping too", s)
	}
	if s, ok := got[pids["unrelated"]]; ok {
		t.Errorf("an unrelated process is the agent's, by %v", s)
	}
	if len(got) != 5 {
		t.Errorf("%d processes attributed, want 5: %v", len(got), got)
	}
}

// TestRemovalEndsProcessShapes runs remove_agents' ending of processes
// with the local shells: every shape's process is found and ended, the
// unrelated one lives on, and nothing is left.
func TestRemovalEndsProcessShapes(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("reads other processes' /proc as root")
	}
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) {
			dir := t.TempDir()
			pids := shapeProcs(t, dir)
			a := shapeAgent(dir)
			var b batch
			b.set("agents", "s0")
			b.set("procs_s0", strings.Join(a.Processes, "\n"))
			b.set("ppaths_s0", strings.Join(a.Paths, "\n"))
			b.set("cgunits_s0", strings.Join(a.Units, "\n"))
			b.body.WriteString(`soh=$(printf '\001'); scan; echo "found:$pids_s0"` + "\n")
			b.call("end_processes")
			b.body.WriteString(`echo "left:$left_s0"` + "\n")
			b.agents = true
			cmd := exec.Command(sh, "-s")
			cmd.Stdin = strings.NewReader(b.script())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("script: %v\n%s", err, out)
			}
			var found, left []string
			for _, l := range strings.Split(string(out), "\n") {
				if v, ok := strings.CutPrefix(l, "found:"); ok {
					found = strings.Fields(v)
				}
				if v, ok := strings.CutPrefix(l, "left:"); ok {
					left = strings.Fields(v)
				}
			}
			for shape, pid := range pids {
				want := shape != "unrelated"
				if slices.Contains(found, strconv.Itoa(pid)) != want {
					t.Errorf("%s (pid %d): found %v, want %v\n%s", shape, pid, !want, want, out)
				}
				alive := exec.Command("kill", "-0", strconv.Itoa(pid)).Run() == nil
				if alive == want {
					t.Errorf("%s (pid %d): alive %v after the removal\n%s", shape, pid, alive, out)
				}
			}
			if len(found) != 5 || len(left) != 0 {
				t.Errorf("found %v, left %v\n%s", found, left, out)
			}
			if !strings.Contains(string(out), "sent TERM to") {
				t.Errorf("no TERM logged:\n%s", out)
			}
		})
	}
}
