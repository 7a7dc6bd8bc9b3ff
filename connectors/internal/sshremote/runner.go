package sshremote

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/crashpoint"
	"github.com/handoverhq/handover/handover/secret"
)

// Result is what a remote command produced.
type Result struct {
	Stdout, Stderr []byte
	Exit           int
}

// StdinMarker separates a sudo password from the data a command reads;
// see sudoWrapper (scripts/sudo-wrapper.sh).
const StdinMarker = "--handover-stdin--"

// Runner runs scripts on one host over an established connection, as
// root (directly or through sudo).
type Runner struct {
	Client   *ssh.Client
	Sudo     bool
	SudoPass secret.Secret // zero: NOPASSWD
}

// Script runs a POSIX sh script as root with positional args. With data
// == nil the script itself goes to sh on stdin (nothing shows in the
// host's process list); otherwise the script is the -c argument and data
// is its stdin.
func (r *Runner) Script(ctx context.Context, script string, args []string, data []byte) (Result, error) {
	var argv []string
	var in bytes.Buffer
	if data == nil {
		argv = append([]string{"/bin/sh", "-s", "--"}, args...)
	} else {
		argv = append([]string{"/bin/sh", "-c", script, "handover"}, args...)
	}
	switch {
	case r.Sudo && !r.SudoPass.IsZero():
		argv = append([]string{"sudo", "-S", "-p", "", "--", "/bin/sh", "-c", strings.TrimSuffix(sudoWrapper, "\n"), "handover"}, argv...)
		in.WriteString(r.SudoPass.Reveal())
		in.WriteString("\n" + StdinMarker + "\n")
	case r.Sudo:
		argv = append([]string{"sudo", "-n", "--"}, argv...)
	}
	if data == nil {
		in.WriteString(script)
	} else {
		in.Write(data)
	}
	defer clear(in.Bytes())
	return r.exec(ctx, ShellJoin(argv), in.Bytes())
}

// killGrace is how long a command whose time is up may take to end once
// killed, before its connection is closed under it.
const killGrace = 5 * time.Second

func (r *Runner) exec(ctx context.Context, cmd string, stdin []byte) (Result, error) {
	// Opening a session waits for the host's answer: bounded by ctx too.
	type opened struct {
		s   *ssh.Session
		err error
	}
	op := make(chan opened, 1)
	go func() {
		s, err := r.Client.NewSession()
		op <- opened{s, err}
	}()
	var sess *ssh.Session
	select {
	case o := <-op:
		if o.err != nil {
			return Result{}, fmt.Errorf("ssh session: %w", o.err)
		}
		sess = o.s
	case <-ctx.Done():
		// A host that does not even open a session is of no more use:
		// closing its connection ends the wait.
		r.Client.Close()
		if o := <-op; o.s != nil {
			o.s.Close()
		}
		return Result{}, fmt.Errorf("ssh session: the host did not answer in time: %w", ctx.Err())
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	// A test build may be killed after some of stdin was sent (crashpoint).
	sess.Stdin = crashpoint.Reader(bytes.NewReader(stdin), len(stdin))
	sess.Stdout, sess.Stderr = &out, &errb
	if err := sess.Start(cmd); err != nil {
		return Result{}, fmt.Errorf("ssh exec: %w", err)
	}
	var err error
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		select {
		case <-done:
		case <-time.After(killGrace):
			// The host answers not even the kill (a connection that went
			// silent): close the connection, so that nothing waits on it.
			r.Client.Close()
			<-done
		}
		return Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}, fmt.Errorf("remote command: the host did not answer in time: %w", ctx.Err())
	}
	res := Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Exit = ee.ExitStatus()
	default:
		return res, fmt.Errorf("remote command: %w", err)
	}
	if res.Exit == 97 || res.Exit == 98 || (r.Sudo && res.Exit == 1 && bytes.Contains(res.Stderr, []byte("sudo:"))) {
		if bytes.Contains(res.Stderr, []byte("must have a tty")) {
			return res, fmt.Errorf("sudo refused: the host's sudoers require a terminal (Defaults requiretty); handover runs without one: allow the connection user with a line 'Defaults:USER !requiretty' in a sudoers.d file")
		}
		return res, fmt.Errorf("sudo refused (exit %d): %s", res.Exit, FirstLine(res.Stderr))
	}
	return res, nil
}

// Run runs a script and fails on a non-zero exit.
func (r *Runner) Run(ctx context.Context, script string, args []string, data []byte) ([]byte, error) {
	res, err := r.Script(ctx, script, args, data)
	if err != nil {
		return nil, err
	}
	if res.Exit != 0 {
		return res.Stdout, fmt.Errorf("exit status %d: %s", res.Exit, strings.TrimSpace(LastLines(res.Stderr, 5)))
	}
	return res.Stdout, nil
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes and joins a command line.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// FirstLine is the first line of b, trimmed.
func FirstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// LastLines is the last n lines of b, trimmed.
func LastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sudoWrapper runs "$@" after consuming stdin up to the marker line
// (StdinMarker). With a sudo password, sudo -S reads the first line; if
// sudo did not ask (NOPASSWD, cached), the password line is read here into
// a variable and dropped, never run: it cannot reach the command.
//
//go:embed scripts/sudo-wrapper.sh
var sudoWrapper string
