package serve

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
)

// Ack is a person's acknowledgement of a playbook's drift as it is: it
// stops the reminders until the drift changes. It accepts nothing (the
// dossier stays as signed: `handover dossier update` does that).
type Ack struct {
	Key string // digest of the drift acknowledged
	Who string
	Why string
	At  time.Time
	// Journal is the hash-chained record of the acknowledgement.
	Journal string
}

func digest(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// csrfToken is the token the acknowledge form carries for playbook name:
// an HMAC with a key made at start, so a page of another site cannot
// forge it.
func (s *Server) csrfToken(name string) string {
	m := hmac.New(sha256.New, s.csrfKey[:])
	m.Write([]byte("ack\x00" + name))
	return hex.EncodeToString(m.Sum(nil))
}

func newCSRFKey() (k [32]byte) {
	rand.Read(k[:])
	return k
}

// crossOrigin is the standard library's cross-origin protection: a
// browser's Sec-Fetch-Site first (which a page cannot forge), else Origin
// against Host. It does not depend on what Origin a browser sends under
// the page's referrer policy: with "no-referrer", Chromium posts a
// same-origin form with "Origin: null", which comparing Origin alone
// refused.
var crossOrigin = http.NewCrossOriginProtection()

// sameOrigin refuses a request another site's page made.
func sameOrigin(r *http.Request) bool { return crossOrigin.Check(r) == nil }

// ack handles the acknowledge form: same origin, a valid CSRF token, a
// name and a reason, and the drift shown when the form was made still the
// drift now. It journals the acknowledgement in the state directory and
// redirects to the playbook's page.
func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	p := s.playbook(r.PathValue("name"))
	if p == nil || p.AckDir == "" {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !sameOrigin(r) ||
		!hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrfToken(p.Name))) {
		http.Error(w, "forbidden: the form did not come from this dashboard", http.StatusForbidden)
		return
	}
	who, why := strings.TrimSpace(r.PostForm.Get("who")), strings.TrimSpace(r.PostForm.Get("why"))
	if who == "" || why == "" || len(who) > 200 || len(why) > 2000 {
		http.Error(w, "say who acknowledges, and why", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	wt := s.state[p.Name]
	var key string
	if wt.latest != nil {
		key = wt.latest.Key()
	}
	s.mu.Unlock()
	if wt.latest == nil || len(wt.latest.Drift) == 0 || r.PostForm.Get("drift") != digest(key) {
		http.Error(w, "the drift changed since the page was shown: look again", http.StatusConflict)
		return
	}
	now := s.opts.Now().UTC()
	id := now.Format("20060102T150405Z") + "-" + digest(key)[:6]
	path := filepath.Join(p.AckDir, id, "journal.jsonl")
	j, err := journal.Create(path, id, who, s.opts.Now)
	if err == nil {
		_, err = j.Append(journal.Record{Kind: journal.Event, Run: id, Result: plan.Done, Detail: map[string]string{
			"event": "drift-acknowledged", "playbook": p.File, "check": wt.latest.ID, "drift_sha256": digest(key),
			"drift_items": fmt.Sprint(len(wt.latest.Drift)), "who": who, "why": why, "remote": r.RemoteAddr}})
		if cerr := j.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.opts.Log.Error("journaling an acknowledgement", "playbook", p.Name, "error", err)
		http.Error(w, "the acknowledgement could not be journaled", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	wt.ack = &Ack{Key: key, Who: who, Why: why, At: now, Journal: path}
	s.mu.Unlock()
	s.opts.Log.Info("drift acknowledged", "playbook", p.Name, "who", who, "journal", path)
	http.Redirect(w, r, "/p/"+url.PathEscape(p.Name)+"?"+r.URL.RawQuery, http.StatusSeeOther)
}
