package ssh

import (
	"slices"
	"testing"
)

// TestProcSignals ties a process to an agent by each of its attributes
// on its own: an interpreter running the agent's script, an exec -a
// name, a deleted executable, a working directory, an open file, a
// mapped file, the unit's cgroup; and ties no other process.
func TestProcSignals(t *testing.T) {
	tv := Agent{Name: "teamviewer", Processes: []string{"teamviewerd", "TeamViewer"}, Units: []string{"teamviewerd.service"}, Paths: []string{"/opt/teamviewer", "/opt/tv-*"}}
	for _, tc := range []struct {
		name string
		p    procInfo
		want []string
	}{
		{"daemon", procInfo{Comm: "teamviewerd", Exe: "/opt/teamviewer/tv_bin/teamviewerd", Argv: []string{"/opt/teamviewer/tv_bin/teamviewerd", "-d"}},
			[]string{"comm", "exe", "cmdline"}},
		{"interpreter", procInfo{Comm: "python3", Exe: "/usr/bin/python3.11", Argv: []string{"python3", "/opt/teamviewer/tv_bin/agent.py"}, Cwd: "/"},
			[]string{"cmdline"}},
		{"exec -a name", procInfo{Comm: "sleep", Exe: "/usr/bin/sleep", Argv: []string{"/opt/elsewhere/TeamViewer", "600"}},
			[]string{"cmdline"}},
		{"wrapper", procInfo{Comm: "sh", Exe: "/usr/bin/dash", Argv: []string{"sh", "-c", "while :; do JAVA_HOME=/x java -jar '/opt/tv-7/agent.jar'; sleep 5; done"}},
			[]string{"cmdline"}},
		{"option value", procInfo{Comm: "java", Exe: "/usr/lib/jvm/bin/java", Argv: []string{"java", "--classpath=/opt/teamviewer/lib"}},
			[]string{"cmdline"}},
		{"deleted executable", procInfo{Comm: "tvhelper", Exe: "/opt/teamviewer/tv_bin/tvhelper (deleted)", Argv: []string{"sleeper", "600"}, Maps: []string{"/opt/teamviewer/tv_bin/tvhelper (deleted)"}},
			[]string{"exe", "maps"}},
		{"cwd", procInfo{Comm: "sleep", Exe: "/usr/bin/sleep", Argv: []string{"idle"}, Cwd: "/opt/teamviewer/tv_bin"},
			[]string{"cwd"}},
		{"open file", procInfo{Comm: "mono", Exe: "/usr/bin/mono", Argv: []string{"mono"}, FDs: []string{"/opt/tv-2/log/agent.log (deleted)"}},
			[]string{"fd"}},
		{"cgroup", procInfo{Comm: "sleep", Exe: "/usr/bin/sleep", Argv: []string{"idle"}, Cgroups: []string{"/system.slice/teamviewerd.service"}},
			[]string{"cgroup"}},
		{"another's", procInfo{Comm: "vi", Exe: "/usr/bin/vim", Argv: []string{"vi", "/opt/teamviewer-notes.txt", "teamviewerd", "/home/x/teamviewerd"}, Cwd: "/opt", Maps: []string{"/usr/lib/libc.so.6"}, Cgroups: []string{"/system.slice/ssh.service", "/user.slice/teamviewerd.service.d"}},
			nil},
		{"kernel thread", procInfo{Comm: "kworker/0:1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := procSignals(tv, tc.p); !slices.Equal(got, tc.want) {
				t.Errorf("procSignals = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAgentGoneNeedsItsObservations: a re-inventory that did not read the
// package database, systemd's units or the process table proves nothing
// absent; one that read them and found the agent's process fails too.
func TestAgentGoneNeedsItsObservations(t *testing.T) {
	tv := Agent{Name: "teamviewer", Processes: []string{"teamviewerd"}, Units: []string{"teamviewerd.service"}, Paths: []string{"/opt/teamviewer"}}
	read := func() *hostData {
		return &hostData{PkgMgrs: []string{"apt-get", "dpkg"}, Packages: []pkgInfo{{Name: "bash", State: "ii"}}, Systemd: true,
			UnitFiles: []unitFile{{Name: "ssh.service"}}, LiveUnits: map[string]unitState{"ssh.service": {}},
			Procs: []procInfo{{PID: 1, Comm: "systemd"}}}
	}
	ok := func(h *hostData) []bool {
		var out []bool
		for _, c := range agentGone(h, tv) {
			out = append(out, c.ok)
		}
		return out
	}
	if got := ok(read()); !slices.Equal(got, []bool{true, true, true, true}) {
		t.Errorf("clean host: %v", got)
	}
	h := read()
	h.Packages, h.LiveUnits, h.Procs = nil, nil, nil
	if got := ok(h); !slices.Equal(got, []bool{false, false, false, true}) {
		t.Errorf("nothing read: %v", got)
	}
	h = read()
	h.Procs = append(h.Procs, procInfo{PID: 9, Comm: "sleep", Argv: []string{"idle"}, Cwd: "/opt/teamviewer"})
	if got := ok(h); !slices.Equal(got, []bool{true, true, false, true}) {
		t.Errorf("a process left in the agent's directory: %v", got)
	}
}
