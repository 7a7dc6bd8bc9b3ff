package playbook_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
)

// value is a credential no error message may hold.
const value = "Sup3r-S3cret-Passphrase-4-tests"

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		want    playbook.Ref
		wantErr string
	}{
		{"${env:HANDOVER_PASS}", playbook.Ref{Kind: "env", Arg: "HANDOVER_PASS"}, ""},
		{"  ${env:X}  ", playbook.Ref{Kind: "env", Arg: "X"}, ""},
		{"${file:/etc/handover/pass}", playbook.Ref{Kind: "file", Arg: "/etc/handover/pass"}, ""},
		{"${file:~/pass}", playbook.Ref{Kind: "file", Arg: "~/pass"}, ""},
		{"${file:pass words.txt}", playbook.Ref{Kind: "file", Arg: "pass words.txt"}, ""},
		{"${vault:secret/infra/ldap#admin_password}", playbook.Ref{Kind: "vault", Arg: "secret/infra/ldap", Key: "admin_password"}, ""},
		{"${prompt:root password handed over by Prestanet}", playbook.Ref{Kind: "prompt", Arg: "root password handed over by Prestanet"}, ""},
		{"${prompt:}", playbook.Ref{Kind: "prompt"}, ""},
		{"${env:}", playbook.Ref{}, `reference "${env:}" names nothing`},
		{"${file:}", playbook.Ref{}, `reference "${file:}" names nothing`},
		{"${vault:secret/x}", playbook.Ref{}, `vault reference "${vault:secret/x}" needs a #key`},
		{"${vault:#key}", playbook.Ref{}, `reference "${vault:#key}" names nothing`},
		{"${env:X#key}", playbook.Ref{}, `reference "${env:X#key}": only vault references take a #key`},
		{"${prompt:label#key}", playbook.Ref{}, `reference "${prompt:label#key}": only vault references take a #key`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := playbook.ParseRef(tt.in)
			if got != tt.want || errText(err) != tt.wantErr {
				t.Errorf("ParseRef(%q) = %+v, %q; want %+v, %q", tt.in, got, errText(err), tt.want, tt.wantErr)
			}
		})
	}
}

// TestLiteralCredentialsAreRefused: what is not a reference is refused,
// and the message never repeats it: it may be a password.
func TestLiteralCredentialsAreRefused(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{value, "credentials must be references (${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}), never literal values"},
		{"", "credentials must be references (${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}), never literal values"},
		{"$" + value, "credentials must be references (${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}), never literal values"},
		{"${" + value, "malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}"},
		{"${" + value + "}", "malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}"},
		{"${envv:" + value + "}", "malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}"},
		{"${env:" + value, "malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}"},
		{"${env:X}" + value, "malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}"},
		{"${ENV:" + value + "}", "malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := playbook.ParseRef(tt.in)
			if errText(err) != tt.wantErr || !r.IsZero() {
				t.Errorf("ParseRef = %+v, %q; want %q", r, errText(err), tt.wantErr)
			}
		})
	}

	// Through the playbook: the diagnostic is at the value, without it.
	for _, lit := range []string{value, "${" + value, "${envv:" + value + "}"} {
		t.Run("playbook/"+lit, func(t *testing.T) {
			src := strings.Replace(base, `"${env:P}"`, `"`+lit+`"`, 1)
			_, d := playbook.Parse("t.yaml", []byte(src))
			diags := d.Diagnostics()
			if len(diags) != 1 || diags[0].Pos.Line != 6 || diags[0].Pos.Col != 35 || !strings.HasPrefix(diags[0].Msg, "secrets.file.passphrase: ") {
				t.Errorf("diagnostics = %v, want one at t.yaml:6:35 for secrets.file.passphrase", diags)
			}
			if strings.Contains(diags.Error(), value) {
				t.Errorf("the diagnostic repeats the literal: %v", diags)
			}
			if len(d.Refs()) != 0 {
				t.Errorf("Refs() = %v, want none", d.Refs())
			}
		})
	}
}

func TestRefsOfAPlaybook(t *testing.T) {
	src := strings.Replace(base, "  file: {path: s.age, passphrase: \"${env:P}\"}\n",
		"  file: {path: s.age, passphrase: \"${file:~/p}\"}\n  vault: {prefix: h, token: \"${vault:secret/t#token}\"}\n", 1)
	_, d := playbook.Parse("t.yaml", []byte(src))
	if diags := d.Diagnostics(); len(diags) != 0 {
		t.Fatalf("diagnostics:\n%v", diags)
	}
	want := []playbook.Ref{
		{Kind: "file", Arg: "~/p", Pos: playbook.Pos{File: "t.yaml", Line: 6, Col: 35}},
		{Kind: "vault", Arg: "secret/t", Key: "token", Pos: playbook.Pos{File: "t.yaml", Line: 7, Col: 29}},
	}
	got := d.Refs()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Refs() = %+v, want %+v", got, want)
	}
	strs := []string{got[0].String(), got[1].String(), playbook.Ref{}.String()}
	if wantStrs := []string{"${file:~/p}", "${vault:secret/t#token}", ""}; strings.Join(strs, "|") != strings.Join(wantStrs, "|") {
		t.Errorf("String() = %q, want %q", strs, wantStrs)
	}
}

func TestCredentialFieldShape(t *testing.T) {
	src := strings.Replace(base, `passphrase: "${env:P}"`, `passphrase: {env: P}`, 1)
	_, d := playbook.Parse("t.yaml", []byte(src))
	got := short(d.Diagnostics())
	want := "6:35: secrets.file.passphrase must be a reference like ${env:NAME}"
	if len(got) != 1 || got[0] != want {
		t.Errorf("diagnostics = %q, want %q", got, want)
	}
}

func TestResolveEnv(t *testing.T) {
	env := map[string]string{"SET": value, "EMPTY": ""}
	r := &playbook.Resolver{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	tests := []struct {
		name    string
		ref     playbook.Ref
		want    string
		wantErr string
	}{
		{"set", playbook.Ref{Kind: "env", Arg: "SET"}, value, ""},
		{"unset", playbook.Ref{Kind: "env", Arg: "UNSET"}, "", "${env:UNSET}: environment variable UNSET is not set"},
		{"empty", playbook.Ref{Kind: "env", Arg: "EMPTY"}, "", "${env:EMPTY}: environment variable EMPTY is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := r.Resolve(context.Background(), tt.ref)
			if s.Reveal() != tt.want || errText(err) != tt.wantErr {
				t.Errorf("Resolve = %q, %q; want %q, %q", s.Reveal(), errText(err), tt.want, tt.wantErr)
			}
		})
	}
}

func TestResolveEnvDefaultsToTheProcessEnvironment(t *testing.T) {
	t.Setenv("HANDOVER_TEST_REF", value)
	s, err := (&playbook.Resolver{}).Resolve(context.Background(), playbook.Ref{Kind: "env", Arg: "HANDOVER_TEST_REF"})
	if err != nil || s.Reveal() != value {
		t.Errorf("Resolve = %q, %v", s.Reveal(), err)
	}
}

func TestResolveFile(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	files := map[string]string{
		filepath.Join(dir, "pass"):          value + "\nsecond line\n",
		filepath.Join(dir, "crlf"):          value + "\r\nsecond line\r\n",
		filepath.Join(dir, "no-newline"):    value,
		filepath.Join(dir, "empty"):         "",
		filepath.Join(dir, "empty-line"):    "\n" + value + "\n",
		filepath.Join(dir, "sub", "nested"): value + "\n",
		filepath.Join(home, "in-home"):      value + "\n",
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := &playbook.Resolver{Dir: dir}
	tests := []struct {
		name    string
		arg     string
		want    string
		wantErr string
	}{
		{"relative to the playbook", "pass", value, ""},
		{"first line only, CRLF", "crlf", value, ""},
		{"no final newline", "no-newline", value, ""},
		{"relative subdirectory", "sub/nested", value, ""},
		{"absolute", filepath.Join(dir, "pass"), value, ""},
		{"home", "~/in-home", value, ""},
		{"empty file", "empty", "", "${file:empty}: " + filepath.Join(dir, "empty") + " is empty"},
		{"empty first line", "empty-line", "", "${file:empty-line}: " + filepath.Join(dir, "empty-line") + " is empty"},
		{"missing", "missing", "", "${file:missing}: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"directory", "sub", "", "${file:sub}: read " + filepath.Join(dir, "sub") + ": is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := r.Resolve(context.Background(), playbook.Ref{Kind: "file", Arg: tt.arg})
			if s.Reveal() != tt.want || errText(err) != tt.wantErr {
				t.Errorf("Resolve = %q, %q; want %q, %q", s.Reveal(), errText(err), tt.want, tt.wantErr)
			}
		})
	}
	_, err := r.Resolve(context.Background(), playbook.Ref{Kind: "file", Arg: "missing"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file's error does not wrap fs.ErrNotExist: %v", err)
	}
}

func TestResolverPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		dir, p, want string
	}{
		{"/etc/handover", "pass", "/etc/handover/pass"},
		{"/etc/handover", "../pass", "/etc/pass"},
		{"/etc/handover", "/var/pass", "/var/pass"},
		{"/etc/handover", "~/pass", filepath.Join(home, "pass")},
		{"/etc/handover", "~pass", "/etc/handover/~pass"},
		{"", "pass", "pass"},
		{"", "~/pass", filepath.Join(home, "pass")},
	}
	for _, tt := range tests {
		if got := (&playbook.Resolver{Dir: tt.dir}).Path(tt.p); got != tt.want {
			t.Errorf("Resolver{Dir: %q}.Path(%q) = %q, want %q", tt.dir, tt.p, got, tt.want)
		}
	}
}

func TestResolveVault(t *testing.T) {
	var asked []string
	vault := func(_ context.Context, path, key string) (secret.Secret, error) {
		asked = append(asked, path+"#"+key)
		if key == "missing" {
			return secret.Secret{}, errors.New("no such key")
		}
		return secret.New(value), nil
	}
	ref := playbook.Ref{Kind: "vault", Arg: "secret/infra/ldap", Key: "admin"}
	s, err := (&playbook.Resolver{Vault: vault}).Resolve(context.Background(), ref)
	if err != nil || s.Reveal() != value || strings.Join(asked, ",") != "secret/infra/ldap#admin" {
		t.Errorf("Resolve = %q, %v; Vault asked for %q", s.Reveal(), err, asked)
	}
	_, err = (&playbook.Resolver{Vault: vault}).Resolve(context.Background(), playbook.Ref{Kind: "vault", Arg: "secret/x", Key: "missing"})
	if errText(err) != "${vault:secret/x#missing}: no such key" {
		t.Errorf("Resolve error = %v", err)
	}
	_, err = (&playbook.Resolver{}).Resolve(context.Background(), ref)
	if errText(err) != "${vault:secret/infra/ldap#admin}: no Vault configured (set secrets.vault in the playbook or VAULT_ADDR)" {
		t.Errorf("Resolve without Vault = %v", err)
	}
}

func TestResolvePrompt(t *testing.T) {
	var labels []string
	prompt := func(label string) (secret.Secret, error) {
		labels = append(labels, label)
		return secret.New(value), nil
	}
	r := &playbook.Resolver{Prompt: prompt}
	for _, ref := range []playbook.Ref{
		{Kind: "prompt", Arg: "root password"},
		{Kind: "prompt", Pos: playbook.Pos{File: "m.yaml", Line: 9, Col: 17}},
	} {
		s, err := r.Resolve(context.Background(), ref)
		if err != nil || s.Reveal() != value {
			t.Errorf("Resolve(%v) = %q, %v", ref, s.Reveal(), err)
		}
	}
	if want := "root password|value at m.yaml:9:17"; strings.Join(labels, "|") != want {
		t.Errorf("labels = %q, want %q", labels, want)
	}
	_, err := (&playbook.Resolver{}).Resolve(context.Background(), playbook.Ref{Kind: "prompt", Arg: "root"})
	if errText(err) != "${prompt:root}: needs a terminal to ask for the value" {
		t.Errorf("Resolve without a terminal = %v", err)
	}
	_, err = (&playbook.Resolver{}).Resolve(context.Background(), playbook.Ref{Kind: "ftp", Arg: "x"})
	if errText(err) != `unknown reference kind "ftp"` {
		t.Errorf("Resolve of an unknown kind = %v", err)
	}
}

// TestResolveErrorsNeverHoldTheValue: whatever fails, the value the
// reference would have given is not in the error.
func TestResolveErrorsNeverHoldTheValue(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty-line"), []byte("\n"+value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &playbook.Resolver{
		Dir:       dir,
		LookupEnv: func(string) (string, bool) { return "", true },
		Vault: func(context.Context, string, string) (secret.Secret, error) {
			s := secret.New(value)
			return secret.Secret{}, errors.New("permission denied for " + s.String())
		},
	}
	refs := []playbook.Ref{
		{Kind: "env", Arg: "EMPTY"},
		{Kind: "file", Arg: "empty-line"},
		{Kind: "file", Arg: "missing"},
		{Kind: "vault", Arg: "secret/x", Key: "k"},
		{Kind: "prompt", Arg: "root"},
	}
	for _, ref := range refs {
		t.Run(ref.String(), func(t *testing.T) {
			s, err := r.Resolve(context.Background(), ref)
			if err == nil {
				t.Fatal("Resolve succeeded")
			}
			if strings.Contains(err.Error(), value) || !s.IsZero() {
				t.Errorf("error %q or secret holds the value", err)
			}
			if !strings.HasPrefix(err.Error(), ref.String()+": ") {
				t.Errorf("error %q does not name the reference %s", err, ref)
			}
		})
	}
}
