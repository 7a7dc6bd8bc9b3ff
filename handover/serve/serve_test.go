package serve_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/robfig/cron/v3"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/freshness"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/handover/serve"
)

// receiver is a real local HTTP server that keeps the webhook's bodies,
// failing the first `fail` posts with a 503.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []serve.Event
	sigs   []string
	bodies [][]byte
	fail   atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.fail.Add(-1) >= 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var ev serve.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.sigs = append(r.sigs, req.Header.Get(serve.SignatureHeader))
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []serve.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]serve.Event(nil), r.events...)
}

// script is a sequence of check outcomes a fake playbook returns.
func script(steps ...[]engine.Drift) func(ctx context.Context) *freshness.Record {
	var i atomic.Int32
	return func(ctx context.Context) *freshness.Record {
		n := int(i.Add(1)) - 1
		started := time.Date(2026, 12, 2, 10, 0, n, 0, time.UTC)
		id := started.Format("20060102T150405Z") + fmt.Sprintf("-%06d", n)
		if n >= len(steps) {
			n = len(steps) - 1
		}
		if steps[n] == nil {
			return freshness.NewRecord(id, "pb.yaml", started, nil, fmt.Errorf("secret store: sealed"))
		}
		res := &engine.CheckResult{Checked: started, Duration: time.Second, Drift: steps[n],
			Credentials: []engine.CredentialAge{{Target: "fleet", System: "h1", Object: "root", Ref: "file:fleet/h1/root#1", Set: started.Add(-48 * time.Hour)}}}
		return freshness.NewRecord(id, "pb.yaml", started, res, nil)
	}
}

var (
	clean  = []engine.Drift{}
	driftA = []engine.Drift{{Target: "fleet", System: "h1", Kind: "admin", Change: "added", ID: "account:intrus", Object: "intrus", To: "sudo group", Detail: "intrus is an admin now"}}
	driftB = append(append([]engine.Drift{}, driftA...), engine.Drift{Target: "fleet", System: "h1", Kind: "listening", Change: "added", ID: "port:tcp:0.0.0.0:5901", Detail: "5901 listens"})
)

// TestNotifyOnStateChangesOnly: one webhook message per change of state
// (first drift, drift changed, check failing, recovered), none while the
// state stays; signed with HMAC; retried after a 503.
func TestNotifyOnStateChangesOnly(t *testing.T) {
	rcv := newReceiver(t)
	rcv.fail.Store(1) // the first post is refused once, then retried
	dir := t.TempDir()
	p := &serve.Playbook{Name: "pb", File: "pb.yaml", History: freshness.History{Dir: dir},
		Check: script(clean, clean, driftA, driftA, driftB, nil, nil, clean, clean)}
	key := "webhook-key"
	srv, err := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour),
		Notify: &serve.Notifier{URL: rcv.srv.URL, Secret: secret.New(key), Backoff: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for range 9 {
		srv.CheckNow(context.Background(), p)
	}
	got := rcv.got()
	want := []struct{ from, to freshness.Status }{{"clean", "drift"}, {"drift", "drift"}, {"drift", "failed"}, {"failed", "clean"}}
	if len(got) != len(want) {
		t.Fatalf("got %d notifications, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].From != w.from || got[i].To != w.to {
			t.Errorf("notification %d: %s -> %s, want %s -> %s", i, got[i].From, got[i].To, w.from, w.to)
		}
	}
	if got[1].DriftItems != 2 || len(got[1].Drift) != 2 {
		t.Errorf("drift-changed notification: %+v", got[1])
	}
	for i, b := range rcv.bodies {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(b)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); rcv.sigs[i] != want {
			t.Errorf("notification %d signature %q, want %q", i, rcv.sigs[i], want)
		}
	}
	hist, err := p.History.List(0)
	if err != nil || len(hist) != 9 {
		t.Fatalf("history: %d records, %v", len(hist), err)
	}
	// A restarted server starts from the history: a clean check after a
	// clean one notifies nothing.
	srv2, err := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour), Notify: &serve.Notifier{URL: rcv.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	srv2.CheckNow(context.Background(), p)
	if n := len(rcv.got()); n != 4 {
		t.Errorf("after a restart, %d notifications, want still 4", n)
	}
}

// TestNotifierGivesUp: a receiver that keeps failing gets the set number
// of attempts, and the error says so.
func TestNotifierGivesUp(t *testing.T) {
	rcv := newReceiver(t)
	rcv.fail.Store(100)
	n := &serve.Notifier{URL: rcv.srv.URL, Attempts: 3, Backoff: time.Millisecond}
	err := n.Send(context.Background(), serve.Event{Playbook: "pb", To: freshness.Drift})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the 503", err)
	}
	if left := rcv.fail.Load(); left != 97 {
		t.Errorf("%d attempts, want 3", 100-left)
	}
}

// TestDashboardAndMetrics serves the dashboard over real HTTP: pages,
// /healthz, /metrics parsed by testutil and by promtool, and the
// security headers; every route is read-only (a POST is refused).
func TestDashboardAndMetrics(t *testing.T) {
	dir := t.TempDir()
	p := &serve.Playbook{Name: "mairie", File: "mairie.yaml", History: freshness.History{Dir: dir}, Check: script(driftA)}
	srv, err := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, body, _ := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no check yet") {
		t.Errorf("/healthz before any check: %d %q", code, body)
	}
	rec := srv.CheckNow(context.Background(), p)
	if code, _, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after a check: %d", code)
	}
	code, body, h := get("/p/mairie")
	if code != 200 || !strings.Contains(body, "intrus is an admin now") || !strings.Contains(body, `data-status="drift"`) {
		t.Errorf("/p/mairie: %d\n%s", code, body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if code, body, _ := get("/p/mairie/checks/" + rec.ID + "?lang=fr"); code != 200 || !strings.Contains(body, "Écarts") && !strings.Contains(body, "Contrôle") {
		t.Errorf("check page in French: %d\n%s", code, body)
	} else if strings.Contains(body, "is an admin now") || !strings.Contains(body, "<td>administrateur</td><td>apparu</td>") || !strings.Contains(body, "administrateur intrus absent du dossier signé (sudo group)") {
		t.Errorf("the French check page does not word the drift in French:\n%s", body)
	}
	if code, _, _ := get("/p/mairie/checks/..%2f..%2fetc%2fpasswd"); code != 404 {
		t.Errorf("a path in a check id: %d, want 404", code)
	}
	resp, err := http.Post(ts.URL+"/p/mairie", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	code, metrics, _ := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	if n, err := testutil.GatherAndCount(srv.Metrics().Registry, "handover_check_drift_items"); err != nil || n != 1 {
		t.Errorf("drift item series: %d, %v", n, err)
	}
	if err := testutil.GatherAndCompare(srv.Metrics().Registry, strings.NewReader(`
# HELP handover_check_drift_items Drift items found by the latest check, per target and kind.
# TYPE handover_check_drift_items gauge
handover_check_drift_items{kind="admin",playbook="pb.yaml",target="fleet"} 1
# HELP handover_credential_age_seconds Age of each current stored credential at the latest check.
# TYPE handover_credential_age_seconds gauge
handover_credential_age_seconds{object="root",playbook="pb.yaml",system="h1",target="fleet"} 172800
`), "handover_check_drift_items", "handover_credential_age_seconds"); err != nil {
		t.Error(err)
	}
	promtool(t, metrics)
	f := filepath.Join(t.TempDir(), "handover.prom")
	if err := srv.Metrics().WriteTextfile(f); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	promtool(t, string(b))
}

// promtool checks an exposition with Debian's promtool (package
// prometheus); the test fails when it is missing.
func promtool(t *testing.T, text string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (testenv/scripts/install-deps.sh does)")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestAuth: with an auth file, a request without the token is refused,
// with it (bearer or basic) served; the file holds only the digest.
func TestAuth(t *testing.T) {
	token := "s3cret-dashboard-token"
	sum := sha256.Sum256([]byte(token))
	f := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(f, []byte("sha256:"+hex.EncodeToString(sum[:])+"\n"), 0o600)
	auth, err := serve.LoadAuth(f)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f, []byte(token+"\n"), 0o600)
	if _, err := serve.LoadAuth(f); err == nil {
		t.Error("a file holding the token itself is accepted")
	}
	p := &serve.Playbook{Name: "pb", File: "pb.yaml", History: freshness.History{Dir: t.TempDir()}, Check: script(clean)}
	srv, _ := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour)})
	ts := httptest.NewServer(srv.Handler(auth))
	defer ts.Close()
	for _, c := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"none", func(*http.Request) {}, 401},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, 200},
		{"basic", func(r *http.Request) { r.SetBasicAuth("anyone", token) }, 200},
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/", nil)
		c.set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

// TestGracefulStop: Run returns once the context ends, after the check
// in flight finished and its record was kept.
func TestGracefulStop(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	dir := t.TempDir()
	p := &serve.Playbook{Name: "pb", File: "pb.yaml", History: freshness.History{Dir: dir}, Check: func(ctx context.Context) *freshness.Record {
		close(started)
		<-release
		return script(clean)(ctx)
	}}
	srv, _ := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Run(ctx, ln, "", "", nil) }()
	<-started
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a check in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if hs, _ := p.History.List(0); len(hs) != 1 {
		t.Errorf("history after stop: %d records, want 1", len(hs))
	}
}

// TestAcknowledge: the form needs its CSRF token and the same origin; an
// acknowledgement is journaled, stops the reminders, and ends when the
// drift changes.
func TestAcknowledge(t *testing.T) {
	rcv := newReceiver(t)
	dir := t.TempDir()
	p := &serve.Playbook{Name: "pb", File: "pb.yaml", History: freshness.History{Dir: filepath.Join(dir, "checks")}, AckDir: filepath.Join(dir, "acks"),
		Check: script(driftA, driftA, driftA, driftB, driftB)}
	srv, _ := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour), Remind: time.Nanosecond,
		Notify: &serve.Notifier{URL: rcv.srv.URL}})
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	srv.CheckNow(context.Background(), p) // first drift: notified
	srv.CheckNow(context.Background(), p) // same drift, not acknowledged: reminded
	if n := len(rcv.got()); n != 2 || !rcv.got()[1].Reminder {
		t.Fatalf("%d notifications, want the drift and a reminder: %+v", n, rcv.got())
	}
	resp, err := http.Get(ts.URL + "/p/pb")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	field := func(name string) string {
		i := strings.Index(string(page), `name="`+name+`" value="`)
		if i < 0 {
			t.Fatalf("no %s field in the page", name)
		}
		rest := string(page)[i+len(`name="`+name+`" value="`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	post := func(form url.Values, origin string, fetchSite ...string) int {
		req, _ := http.NewRequest("POST", ts.URL+"/p/pb/ack", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if len(fetchSite) > 0 {
			req.Header.Set("Sec-Fetch-Site", fetchSite[0])
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := url.Values{"csrf": {field("csrf")}, "drift": {field("drift")}, "who": {"Claire (DSI)"}, "why": {"new admin expected, ticket 42"}}
	bad := url.Values{"csrf": {"0000"}, "drift": {field("drift")}, "who": {"x"}, "why": {"y"}}
	if code := post(bad, ""); code != http.StatusForbidden {
		t.Errorf("a forged token: %d, want 403", code)
	}
	if code := post(good, "http://evil.test"); code != http.StatusForbidden {
		t.Errorf("another origin: %d, want 403", code)
	}
	if code := post(good, ts.URL, "cross-site"); code != http.StatusForbidden {
		t.Errorf("a browser saying another site made the request: %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {field("csrf")}, "drift": {field("drift")}, "who": {"x"}}, "null", "same-origin"); code != http.StatusBadRequest {
		// Chromium posts a same-origin form with "Origin: null" under a
		// no-referrer policy: the browser's Sec-Fetch-Site decides (here
		// the form passes that gate and fails on the missing reason).
		t.Errorf("a same-origin form with Origin: null: %d, want 400 (past the origin check)", code)
	}
	if code := post(good, ts.URL); code != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d, want 303", code)
	}
	js, _ := filepath.Glob(filepath.Join(dir, "acks", "*", "journal.jsonl"))
	if len(js) != 1 {
		t.Fatalf("acknowledgement journals: %v", js)
	}
	if b, _ := os.ReadFile(js[0]); !strings.Contains(string(b), "ticket 42") || !strings.Contains(string(b), "Claire (DSI)") {
		t.Errorf("journal: %s", b)
	}
	srv.CheckNow(context.Background(), p) // acknowledged: no reminder
	if n := len(rcv.got()); n != 2 {
		t.Errorf("after the acknowledgement, %d notifications, want still 2", n)
	}
	srv.CheckNow(context.Background(), p) // the drift changed: notified
	if n := len(rcv.got()); n != 3 || rcv.got()[2].Reminder {
		t.Errorf("drift changed: %d notifications, want 3: %+v", n, rcv.got())
	}
	if code := post(good, ts.URL); code != http.StatusConflict {
		t.Errorf("acknowledging a drift no longer shown: %d, want 409", code)
	}
}

// TestReportFiles: a signed report's files are served read-only, by name
// from a fixed list, for the reports the playbook lists only.
func TestReportFiles(t *testing.T) {
	dir := t.TempDir()
	run := "20261202T100000Z-abcdef"
	rdir := filepath.Join(dir, "reports", run)
	os.MkdirAll(rdir, 0o755)
	os.WriteFile(filepath.Join(rdir, "report.json"), []byte(`{"format_version": 2}`), 0o644)
	os.WriteFile(filepath.Join(rdir, "report.html"), []byte(`<html>report</html>`), 0o644)
	os.WriteFile(filepath.Join(dir, "secrets.age"), []byte("age"), 0o600)
	p := &serve.Playbook{Name: "pb", File: "pb.yaml", History: freshness.History{Dir: filepath.Join(dir, "checks")}, Check: script(clean),
		Reports: func(context.Context) []serve.Report {
			return []serve.Report{{RunID: run, Mode: "run", Dir: rdir, Verified: true, Signer: "dsi"}}
		}}
	srv, _ := serve.New(serve.Options{Playbooks: []*serve.Playbook{p}, Schedule: cron.Every(time.Hour)})
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	for _, c := range []struct {
		path string
		code int
		ct   string
	}{
		{"/p/pb/reports/" + run + "/report.json?download=1", 200, "application/json"},
		{"/p/pb/reports/" + run + "/report.html", 200, "text/html; charset=utf-8"},
		{"/p/pb/reports/" + run + "/report.md", 404, ""},
		{"/p/pb/reports/" + run + "/..%2f..%2fsecrets.age", 404, ""},
		{"/p/pb/reports/other/report.json", 404, ""},
	} {
		resp, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.ct != "" && resp.Header.Get("Content-Type") != c.ct) {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.ct)
		}
	}
}

// TestPlaybookNotificationSettings: a playbook's own webhook and reminder
// period (its watch section) are used for it, the server's for the others.
func TestPlaybookNotificationSettings(t *testing.T) {
	own, shared := newReceiver(t), newReceiver(t)
	dir := t.TempDir()
	every := time.Nanosecond
	a := &serve.Playbook{Name: "a", File: "a.yaml", History: freshness.History{Dir: filepath.Join(dir, "a")},
		Check: script(driftA, driftA, driftA), Notify: &serve.Notifier{URL: own.srv.URL, Secret: secret.New("own-key")}, Remind: &every}
	b := &serve.Playbook{Name: "b", File: "b.yaml", History: freshness.History{Dir: filepath.Join(dir, "b")},
		Check: script(driftA, driftA, driftA)}
	srv, err := serve.New(serve.Options{Playbooks: []*serve.Playbook{a, b}, Schedule: cron.Every(time.Hour),
		Notify: &serve.Notifier{URL: shared.srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		srv.CheckNow(context.Background(), a)
		srv.CheckNow(context.Background(), b)
	}
	// a: the first drift, then a reminder at each check (remind: 1ns); b:
	// the first drift only (the server reminds never).
	ga, gb := own.got(), shared.got()
	if len(ga) != 3 || ga[0].Playbook != "a" || ga[0].Reminder || !ga[1].Reminder || !ga[2].Reminder {
		t.Errorf("a's own webhook got %+v, want the first drift and two reminders", ga)
	}
	if len(gb) != 1 || gb[0].Playbook != "b" {
		t.Errorf("the server's webhook got %+v, want only b's first drift", gb)
	}
	mac := hmac.New(sha256.New, []byte("own-key"))
	mac.Write(own.bodies[0])
	if own.sigs[0] != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("a's notification is not signed with its own key: %q", own.sigs[0])
	}
}
