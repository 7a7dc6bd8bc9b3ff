// Command measure runs one benchmark command and records what it cost, and
// prints the side-by-side table of several such records.
//
//	measure run -label NAME -o FILE [-servers fleet:N|ldap|vault] -- COMMAND [ARG...]
//	measure table -floor A.json -handover B.json -ansible C.json [-floor-kex F.json] [-inventory B0.json] [-ldap L.json] [-json OUT.json] [-md OUT.md]
//
// "run" makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so
// processes that detach from the command, such as the ControlPersist
// masters Ansible's ssh leaves running, are reparented to it rather than to
// init. When the command exits, those stragglers are stopped and reaped, so
// getrusage(RUSAGE_CHILDREN) covers every process the command started,
// detached ones included. Beside that controller-side CPU, it records the
// CPU the servers spent (the fleet's sshd are PID 1 of their hosts and reap
// every session, so their cumulative times include all work done on the
// hosts), the machine's whole busy CPU (to show what else ran meanwhile),
// the largest single process's peak RSS and the peak of the command's
// whole process tree, sampled.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoverhq/handover/testenv"
)

// userHZ is the unit of the times in /proc/PID/stat and /proc/stat: the
// kernel exports them in USER_HZ, 100 on Linux whatever CONFIG_HZ is.
const userHZ = 100

// Record is one measured command.
type Record struct {
	Label    string    `json:"label"`
	Command  []string  `json:"command"`
	Started  time.Time `json:"started"`
	ExitCode int       `json:"exit_code"`
	WallS    float64   `json:"wall_s"`
	// Controller side: the command and every process it started.
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
	CPUS  float64 `json:"cpu_s"`
	// MaxRSSMB is the peak RSS of the largest single process (ru_maxrss);
	// TreeRSSMB the peak, sampled every 250 ms, of the sum over the tree.
	MaxRSSMB  float64 `json:"max_rss_mb"`
	TreeRSSMB float64 `json:"tree_peak_rss_mb"`
	// Stragglers is how many detached processes were still running when
	// the command exited (and were stopped and counted).
	Stragglers int `json:"stragglers"`
	// Server side: what the targets spent (fleet sshd and every session
	// and command under them, or slapd).
	Servers    string  `json:"servers,omitempty"`
	ServerCPUS float64 `json:"server_cpu_s"`
	// MachineCPUS is the whole machine's busy CPU time over the run: above
	// cpu_s + server_cpu_s is what else ran meanwhile.
	MachineCPUS float64 `json:"machine_cpu_s"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: measure run|table [flags]")
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCommand(ctx, args[1:], stderr)
	case "table":
		err = tableCommand(args[1:], stdout, stderr)
	default:
		err = fmt.Errorf("unknown command %q (run, table)", args[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "measure:", err)
		return 1
	}
	return 0
}

func runCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("measure run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	label := fs.String("label", "", "name of the measurement")
	out := fs.String("o", "", "file to write the JSON record to")
	servers := fs.String("servers", "", "server CPU to count: fleet:N (the first N hosts' sshd), ldap (slapd) or vault")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *label == "" || *out == "" || fs.NArg() == 0 {
		return errors.New("need -label, -o and a command after --")
	}
	pids, err := serverPIDs(*servers)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}

	rec := Record{Label: *label, Command: fs.Args(), Servers: *servers}
	serverBefore, err := procCPU(pids)
	if err != nil {
		return err
	}
	machineBefore, err := machineBusy()
	if err != nil {
		return err
	}

	cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	// Stopping the command on a signal also stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	rec.Started = time.Now().UTC()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", fs.Arg(0), err)
	}
	sampled := make(chan int64, 1)
	done := make(chan struct{})
	go func() { sampled <- sampleTreeRSS(os.Getpid(), done) }()
	waitErr := cmd.Wait()
	rec.WallS = time.Since(start).Seconds()
	rec.ExitCode = cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return fmt.Errorf("wait for %s: %w", fs.Arg(0), waitErr)
	}
	rec.Stragglers = stopStragglers(os.Getpid())
	close(done)
	rec.TreeRSSMB = float64(<-sampled) / (1 << 20)

	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	rec.UserS = tvSeconds(ru.Utime)
	rec.SysS = tvSeconds(ru.Stime)
	rec.CPUS = rec.UserS + rec.SysS
	rec.MaxRSSMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux

	// Sessions on the hosts end a moment after their client is gone.
	time.Sleep(time.Second)
	serverAfter, err := procCPU(pids)
	if err != nil {
		return fmt.Errorf("server CPU after the run (did a server restart?): %w", err)
	}
	rec.ServerCPUS = float64(serverAfter-serverBefore) / userHZ
	machineAfter, err := machineBusy()
	if err != nil {
		return err
	}
	rec.MachineCPUS = float64(machineAfter-machineBefore) / userHZ

	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "measure: %s: exit %d, %.2f s wall, %.2f s CPU (+%.2f s on the servers), max RSS %.1f MB\n",
		rec.Label, rec.ExitCode, rec.WallS, rec.CPUS, rec.ServerCPUS, rec.MaxRSSMB)
	return nil
}

func tvSeconds(tv unix.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// serverPIDs resolves -servers from env.json.
func serverPIDs(spec string) ([]int, error) {
	if spec == "" {
		return nil, nil
	}
	env, err := testenv.Load()
	if err != nil {
		return nil, err
	}
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "fleet":
		n, err := strconv.Atoi(arg)
		if err != nil || env.Fleet == nil || n < 1 || n > len(env.Fleet.Hosts) {
			return nil, fmt.Errorf("-servers %s: need fleet:N with N at most the fleet's size", spec)
		}
		var pids []int
		for i, h := range env.Fleet.Hosts[:n] {
			pid, err := hostPID(env.Dir, i+1, h)
			if err != nil {
				return nil, err
			}
			pids = append(pids, pid)
		}
		return pids, nil
	case "ldap":
		if env.LDAP == nil {
			return nil, errors.New("-servers ldap: env.json has no ldap")
		}
		return []int{env.LDAP.PID}, nil
	case "vault":
		if env.Vault == nil {
			return nil, errors.New("-servers vault: env.json has no vault")
		}
		return []int{env.Vault.PID}, nil
	}
	return nil, fmt.Errorf("-servers %s: want fleet:N, ldap or vault", spec)
}

// hostPID is the PID of host i's sshd. A host restarted alone (tests
// reset one host at a time) gets a new PID in its pid file, not always in
// env.json: the pid file is read first, and the process must be that
// host's sshd.
func hostPID(dir string, i int, h testenv.Host) (int, error) {
	addr, _, _ := strings.Cut(h.Addr, ":")
	candidates := []int{h.PID}
	if b, err := os.ReadFile(filepath.Join(dir, "fleet", "hosts", fmt.Sprintf("h%03d", i), "sshd.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			candidates = append([]int{pid}, candidates...)
		}
	}
	for _, pid := range candidates {
		// sshd rewrites its command line ("sshd: /usr/sbin/sshd -D ...
		// ListenAddress=127.0.1.1 [listener] ..."): compare words.
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		words := strings.FieldsFunc(string(cmdline), func(r rune) bool { return r == 0 || r == ' ' })
		if slices.Contains(words, "ListenAddress="+addr) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("host %s (%s): no running sshd (pids tried: %v)", h.Name, addr, candidates)
}

// procCPU sums utime, stime, cutime and cstime of pids, in USER_HZ ticks.
func procCPU(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The command name, field 2, may hold spaces: count after its ')'.
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		// f[0] is field 3 (state); utime..cstime are fields 14..17.
		if len(f) < 15 {
			return 0, fmt.Errorf("/proc/%d/stat: short", pid)
		}
		for _, s := range f[11:15] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
			}
			total += v
		}
	}
	return total, nil
}

// machineBusy is the machine's busy CPU time in USER_HZ ticks: every
// column of /proc/stat's cpu line but idle and iowait (guest time is
// already in user).
func machineBusy() (int64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, errors.New("/proc/stat: empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", sc.Text())
	}
	var busy int64
	for i, s := range fields[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += v
	}
	return busy, nil
}

// children lists pid's children, over all its threads: a process
// reparented to a subreaper may be listed under any of them.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended
		}
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// treeRSS is the summed RSS of pid's descendants, in bytes.
func treeRSS(pid int) int64 {
	var total int64
	page := int64(os.Getpagesize())
	for _, c := range children(pid) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", c)); err == nil {
			if f := strings.Fields(string(b)); len(f) > 1 {
				if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					total += v * page
				}
			}
		}
		total += treeRSS(c)
	}
	return total
}

// sampleTreeRSS samples treeRSS(pid) until done is closed and returns the
// peak. Walking only this tree keeps the sampler's own cost small.
func sampleTreeRSS(pid int, done <-chan struct{}) int64 {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var peak int64
	for {
		if v := treeRSS(pid); v > peak {
			peak = v
		}
		select {
		case <-done:
			return peak
		case <-t.C:
		}
	}
}

// stopStragglers stops what the command left running (ControlPersist
// masters would otherwise idle for a minute) and reaps every orphan, so
// their CPU time joins RUSAGE_CHILDREN. It returns how many were running.
func stopStragglers(self int) int {
	running := 0
	for _, c := range children(self) {
		if state(c) != "Z" {
			running++
		}
		_ = syscall.Kill(c, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return running
		case err != nil && !errors.Is(err, unix.EINTR):
			return running
		case pid > 0:
			continue
		}
		if time.Now().After(deadline) {
			for _, c := range children(self) {
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func state(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(string(b), ')')
	if f := strings.Fields(string(b[i+1:])); len(f) > 0 {
		return f[0]
	}
	return ""
}
