package playbook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/secret"
)

// Ref is a credential reference in a playbook: the value itself never
// appears in the file.
//
//	${env:NAME}           environment variable
//	${file:path}          first line of a file (relative to the playbook)
//	${vault:path#key}     a key of a Vault KV secret
//	${prompt:label}       asked on the terminal
type Ref struct {
	Kind string `json:"kind"`
	Arg  string `json:"arg"`
	Key  string `json:"key,omitempty"`
	Pos  Pos    `json:"pos"`
}

// String is the reference as written; it never holds a value.
func (r Ref) String() string {
	if r.IsZero() {
		return ""
	}
	if r.Key != "" {
		return "${" + r.Kind + ":" + r.Arg + "#" + r.Key + "}"
	}
	return "${" + r.Kind + ":" + r.Arg + "}"
}

// IsZero reports an absent reference.
func (r Ref) IsZero() bool { return r.Kind == "" }

var refPattern = regexp.MustCompile(`^\$\{(env|file|vault|prompt):([^}#]*)(?:#([^}]+))?\}$`)

// ParseRef parses a reference.
func ParseRef(s string) (Ref, error) {
	m := refPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		if strings.HasPrefix(strings.TrimSpace(s), "${") {
			// Not repeated: it may be a password that starts with "${".
			return Ref{}, errors.New("malformed reference: use ${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}")
		}
		return Ref{}, errors.New("credentials must be references (${env:NAME}, ${file:path}, ${vault:path#key} or ${prompt:label}), never literal values")
	}
	r := Ref{Kind: m[1], Arg: m[2], Key: m[3]}
	switch {
	case r.Arg == "" && r.Kind != "prompt":
		return Ref{}, fmt.Errorf("reference %q names nothing", s)
	case r.Kind == "vault" && r.Key == "":
		return Ref{}, fmt.Errorf("vault reference %q needs a #key", s)
	case r.Kind != "vault" && r.Key != "":
		return Ref{}, fmt.Errorf("reference %q: only vault references take a #key", s)
	}
	return r, nil
}

// Ref decodes a credential reference. A literal value is an error (the
// message does not repeat it, it may be a password).
func (d *Decoder) Ref(n *yaml.Node, what string) Ref {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		d.Errorf(n, "%s must be a reference like ${env:NAME}", what)
		return Ref{}
	}
	r, err := ParseRef(n.Value)
	if err != nil {
		d.Errorf(n, "%s: %v", what, err)
		return Ref{}
	}
	r.Pos = d.Pos(n)
	d.refs = append(d.refs, r)
	return r
}

// Resolver turns references into secrets.
type Resolver struct {
	// Dir is the playbook's directory, for relative file references.
	Dir string
	// LookupEnv defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Vault reads a KV secret; nil means vault references cannot be resolved.
	Vault func(ctx context.Context, path, key string) (secret.Secret, error)
	// Prompt asks for a value on a terminal; nil means no terminal.
	Prompt func(label string) (secret.Secret, error)
}

// Resolve returns the secret a reference names. Errors never contain it.
func (r *Resolver) Resolve(ctx context.Context, ref Ref) (secret.Secret, error) {
	switch ref.Kind {
	case "env":
		lookup := r.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		v, ok := lookup(ref.Arg)
		if !ok {
			return secret.Secret{}, fmt.Errorf("%s: environment variable %s is not set", ref, ref.Arg)
		}
		if v == "" {
			return secret.Secret{}, fmt.Errorf("%s: environment variable %s is empty", ref, ref.Arg)
		}
		return secret.New(v), nil
	case "file":
		path := r.Path(ref.Arg)
		b, err := os.ReadFile(path)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("%s: %w", ref, err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return secret.Secret{}, fmt.Errorf("%s: %s is empty", ref, path)
		}
		return secret.New(line), nil
	case "vault":
		if r.Vault == nil {
			return secret.Secret{}, fmt.Errorf("%s: no Vault configured (set secrets.vault in the playbook or VAULT_ADDR)", ref)
		}
		s, err := r.Vault(ctx, ref.Arg, ref.Key)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("%s: %w", ref, err)
		}
		return s, nil
	case "prompt":
		if r.Prompt == nil {
			return secret.Secret{}, fmt.Errorf("%s: needs a terminal to ask for the value", ref)
		}
		label := ref.Arg
		if label == "" {
			label = "value at " + ref.Pos.String()
		}
		return r.Prompt(label)
	}
	return secret.Secret{}, fmt.Errorf("unknown reference kind %q", ref.Kind)
}

// Path resolves a path relative to the playbook's directory.
func (r *Resolver) Path(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if filepath.IsAbs(p) || r.Dir == "" {
		return p
	}
	return filepath.Join(r.Dir, p)
}
