// Package freshness owns what a freshness check leaves behind: the check
// record (the stable JSON of `handover check -o` and of serve's history),
// the history kept in the state directory, and the Prometheus metrics
// made from the latest records.
package freshness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/handoverhq/handover/handover/atomicfile"
	"github.com/handoverhq/handover/handover/engine"
)

// FormatVersion is the version of the check record's schema
// (docs/commands.md, "handover check").
const FormatVersion = 1

// Record is one freshness check: when, against which signed report, what
// drifted. It holds no secret: drift items are built from the dossier's
// allow-listed fields, credentials appear by store reference and age.
type Record struct {
	FormatVersion int                    `json:"format_version"`
	ID            string                 `json:"id"`
	Playbook      string                 `json:"playbook"`
	Checked       time.Time              `json:"checked"`
	Duration      float64                `json:"duration_seconds"`
	Status        Status                 `json:"status"`
	Error         string                 `json:"error,omitempty"`
	Baseline      *engine.BaselineInfo   `json:"baseline,omitempty"`
	Systems       []SystemCount          `json:"systems,omitempty"`
	Drift         []engine.Drift         `json:"drift"`
	Waived        []engine.Drift         `json:"waived,omitempty"`
	Credentials   []engine.CredentialAge `json:"credentials,omitempty"`
}

// Status is a check's outcome, as its exit status says it.
type Status string

const (
	Clean  Status = "clean"  // exit 0
	Drift  Status = "drift"  // exit 2
	Failed Status = "failed" // exit 1: the check could not be made
)

// SystemCount is how many systems of a target the check read.
type SystemCount struct {
	Target  string `json:"target"`
	Type    string `json:"type"`
	Systems int    `json:"systems"`
	Reached int    `json:"reached"`
}

// NewRecord makes the record of a check: its result, or the error that
// stopped it.
func NewRecord(id, playbook string, started time.Time, res *engine.CheckResult, err error) *Record {
	r := &Record{FormatVersion: FormatVersion, ID: id, Playbook: playbook, Checked: started.UTC(), Drift: []engine.Drift{}}
	if err != nil {
		r.Status, r.Error = Failed, err.Error()
		return r
	}
	r.Checked = res.Checked
	r.Duration = res.Duration.Seconds()
	r.Baseline = res.Baseline
	r.Drift = append(r.Drift, res.Drift...)
	r.Waived = res.Waived
	r.Credentials = res.Credentials
	for _, inv := range res.Dossier {
		sc := SystemCount{Target: inv.Target, Type: inv.Type, Systems: len(inv.Systems)}
		for _, s := range inv.Systems {
			if s.Error == "" {
				sc.Reached++
			}
		}
		r.Systems = append(r.Systems, sc)
	}
	r.Status = Clean
	if len(r.Drift) > 0 {
		r.Status = Drift
	}
	return r
}

// ExitCode is the exit status of `handover check` for the record.
func (r *Record) ExitCode() int {
	switch r.Status {
	case Clean:
		return 0
	case Drift:
		return 2
	}
	return 1
}

// Key is what tells one drift item from another across checks (for
// notifications: the drift changed or not).
func (r *Record) Key() string {
	var ks []string
	for _, d := range r.Drift {
		ks = append(ks, strings.Join([]string{d.Target, d.System, d.Kind, string(d.Change), d.ID, d.Object, d.To}, "\x00"))
	}
	slices.Sort(ks)
	return strings.Join(ks, "\n")
}

// History is the directory of a playbook's check records.
type History struct {
	Dir  string
	Keep int // records kept; older ones are removed (0: 1000)
}

// Add writes a record whole (atomic rename) and prunes the oldest.
func (h History) Add(r *Record) error {
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(h.Dir, r.ID+".json"), append(b, '\n'), 0o600); err != nil {
		return err
	}
	names, err := h.names()
	if err != nil {
		return err
	}
	keep := h.Keep
	if keep <= 0 {
		keep = 1000
	}
	for len(names) > keep {
		os.Remove(filepath.Join(h.Dir, names[0]))
		names = names[1:]
	}
	return nil
}

func (h History) names() ([]string, error) {
	ents, err := os.ReadDir(h.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") && !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out) // ids start with the UTC time
	return out, nil
}

// List returns the records, newest first, at most n (0: all).
func (h History) List(n int) ([]*Record, error) {
	names, err := h.names()
	if err != nil {
		return nil, err
	}
	slices.Reverse(names)
	if n > 0 && len(names) > n {
		names = names[:n]
	}
	var out []*Record
	for _, name := range names {
		r, err := h.read(name)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Get returns the record id.
func (h History) Get(id string) (*Record, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("no check %q", id)
	}
	return h.read(id + ".json")
}

func (h History) read(name string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(h.Dir, name))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(h.Dir, name), err)
	}
	return &r, nil
}

// Metrics are the Prometheus metrics of the latest check of each
// playbook, labelled by playbook.
type Metrics struct {
	Registry    *prometheus.Registry
	driftItems  *prometheus.GaugeVec
	targetDrift *prometheus.GaugeVec
	waivedItems *prometheus.GaugeVec
	success     *prometheus.GaugeVec
	lastRun     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	duration    *prometheus.GaugeVec
	credAge     *prometheus.GaugeVec
	systems     *prometheus.GaugeVec
	checks      *prometheus.CounterVec
}

// NewMetrics registers the metrics in a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.Registry.MustRegister(v)
		return v
	}
	m.driftItems = g("handover_check_drift_items", "Drift items found by the latest check, per target and kind.", "playbook", "target", "kind")
	m.targetDrift = g("handover_check_target_drift_items", "Drift items found by the latest check, per target (0 when clean).", "playbook", "target")
	m.waivedItems = g("handover_check_waived_items", "Drift items of the latest check that a current waiver accepts, per target.", "playbook", "target")
	m.success = g("handover_check_success", "1 if the latest check could be made (drift or not), 0 if it failed.", "playbook")
	m.lastRun = g("handover_check_last_run_timestamp_seconds", "When the latest check started, as a Unix time.", "playbook")
	m.lastSuccess = g("handover_check_last_success_timestamp_seconds", "When the latest check that could be made started, as a Unix time.", "playbook")
	m.duration = g("handover_check_duration_seconds", "How long the latest check took.", "playbook")
	m.credAge = g("handover_credential_age_seconds", "Age of each current stored credential at the latest check.", "playbook", "target", "system", "object")
	m.systems = g("handover_check_systems", "Systems of each target the latest check read (reached or not).", "playbook", "target", "state")
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "handover_checks_total", Help: "Checks made, by status (clean, drift, failed)."}, []string{"playbook", "status"})
	m.Registry.MustRegister(m.checks)
	return m
}

// Observe sets the metrics of r's playbook from r, the latest check.
func (m *Metrics) Observe(r *Record) {
	pb := prometheus.Labels{"playbook": r.Playbook}
	m.checks.WithLabelValues(r.Playbook, string(r.Status)).Inc()
	m.lastRun.With(pb).Set(float64(r.Checked.UnixNano()) / 1e9)
	if r.Status == Failed {
		m.success.With(pb).Set(0)
		return
	}
	m.success.With(pb).Set(1)
	m.lastSuccess.With(pb).Set(float64(r.Checked.UnixNano()) / 1e9)
	m.duration.With(pb).Set(r.Duration)
	m.driftItems.DeletePartialMatch(pb)
	m.waivedItems.DeletePartialMatch(pb)
	m.targetDrift.DeletePartialMatch(pb)
	m.credAge.DeletePartialMatch(pb)
	m.systems.DeletePartialMatch(pb)
	for _, s := range r.Systems {
		m.systems.WithLabelValues(r.Playbook, s.Target, "reached").Set(float64(s.Reached))
		m.systems.WithLabelValues(r.Playbook, s.Target, "unreached").Set(float64(s.Systems - s.Reached))
	}
	counts := map[[2]string]int{}
	for _, d := range r.Drift {
		counts[[2]string{d.Target, d.Kind}]++
	}
	for k, n := range counts {
		m.driftItems.WithLabelValues(r.Playbook, k[0], k[1]).Set(float64(n))
	}
	totals := map[string]int{}
	for _, d := range r.Drift {
		totals[d.Target]++
	}
	for _, s := range r.Systems {
		// Every target has its series, at 0 when clean, so that an alert
		// on > 0 resolves.
		m.targetDrift.WithLabelValues(r.Playbook, s.Target).Set(float64(totals[s.Target]))
	}
	waived := map[string]int{}
	for _, d := range r.Waived {
		waived[d.Target]++
	}
	for t, n := range waived {
		m.waivedItems.WithLabelValues(r.Playbook, t).Set(float64(n))
	}
	for _, c := range r.Credentials {
		m.credAge.WithLabelValues(r.Playbook, c.Target, c.System, c.Object).Set(r.Checked.Sub(c.Set).Seconds())
	}
}

// WriteTextfile writes the registry in the text format for
// node_exporter's textfile collector, atomically (temporary file renamed).
func (m *Metrics) WriteTextfile(path string) error {
	return prometheus.WriteToTextfile(path, m.Registry)
}
