package ssh

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// A host's changes run as one script, scripts/batch.sh, in one SSH
// session: each change is a step that reports its own result, so one
// failure does not hide the others and one round trip serves them all.
// The steps are calls of the script's functions with quoted arguments;
// see the script for why nothing on the host can forge a result.

// batch builds one batch script.
type batch struct {
	body  strings.Builder
	steps int
	// cas lists the steps and paths of the batch's file writes, in pairs.
	cas []string
	// after, when set, is a script run once the steps are done, in a
	// subshell of its own; its output follows the line "@@after".
	after string
	// agents: the steps remove agents (scripts/remove-agents.sh is sent).
	agents bool
}

// afterMarker separates the steps' results from the after script's output.
const afterMarker = "@@after\n"

// step names a new step.
func (b *batch) step() string {
	s := "s" + strconv.Itoa(b.steps)
	b.steps++
	return s
}

// call adds a step line: a call of one of the batch script's functions
// with quoted arguments.
func (b *batch) call(fn string, args ...string) {
	b.body.WriteString(fn)
	for _, a := range args {
		b.body.WriteString(" " + shellQuote(a))
	}
	b.body.WriteString("\n")
}

// set adds a step line assigning value to the variable name.
func (b *batch) set(name, value string) {
	b.body.WriteString(name + "=" + shellQuote(value) + "\n")
}

// wait adds waiting for the steps run in the background (su logins).
func (b *batch) wait() { b.call("wait") }

// script is the whole script: scripts/batch.sh given the steps (and
// scripts/remove-agents.sh when they remove agents). The steps run with
// /dev/null as their standard input (the script itself arrives on the
// shell's), and sh reads the script whole before running any of it, so a
// script cut in transit runs nothing.
func (b *batch) script() string {
	steps := b.body.String()
	if len(b.cas) > 2 { // two writes or more: one sha256sum for all
		var pre batch
		pre.call("presum", b.cas...)
		steps = pre.body.String() + steps
	}
	var s strings.Builder
	s.WriteString("cr=" + shellQuote("\r") + "\n")
	s.WriteString("steps=" + shellQuote(steps) + "\n")
	s.WriteString("after=" + shellQuote(b.after) + "\n")
	if b.agents {
		s.WriteString(removeAgentsBase)
	}
	s.WriteString(batchBase)
	return s.String()
}

// writeFile adds a compare-and-swap replacement of path (nil data deletes
// it) and returns its step. The new content travels as one quoted shell
// word: it must not hold a NUL byte, which no file handover edits does.
func (b *batch) writeFile(path string, was remoteFileState, data []byte, check string, mkdir bool) string {
	s := b.step()
	want, op := was.Sum, "write"
	if was.Absent {
		want = "absent"
	}
	if data == nil {
		op = "delete"
	}
	mk := "no"
	if mkdir {
		mk = "yes"
	}
	// The mode through the umask when it only has read and write bits (a
	// new file gets 0666 less the umask); chmod otherwise.
	um, chmod := "077", "-"
	if m, err := strconv.ParseUint(was.Mode, 8, 32); err == nil && m&^0o666 == 0 {
		um = fmt.Sprintf("%03o", 0o777&^m)
	} else if was.Mode != "" {
		chmod = was.Mode
	}
	b.cas = append(b.cas, s, path)
	b.call("wf", s, path, want, um, chmod, strconv.Itoa(was.UID), strconv.Itoa(was.GID), check, op, mk, randomName(), string(data))
	return s
}

// randomName is a temporary file's name suffix nobody can guess, for an
// exclusive creation in a directory others may write to.
func randomName() string {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// lock adds locking and expiring an account.
//
// With end, the account's processes are then killed: its open sessions
// (a provider logged in right now, a tunnel it left running) end with its
// access. Not for the account the connector itself logs in as.
func (b *batch) lock(user string, end bool) string {
	s := b.step()
	b.call("lock_account", s, user, map[bool]string{true: "yes", false: "no"}[end])
	return s
}

// chpasswd adds setting accounts' password hashes, one step per account:
// one chpasswd for all of them, and one per account if that fails, to
// tell whose failed. The hashes travel in the script, which the shell
// reads on its standard input: never on a command line.
func (b *batch) chpasswd(users, hashes []string) []string {
	steps := make([]string, len(users))
	args := make([]string, 0, 2*len(users))
	for i := range users {
		steps[i] = b.step()
		args = append(args, steps[i], users[i]+":"+hashes[i])
	}
	b.call("set_hashes", args...)
	return steps
}

// su adds a su login as user with password, run in the background beside
// the batch's other su logins (a refused one takes PAM's delay, seconds):
// the batch must end with wait. The password travels in the script, on
// the shell's standard input.
func (b *batch) su(user, password string) string {
	s := b.step()
	b.call("su_check", s, user, password)
	return s
}

// shadowHashes adds reading users' shadow hashes; each is logged as
// "USER HASH" in the step's result.
func (b *batch) shadowHashes(users []string) string {
	s := b.step()
	b.call("shadow_hashes", append([]string{s}, users...)...)
	return s
}

// suAfter adds a su login as user with password, like su, run only when
// step succeeded.
func (b *batch) suAfter(step, user, password string) string {
	s := b.step()
	b.call("su_after", step, s, user, password)
	return s
}

// stepResult is what the script reported of one step.
type stepResult struct {
	seen bool
	ok   bool
	msg  string
	logs []string
}

// parseResults reads the @@result and @@log lines of a batch script.
func parseResults(out []byte) map[string]*stepResult {
	res := map[string]*stepResult{}
	get := func(s string) *stepResult {
		if res[s] == nil {
			res[s] = &stepResult{}
		}
		return res[s]
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		kind, rest, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		s, rest, _ := strings.Cut(rest, " ")
		switch kind {
		case "@@result":
			r := get(s)
			status, msg, _ := strings.Cut(rest, " ")
			r.seen, r.ok, r.msg = true, status == "ok", strings.TrimSpace(msg)
		case "@@log":
			r := get(s)
			r.logs = append(r.logs, strings.TrimSpace(rest))
		}
	}
	return res
}

// runBatch runs a batch script and returns each step's result. A step the
// host did not report (the connection was cut, the shell died) has an
// error saying so.
func (t *target) runBatch(ctx context.Context, r *runner, b *batch) (results map[string]*stepResult, after []byte, err error) {
	res, err := r.Script(ctx, b.script(), nil, nil)
	out := res.Stdout
	if b.after != "" {
		// Results are lines of their own: the first line that is the
		// marker ends them.
		if i := bytes.Index(out, []byte("\n"+afterMarker)); i >= 0 {
			out, after = out[:i+1], out[i+1+len(afterMarker):]
		} else if bytes.HasPrefix(out, []byte(afterMarker)) {
			out, after = nil, out[len(afterMarker):]
		}
	}
	results = parseResults(out)
	if err == nil && res.Exit != 0 {
		err = fmt.Errorf("exit status %d: %s", res.Exit, strings.TrimSpace(lastLines(res.Stderr, 5)))
	}
	return results, after, err
}

// stepError is the error of a step, nil when it succeeded.
func stepError(results map[string]*stepResult, s string, runErr error) error {
	r := results[s]
	switch {
	case r == nil || !r.seen:
		if runErr != nil {
			return fmt.Errorf("the host did not report this step: %w", runErr)
		}
		return fmt.Errorf("the host did not report this step")
	case !r.ok:
		return fmt.Errorf("%s", r.msg)
	}
	return nil
}
