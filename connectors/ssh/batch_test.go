package ssh

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

func TestParseResults(t *testing.T) {
	out := []byte("noise from nowhere\n@@log s0 removed /opt/x\n@@result s0 ok\n@@result s1 fail visudo refused it\n@@log s2 sent TERM to 12\n@@result s3 fail rejected\n@@resultx s4 ok\n")
	res := parseResults(out)
	tests := []struct {
		step string
		seen bool
		ok   bool
		msg  string
		logs int
	}{
		{"s0", true, true, "", 1},
		{"s1", true, false, "visudo refused it", 0},
		{"s2", false, false, "", 1},
		{"s3", true, false, "rejected", 0},
	}
	for _, tt := range tests {
		r := res[tt.step]
		if r == nil {
			t.Fatalf("%s: no result", tt.step)
		}
		if r.seen != tt.seen || r.ok != tt.ok || r.msg != tt.msg || len(r.logs) != tt.logs {
			t.Errorf("%s = %+v, want seen %v ok %v msg %q and %d log lines", tt.step, *r, tt.seen, tt.ok, tt.msg, tt.logs)
		}
	}
	if _, ok := res["s4"]; ok {
		t.Error("a line that is not @@result or @@log made a result")
	}
	if err := stepError(res, "s2", nil); err == nil || !strings.Contains(err.Error(), "did not report") {
		t.Errorf("an unreported step: %v", err)
	}
	if err := stepError(res, "s1", nil); err == nil || err.Error() != "visudo refused it" {
		t.Errorf("a failed step: %v", err)
	}
	if err := stepError(res, "s0", nil); err != nil {
		t.Errorf("a step that succeeded: %v", err)
	}
}

// batchForTest builds a script with every kind of step, over the whole
// built-in catalogue.
func batchForTest(t *testing.T) string {
	t.Helper()
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var b batch
	b.writeFile("/root/.ssh/authorized_keys", remoteFileState{Sum: strings.Repeat("a", 64), Mode: "600"}, []byte("ssh-ed25519 AAAA x\n"), "none", true)
	b.writeFile("/etc/sudoers.d/prestataire", remoteFileState{Sum: strings.Repeat("b", 64), Mode: "440"}, nil, "sudoers", false)
	b.lock("prestanet", true)
	b.chpasswd([]string{"root", "admin"}, []string{"$6$salt$hash", "$6$salt$other"})
	b.su("root", "it's a \"password\" with $(symbols) and `ticks`")
	var jobs []agentJob
	for i, a := range cat.Agents {
		jobs = append(jobs, agentJob{index: i, agent: a, packages: a.Packages, units: a.Units, paths: a.Paths})
	}
	agentSteps(&b, jobs)
	b.wait()
	return b.script()
}

// TestBatchScriptsParse checks the scripts' syntax with the shells hosts
// run them with.
func TestBatchScriptsParse(t *testing.T) {
	script := batchForTest(t)
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) {
			path, err := exec.LookPath(sh)
			if err != nil {
				t.Fatalf("%s is needed to check the scripts: %v", sh, err)
			}
			cmd := exec.Command(path, "-n")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", sh, err, out)
			}
		})
	}
}

// TestWriteFileStep runs the compare-and-swap write with the local shell
// on temporary files: replaced with mode and owner kept, refused when the
// file changed since it was read, created, deleted.
func TestWriteFileStep(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) { testWriteFileStep(t, sh) })
	}
}

func testWriteFileStep(t *testing.T, sh string) {
	dir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	keep := filepath.Join(dir, "keep")
	stale := filepath.Join(dir, "stale")
	gone := filepath.Join(dir, "gone")
	created := filepath.Join(dir, "sub", "new")
	for _, f := range []string{keep, stale, gone} {
		if err := os.WriteFile(f, []byte("old content\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	oldSum := sha256Hex([]byte("old content\n"))
	var b batch
	sKeep := b.writeFile(keep, remoteFileState{Sum: oldSum, Mode: "640", UID: uid, GID: gid}, []byte("new content\n"), "none", false)
	sStale := b.writeFile(stale, remoteFileState{Sum: sha256Hex([]byte("what was read\n")), Mode: "640", UID: uid, GID: gid}, []byte("x\n"), "none", false)
	sGone := b.writeFile(gone, remoteFileState{Sum: oldSum, Mode: "640", UID: uid, GID: gid}, nil, "none", false)
	sNew := b.writeFile(created, remoteFileState{Absent: true, Mode: "600", UID: uid, GID: gid}, []byte("first line\n"), "none", true)
	// A mode a umask cannot give, another owner, and content a shell
	// could misread: quotes, a backslash, no final newline.
	odd := filepath.Join(dir, "odd")
	if err := os.WriteFile(odd, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	oddContent := "it's \\ \"quoted\" $(not run) `nor this`\n%s %d\nno newline"
	sOdd := b.writeFile(odd, remoteFileState{Sum: sha256Hex([]byte("x")), Mode: "750", UID: 4242, GID: 4243}, []byte(oddContent), "none", false)
	// Names one sha256sum cannot serve (it escapes a backslash): wf sums
	// such a file itself; a space is fine either way.
	spaced := filepath.Join(dir, "with space")
	slashed := filepath.Join(dir, `back\slash`)
	for _, f := range []string{spaced, slashed} {
		if err := os.WriteFile(f, []byte("old content\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sSpaced := b.writeFile(spaced, remoteFileState{Sum: oldSum, Mode: "600", UID: uid, GID: gid}, []byte("spaced\n"), "none", false)
	sSlashed := b.writeFile(slashed, remoteFileState{Sum: oldSum, Mode: "600", UID: uid, GID: gid}, []byte("slashed\n"), "none", false)
	if !strings.Contains(b.script(), "\nsteps='presum ") {
		t.Fatal("a batch of several writes sums the files in one sha256sum")
	}
	cmd := exec.Command(sh, "-s")
	cmd.Stdin = strings.NewReader(b.script())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, stderr.String())
	}
	res := parseResults(out)
	for _, s := range []string{sKeep, sGone, sNew, sOdd, sSpaced, sSlashed} {
		if err := stepError(res, s, nil); err != nil {
			t.Errorf("step %s: %v", s, err)
		}
	}
	if err := stepError(res, sStale, nil); err == nil || !strings.Contains(err.Error(), "changed since it was read") {
		t.Errorf("a file changed since it was read: %v", err)
	}
	for _, tt := range []struct {
		path, want string
		mode       os.FileMode
	}{{spaced, "spaced\n", 0o600}, {slashed, "slashed\n", 0o600}, {keep, "new content\n", 0o640}, {stale, "old content\n", 0o640}, {created, "first line\n", 0o600}, {odd, oddContent, 0o750}} {
		b, err := os.ReadFile(tt.path)
		if err != nil || string(b) != tt.want {
			t.Errorf("%s holds %q (%v), want %q", tt.path, b, err, tt.want)
		}
		if fi, err := os.Stat(tt.path); err != nil || fi.Mode().Perm() != tt.mode {
			t.Errorf("%s: mode %v (%v), want %v", tt.path, fi.Mode().Perm(), err, tt.mode)
		}
	}
	if fi, err := os.Stat(odd); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 4242 || fi.Sys().(*syscall.Stat_t).Gid != 4243 {
		t.Errorf("%s: owner not set to 4242:4243 (%v)", odd, err)
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("%s was not deleted: %v", gone, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".handover.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestPlanFileEdits: several changes to one file make one write; a file
// emptied of keys is kept, a sudoers.d or cron.d file left with nothing
// active is deleted.
//
// Long: a table of cases.
func TestPlanFileEdits(t *testing.T) {
	k1 := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl support@prestanet.fr"
	k2 := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBLvwuLBUEaBsXVKIdKnU6b2M04TZFsBw5eI0ZNZD3z1 backup@prestanet.fr"
	fp := func(line string) string { return parseAuthorizedKeys([]byte(line + "\n"))[0].Fingerprint }
	tests := []struct {
		name       string
		path, data string
		changes    []plan.Change
		wantWrites int
		wantDelete bool
		wantData   string
	}{
		{
			name: "two keys of one file, one write", path: "/root/.ssh/authorized_keys",
			data: k1 + "\n# ours\n" + k2 + "\n",
			changes: []plan.Change{
				{Action: plan.RemoveKey, Params: map[string]string{"file": "/root/.ssh/authorized_keys", "fingerprint": fp(k1)}},
				{Action: plan.RemoveKey, Params: map[string]string{"file": "/root/.ssh/authorized_keys", "fingerprint": fp(k2)}},
			},
			wantWrites: 1, wantData: "# ours\n",
		},
		{
			name: "every key removed: the file is kept, empty", path: "/root/.ssh/authorized_keys",
			data:       k1 + "\n",
			changes:    []plan.Change{{Action: plan.RemoveKey, Params: map[string]string{"file": "/root/.ssh/authorized_keys", "fingerprint": fp(k1)}}},
			wantWrites: 1, wantData: "",
		},
		{
			name: "sudoers.d left with comments only: deleted", path: "/etc/sudoers.d/prestanet",
			data:       "# support\nprestanet ALL=(ALL) NOPASSWD: ALL\n",
			changes:    []plan.Change{{Action: plan.RemoveGrant, Params: map[string]string{"file": "/etc/sudoers.d/prestanet", "text": "prestanet ALL=(ALL) NOPASSWD: ALL"}}},
			wantWrites: 1, wantDelete: true,
		},
		{
			name: "already gone: nothing to write", path: "/etc/cron.d/backup",
			data:       "0 1 * * * root /usr/local/bin/backup\n",
			changes:    []plan.Change{{Action: plan.RemoveCron, Params: map[string]string{"file": "/etc/cron.d/backup", "hash": lineHash("*/5 * * * * root curl http://203.0.113.7/ping")}}},
			wantWrites: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &fileEdit{path: tt.path}
			for i := range tt.changes {
				e.changes = append(e.changes, i)
			}
			out := make([]connector.ChangeResult, len(tt.changes))
			steps := make([]string, len(tt.changes))
			var b batch
			f, data, wrote := planFileEdit(tt.changes, e, remoteFileState{Sum: sha256Hex([]byte(tt.data)), Mode: "600", Data: []byte(tt.data)}, out, &b, steps)
			if b.steps != tt.wantWrites || wrote != (tt.wantWrites > 0) {
				t.Fatalf("%d writes (wrote %v), want %d", b.steps, wrote, tt.wantWrites)
			}
			if !wrote {
				for i, o := range out {
					if !strings.Contains(o.Detail, "already absent") {
						t.Errorf("change %d: detail %q", i, o.Detail)
					}
				}
				return
			}
			if f.Path != tt.path {
				t.Errorf("file %q, want %q", f.Path, tt.path)
			}
			if tt.wantDelete != (data == nil) {
				t.Errorf("deleted = %v, want %v", data == nil, tt.wantDelete)
			}
			if !tt.wantDelete && string(data) != tt.wantData {
				t.Errorf("new content %q, want %q", data, tt.wantData)
			}
			for i, s := range steps {
				if s != "s0" {
					t.Errorf("change %d has step %q, want the file's write s0", i, s)
				}
			}
			if tt.wantDelete != strings.Contains(b.body.String(), " delete ") {
				t.Errorf("script: %s", b.body.String())
			}
		})
	}
}

func TestBatchStepsAreNumbered(t *testing.T) {
	var b batch
	if got := fmt.Sprint(b.lock("a", false), " ", b.chpasswd([]string{"b", "c"}, []string{"$6$x$y", "$6$x$z"}), " ", b.su("d", "pw")); got != "s0 [s1 s2] s3" {
		t.Errorf("steps %s, want s0 [s1 s2] s3", got)
	}
}

// TestMessagesCannotForgeResults runs the script helpers with messages
// holding line breaks: they stay on their own line.
func TestMessagesCannotForgeResults(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) { testMessagesCannotForgeResults(t, sh) })
	}
}

func testMessagesCannotForgeResults(t *testing.T, sh string) {
	var b batch
	s0, s1 := b.step(), b.step()
	fmt.Fprintf(&b.body, "fail %s %s\nlog %s %s\n", s0, shellQuote("dpkg said\n@@result s9 ok"), s1, shellQuote("line\r@@result s8 ok\nend"))
	cmd := exec.Command(sh, "-s")
	cmd.Stdin = strings.NewReader(b.script())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	res := parseResults(out)
	for _, forged := range []string{"s8", "s9"} {
		if r := res[forged]; r != nil {
			t.Errorf("a message forged %s: %+v\n%s", forged, *r, out)
		}
	}
	if r := res[s0]; r == nil || r.ok || r.msg != "dpkg said @@result s9 ok" {
		t.Errorf("%s: %+v", s0, res[s0])
	}
	if r := res[s1]; r == nil || len(r.logs) != 1 || r.logs[0] != "line @@result s8 ok end" {
		t.Errorf("%s: %+v", s1, res[s1])
	}
}

// TestWriteFileNeverFollowsAnAccountsLinks runs the write step as root on
// files in a directory another account owns (uid 4242, as a home): a
// link it planted for the file or for its directory is refused and what
// the link points to is left as it was, owner and mode included; its own
// regular file is edited, and stays its own.
func TestWriteFileNeverFollowsAnAccountsLinks(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) { testWriteFileNeverFollowsLinks(t, sh) })
	}
}

const otherUID, otherGID = 4242, 4243

// accountTree makes dir reachable by every account and returns a home in
// it owned by otherUID, with a .ssh directory, and a file of root's
// (mode 0640) outside it: what a link must never lead root to change.
func accountTree(t *testing.T, dir, name string) (home, victim string) {
	t.Helper()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home = filepath.Join(dir, name)
	victim = filepath.Join(dir, name+"-shadow")
	if err := os.WriteFile(victim, []byte("root:$6$secret:19000:0:99999:7:::\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{home, filepath.Join(home, ".ssh")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, otherUID, otherGID); err != nil {
			t.Fatal(err)
		}
	}
	return home, victim
}

// unchanged fails the test if path no longer has content, mode 0640 and
// root as its owner.
func unchanged(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		t.Errorf("%s holds %q (%v), want it unchanged", path, b, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != 0o640 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("%s: mode %v, owner %d:%d, want 0640 and 0:0", path, fi.Mode(), st.Uid, st.Gid)
	}
}

func testWriteFileNeverFollowsLinks(t *testing.T, sh string) {
	dir := t.TempDir()
	const victimData = "root:$6$secret:19000:0:99999:7:::\n"
	// A link for the file itself, to a file of root's.
	home1, victim1 := accountTree(t, dir, "linkedfile")
	keys1 := filepath.Join(home1, ".ssh", "authorized_keys")
	if err := os.Symlink(victim1, keys1); err != nil {
		t.Fatal(err)
	}
	// A link for the directory: ~/.ssh leads to a directory of root's.
	home2, victim2 := accountTree(t, dir, "linkeddir")
	rootDir := filepath.Join(dir, "rootdir")
	if err := os.Mkdir(rootDir, 0o755); err != nil {
		t.Fatal(err)
	}
	keys2 := filepath.Join(rootDir, "authorized_keys")
	if err := os.WriteFile(keys2, []byte(victimData), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(home2, ".ssh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rootDir, filepath.Join(home2, ".ssh")); err != nil {
		t.Fatal(err)
	}
	// The account's own file.
	home3, _ := accountTree(t, dir, "regular")
	keys3 := filepath.Join(home3, ".ssh", "authorized_keys")
	if err := os.WriteFile(keys3, []byte("old content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(keys3, otherUID, otherGID); err != nil {
		t.Fatal(err)
	}
	// What the inventory would have read had it followed the links.
	was := remoteFileState{Sum: sha256Hex([]byte(victimData)), Mode: "600", UID: otherUID, GID: otherGID}
	var b batch
	s1 := b.writeFile(keys1, was, []byte("x\n"), "none", false)
	s2 := b.writeFile(filepath.Join(home2, ".ssh", "authorized_keys"), was, []byte("x\n"), "none", true)
	s3 := b.writeFile(keys3, remoteFileState{Sum: sha256Hex([]byte("old content\n")), Mode: "600", UID: otherUID, GID: otherGID}, []byte("new content\n"), "none", false)
	out := runScript(t, sh, b.script())
	res := parseResults(out)
	for _, s := range []string{s1, s2} {
		if err := stepError(res, s, nil); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("step %s through a link: %v, want a refusal naming the link", s, err)
		}
	}
	if err := stepError(res, s3, nil); err != nil {
		t.Errorf("the account's own file: %v", err)
	}
	unchanged(t, victim1, victimData)
	unchanged(t, victim2, victimData)
	unchanged(t, keys2, victimData)
	if fi, err := os.Lstat(keys1); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s: the link was replaced (%v)", keys1, err)
	}
	b3, err := os.ReadFile(keys3)
	fi, err2 := os.Stat(keys3)
	if err != nil || err2 != nil || string(b3) != "new content\n" || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != otherUID || fi.Sys().(*syscall.Stat_t).Gid != otherGID {
		t.Errorf("%s: %q, %v (%v %v), want the new content, 0600, %d:%d", keys3, b3, fi, err, err2, otherUID, otherGID)
	}
}

// TestWriteFileRacingLinks edits a file of another account's directory
// over and over while that account (a loop running as uid 4242) keeps
// swapping the file, and every temporary file it sees, for links to a
// file of root's: the file of root's is never changed, owner and mode
// included.
func TestWriteFileRacingLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("a race run for a few seconds")
	}
	dir := t.TempDir()
	home, victim := accountTree(t, dir, "racer")
	const victimData = "root:$6$secret:19000:0:99999:7:::\n"
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	content := "ssh-ed25519 AAAA provider\n"
	if err := os.WriteFile(keys, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(keys, otherUID, otherGID); err != nil {
		t.Fatal(err)
	}
	// The account's loop: the file back as it was, then a link; and every
	// temporary file the edit creates replaced by a link.
	racer := exec.Command("setpriv", "--reuid=4242", "--regid=4243", "--clear-groups", "--", "sh", "-c", `
cd "$1" || exit 1
while :; do
	printf '%s' "$3" > k.new && mv -f k.new authorized_keys
	for f in .handover.*; do [ -e "$f" ] && ln -sfn "$2" "$f" 2>/dev/null; done
	ln -sfn "$2" k.link && mv -fT k.link authorized_keys
	for f in .handover.*; do [ -e "$f" ] && ln -sfn "$2" "$f" 2>/dev/null; done
done`, "racer", filepath.Dir(keys), victim, content)
	racer.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children end with it
	if err := racer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-racer.Process.Pid, syscall.SIGKILL); _ = racer.Wait() }()
	var b batch
	for range 200 {
		b.writeFile(keys, remoteFileState{Sum: sha256Hex([]byte(content)), Mode: "600", UID: otherUID, GID: otherGID}, []byte(content), "none", false)
	}
	runScript(t, "dash", b.script())
	unchanged(t, victim, victimData)
}

func runScript(t *testing.T, sh, script string) []byte {
	t.Helper()
	cmd := exec.Command(sh, "-s")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, stderr.String())
	}
	return out
}

// TestWriteFileThroughRootsLinkIntoAnAccountsDirectory: a link of root's
// (in a directory only root writes to) that leads into a directory an
// account owns counts as that directory: the edit runs with the account's
// rights, and a link the account planted there is refused.
func TestWriteFileThroughRootsLinkIntoAnAccountsDirectory(t *testing.T) {
	dir := t.TempDir()
	home, victim := accountTree(t, dir, "behindlink")
	const victimData = "root:$6$secret:19000:0:99999:7:::\n"
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.Symlink(victim, keys); err != nil {
		t.Fatal(err)
	}
	byRoot := filepath.Join(dir, "keys-of-root")
	if err := os.Symlink(filepath.Join(home, ".ssh"), byRoot); err != nil {
		t.Fatal(err)
	}
	var b batch
	s := b.writeFile(filepath.Join(byRoot, "authorized_keys"), remoteFileState{Sum: sha256Hex([]byte(victimData)), Mode: "600", UID: otherUID, GID: otherGID}, []byte("x\n"), "none", false)
	res := parseResults(runScript(t, "dash", b.script()))
	if err := stepError(res, s, nil); err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), "as uid 4242") {
		t.Errorf("an edit through root's link into an account's directory: %v, want it refused as uid 4242", err)
	}
	unchanged(t, victim, victimData)
}

// TestReadFilesScript runs the script that reads files before an edit:
// a file's sum is that of the content it prints, byte for byte; a file
// that is a link, or whose directory is one, is reported as a link and
// not read.
func TestReadFilesScript(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("a line\n\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	linkedDir := filepath.Join(dir, "linkeddir")
	if err := os.Symlink(plain, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, linkedDir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dash", "-c", readFilesScript, "sh", plain, link, filepath.Join(linkedDir, "plain"), filepath.Join(dir, "none")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("@@read 0 %s 640 %d %d\n%s\n@@read 1 link\n@@read 2 link\n@@read 3 absent\n", sha256Hex([]byte("a line\n\n")), os.Getuid(), os.Getgid(), "YSBsaW5lCgo=")
	if string(out) != want {
		t.Errorf("read-files printed:\n%s\nwant:\n%s", out, want)
	}
}
