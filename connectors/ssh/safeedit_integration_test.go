package ssh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// systemFilesState is what must never change when root edits an
// account's files: /etc/shadow and /etc/passwd, content, owner and mode.
const systemFilesState = "stat -c '%n %u %g %a %F' /etc/shadow /etc/passwd && sha256sum /etc/shadow /etc/passwd"

func hostState(t *testing.T, e *testenv.Env, ip, command string) string {
	t.Helper()
	out, err := rootSSH(e, ip, command)
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	return string(out)
}

// providerKeyOf is the provider's key planted in user's own
// authorized_keys file on h.
func providerKeyOf(t *testing.T, h testenv.Host, user string) testenv.AuthorizedKey {
	t.Helper()
	for _, k := range h.Keys {
		if k.User == user && k.Provider && strings.HasPrefix(k.File, "/home/") {
			return k
		}
	}
	t.Fatalf("no provider key planted in a home of %s on %s", user, h.Name)
	return testenv.AuthorizedKey{}
}

// TestLinkedKeyFilesAreRefused: once the removal of a provider key is
// planned, the account's authorized_keys is swapped for a link to
// /etc/shadow, and the provider's ~/.ssh for a link to a directory of
// root's holding the very same file (so that the compare-and-swap would
// pass). Each removal is refused, saying why; what the links lead to is
// unchanged, owner and mode included; the inventory then reports both
// links as findings of their own and reads neither.
func TestLinkedKeyFilesAreRefused(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	admin := providerKeyOf(t, h, h.Admin)
	prov := providerKeyOf(t, h, h.ProviderUser)
	rmAdmin := plannedChange(t, tg, plan.RemoveKey, admin.User+":"+admin.Fingerprint+":"+admin.File)
	rmProv := plannedChange(t, tg, plan.RemoveKey, prov.User+":"+prov.Fingerprint+":"+prov.File)

	provSSH := filepath.Dir(prov.File)
	const decoy = "/etc/handover-decoy"
	hostState(t, e, ip, fmt.Sprintf(`set -e
mkdir -m 755 %[1]s && cp -p %[2]s %[1]s/ && chown root:root %[1]s/authorized_keys && chmod 644 %[1]s/authorized_keys
setpriv --reuid=%[3]s --regid=%[3]s --init-groups -- sh -c 'ln -s /etc/shadow %[4]s.l && mv -fT %[4]s.l %[4]s'
mv %[5]s %[5]s.real && ln -s %[1]s %[5]s && chown -h %[6]s: %[5]s`,
		decoy, prov.File, h.Admin, admin.File, provSSH, h.ProviderUser))
	before := hostState(t, e, ip, systemFilesState+" && stat -c '%n %u %g %a %F' "+decoy+"/authorized_keys && sha256sum "+decoy+"/authorized_keys")

	res := tg.Apply(context.Background(), h.Name, []plan.Change{rmAdmin, rmProv}, nil).Results
	for i, r := range res {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "symbolic link") {
			t.Errorf("removal %d through a link: %v (%s), want a refusal naming the link", i, r.Err, r.Detail)
		}
	}
	if after := hostState(t, e, ip, systemFilesState+" && stat -c '%n %u %g %a %F' "+decoy+"/authorized_keys && sha256sum "+decoy+"/authorized_keys"); after != before {
		t.Errorf("files changed through a link:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	sys := okInventory(t, tg).Systems[0]
	links := map[string]connector.Finding{}
	for _, f := range findingsOf(sys, connector.KindAuth) {
		if strings.HasPrefix(f.ID, "auth-method:authorized-keys-link:") {
			links[f.Object] = f
		}
	}
	for _, k := range []testenv.AuthorizedKey{admin, prov} {
		f, ok := links[k.User+":"+k.File]
		if !ok {
			t.Errorf("no finding for the link of %s (%s): %v", k.User, k.File, links)
			continue
		}
		if !strings.Contains(f.Summary, "symbolic link") {
			t.Errorf("finding %s: %s", f.ID, f.Summary)
		}
	}
	if !links[prov.User+":"+prov.File].Provider {
		t.Errorf("the link of the provider's own ~/.ssh is not reported as the provider's: %+v", links[prov.User+":"+prov.File])
	}
	for _, f := range findingsOf(sys, connector.KindSSHKey) {
		if d, _ := f.Data.(keyData); d.File == admin.File || d.File == prov.File {
			t.Errorf("a key was read through a link: %s", f.Summary)
		}
	}
}

// TestRacingLinkSwapLeavesSystemFilesAlone: while the removal of a
// provider key from an account's authorized_keys runs, again and again,
// that account keeps swapping the file (and every temporary file the edit
// creates beside it) for links to /etc/shadow and /etc/passwd. Those are
// never changed, owner and mode included.
func TestRacingLinkSwapLeavesSystemFilesAlone(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	tg := configure(t, e, operatorSettings(e, h), secret.NewMemoryStore(), nil)
	k := providerKeyOf(t, h, h.Admin)
	rm := plannedChange(t, tg, plan.RemoveKey, k.User+":"+k.Fingerprint+":"+k.File)
	before := hostState(t, e, ip, systemFilesState)
	dir := filepath.Dir(k.File)
	// The account's loop, in the background on the host: its own file put
	// back (with the provider's key), then links.
	pid := strings.TrimSpace(hostState(t, e, ip, fmt.Sprintf(`cp -p %[1]s %[2]s/.keep && chown %[3]s: %[2]s/.keep
setpriv --reuid=%[3]s --regid=%[3]s --init-groups -- sh -c '
cd %[2]s || exit 1
while :; do
	cp .keep k.new && mv -f k.new authorized_keys
	sleep 0.05
	for t in /etc/shadow /etc/passwd; do
		for f in .handover.*; do [ -e "$f" ] && ln -sfn "$t" "$f"; done
		ln -sfn "$t" k.link && mv -fT k.link authorized_keys
		for f in .handover.*; do [ -e "$f" ] && ln -sfn "$t" "$f"; done
	done
done' </dev/null >/dev/null 2>&1 &
echo $!`, k.File, dir, h.Admin)))
	t.Cleanup(func() { _, _ = rootSSH(e, ip, "kill "+pid) })
	refused, done := map[string]int{}, 0
	for range 40 {
		// Read afresh each time: the cache holds what the last edit wrote.
		tg.mu.Lock()
		delete(tg.cache, h.Name)
		tg.mu.Unlock()
		r := tg.Apply(context.Background(), h.Name, []plan.Change{rm}, nil).Results[0]
		switch {
		case r.Err == nil:
			done++
		default:
			refused[r.Err.Error()]++
		}
	}
	if _, err := rootSSH(e, ip, "kill "+pid); err != nil {
		t.Errorf("the swapping loop (pid %s) had stopped before the end", pid)
	}
	t.Logf("%d removals done while the file was swapped; refused: %v", done, refused)
	if done == 0 {
		t.Error("no removal got through while the loop ran: the race was not run")
	}
	if after := hostState(t, e, ip, systemFilesState); after != before {
		t.Errorf("/etc/shadow or /etc/passwd changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestCronPasswordNeverShows runs the whole job on one host through the
// engine: the provider's backup job, whose command line holds a password
// (testenv.ProviderBackupPassword), is removed and proven gone, and the
// password is in none of the plan, the journal, the report, the files of
// the run's state directory or the logs.
func TestCronPasswordNeverShows(t *testing.T) {
	e, h, ip := firstHostToChange(t)
	resetFleet(t) // the planted state of this worktree's testenv
	pw := testenv.ProviderBackupPassword
	if out := hostState(t, e, ip, "cat /etc/cron.d/prestanet-supervision"); !strings.Contains(out, pw) {
		t.Fatalf("the planted backup job with a password is not on %s:\n%s", h.Name, out)
	}
	dir := t.TempDir()
	pb := connectortest.WritePlaybook(t, dir, fleetPlaybook(e, []testenv.Host{h}, ""))
	// The logs, and the progress a terminal shows: a failed change is
	// logged by its object (which TestCronSecretsStayOut shows redacted).
	var logs bytes.Buffer
	var mu sync.Mutex
	eng := &engine.Engine{
		Registry: connector.NewRegistry(New()),
		Log:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Progress: func(ev engine.ProgressEvent) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(&logs, "%s %s %s %s\n", ev.Target, ev.System, ev.State, ev.Detail)
		},
		OpenStore: func(_ context.Context, s *engine.Session) (secret.Store, error) {
			return secret.OpenFileStore(s.Resolver.Path(s.Playbook.Secrets.File.Path), secret.FileUnlock{Passphrase: secret.New("test store"), ScryptWorkFactor: 10})
		},
		Version: "test",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sess, err := eng.Load(ctx, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	res, err := sess.Run(ctx, engine.RunOptions{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	removed := false
	for _, a := range res.Actions {
		if a.Change.Action == plan.RemoveCron && strings.Contains(a.Change.Object, "backup.") {
			removed = true
			if a.Result != plan.Applied || !a.Verified {
				t.Errorf("the backup job's removal: %s, verified %v: %s", a.Result, a.Verified, a.Error)
			}
			if a.Change.Params["hash"] == "" || !strings.Contains(a.Change.Object, "[redacted]") {
				t.Errorf("the change: %+v", a.Change)
			}
		}
	}
	if !removed {
		t.Error("the provider's backup job was not removed")
	}
	if out := hostState(t, e, ip, "cat /etc/cron.d/prestanet-supervision 2>/dev/null; true"); strings.Contains(out, pw) {
		t.Errorf("the backup job is still on the host:\n%s", out)
	}
	outputs, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(outputs), pw) {
		t.Error("the password is in the run's result (plan, dossier, actions or report)")
	}
	mu.Lock()
	if strings.Contains(logs.String(), pw) {
		t.Error("the password is in the logs or the progress")
	}
	if logs.Len() == 0 {
		t.Error("no progress was reported: the search for the password saw nothing")
	}
	mu.Unlock()
	files := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(pw)) {
			t.Errorf("the password is in %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Journal == "" || files < 3 {
		t.Errorf("journal %q, %d files in the run's directory: the search saw too little", res.Journal, files)
	}
}
