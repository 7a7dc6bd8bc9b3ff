// Package proc starts the testenv's long-running servers detached from the
// `testenv up` process and stops exactly those, by the PID it recorded.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Start runs argv in its own session with stdout and stderr appended to
// logFile, records its PID in pidFile and returns it. The process outlives
// the caller.
func Start(pidFile, logFile string, env []string, argv ...string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return 0, err
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	pid := cmd.Process.Pid
	// Reap it if it dies while we are still running, so Alive sees the truth.
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, err
	}
	return pid, nil
}

// ReadPID returns the PID recorded in pidFile, or 0 if there is none.
func ReadPID(pidFile string) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// Alive reports whether pid runs and is not a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the field after the parenthesised command name
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z'
}

// Cmdline returns the command line of pid with NULs as spaces.
func Cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// Stop ends the process recorded in pidFile if it is still the one we
// started (its command line contains match), waiting up to timeout before
// SIGKILL, and removes pidFile. A missing or stale pidFile is not an error.
func Stop(pidFile, match string, timeout time.Duration) error {
	pid := ReadPID(pidFile)
	defer os.Remove(pidFile)
	if pid == 0 || !Alive(pid) {
		return nil
	}
	if match != "" && !strings.Contains(Cmdline(pid), match) {
		return nil // PID reused by something else: not ours to kill
	}
	return Kill(pid, timeout)
}

// Kill sends SIGTERM to pid, then SIGKILL after timeout.
func Kill(pid int, timeout time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !Alive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	for i := 0; i < 100 && Alive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// WaitReady polls probe until it succeeds, the process dies, or ctx ends.
// Checking the process each round means a stale server on the same port
// cannot pass for ours.
func WaitReady(ctx context.Context, pid int, logFile string, probe func(context.Context) error) error {
	var last error
	for {
		if !Alive(pid) {
			return fmt.Errorf("process %d exited during start-up; last lines of %s:\n%s", pid, logFile, Tail(logFile, 20))
		}
		if last = probe(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last probe: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Tail returns the last n lines of a file, for error messages.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
