package main

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/connectors/builtin"
	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/testenv"
)

// TestDossierCloudAndDeclared runs a handover of the client's domain (the
// testenv's DNS server, asked over the network) with four declared items:
// the plan lists their steps, two are attested with `handover attest`,
// the signed report carries the cloud services, the attestations and the
// completeness figure, the schéma draws an arrow for every link of the
// inventory, `handover verify` accepts it and `handover check` reports
// the step still awaiting attestation.
func TestDossierCloudAndDeclared(t *testing.T) {
	env := testenv.Require(t)
	if env.DNS == nil {
		t.Fatal("this test needs the testenv's DNS server: run `bin/testenv up -only nsd`")
	}
	testenv.LockComponent(t, "nsd", false)
	dir := t.TempDir()
	rdap := rdapStandIn(t)
	pb := writePlaybook(t, dir, playbookHead(env, dir)+`targets:
  - name: dns
    type: dns
    domains: [`+env.DNS.ClientDomain+`]
    resolver: `+env.DNS.Addr+`
    rdap: {bootstrap: `+rdap+`/bootstrap.json}
declared:
  - {id: pare-feu, kind: firewall, name: Pare-feu Stormshield SN310, owner: DSI, credential: "KeePass DSI, entrée pare-feu", provider_knew: true, action: rotate, rotation: 365d}
  - {id: wifi, kind: wifi, name: Wi-Fi des agents, owner: DSI, provider_knew: true, action: rotate}
  - {id: registrar, kind: registrar, name: Compte Gandi, owner: Secrétariat général, provider_knew: true, action: transfer-ownership,
     waiver: {justification: "le contrat Gandi reste au nom du prestataire jusqu'à son terme", approver: Le Maire, expires: 2099-01-31}}
  - {id: m365, kind: m365-tenant, name: Tenant Microsoft 365, owner: DSI, provider_knew: true, action: revoke-provider-account}
`)
	step := func(wantCode int, args ...string) string {
		t.Helper()
		out, code, sig := handover(t, nil, args...)
		if sig != 0 || code != wantCode {
			t.Fatalf("handover %s: exit %d (signal %v), want %d\n%s", strings.Join(args, " "), code, sig, wantCode, out)
		}
		return out
	}
	step(0, "lint", pb)
	out := step(0, "plan", pb)
	for _, want := range []string{"manual steps", "rotate                   pare-feu", "revoke-provider-account  m365", "Manual: 4 step(s), 3 awaiting attestation."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}

	evidence := filepath.Join(dir, "pv-pare-feu.txt")
	if err := os.WriteFile(evidence, []byte("PV signé le 23/11/2026\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	step(0, "attest", pb, "pare-feu", "--by", "Jeanne Martin (DSI)", "--note", "mot de passe admin changé, compte prestanet supprimé", "--evidence", evidence)
	step(0, "attest", pb, "wifi", "--by", "Jeanne Martin (DSI)", "--note", "clé WPA2 changée sur les 3 bornes", "--date", "2026-11-20")
	if out := step(1, "attest", pb, "wifi", "--by", "X", "--note", "again"); !strings.Contains(out, "already attested") {
		t.Errorf("second attestation: %s", out)
	}
	if out := step(1, "attest", pb, "wiif", "--by", "X", "--note", "y"); !strings.Contains(out, `did you mean "wifi"?`) {
		t.Errorf("unknown item: %s", out)
	}
	recs, head, err := journal.VerifyFile(filepath.Join(dir, "state", "attestations.jsonl"))
	if err != nil || len(recs) != 2 {
		t.Fatalf("attestation journal: %d records, %v", len(recs), err)
	}

	out = step(0, "run", "--yes", pb)
	m := regexp.MustCompile(`Report:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("run printed no report directory:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(m[1], "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Completeness
	if c == nil || c.Items != 4 || c.Done != 2 || c.Waived != 1 || c.Awaiting != 1 || c.Complete {
		t.Errorf("completeness: %+v", c)
	}
	if r.Attestations == nil || r.Attestations.Head != head || len(r.Attestations.Records) != 2 {
		t.Errorf("attestations: %+v", r.Attestations)
	}
	md, err := os.ReadFile(filepath.Join(m[1], "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Passation incomplète : 2 élément(s) sur 4 fait(s), 1 étape(s) manuelle(s) en attente d'attestation, 1 sous dérogation.",
		"attesté par Jeanne Martin (DSI), fait le 2026-11-20 : clé WPA2 changée sur les 3 bornes",
		"Microsoft 365", "`" + env.DNS.ClientDomain + " MX 0 mairie-saint-exemple-test.mail.protection.outlook.com`",
		"Google Workspace", "Mailjet",
		// The registrar, from RDAP (a local stand-in of the registry).
		"| " + env.DNS.ClientDomain + " | Gandi SAS | domain registrar (RDAP) |", "`RDAP registrar abuse contact: abuse@support.gandi.net, +33.170377661`",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	// The schéma draws one arrow per distinct link of the inventory, red
	// exactly where the provider controls it.
	page, err := os.ReadFile(filepath.Join(m[1], "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	var drawn []string
	for _, e := range regexp.MustCompile(`<path class="(link(?: provider)?)" data-from="([^"]*)" data-to="([^"]*)" data-kind="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		drawn = append(drawn, html.UnescapeString(e[2]+" | "+e[4]+" | "+e[3]+" | "+e[1]))
	}
	var want []string
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			for _, l := range s.Links {
				class := "link"
				if l.Provider {
					class = "link provider"
				}
				want = append(want, s.Name+" | "+l.Kind+" | "+l.To+" | "+class)
			}
		}
	}
	slices.Sort(drawn)
	slices.Sort(want)
	want = slices.Compact(want)
	if len(want) < 8 || !slices.Equal(drawn, want) {
		t.Errorf("schéma edges:\n got %q\nwant %q", drawn, want)
	}
	var provFindings int
	for _, o := range r.Outgoing {
		if o.Finding.Kind == connector.KindDNSRecord {
			provFindings++
		}
	}
	if provFindings != 9 {
		t.Errorf("provider DNS records in the report's outgoing section: %d, want 9", provFindings)
	}

	pub, err := os.ReadFile(env.Operator.SigningPub)
	if err != nil {
		t.Fatal(err)
	}
	trusted := filepath.Join(dir, "trusted_signers")
	if err := os.WriteFile(trusted, []byte(env.Operator.Identity+" "+string(pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	step(0, "verify", "--allowed-signers", trusted, filepath.Join(m[1], "report.json"))

	out = step(exitChanges, "check", pb)
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "attestation-missing declared/m365-tenant m365") || strings.Contains(out, "pare-feu") {
		t.Errorf("check output:\n%s", out)
	}
}

// TestAskAttestations: on a terminal, run asks for each declared step
// awaiting attestation; a step confirmed is recorded as `handover attest`
// records it, one skipped stays awaiting, a bad date records nothing.
func TestAskAttestations(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HANDOVER_TEST_PASSPHRASE", "unused")
	pb := writePlaybook(t, dir, `version: 1
handover:
  client: {name: Mairie}
  outgoing: {name: Prestanet}
state: `+dir+`/state
secrets:
  file: {path: `+dir+`/secrets.age, passphrase: "${env:HANDOVER_TEST_PASSPHRASE}"}
outgoing: {domains: [prestanet.test]}
targets:
  - {name: dns, type: dns, domains: [mairie.test], resolver: 192.0.2.1}
declared:
  - {id: pare-feu, kind: firewall, name: Pare-feu, owner: DSI, provider_knew: true, action: rotate}
  - {id: wifi, kind: wifi, name: Wi-Fi, owner: DSI, provider_knew: true, action: rotate}
  - {id: m365, kind: m365-tenant, name: Tenant, owner: DSI, provider_knew: true, action: revoke-provider-account}
  - {id: licences, kind: licence, name: Licences, owner: DSI, provider_knew: false, action: nothing}
`)
	var out strings.Builder
	s := &stdio{out: &out, err: &out}
	sess, err := loadWith(context.Background(), s, &engine.Engine{Registry: builtin.Registry()}, pb)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	in := strings.NewReader("y\nJeanne Martin (DSI)\nmot de passe changé\n2026-11-20\n\n" + // pare-feu
		"\n" + // wifi: skipped
		"oui\nJeanne\nfait\nhier\n\n") // m365: a bad date
	if err := askAttestations(context.Background(), sess, in, &out); err != nil {
		t.Fatal(err)
	}
	recs, _, err := journal.VerifyFile(sess.AttestationsPath())
	if err != nil || len(recs) != 1 || recs[0].Object != "pare-feu" || recs[0].Detail["by"] != "Jeanne Martin (DSI)" || recs[0].Detail["done"] != "2026-11-20T00:00:00Z" {
		t.Fatalf("attestations: %+v, %v\n%s", recs, err, out.String())
	}
	for _, want := range []string{"3 declared step(s) await a written attestation", "recorded (attestation 1", `"hier" is not a date: not recorded`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "licences") {
		t.Error("a step with nothing to do was asked")
	}
}

// rdapStandIn serves the RDAP answers of connectors/dns/testdata/rdap (a
// local stand-in for IANA's bootstrap file and the registry: RDAP is a
// public service on the internet, which tests do not reach) and returns
// its URL.
func rdapStandIn(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "connectors", "dns", "testdata", "rdap")
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file := filepath.Join(dir, "bootstrap.json")
		if name, ok := strings.CutPrefix(r.URL.Path, "/registry/domain/"); ok {
			file = filepath.Join(dir, filepath.Base(name)+".json")
		} else if r.URL.Path != "/bootstrap.json" {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		w.Write([]byte(strings.ReplaceAll(string(b), "{{BASE}}", srv.URL)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
