package playbook_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/playbook"
)

// base is a valid playbook of ten lines; cases append to it from line 11.
const base = `version: 1
handover:
  client: {name: Mairie}
  outgoing: {name: Prestanet}
secrets:
  file: {path: s.age, passphrase: "${env:P}"}
outgoing:
  domains: [prestanet.fr]
targets:
  - {name: srv, type: ssh}
`

func TestBaseIsValid(t *testing.T) {
	_, d := playbook.Parse("t.yaml", []byte(base))
	if diags := d.Diagnostics(); len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
}

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // line:col: message, in position order
	}{
		// Keys.
		{"unknown key, did you mean", base + "polcy:\n  retries: 2\n", []string{`11:1: unknown key "polcy" in playbook (did you mean "policy"?)`}},
		{"unknown key, two letters off", base + "stat: x\n", []string{`11:1: unknown key "stat" in playbook (did you mean "state"?)`}},
		{"unknown key, nothing close", base + "colour: blue\n", []string{`11:1: unknown key "colour" in playbook`}},
		{"unknown nested key", base + "policy:\n  retires: 2\n", []string{`12:3: unknown key "retires" in policy (did you mean "retries"?)`}},
		{"unknown key in a party", "version: 1\nhandover:\n  client: {name: M, domian: m.fr}\n  outgoing: {name: P}\noutgoing: {domains: [p.fr]}\ntargets: [{name: srv, type: ssh}]\n",
			[]string{`3:21: unknown key "domian" in handover.client (did you mean "domain"?)`}},
		{"duplicate key", base + "state: a\nstate: b\n", []string{`12:1: duplicate key "state" in playbook`}},
		{"duplicate nested key", base + "policy:\n  retries: 1\n  parallel: 2\n  retries: 3\n", []string{`14:3: duplicate key "retries" in policy`}},
		{"missing required keys", "version: 1\ntargets: [{name: srv, type: ssh}]\n", []string{
			`1:1: playbook: missing required key "handover"`,
			`1:1: playbook: missing required key "outgoing"`,
		}},
		{"missing version", strings.Replace(base, "version: 1\n", "", 1), []string{`1:1: playbook: missing required key "version"`}},
		{"missing party name", "version: 1\nhandover:\n  client: {domain: m.fr}\n  outgoing: {name: P}\noutgoing: {domains: [p.fr]}\ntargets: [{name: srv, type: ssh}]\n",
			[]string{`3:11: handover.client: missing required key "name"`}},
		{"missing handover.outgoing", "version: 1\nhandover:\n  client: {name: M}\noutgoing: {domains: [p.fr]}\ntargets: [{name: srv, type: ssh}]\n",
			[]string{`3:3: handover: missing required key "outgoing"`}},
		{"merge key", base + "policy:\n  <<: {retries: 2}\n", []string{`12:3: merge keys (<<) are not supported`}},

		// Shapes.
		{"mapping expected", base + "policy: 3\n", []string{`11:9: policy must be a mapping`}},
		{"list expected", base + "waivers: {target: x}\n", []string{`11:10: waivers must be a list`}},
		{"single value expected", base + "state: [a, b]\n", []string{`11:8: state must be a single value`}},
		{"empty value", base + "state: \"\"\n", []string{`11:8: state must not be empty`}},
		{"blank value", base + "report: {dir: \"  \"}\n", []string{`11:15: report.dir must not be empty`}},
		{"reference outside a credential field", base + "state: ${env:STATE}\n", []string{`11:8: state: references (${...}) are only allowed in credential fields`}},
		{"root is a list", "- a\n- b\n", []string{`1:1: playbook must be a mapping`}},
		{"root is a scalar", "hello\n", []string{`1:1: playbook must be a mapping`}},

		// Values.
		{"version 2", strings.Replace(base, "version: 1", "version: 2", 1), []string{`1:10: playbook version 2 is not supported by this build (it reads version 1)`}},
		{"version not a number", strings.Replace(base, "version: 1", "version: 1.0", 1), []string{`1:10: version must be a whole number, not "1.0"`}},
		{"whole number", base + "policy:\n  retries: many\n", []string{`12:12: policy.retries must be a whole number, not "many"`}},
		{"whole number with sign", base + "policy:\n  parallel: +8\n", []string{`12:13: policy.parallel must be a whole number, not "+8"`}},
		{"number out of range", base + "policy:\n  retries: 11\n", []string{`12:12: policy.retries must be between 0 and 10, not 11`}},
		{"parallel zero", base + "policy:\n  parallel: 0\n", []string{`12:13: policy.parallel must be between 1 and 1024, not 0`}},
		{"true/false", base + "policy:\n  rotate: {admins: maybe}\n", []string{`12:20: policy.rotate.admins must be true or false, not "maybe"`}},
		{"True is not true", base + "signing: {agent: True, public_key: k, identity: me}\n", []string{
			`11:10: signing needs a key file (key) or agent: true`,
			`11:18: signing.agent must be true or false, not "True"`,
		}},
		{"one of", base + "report:\n  lang: de\n", []string{`12:9: report.lang must be one of fr, en, not "de"`}},
		{"list item one of", base + "report:\n  formats: [json, pdf]\n", []string{`12:19: report.formats item must be one of json, html, md, not "pdf"`}},
		{"formats without json", base + "report:\n  formats: [html]\n", []string{`12:12: report.formats: json is always written (the signed record that html and md render and that handover verify checks): list it`}},
		{"format twice", base + "report:\n  formats: [json, md, md]\n", []string{`12:23: report.formats: md is listed twice`}},
		{"access key type", base + "policy: {access_key_type: dsa}\n", []string{`11:27: policy.access_key_type must be one of ed25519, rsa, not "dsa"`}},
		{"duration in words", base + "policy:\n  timeout: 5 minutes\n", []string{`12:12: policy.timeout: invalid duration "5 minutes" (examples: 30s, 5m, 90d)`}},
		{"days and hours", base + "policy:\n  max_credential_age: 1d12h\n", []string{`12:23: policy.max_credential_age: invalid duration "1d12h" (examples: 30s, 5m, 90d)`}},
		{"negative duration", base + "policy:\n  timeout: -5m\n", []string{`12:12: policy.timeout: duration "-5m" must not be negative`}},
		{"date", base + "handover2: x\n", []string{`11:1: unknown key "handover2" in playbook (did you mean "handover"?)`}},
		{"handover date", strings.Replace(base, "  outgoing: {name: Prestanet}\n", "  outgoing: {name: Prestanet}\n  date: 23/11/2026\n", 1), []string{`5:9: handover.date must be a date like 2026-11-23, not "23/11/2026"`}},
		{"impossible date", strings.Replace(base, "  outgoing: {name: Prestanet}\n", "  outgoing: {name: Prestanet}\n  date: 2026-02-30\n", 1), []string{`5:9: handover.date must be a date like 2026-11-23, not "2026-02-30"`}},
		{"date with time", strings.Replace(base, "  outgoing: {name: Prestanet}\n", "  outgoing: {name: Prestanet}\n  date: 2026-11-23T10:00:00Z\n", 1), []string{`5:9: handover.date must be a date like 2026-11-23, not "2026-11-23T10:00:00Z"`}},

		// Waivers.
		{"waiver date", base + "waivers:\n  - target: srv\n    finding: x\n    justification: j\n    approver: a\n    expires: 31/12/2026\n", []string{`16:14: waiver.expires must be a date like 2026-11-23, not "31/12/2026"`}},
		{"waiver missing keys", base + "waivers:\n  - target: srv\n", []string{
			`12:5: waiver: missing required key "approver"`,
			`12:5: waiver: missing required key "expires"`,
			`12:5: waiver: missing required key "finding"`,
			`12:5: waiver: missing required key "justification"`,
		}},

		// Password policies.
		{"password too short", base + "policy:\n  password: {length: 8}\n", []string{
			`12:13: policy.password: password length 8 is below the minimum of 12`,
			`12:22: policy.password.length must be between 12 and 256, not 8`,
		}},
		{"password without classes", base + "policy:\n  password: {lower: false, upper: false, digits: false, symbols: false}\n", []string{
			`12:13: policy.password: password policy enables no character class`,
		}},
		{"symbol set not ASCII", base + "policy:\n  password: {symbol_set: \"-€\"}\n", []string{
			`12:13: policy.password: password symbol set "-€": '€' is not a printable ASCII symbol`,
		}},
		{"symbol set with a letter", base + "policy:\n  password: {symbol_set: \"-x\"}\n", []string{
			`12:13: policy.password: password symbol set "-x": 'x' is not a printable ASCII symbol`,
		}},
		{"target password policy", strings.Replace(base, "  - {name: srv, type: ssh}\n", "  - {name: srv, type: ssh, password_policy: {length: 300}}\n", 1), []string{
			`10:45: password_policy: password length 300 is above the maximum of 256`,
			`10:54: password_policy.length must be between 12 and 256, not 300`,
		}},
		{"unknown password policy key", base + "policy:\n  password: {lenght: 20}\n", []string{`12:14: unknown key "lenght" in policy.password (did you mean "length"?)`}},

		// Rotation list.
		{"rotate account without target", base + "policy:\n  rotate: {accounts: [nocolon, \":root\", \"srv:\"]}\n", []string{
			`12:23: policy.rotate.accounts: "nocolon" must be TARGET:ACCOUNT`,
			`12:32: policy.rotate.accounts: ":root" must be TARGET:ACCOUNT`,
			`12:41: policy.rotate.accounts: "srv:" must be TARGET:ACCOUNT`,
		}},

		// Signing.
		{"signing without key or agent", base + "signing:\n  identity: me\n", []string{`12:3: signing needs a key file (key) or agent: true`}},
		{"signing with both", base + "signing: {key: k, agent: true, public_key: p, identity: me}\n", []string{`11:10: signing: use either key or agent, not both`}},
		{"signing with a key and vault_transit", base + "signing: {key: k, vault_transit: {key: r}, identity: me}\n", []string{`11:10: signing: use one of key, agent and vault_transit`}},
		{"vault_transit without its key", base + "signing: {vault_transit: {mount: m}, identity: me}\n", []string{`11:26: signing.vault_transit: missing required key "key"`}},
		{"agent without public key", base + "signing: {agent: true, identity: me}\n", []string{`11:10: signing: with agent: true, public_key selects the agent's key`}},
		{"signing without identity", base + "signing: {key: k}\n", []string{`11:10: signing: missing required key "identity"`}},

		// Outgoing.
		{"outgoing recognises nothing", strings.Replace(base, "  domains: [prestanet.fr]\n", "  agents: all\n", 1), []string{
			`8:3: outgoing: give at least one way to recognise the provider (names, domains, ssh_keys, key_comments or accounts)`,
		}},
		{"bad fingerprint", strings.Replace(base, "  domains: [prestanet.fr]\n", "  ssh_keys: [notafingerprint, \"SHA256:short\"]\n", 1), []string{
			`8:14: outgoing.ssh_keys: "notafingerprint" is not a SHA256 key fingerprint (as ` + "`ssh-keygen -lf`" + ` prints: SHA256:…)`,
			`8:31: outgoing.ssh_keys: "SHA256:short" is not a SHA256 key fingerprint (as ` + "`ssh-keygen -lf`" + ` prints: SHA256:…)`,
		}},
		{"bad pattern", strings.Replace(base, "  domains: [prestanet.fr]\n", "  accounts: [\"presta[\"]\n", 1), []string{
			`8:14: outgoing.accounts: bad pattern "presta[": syntax error in pattern`,
		}},
		{"empty pattern", strings.Replace(base, "  domains: [prestanet.fr]\n", "  key_comments: [\"\"]\n", 1), []string{
			`8:18: outgoing.key_comments item must not be empty`,
		}},

		// Secrets.
		{"passphrase and identity", strings.Replace(base, `passphrase: "${env:P}"`, `passphrase: "${env:P}", identity: k.txt`, 1), []string{`6:9: secrets.file needs exactly one of passphrase or identity`}},
		{"neither passphrase nor identity", strings.Replace(base, `, passphrase: "${env:P}"`, ``, 1), []string{`6:9: secrets.file needs exactly one of passphrase or identity`}},
		{"file without path", strings.Replace(base, `path: s.age, `, ``, 1), []string{`6:9: secrets.file: missing required key "path"`}},
		{"vault without prefix", base[:strings.Index(base, "secrets:")] + "secrets:\n  vault: {address: https://v:8200}\n" + base[strings.Index(base, "outgoing:\n"):], []string{`6:10: secrets.vault: missing required key "prefix"`}},
		{"unknown store", strings.Replace(base, "secrets:\n", "secrets:\n  store: s3\n", 1), []string{`6:10: secrets.store must be one of file, vault, not "s3"`}},

		// Targets.
		{"no target", strings.Replace(base, "  - {name: srv, type: ssh}\n", "  []\n", 1), []string{`10:3: targets: the playbook names no target`}},
		{"target name", strings.Replace(base, "name: srv", "name: Bad Name", 1), []string{`10:12: target name "Bad Name": use lower-case letters, digits, - and _ (it names files and secret paths)`}},
		{"target name too long", strings.Replace(base, "name: srv", "name: "+strings.Repeat("a", 64), 1), []string{`10:12: target name "` + strings.Repeat("a", 64) + `": use lower-case letters, digits, - and _ (it names files and secret paths)`}},
		{"duplicate target", base + "  - {name: srv, type: ldap}\n", []string{`11:12: target name "srv" is already used at t.yaml:10:12`}},
		{"target without name", strings.Replace(base, "name: srv, ", "", 1), []string{`10:5: target: missing required key "name"`}},
		{"target without type", strings.Replace(base, ", type: ssh", "", 1), []string{`10:5: target "srv": missing required key "type"`}},
		{"target not a mapping", strings.Replace(base, "  - {name: srv, type: ssh}\n", "  - srv\n", 1), []string{`10:5: a target must be a mapping with at least name and type`}},
		{"target timeout", strings.Replace(base, "type: ssh}", "type: ssh, timeout: soon}", 1), []string{`10:37: target timeout: invalid duration "soon" (examples: 30s, 5m, 90d)`}},

		// Documents.
		{"empty file", "", []string{`1:1: playbook is empty`}},
		{"comments only", "# nothing yet\n", []string{`1:1: playbook is empty`}},
		{"second document", base + "---\nversion: 1\n", []string{`11:1: a playbook is a single YAML document; found another one here`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := playbook.Parse("t.yaml", []byte(tt.src))
			if got := short(d.Diagnostics()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestYAMLSyntaxErrors: a syntax error is one diagnostic at column 1 of a
// line of the file. The line is yaml.v3's: exact for the scanner's errors;
// for the parser's (an unclosed bracket, a bad indentation) it is the line
// before the construct being parsed, a limitation of the library.
func TestYAMLSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src      string
		minLine, maxLn int
	}{
		{"tab", "version: 1\nhandover:\n\tclient: x\n", 3, 3},
		{"unterminated string", "version: 1\nstate: x\nreport: {}\nsigning: \"abc\n", 4, 4},
		{"unclosed flow mapping", "version: 1\nhandover:\n  client: {name: Mairie\ntargets: [\n", 1, 4},
		{"bad indentation", "version: 1\nhandover:\n  client:\n name: x\n   y: z\n", 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := playbook.Parse("t.yaml", []byte(tt.src))
			diags := d.Diagnostics()
			if len(diags) != 1 {
				t.Fatalf("diagnostics = %v, want one", diags)
			}
			p := diags[0].Pos
			if p.File != "t.yaml" || p.Line < tt.minLine || p.Line > tt.maxLn || p.Col != 1 || !strings.HasPrefix(diags[0].Msg, "YAML syntax: ") {
				t.Errorf("diagnostic = %v, want a YAML syntax error at t.yaml:%d..%d:1", diags[0], tt.minLine, tt.maxLn)
			}
		})
	}
}

func TestAliasesWork(t *testing.T) {
	src := base + "policy:\n  retries: &n 2\n  parallel: *n\n  password: &pw {length: 30}\n"
	pb, d := playbook.Parse("t.yaml", []byte(src))
	if diags := d.Diagnostics(); len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
	if pb.Policy.Retries != 2 || pb.Policy.Parallel != 2 || pb.Policy.Password.Length != 30 {
		t.Errorf("policy = %+v", pb.Policy)
	}
}

// TestAllErrorsAtOnce: one pass reports every problem of every section,
// sorted by position.
func TestAllErrorsAtOnce(t *testing.T) {
	src := `version: 3
handvoer:
  client: {name: Mairie}
secrets:
  file:
    path: s.age
    passphrase: ${envv:P}
report: {lang: de}
policy:
  timeout: 10 parsecs
  retries: 20
outgoing:
  ssh_keys: [notafingerprint]
waivers:
  - target: srv
    finding: "agent:*"
    justification: kept
    approver: Le maire
    expires: someday
targets:
  - name: Bad Name
    type: ssh
  - name: srv
`
	_, d := playbook.Parse("t.yaml", []byte(src))
	want := []string{
		`1:1: playbook: missing required key "handover"`,
		`1:10: playbook version 3 is not supported by this build (it reads version 1)`,
		`2:1: unknown key "handvoer" in playbook (did you mean "handover"?)`,
		`7:17: secrets.file.passphrase: malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}`,
		`8:16: report.lang must be one of fr, en, not "de"`,
		`10:12: policy.timeout: invalid duration "10 parsecs" (examples: 30s, 5m, 90d)`,
		`11:12: policy.retries must be between 0 and 10, not 20`,
		`13:14: outgoing.ssh_keys: "notafingerprint" is not a SHA256 key fingerprint (as ` + "`ssh-keygen -lf`" + ` prints: SHA256:…)`,
		`19:14: waiver.expires must be a date like 2026-11-23, not "someday"`,
		`21:11: target name "Bad Name": use lower-case letters, digits, - and _ (it names files and secret paths)`,
		`23:5: target "srv": missing required key "type"`,
	}
	diags := d.Diagnostics()
	if got := short(diags); !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, dg := range diags {
		if dg.Pos.File != "t.yaml" {
			t.Errorf("%v names file %q", dg, dg.Pos.File)
		}
	}
	if got := diags.Error(); !strings.HasPrefix(got, "t.yaml:1:1: playbook: missing") || strings.Count(got, "\n") != len(want)-1 {
		t.Errorf("Error() = %q", got)
	}
}

func TestDecoderErrorAt(t *testing.T) {
	d := playbook.NewDecoder("c.yaml")
	d.ErrorAt(playbook.Pos{File: "c.yaml", Line: 9, Col: 2}, "second %d", 2)
	d.ErrorAt(playbook.Pos{File: "c.yaml", Line: 3, Col: 7}, "first")
	d.ErrorAt(playbook.Pos{File: "a.yaml", Line: 30, Col: 1}, "other file")
	want := []string{"a.yaml:30:1: other file", "c.yaml:3:7: first", "c.yaml:9:2: second 2"}
	var got []string
	for _, dg := range d.Diagnostics() {
		got = append(got, dg.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diagnostics() = %q, want %q", got, want)
	}
	if p := d.Pos(nil); p != (playbook.Pos{File: "c.yaml"}) {
		t.Errorf("Pos(nil) = %v", p)
	}
}

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"90d", 90 * day, ""},
		{"1d", day, ""},
		{"0d", 0, ""},
		{"365d", 365 * day, ""},
		{"36h", 36 * time.Hour, ""},
		{"15m", 15 * time.Minute, ""},
		{"30s", 30 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"0s", 0, ""},
		{"0", 0, ""},
		{"1d12h", 0, `invalid duration "1d12h" (examples: 30s, 5m, 90d)`},
		{"1.5d", 0, `invalid duration "1.5d" (examples: 30s, 5m, 90d)`},
		{"07d", 0, `invalid duration "07d" (examples: 30s, 5m, 90d)`},
		{"-1d", 0, `invalid duration "-1d" (examples: 30s, 5m, 90d)`},
		{"d", 0, `invalid duration "d" (examples: 30s, 5m, 90d)`},
		{"-5m", 0, `duration "-5m" must not be negative`},
		{"5 minutes", 0, `invalid duration "5 minutes" (examples: 30s, 5m, 90d)`},
		{"10", 0, `invalid duration "10" (examples: 30s, 5m, 90d)`},
		{"", 0, `invalid duration "" (examples: 30s, 5m, 90d)`},
		{"2w", 0, `invalid duration "2w" (examples: 30s, 5m, 90d)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := playbook.ParseDuration(tt.in)
			if got != tt.want || errText(err) != tt.wantErr {
				t.Errorf("ParseDuration(%q) = %v, %q; want %v, %q", tt.in, got, errText(err), tt.want, tt.wantErr)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestDates(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-23", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), true},
		{"2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"\"2027-03-31\"", time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), true},
		{"2026-02-29", time.Time{}, false},
		{"2026-1-5", time.Time{}, false},
		{"23/11/2026", time.Time{}, false},
		{"2026-11-23 10:00", time.Time{}, false},
		{"tomorrow", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			src := strings.Replace(base, "  outgoing: {name: Prestanet}\n", "  outgoing: {name: Prestanet}\n  date: "+tt.in+"\n", 1)
			pb, d := playbook.Parse("t.yaml", []byte(src))
			if !pb.Handover.Date.Equal(tt.want) || (len(d.Diagnostics()) == 0) != tt.ok {
				t.Errorf("date %s = %v, diagnostics %v; want %v, ok %v", tt.in, pb.Handover.Date, d.Diagnostics(), tt.want, tt.ok)
			}
		})
	}
}
