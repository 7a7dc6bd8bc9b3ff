// Package nsd runs the testenv's authoritative DNS server: NSD 4 serving
// the client's zones on their own loopback address, with the records a
// small organisation's domains typically carry (Microsoft 365 and Google
// Workspace verification and mail routing, a newsletter sender's SPF
// include, DKIM selectors) and those the outgoing provider left pointing
// at itself (a backup MX, an SPF include, DMARC reports, the zone's name
// servers, a DKIM key and the website).
//
// Everything lives in the component directory: nsd.conf, zones/*.zone,
// nsd.log. Tests reach the server over the network only (testenv.DNSAddr);
// the zone files are the server's, never a test's input.
package nsd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/miekg/dns"

	"github.com/handoverhq/handover/testenv"
	"github.com/handoverhq/handover/testenv/internal/component"
	"github.com/handoverhq/handover/testenv/internal/proc"
)

// Component runs nsd.
type Component struct{}

var _ component.Component = Component{}

func (Component) Name() string { return "nsd" }

type layout struct{ dir string }

func (l layout) conf() string    { return filepath.Join(l.dir, "nsd.conf") }
func (l layout) zones() string   { return filepath.Join(l.dir, "zones") }
func (l layout) pidFile() string { return filepath.Join(l.dir, "testenv-nsd.pid") }
func (l layout) logFile() string { return filepath.Join(l.dir, "nsd.log") }

// pidMatch is what the recorded PID's command line must contain for Down
// to stop it.
const pidMatch = "nsd"

// Up starts nsd with the planted zones, or leaves a healthy one alone.
func (Component) Up(ctx context.Context, o component.Options, env *testenv.Env) error {
	l := layout{o.Dir}
	if pid := proc.ReadPID(l.pidFile()); proc.Alive(pid) && probe(ctx) == nil {
		fill(env, pid)
		return nil
	}
	if err := stop(l); err != nil {
		return err
	}
	if err := prepare(l); err != nil {
		return err
	}
	return start(ctx, l, env)
}

// Reset rewrites the zones and restarts nsd: no test changes them, but a
// reset must give back exactly the planted records.
func (c Component) Reset(ctx context.Context, o component.Options, env *testenv.Env) error {
	l := layout{o.Dir}
	if err := stop(l); err != nil {
		return err
	}
	if err := prepare(l); err != nil {
		return err
	}
	return start(ctx, l, env)
}

// Down stops the nsd this component started, by its recorded PID.
func (Component) Down(ctx context.Context, o component.Options) error {
	return stop(layout{o.Dir})
}

func stop(l layout) error {
	if err := proc.Stop(l.pidFile(), pidMatch, 10*time.Second); err != nil {
		return fmt.Errorf("stop nsd: %w", err)
	}
	return nil
}

func prepare(l layout) error {
	if err := os.MkdirAll(l.zones(), 0o755); err != nil {
		return err
	}
	var conf bytes.Buffer
	if err := confTemplate.Execute(&conf, confData{Dir: l.dir, Zones: l.zones(), Addr: testenv.DNSHost, Port: testenv.DNSPort, Names: zoneNames()}); err != nil {
		return err
	}
	if err := os.WriteFile(l.conf(), conf.Bytes(), 0o644); err != nil {
		return err
	}
	for _, z := range plantedZones() {
		if err := os.WriteFile(filepath.Join(l.zones(), z.name+".zone"), []byte(z.text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func start(ctx context.Context, l layout, env *testenv.Env) error {
	if err := os.Remove(l.logFile()); err != nil && !os.IsNotExist(err) {
		return err
	}
	// -d: stay in the foreground, so the recorded PID is the server's.
	pid, err := proc.Start(l.pidFile(), l.logFile(), nil, "/usr/sbin/nsd", "-d", "-c", l.conf())
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := proc.WaitReady(wctx, pid, l.logFile(), probe); err != nil {
		return fmt.Errorf("nsd: %w", err)
	}
	fill(env, pid)
	return nil
}

// probe asks every planted zone's SOA over UDP and expects an
// authoritative answer.
func probe(ctx context.Context) error {
	c := &dns.Client{Timeout: 2 * time.Second}
	for _, name := range zoneNames() {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeSOA)
		r, _, err := c.ExchangeContext(ctx, m, testenv.DNSAddr)
		if err != nil {
			return fmt.Errorf("SOA %s at %s: %w", name, testenv.DNSAddr, err)
		}
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
			return fmt.Errorf("SOA %s at %s: %s, authoritative %v, %d answer(s)", name, testenv.DNSAddr, dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
		}
	}
	return nil
}

func fill(env *testenv.Env, pid int) {
	env.DNS = &testenv.DNSEnv{
		Addr:           testenv.DNSAddr,
		Domains:        zoneNames(),
		ClientDomain:   testenv.ClientDomain,
		LargeDomain:    LargeDomain,
		MissingDomain:  MissingDomain,
		ProviderDomain: testenv.ProviderDomain,
		PID:            pid,
	}
}

type confData struct {
	Dir, Zones, Addr string
	Port             int
	Names            []string
}

var confTemplate = template.Must(template.New("nsd.conf").Parse(`# Written by testenv: the client's authoritative DNS server.
server:
  ip-address: {{.Addr}}@{{.Port}}
  port: {{.Port}}
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "{{.Zones}}"
  pidfile: "{{.Dir}}/nsd.pid"
  database: ""
  zonelistfile: "{{.Dir}}/zone.list"
  xfrdfile: "{{.Dir}}/xfrd.state"
  xfrdir: "{{.Dir}}"
  server-count: 1
  hide-version: yes
  verbosity: 1
  tcp-count: 32
remote-control:
  control-enable: no
{{range .Names}}
zone:
  name: {{.}}
  zonefile: {{.}}.zone
{{end}}`))
