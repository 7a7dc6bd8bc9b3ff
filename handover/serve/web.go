package serve

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/freshness"
	"github.com/handoverhq/handover/handover/report"
)

//go:embed web/*.html web/*.css
var webFS embed.FS

// Auth is the dashboard's authentication: the SHA-256 of the one token
// accepted, as a bearer token or as the password of HTTP basic auth. The
// token itself is never stored by the server.
type Auth struct {
	sum [sha256.Size]byte
}

// LoadAuth reads a file whose first line is "sha256:HEX", the digest of
// the token (`printf %s TOKEN | sha256sum`).
func LoadAuth(path string) (*Auth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil, fmt.Errorf("%s: empty; want sha256:HEX, the digest of the token", path)
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "sha256:")
	b, err := hex.DecodeString(v)
	if !ok || err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%s:1: want sha256:HEX (64 hex digits), the digest of the token, never the token itself", path)
	}
	a := &Auth{}
	copy(a.sum[:], b)
	return a, nil
}

func (a *Auth) allows(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		_, tok, ok = r.BasicAuth()
	}
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
}

// reportFiles are the files of a report directory the dashboard serves.
var reportFiles = []string{report.JSONFile, report.HTMLFile, report.MarkdownFile, report.JournalFile,
	report.JSONFile + report.SigSuffix, report.HTMLFile + report.SigSuffix, report.MarkdownFile + report.SigSuffix,
	report.JournalFile + report.SigSuffix, report.AllowedSignersFile}

// Handler serves the dashboard, /metrics and /healthz. Every route is a
// GET but the acknowledgement of drift, which only journals in the state
// directory: nothing served reaches a target.
func (s *Server) Handler(auth *Auth) http.Handler {
	tpl := template.Must(template.New("").Funcs(template.FuncMap{
		"stamp": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"age": func(now, t time.Time) string {
			d := now.Sub(t).Round(time.Hour)
			if d >= 48*time.Hour {
				return fmt.Sprintf("%d d", int(d.Hours()/24))
			}
			return d.String()
		},
		// dict hands a sub-template the page's words and one value: a
		// record (for its status badge) or drift items (with a table id).
		"dict": func(root map[string]any, v any, id ...string) map[string]any {
			m := map[string]any{"L": root["L"], "Q": root["Q"]}
			switch x := v.(type) {
			case *freshness.Record:
				m["Status"] = x.Status
			case []engine.Drift:
				m["Items"] = x
				if len(id) > 0 {
					m["ID"] = id[0]
				}
			}
			return m
		},
		"where": func(d engine.Drift) string {
			if d.System == "" {
				return d.Target
			}
			return d.Target + "/" + d.System
		},
	}).ParseFS(webFS, "web/*.html"))
	mux := http.NewServeMux()
	page := func(name string, data func(r *http.Request, l words) (any, int)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			l := s.words(r)
			d, code := data(r, l)
			if code != http.StatusOK {
				http.Error(w, http.StatusText(code), code)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
			if err := tpl.ExecuteTemplate(w, name, map[string]any{"L": l, "D": d, "Now": s.opts.Now(), "Q": l.query}); err != nil {
				s.opts.Log.Error("rendering", "page", name, "error", err)
			}
		}
	}
	mux.HandleFunc("GET /{$}", page("index.html", s.indexData))
	mux.HandleFunc("GET /p/{name}", page("playbook.html", s.playbookData))
	mux.HandleFunc("POST /p/{name}/ack", s.ack)
	mux.HandleFunc("GET /p/{name}/checks/{id}", page("check.html", s.checkData))
	mux.HandleFunc("GET /p/{name}/reports/{run}/{file}", s.reportFile)
	mux.HandleFunc("GET /static/style.css", func(w http.ResponseWriter, r *http.Request) {
		b, _ := webFS.ReadFile("web/style.css")
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(b)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.healthz)
	var h http.Handler = mux
	h = secure(h)
	if auth != nil {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !auth.allows(r) {
				w.Header().Set("WWW-Authenticate", `Basic realm="handover", charset="UTF-8"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return h
}

// secure sets the headers every answer carries.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// healthz is 200 when every playbook's latest check could be made (drift
// or not) and is not older than Stale, 503 otherwise, with one line per
// playbook.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := http.StatusOK
	var b strings.Builder
	for _, p := range s.opts.Playbooks {
		wt := s.state[p.Name]
		switch {
		case wt.latest == nil:
			code = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: no check yet\n", p.Name)
		case wt.latest.Status == freshness.Failed:
			code = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: the latest check failed: %s\n", p.Name, wt.latest.Error)
		case s.stale(p) > 0 && s.opts.Now().Sub(wt.latest.Checked) > s.stale(p):
			code = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: the latest check, at %s, is older than %s\n", p.Name, wt.latest.Checked.Format(time.RFC3339), s.stale(p))
		default:
			fmt.Fprintf(&b, "%s: %s at %s\n", p.Name, wt.latest.Status, wt.latest.Checked.Format(time.RFC3339))
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, b.String())
}

func (s *Server) playbook(name string) *Playbook {
	for _, p := range s.opts.Playbooks {
		if p.Name == name {
			return p
		}
	}
	return nil
}

type overviewRow struct {
	Name, File string
	Latest     *freshness.Record
	Next       time.Time
	Running    bool
	Systems    int
	Reached    int
}

func (s *Server) rows() []overviewRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []overviewRow
	for _, p := range s.opts.Playbooks {
		w := s.state[p.Name]
		row := overviewRow{Name: p.Name, File: p.File, Latest: w.latest, Next: w.next, Running: w.running}
		if w.latest != nil {
			for _, sc := range w.latest.Systems {
				row.Systems += sc.Systems
				row.Reached += sc.Reached
			}
		}
		out = append(out, row)
	}
	return out
}

func (s *Server) indexData(r *http.Request, l words) (any, int) {
	return s.rows(), http.StatusOK
}

// bar is one check in the drift chart.
type bar struct {
	ID     string
	X, Y   int
	Height int
	Status freshness.Status
	Title  string
}

type playbookPage struct {
	overviewRow
	Ack     *Ack
	CanAck  bool
	CSRF    string
	DriftID string // digest of the drift shown
	Chart   []bar
	ChartW  int
	History []*freshness.Record
	Reports []Report
}

func (s *Server) playbookData(r *http.Request, l words) (any, int) {
	p := s.playbook(r.PathValue("name"))
	if p == nil {
		return nil, http.StatusNotFound
	}
	var row overviewRow
	for _, x := range s.rows() {
		if x.Name == p.Name {
			row = x
		}
	}
	hist, err := p.History.List(60)
	if err != nil {
		s.opts.Log.Error("reading the history", "playbook", p.Name, "error", err)
	}
	pg := &playbookPage{overviewRow: row, History: hist, CanAck: p.AckDir != "", CSRF: s.csrfToken(p.Name)}
	s.mu.Lock()
	if w := s.state[p.Name]; w.ack != nil {
		a := *w.ack
		pg.Ack = &a
	}
	s.mu.Unlock()
	if row.Latest != nil {
		pg.DriftID = digest(row.Latest.Key())
	}
	if p.Reports != nil {
		pg.Reports = p.Reports(r.Context())
	}
	// Drift items per check, oldest left: a bar chart in SVG.
	maxN := 1
	for _, h := range hist {
		maxN = max(maxN, len(h.Drift))
	}
	chrono := slices.Clone(hist)
	slices.Reverse(chrono)
	for i, h := range chrono {
		ht := 4 + len(h.Drift)*96/maxN
		if len(h.Drift) == 0 {
			ht = 2
		}
		pg.Chart = append(pg.Chart, bar{ID: h.ID, X: i * 12, Y: 100 - ht, Height: ht, Status: h.Status,
			Title: fmt.Sprintf("%s: %d", h.Checked.UTC().Format("2006-01-02 15:04Z"), len(h.Drift))})
	}
	pg.ChartW = max(len(chrono)*12, 12)
	return pg, http.StatusOK
}

func (s *Server) checkData(r *http.Request, l words) (any, int) {
	p := s.playbook(r.PathValue("name"))
	if p == nil {
		return nil, http.StatusNotFound
	}
	rec, err := p.History.Get(r.PathValue("id"))
	if err != nil {
		return nil, http.StatusNotFound
	}
	return map[string]any{"Name": p.Name, "R": rec}, http.StatusOK
}

// reportFile serves one file of a signed report directory, read-only.
func (s *Server) reportFile(w http.ResponseWriter, r *http.Request) {
	p := s.playbook(r.PathValue("name"))
	file, run := r.PathValue("file"), r.PathValue("run")
	if p == nil || p.Reports == nil || !slices.Contains(reportFiles, file) {
		http.NotFound(w, r)
		return
	}
	var dir string
	for _, rp := range p.Reports(r.Context()) {
		if rp.RunID == run && filepath.Base(rp.Dir) == run {
			dir = rp.Dir
		}
	}
	if dir == "" {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if errors.Is(err, os.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "cannot read the file", http.StatusInternalServerError)
		return
	}
	ct := "text/plain; charset=utf-8"
	switch filepath.Ext(file) {
	case ".json":
		ct = "application/json"
	case ".html":
		ct = "text/html; charset=utf-8"
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	}
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", run+"-"+file))
	}
	w.Header().Set("Content-Type", ct)
	w.Write(b)
}
