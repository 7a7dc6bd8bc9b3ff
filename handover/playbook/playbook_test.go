package playbook_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

const file = "dir/mairie.yaml"

// posOf is where needle first appears in src, as the YAML parser counts.
func posOf(t *testing.T, src, needle string) playbook.Pos {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("%q is not in the playbook", needle)
	}
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return playbook.Pos{File: file, Line: line, Col: col}
}

const complete = `# every key of docs/playbook.md
version: 1
handover:
  client:
    name: Mairie de Saint-Exemple
    domain: mairie-saint-exemple.fr
    contact: dsi@mairie-saint-exemple.fr
  outgoing: {name: Prestanet Informatique, domain: prestanet.fr}
  incoming: {name: Nouvelle Infogerance}
  contract: "Marché 2026-014, lot 2"
  date: 2026-11-23
  operator: Marie Dupont
state: /var/lib/handover/mairie
report:
  dir: /srv/archives/handover
  lang: en
  formats: [json, md]
secrets:
  store: file
  file:
    path: /var/lib/handover/mairie/secrets.age
    passphrase: ${file:~/store-passphrase}
  vault:
    address: https://vault.mairie.lan:8200
    mount: kv
    prefix: /handover/mairie/
    token: ${env:VAULT_TOKEN}
    ca_cert: /etc/handover/vault-ca.pem
signing:
  key: /etc/handover/signing_ed25519
  public_key: SHA256:N0luSb1ngCvkpJ3x6SqJfpqeCTKa0wR5d25/hBatxG0
  identity: dsi@mairie-saint-exemple.fr
outgoing:
  names: [Prestanet, PRESTANET INFO]
  domains: prestanet.fr
  ssh_keys:
    - SHA256:U/L5Wcyge4MKOVBNbewnJG4guxKShpQb6CRetldeb0g
  key_comments: ["*@prestanet*"]
  accounts: ["prestanet-*", "presta_*"]
  agents: [teamviewer, anydesk]
policy:
  rotate:
    admins: false
    accounts: ["annuaire:uid=sauvegarde,ou=services,dc=mairie,dc=fr"]
  password:
    length: 28
    lower: yes
    upper: on
    digits: true
    symbols: true
    symbol_set: "-_.:"
  retries: 2
  access_key_type: rsa
  max_credential_age: 180d
  parallel: 8
  timeout: 15m
waivers:
  - target: serveurs
    finding: "srv-sauvegarde/agent:zabbix-agent"
    justification: Supervision kept until the new provider's monitoring is live
    approver: Jean Martin
    expires: 2027-03-31
targets:
  - name: annuaire
    type: ldap
    url: ldaps://ldap.mairie.fr
    password: ${vault:secret/infra/ldap#admin_password}
  - name: serveurs
    type: ssh
    timeout: 20m
    password_policy:
      length: 32
      symbols: false
    hosts: [srv-app1]
`

func TestParseComplete(t *testing.T) {
	pb, d := playbook.Parse(file, []byte(complete))
	if diags := d.Diagnostics(); len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
	day := 24 * time.Hour
	want := &playbook.Playbook{
		File: file,
		Dir:  "dir",
		Hash: pb.Hash,
		// Version through Targets, as written above.
		Version: 1,
		Handover: playbook.Handover{
			Client:   playbook.Party{Name: "Mairie de Saint-Exemple", Domain: "mairie-saint-exemple.fr", Contact: "dsi@mairie-saint-exemple.fr"},
			Outgoing: playbook.Party{Name: "Prestanet Informatique", Domain: "prestanet.fr"},
			Incoming: playbook.Party{Name: "Nouvelle Infogerance"},
			Contract: "Marché 2026-014, lot 2",
			Date:     time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
			Operator: "Marie Dupont",
		},
		State:  "/var/lib/handover/mairie",
		Report: playbook.ReportSettings{Dir: "/srv/archives/handover", Lang: "en", Formats: []string{"json", "md"}},
		Secrets: playbook.SecretsSettings{
			Store: "file",
			File: playbook.FileStoreSettings{
				Path:       "/var/lib/handover/mairie/secrets.age",
				Passphrase: playbook.Ref{Kind: "file", Arg: "~/store-passphrase", Pos: posOf(t, complete, "${file:~")},
			},
			Vault: playbook.VaultSettings{
				Address: "https://vault.mairie.lan:8200",
				Mount:   "kv",
				Prefix:  "handover/mairie",
				Token:   playbook.Ref{Kind: "env", Arg: "VAULT_TOKEN", Pos: posOf(t, complete, "${env:VAULT_TOKEN}")},
				CACert:  "/etc/handover/vault-ca.pem",
				Pos:     posOf(t, complete, "address: https://vault"),
			},
		},
		Signing: playbook.SigningSettings{
			Key:          "/etc/handover/signing_ed25519",
			PublicKey:    "SHA256:N0luSb1ngCvkpJ3x6SqJfpqeCTKa0wR5d25/hBatxG0",
			Identity:     "dsi@mairie-saint-exemple.fr",
			Pos:          posOf(t, complete, "key: /etc/handover/signing"),
			KeyPos:       posOf(t, complete, "/etc/handover/signing"),
			PublicKeyPos: posOf(t, complete, "SHA256:N0luSb1ngCvkpJ3x6SqJfpqeCTKa0wR5d25"),
		},
		Outgoing: playbook.Outgoing{
			Names:       []string{"Prestanet", "PRESTANET INFO"},
			Domains:     []string{"prestanet.fr"},
			SSHKeys:     []string{"SHA256:U/L5Wcyge4MKOVBNbewnJG4guxKShpQb6CRetldeb0g"},
			KeyComments: []string{"*@prestanet*"},
			Accounts:    []string{"prestanet-*", "presta_*"},
			Agents:      []string{"teamviewer", "anydesk"},
			AgentsPos:   []playbook.Pos{posOf(t, complete, "teamviewer, anydesk]"), posOf(t, complete, "anydesk]")},
		},
		Policy: playbook.Policy{
			RotateAdmins:     false,
			RotateAccounts:   []string{"annuaire:uid=sauvegarde,ou=services,dc=mairie,dc=fr"},
			Password:         secret.Policy{Length: 28, Lower: true, Upper: true, Digits: true, Symbols: true, SymbolSet: "-_.:"},
			Retries:          2,
			AccessKeyType:    "rsa",
			MaxCredentialAge: 180 * day,
			Parallel:         8,
			Timeout:          15 * time.Minute,
		},
		Waivers: []playbook.Waiver{{
			Target:        "serveurs",
			Finding:       "srv-sauvegarde/agent:zabbix-agent",
			Justification: "Supervision kept until the new provider's monitoring is live",
			Approver:      "Jean Martin",
			Expires:       time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC),
			Pos:           posOf(t, complete, "target: serveurs"),
		}},
	}
	wantTargets := []struct {
		t        playbook.Target
		settings []string
	}{
		{playbook.Target{Name: "annuaire", Type: "ldap", Pos: posOf(t, complete, "name: annuaire")}, []string{"url", "password"}},
		{playbook.Target{
			Name: "serveurs", Type: "ssh", Timeout: 20 * time.Minute,
			Password: &secret.Policy{Length: 32, Lower: true, Upper: true, Digits: true, Symbols: false},
			Pos:      posOf(t, complete, "name: serveurs"),
		}, []string{"hosts"}},
	}

	if len(pb.Targets) != len(wantTargets) {
		t.Fatalf("%d targets, want %d", len(pb.Targets), len(wantTargets))
	}
	for i, wt := range wantTargets {
		got := pb.Targets[i]
		var keys []string
		for j := 0; j < len(got.Settings.Content); j += 2 {
			keys = append(keys, got.Settings.Content[j].Value)
		}
		if !reflect.DeepEqual(keys, wt.settings) {
			t.Errorf("target %s: connector settings %q, want %q", got.Name, keys, wt.settings)
		}
		if got.Settings.Kind != yaml.MappingNode {
			t.Errorf("target %s: settings are not a mapping", got.Name)
		}
		got.Settings = nil
		if !reflect.DeepEqual(got, wt.t) {
			t.Errorf("target %d:\n%+v\nwant\n%+v", i, got, wt.t)
		}
	}
	pb.Targets = nil
	if !reflect.DeepEqual(pb, want) {
		t.Errorf("Parse:\n%+v\nwant\n%+v", pb, want)
	}
	if len(pb.Hash) != 64 {
		t.Errorf("Hash = %q, want a SHA-256", pb.Hash)
	}
	refs := d.Refs()
	if len(refs) != 2 || refs[0] != want.Secrets.File.Passphrase || refs[1] != want.Secrets.Vault.Token {
		t.Errorf("Refs() = %+v, want the passphrase and the token", refs)
	}
}

func TestParseDefaults(t *testing.T) {
	src := `version: 1
handover:
  client: {name: Mairie}
  outgoing: {name: Prestanet}
secrets:
  file: {path: s.age, identity: key.txt}
outgoing:
  domains: [prestanet.fr]
targets:
  - {name: srv, type: ssh}
`
	pb, d := playbook.Parse("/etc/handover/mairie.yaml", []byte(src))
	if diags := d.Diagnostics(); len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"dir", pb.Dir, "/etc/handover"},
		{"state", pb.State, filepath.Join(".handover", "mairie")},
		{"report", pb.Report, playbook.ReportSettings{Dir: filepath.Join(".handover", "mairie", "reports"), Lang: "fr", Formats: []string{"json", "html", "md"}}},
		{"store", pb.Secrets.Store, "file"},
		{"identity", pb.Secrets.File.Identity, "key.txt"},
		{"policy", pb.Policy, playbook.Policy{RotateAdmins: true, Password: secret.DefaultPolicy(), Retries: 3, AccessKeyType: "ed25519", MaxCredentialAge: 90 * 24 * time.Hour, Parallel: 16, Timeout: 10 * time.Minute}},
		{"signing", pb.Signing, playbook.SigningSettings{}},
		{"waivers", pb.Waivers, []playbook.Waiver(nil)},
		{"agents", pb.Outgoing.Agents, []string(nil)},
		{"target timeout", pb.Targets[0].Timeout, time.Duration(0)},
		{"target password policy", pb.Targets[0].Password, (*secret.Policy)(nil)},
		{"date", pb.Handover.Date, time.Time{}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %+v, want %+v", c.what, c.got, c.want)
		}
	}
	// A report directory given without a state goes where it is told.
	pb, _ = playbook.Parse("m.yaml", []byte(src+"report: {dir: out}\n"))
	if pb.Report.Dir != "out" || pb.State != filepath.Join(".handover", "m") {
		t.Errorf("report dir %q, state %q", pb.Report.Dir, pb.State)
	}
}

func TestSecretsStoreSelection(t *testing.T) {
	head := "version: 1\nhandover: {client: {name: M}, outgoing: {name: P}}\noutgoing: {domains: [p.fr]}\ntargets: [{name: srv, type: ssh}]\n"
	const vault = "  vault: {prefix: handover/m}\n"
	const file = "  file: {path: s.age, passphrase: \"${env:P}\"}\n"
	tests := []struct {
		name      string
		secrets   string
		wantStore string
		wantDiags []string
	}{
		{"only vault: vault", "secrets:\n" + vault, "vault", nil},
		{"only file: file", "secrets:\n" + file, "file", nil},
		{"both: file", "secrets:\n" + file + vault, "file", nil},
		{"both, store vault", "secrets:\n  store: vault\n" + file + vault, "vault", nil},
		{"store file without file", "secrets:\n  store: file\n" + vault, "file", []string{"6:3: secrets: store is file but secrets.file is missing"}},
		{"store vault without vault", "secrets:\n  store: vault\n" + file, "vault", []string{"6:3: secrets: store is vault but secrets.vault is missing"}},
		{"no secrets section", "", "file", nil},
		{"empty secrets", "secrets: {}\n", "file", []string{"5:10: secrets: store is file but secrets.file is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb, d := playbook.Parse("t.yaml", []byte(head+tt.secrets))
			if pb.Secrets.Store != tt.wantStore {
				t.Errorf("store = %q, want %q", pb.Secrets.Store, tt.wantStore)
			}
			if got := short(d.Diagnostics()); !reflect.DeepEqual(got, tt.wantDiags) {
				t.Errorf("diagnostics:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.wantDiags, "\n"))
			}
		})
	}
}

// short renders diagnostics as "line:col: message".
func short(ds playbook.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, strings.TrimPrefix(d.String(), d.Pos.File+":"))
	}
	return out
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(path, []byte(complete), 0o600); err != nil {
		t.Fatal(err)
	}
	pb, d, err := playbook.Load(path)
	if err != nil || len(d.Diagnostics()) != 0 {
		t.Fatalf("Load: %v, %v", err, d.Diagnostics())
	}
	if pb.File != path || pb.Dir != dir || len(pb.Targets) != 2 {
		t.Errorf("Load: file %q, dir %q, %d targets", pb.File, pb.Dir, len(pb.Targets))
	}
	again, _ := playbook.Parse("other.yaml", []byte(complete))
	if again.Hash != pb.Hash {
		t.Error("the same bytes hash differently")
	}
	changed, _ := playbook.Parse("m.yaml", []byte(complete+"\n"))
	if changed.Hash == pb.Hash {
		t.Error("different bytes hash the same")
	}
	if _, _, err := playbook.Load(filepath.Join(dir, "missing.yaml")); !os.IsNotExist(err) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestIsCommonTargetKey(t *testing.T) {
	for key, want := range map[string]bool{"name": true, "type": true, "timeout": true, "password_policy": true, "password": false, "hosts": false, "Name": false} {
		if got := playbook.IsCommonTargetKey(key); got != want {
			t.Errorf("IsCommonTargetKey(%q) = %v, want %v", key, got, want)
		}
	}
}
