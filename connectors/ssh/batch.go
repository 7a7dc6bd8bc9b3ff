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

// A host's changes run as one script, in one SSH session: each change is
// a step that reports its own result, so one failure does not hide the
// others and one round trip serves them all. Only the script's own printf
// writes to its standard output; every command's output goes elsewhere, so
// nothing on the host (a package's maintainer script) can forge a result.

// batchPrelude defines the helpers every batch script uses.
const batchPrelude = `export LC_ALL=C DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 077
have() { command -v "$1" >/dev/null 2>&1; }
nl='
' cr='` + "\r" + `'
# oneline sets m to $1 on one line (a message must not forge a result line).
oneline() {
	m=$1
	case $m in *"$nl"*|*"$cr"*) m=$(printf '%s' "$m" | tr '\n\r' '  ') ;; esac
}
ok() { printf '@@result %s ok\n' "$1"; eval "done_$1=1"; }
fail() { oneline "$2"; printf '@@result %s fail %s\n' "$1" "$m"; }
log() { oneline "$2"; printf '@@log %s %s\n' "$1" "$m"; }
# wf STEP PATH WANT UMASK CHMOD UID GID CHECK OP MKDIR TMP CONTENT:
# replace PATH with CONTENT if it still has the SHA-256 WANT ("absent": it
# must not exist): a new file TMP in the same directory, created
# exclusively with the old mode (through UMASK, or CHMOD when the mode has
# bits a umask cannot give) and owner, checked (visudo for sudoers),
# renamed over PATH. OP "delete" removes PATH instead. The content is
# written by the shell's own printf: no process per file but sha256sum
# and mv.
wf() {
	s=$1 f=$2 want=$3 um=$4 mode=$5 uid=$6 gid=$7 check=$8 op=$9
	shift 9
	mk=$1 tmp=$2 content=$3
	if [ -e "$f" ]; then
		eval "have=\${sum_$s-}"
		if [ -z "$have" ]; then
			have=$(sha256sum < "$f") || { fail "$s" "cannot read $f"; return; }
			have=${have%% *}
		fi
	else
		have=absent
	fi
	[ "$have" = "$want" ] || { fail "$s" "$f changed since it was read; not touched"; return; }
	if [ "$op" = delete ]; then
		rm -f -- "$f" && ok "$s" || fail "$s" "cannot remove $f"
		return
	fi
	d=${f%/*}
	[ -n "$d" ] || d=/
	if [ ! -d "$d" ]; then
		[ "$mk" = yes ] || { fail "$s" "$d does not exist"; return; }
		mkdir -p -- "$d" && chown "$uid:$gid" "$d" && chmod 700 "$d" || { fail "$s" "cannot create $d"; return; }
	fi
	# A name with a dot: sudo skips it in sudoers.d while it is checked.
	tmp=$d/.handover.$tmp
	umask "$um"
	set -C
	printf '%s' "$content" 2>/dev/null > "$tmp"
	r=$?
	set +C
	umask 077
	if [ $r -ne 0 ]; then fail "$s" "cannot create $tmp"; return; fi
	if { [ "$uid:$gid" != 0:0 ] && ! chown "$uid:$gid" "$tmp"; } || { [ "$mode" != - ] && ! chmod "$mode" "$tmp"; }; then
		rm -f -- "$tmp"
		fail "$s" "cannot set the owner and mode of $tmp"
		return
	fi
	if [ "$check" = sudoers ] && ! msg=$(visudo -c -q -f "$tmp" 2>&1); then
		rm -f -- "$tmp"
		fail "$s" "visudo refused the edited $f, which was not replaced: $msg"
		return
	fi
	if have restorecon && [ -e "$f" ]; then chcon --reference="$f" "$tmp" 2>/dev/null; fi
	mv -f -- "$tmp" "$f" || { rm -f -- "$tmp"; fail "$s" "cannot replace $f"; return; }
	case $f in /var/spool/cron/*) touch -- "$d" ;; esac
	ok "$s"
}
# presum STEP PATH ...: the SHA-256 of the regular files among the PATHs
# that wf steps edit, from one sha256sum rather than one each, as
# sum_STEP. A line is taken only for the name it was expected for: wf
# computes its own sum wherever none was set (a file sha256sum could not
# read, a name it would escape).
presum() {
	n=$# want=
	while [ $n -gt 1 ]; do
		s=$1 f=$2
		shift 2
		n=$((n - 2))
		case $f in *\\*|*"$nl"*|*"$cr"*) continue ;; esac
		[ -f "$f" ] && set -- "$@" "$f" && want="$want $s"
	done
	[ $# -gt 0 ] || return 0
	out=$(sha256sum -- "$@" 2>/dev/null)
	for s in $want; do
		line=${out%%"$nl"*}
		out=${out#"$line"}
		out=${out#"$nl"}
		h=${line%% *} name=${line#* }
		name=${name#[ *]}
		[ "$name" = "$1" ] && [ ${#h} -eq 64 ] && eval "sum_$s=\$h"
		shift
	done
}
# tsu STEP USER: a su login as USER with the password on stdin, started as
# nobody so that PAM asks for it. Prints ok, "fail rejected" when PAM
# refused it, or fail with what su said.
tsu() {
	cd / || return
	if have setpriv; then set -- "$1" "$2" setpriv --reuid=65534 --regid=65534 --clear-groups --
	elif have runuser; then set -- "$1" "$2" runuser -u nobody --
	else fail "$1" "neither setpriv nor runuser is installed"; return; fi
	have su || { fail "$1" "su is not installed"; return; }
	s=$1 u=$2
	shift 2
	o=$("$@" su -s /bin/sh -c 'echo handover-su-ok' "$u" 2>&1)
	case $o in
	*handover-su-ok*) ok "$s" ;;
	*"Authentication failure"*|*"incorrect password"*) printf '@@result %s fail rejected\n' "$s" ;;
	*) fail "$s" "su: $o" ;;
	esac
}
`

// batch builds one batch script.
type batch struct {
	body  strings.Builder
	steps int
	// cas lists the steps and paths of the batch's file writes, in pairs.
	cas []string
	// after, when set, is a script run once the steps are done, in a
	// subshell of its own; its output follows the line "@@after".
	after string
}

// afterMarker separates the steps' results from the after script's output.
const afterMarker = "@@after\n"

// step names a new step.
func (b *batch) step() string {
	s := "s" + strconv.Itoa(b.steps)
	b.steps++
	return s
}

// script is the whole script: the body runs with /dev/null as its
// standard input (the script itself arrives on the shell's), and sh
// parses it whole before running any of it, so a script cut in transit
// runs nothing.
func (b *batch) script() string {
	pre := ""
	if len(b.cas) > 2 { // two writes or more: one sha256sum for all
		q := make([]string, len(b.cas))
		for i, a := range b.cas {
			q[i] = shellQuote(a)
		}
		pre = "presum " + strings.Join(q, " ") + "\n"
	}
	s := batchPrelude + "main() {\n:\n" + pre + b.body.String() + "}\nmain </dev/null\n"
	if b.after != "" {
		s += "printf '" + strings.TrimSuffix(afterMarker, "\n") + "\\n'\n(\n" + b.after + "\n) </dev/null\n"
	}
	return s + "exit 0\n"
}

// heredoc appends a here-document holding data, with a delimiter that
// data does not contain.
func heredoc(w *strings.Builder, data string) {
	delim := "HANDOVER_EOF"
	for n := 0; strings.Contains(data, delim); n++ {
		delim = "HANDOVER_EOF_" + strconv.Itoa(n)
	}
	w.WriteString(" <<'" + delim + "'\n" + data)
	if data != "" && !strings.HasSuffix(data, "\n") {
		w.WriteString("\n")
	}
	w.WriteString(delim + "\n")
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
	fmt.Fprintf(&b.body, "wf %s %s %s %s %s %d %d %s %s %s %s %s\n", s, shellQuote(path), want, um, shellQuote(chmod), was.UID, was.GID, check, op, mk, randomName(), shellQuote(string(data)))
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
	u := shellQuote(user)
	fmt.Fprintf(&b.body, "if msg=$(usermod -L -e 1 %s 2>&1); then\n", u)
	if end {
		fmt.Fprintf(&b.body, `	pids= l=$(pgrep -u %s 2>/dev/null)
	for p in $l; do pids="$pids $p"; done
	if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; log %s "ended its processes (open sessions included):$pids"; fi
`, u, s)
	}
	fmt.Fprintf(&b.body, "\tok %s\nelse fail %s \"usermod -L -e 1: $msg\"; fi\n", s, s)
	return s
}

// chpasswd adds setting accounts' password hashes, one step per account:
// one chpasswd for all of them, and one per account if that fails, to
// tell whose failed. The hashes travel in the script, which the shell
// reads on its standard input: never on a command line.
func (b *batch) chpasswd(users, hashes []string) []string {
	steps := make([]string, len(users))
	lines := make([]string, len(users))
	for i := range users {
		steps[i] = b.step()
		lines[i] = users[i] + ":" + hashes[i]
	}
	b.body.WriteString("if msg=$(chpasswd -e 2>&1")
	heredoc(&b.body, strings.Join(lines, "\n")+"\n")
	b.body.WriteString("); then\n")
	for _, s := range steps {
		b.body.WriteString("ok " + s + "\n")
	}
	b.body.WriteString("else\n")
	for i, s := range steps {
		b.body.WriteString("if msg=$(chpasswd -e 2>&1")
		heredoc(&b.body, lines[i]+"\n")
		fmt.Fprintf(&b.body, "); then ok %s; else fail %s \"chpasswd -e: $msg\"; fi\n", s, s)
	}
	b.body.WriteString("fi\n")
	return steps
}

// su adds a su login as user with password, run in the background beside
// the batch's other su logins (a refused one takes PAM's delay, seconds):
// the batch must end with "wait". The password travels in the script, on
// the shell's standard input.
func (b *batch) su(user, password string) string {
	s := b.step()
	fmt.Fprintf(&b.body, "tsu %s %s", s, shellQuote(user))
	var h strings.Builder
	heredoc(&h, password+"\n")
	// "cmd <<'X' &": the here-document is the background command's input.
	text := h.String()
	nl := strings.IndexByte(text, '\n')
	b.body.WriteString(text[:nl] + " &" + text[nl:])
	return s
}

// suAfter adds a su login as user with password, like su, run only when
// step succeeded.
func (b *batch) suAfter(step, user, password string) string {
	fmt.Fprintf(&b.body, "if [ -n \"${done_%s-}\" ]; then\n", step)
	s := b.su(user, password)
	b.body.WriteString("fi\n")
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
