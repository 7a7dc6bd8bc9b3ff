package secret_test

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/secret"
)

// value is the credential every redaction test hides. It is long and
// unusual enough that any of its encodings appearing in an output can only
// come from a leak.
const value = "Zq7-hunter2-Lk9!vault-pass"

// leaks returns the forms of value found in out: the text itself, its hex
// (%x on the bytes), its base64 (encoding/json on a []byte), and its bytes
// as decimal numbers (%v or %d on a []byte).
func leaks(out string) []string {
	var decimal []string
	for _, b := range []byte(value) {
		decimal = append(decimal, fmt.Sprint(b))
	}
	forms := map[string]string{
		"plain":     value,
		"hex":       hex.EncodeToString([]byte(value)),
		"HEX":       strings.ToUpper(hex.EncodeToString([]byte(value))),
		"base64":    base64.StdEncoding.EncodeToString([]byte(value)),
		"decimal":   strings.Join(decimal, " "),
		"decimal,":  strings.Join(decimal, ", "),
		"go-quoted": fmt.Sprintf("%q", value),
	}
	var found []string
	for name, form := range forms {
		if strings.Contains(out, form) {
			found = append(found, name)
		}
	}
	return found
}

func assertNoLeak(t *testing.T, what, out string) {
	t.Helper()
	if found := leaks(out); len(found) != 0 {
		t.Errorf("%s leaks the secret (%v): %s", what, found, out)
	}
}

// holders puts a Secret in every shape a caller might print.
func holders(s secret.Secret) map[string]any {
	type exported struct {
		User string
		Pass secret.Secret
	}
	type unexported struct {
		user string
		pass secret.Secret
	}
	type withPointer struct {
		Pass *secret.Secret
	}
	type embedded struct {
		secret.Secret
		Host string
	}
	type nested struct {
		Outer struct {
			Inner exported
		}
	}
	var n nested
	n.Outer.Inner = exported{User: "root", Pass: s}
	return map[string]any{
		"value":              s,
		"pointer":            &s,
		"pointer to pointer": func() any { p := &s; return &p }(),
		"exported field":     exported{User: "root", Pass: s},
		"pointer to struct":  &exported{User: "root", Pass: s},
		"unexported field":   unexported{user: "root", pass: s},
		"pointer field":      withPointer{Pass: &s},
		"embedded":           embedded{Secret: s, Host: "srv"},
		"nested struct":      n,
		"slice":              []secret.Secret{s, s},
		"slice of pointers":  []*secret.Secret{&s},
		"array":              [2]secret.Secret{s, s},
		"map value":          map[string]secret.Secret{"root": s},
		"map key":            map[secret.Secret]string{s: "root"},
		"slice of any":       []any{"root", s},
		"map of any":         map[string]any{"pass": s, "list": []secret.Secret{s}},
		"slice of structs":   []unexported{{user: "root", pass: s}},
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := secret.New(value)
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "% x", "%#x", "%T", "%p", "%10s", "%-20v", "%.3s", "%U", "%c", "%b", "%o", "%e", "%t"}
	for name, h := range holders(s) {
		for _, verb := range verbs {
			t.Run(name+"/"+verb, func(t *testing.T) {
				assertNoLeak(t, verb, fmt.Sprintf(verb, h))
			})
		}
		t.Run(name+"/Sprint", func(t *testing.T) {
			assertNoLeak(t, "Sprint", fmt.Sprint(h))
			assertNoLeak(t, "Sprintln", fmt.Sprintln("x", h))
		})
	}
}

func TestSecretPrintsRedacted(t *testing.T) {
	s := secret.New(value)
	tests := []struct {
		format string
		arg    any
		want   string
	}{
		{"%v", s, secret.Redacted},
		{"%+v", s, secret.Redacted},
		{"%s", s, secret.Redacted},
		{"%x", s, secret.Redacted},
		{"%X", s, secret.Redacted},
		{"%d", s, secret.Redacted},
		{"%q", s, `"` + secret.Redacted + `"`},
		{"%v", &s, secret.Redacted},
		{"%s", []secret.Secret{s}, "[" + secret.Redacted + "]"},
		{"%v", struct{ P secret.Secret }{s}, "{" + secret.Redacted + "}"},
		{"%+v", struct{ P secret.Secret }{s}, "{P:" + secret.Redacted + "}"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := fmt.Sprintf(tt.format, tt.arg); got != tt.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
	if got := s.String(); got != secret.Redacted {
		t.Errorf("String() = %q", got)
	}
	if got := s.GoString(); got != "secret.Secret{"+secret.Redacted+"}" {
		t.Errorf("GoString() = %q", got)
	}
}

type wrapErr struct{ err error }

func (e *wrapErr) Error() string { return "connect: " + e.err.Error() }
func (e *wrapErr) Unwrap() error { return e.err }

func TestSecretNeverInErrors(t *testing.T) {
	s := secret.New(value)
	base := fmt.Errorf("bind as admin with %v", s)
	tests := map[string]error{
		"Errorf %v":        fmt.Errorf("bind with %v", s),
		"Errorf %s":        fmt.Errorf("bind with %s", s),
		"Errorf %+v":       fmt.Errorf("bind with %+v", s),
		"Errorf %#v":       fmt.Errorf("bind with %#v", s),
		"Errorf %q":        fmt.Errorf("bind with %q", s),
		"Errorf %x":        fmt.Errorf("bind with %x", s),
		"Errorf pointer":   fmt.Errorf("bind with %v", &s),
		"Errorf struct":    fmt.Errorf("config %+v", struct{ Pass secret.Secret }{s}),
		"wrapped %w":       fmt.Errorf("ldap: %w", base),
		"wrapped twice":    fmt.Errorf("target dir: %w", fmt.Errorf("ldap: %w", base)),
		"custom wrapper":   &wrapErr{err: base},
		"errors.Join":      errors.Join(errors.New("first"), base),
		"Errorf %v of err": fmt.Errorf("%v", &wrapErr{err: base}),
	}
	for name, err := range tests {
		t.Run(name, func(t *testing.T) {
			assertNoLeak(t, "Error()", err.Error())
			assertNoLeak(t, "%+v", fmt.Sprintf("%+v", err))
			assertNoLeak(t, "%#v", fmt.Sprintf("%#v", err))
		})
	}
}

func TestSecretNeverLogged(t *testing.T) {
	s := secret.New(value)
	type config struct {
		User string
		Pass secret.Secret
	}
	type private struct {
		user string
		pass secret.Secret
	}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	}
	logs := map[string]func(*slog.Logger){
		"attribute":         func(l *slog.Logger) { l.Info("bind", "password", s) },
		"typed attribute":   func(l *slog.Logger) { l.Info("bind", slog.Any("password", s)) },
		"pointer":           func(l *slog.Logger) { l.Info("bind", "password", &s) },
		"group":             func(l *slog.Logger) { l.Info("bind", slog.Group("auth", slog.Any("password", s))) },
		"nested group":      func(l *slog.Logger) { l.Info("bind", slog.Group("a", slog.Group("b", "password", s))) },
		"With":              func(l *slog.Logger) { l.With("password", s).Info("bind") },
		"WithGroup":         func(l *slog.Logger) { l.WithGroup("auth").Info("bind", "password", s) },
		"struct attribute":  func(l *slog.Logger) { l.Info("bind", "config", config{User: "root", Pass: s}) },
		"struct pointer":    func(l *slog.Logger) { l.Info("bind", "config", &config{User: "root", Pass: s}) },
		"unexported fields": func(l *slog.Logger) { l.Info("bind", "config", private{user: "root", pass: s}) },
		"slice":             func(l *slog.Logger) { l.Info("bind", "passwords", []secret.Secret{s, s}) },
		"map":               func(l *slog.Logger) { l.Info("bind", "passwords", map[string]secret.Secret{"root": s}) },
		"message":           func(l *slog.Logger) { l.Info(fmt.Sprint("bind with ", s)) },
		"error attribute":   func(l *slog.Logger) { l.Error("bind", "err", fmt.Errorf("bind with %v", s)) },
	}
	for hname, newHandler := range handlers {
		for lname, logf := range logs {
			t.Run(hname+"/"+lname, func(t *testing.T) {
				var b bytes.Buffer
				logf(slog.New(newHandler(&b)))
				if b.Len() == 0 {
					t.Fatal("nothing was logged")
				}
				assertNoLeak(t, "log line", b.String())
			})
		}
	}
	t.Run("log package", func(t *testing.T) {
		var b bytes.Buffer
		l := log.New(&b, "", 0)
		l.Printf("bind with %v %+v %#v %x", s, &s, config{Pass: s}, s)
		l.Println(s, []secret.Secret{s})
		assertNoLeak(t, "log.Printf", b.String())
	})
}

func TestSecretLogValue(t *testing.T) {
	s := secret.New(value)
	if got := s.LogValue(); got.Kind() != slog.KindString || got.String() != secret.Redacted {
		t.Errorf("LogValue() = %v (%v), want the string %q", got, got.Kind(), secret.Redacted)
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("bind", "password", s)
	want := `{"level":"INFO","msg":"bind","password":"[REDACTED]"}` + "\n"
	if b.String() != want {
		t.Errorf("JSON log = %s, want %s", b.String(), want)
	}
}

func TestSecretEncodings(t *testing.T) {
	s := secret.New(value)
	type field struct {
		User string        `json:"user" yaml:"user" xml:"user"`
		Pass secret.Secret `json:"pass" yaml:"pass" xml:"pass"`
	}
	type pointerField struct {
		Pass *secret.Secret `json:"pass" yaml:"pass" xml:"pass"`
	}
	type omitempty struct {
		Pass secret.Secret `json:"pass,omitempty" yaml:"pass,omitempty"`
	}
	values := map[string]any{
		"value":         s,
		"pointer":       &s,
		"struct field":  field{User: "root", Pass: s},
		"pointer field": pointerField{Pass: &s},
		"omitempty":     omitempty{Pass: s},
		"map value":     map[string]secret.Secret{"root": s},
		"map key":       map[secret.Secret]string{s: "root"},
		"slice":         []secret.Secret{s},
		"any":           map[string]any{"pass": s},
	}
	encoders := map[string]func(any) ([]byte, error){
		"json": json.Marshal,
		"json indent": func(v any) ([]byte, error) {
			return json.MarshalIndent(v, "", "  ")
		},
		"json encoder": func(v any) ([]byte, error) {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			err := enc.Encode(v)
			return b.Bytes(), err
		},
		"yaml": yaml.Marshal,
	}
	for ename, encode := range encoders {
		for vname, v := range values {
			t.Run(ename+"/"+vname, func(t *testing.T) {
				out, err := encode(v)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				assertNoLeak(t, ename, string(out))
				if !bytes.Contains(out, []byte(secret.Redacted)) {
					t.Errorf("%s output does not hold the redaction: %q", ename, out)
				}
			})
		}
	}
	type attribute struct {
		Pass secret.Secret `xml:"pass,attr"`
	}
	xmls := map[string]any{
		"value":         s,
		"pointer":       &s,
		"struct field":  field{User: "root", Pass: s},
		"attribute":     attribute{Pass: s},
		"pointer field": pointerField{Pass: &s},
		"slice":         []secret.Secret{s},
	}
	for vname, v := range xmls {
		t.Run("xml/"+vname, func(t *testing.T) {
			out, err := xml.Marshal(v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			assertNoLeak(t, "xml", string(out))
			if !bytes.Contains(out, []byte(secret.Redacted)) {
				t.Errorf("xml output does not hold the redaction: %q", out)
			}
		})
	}
	t.Run("text/template", func(t *testing.T) {
		var b bytes.Buffer
		tmpl := template.Must(template.New("t").Parse(`{{.Pass}} {{printf "%x" .Pass}} {{.}} {{js .Pass}} {{html .Pass}}`))
		if err := tmpl.Execute(&b, field{User: "root", Pass: s}); err != nil {
			t.Fatal(err)
		}
		assertNoLeak(t, "template", b.String())
	})
}

// gob ignores MarshalText (golang.org/issue/6760) and a Secret has no
// exported field, so gob refuses to encode one at all.
func TestSecretGobRefusesToEncode(t *testing.T) {
	s := secret.New(value)
	type field struct{ Pass secret.Secret }
	values := map[string]any{
		"value":        s,
		"pointer":      &s,
		"struct field": field{Pass: s},
		"map value":    map[string]secret.Secret{"root": s},
		"slice":        []secret.Secret{s},
		"any":          map[string]any{"pass": s},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			err := gob.NewEncoder(&b).Encode(v)
			if err == nil {
				t.Fatal("gob encoded a Secret")
			}
			assertNoLeak(t, "gob output", b.String())
			assertNoLeak(t, "gob error", err.Error())
		})
	}
}

func TestSecretMarshalers(t *testing.T) {
	s := secret.New(value)
	var tm encoding.TextMarshaler = s
	text, err := tm.MarshalText()
	if err != nil || string(text) != secret.Redacted {
		t.Errorf("MarshalText() = %q, %v; want %q", text, err, secret.Redacted)
	}
	var jm json.Marshaler = s
	js, err := jm.MarshalJSON()
	if err != nil || string(js) != `"`+secret.Redacted+`"` {
		t.Errorf("MarshalJSON() = %q, %v", js, err)
	}
	var ym yaml.Marshaler = s
	y, err := ym.MarshalYAML()
	if err != nil || y != secret.Redacted {
		t.Errorf("MarshalYAML() = %v, %v", y, err)
	}
	if !json.Valid(js) {
		t.Errorf("MarshalJSON() is not valid JSON: %s", js)
	}
}

func TestSecretRefusesDecoding(t *testing.T) {
	type field struct {
		Pass secret.Secret `json:"pass" yaml:"pass" xml:"pass"`
	}
	gobOf := func(v any) []byte {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(v); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	type gobText struct{ Pass string }
	tests := []struct {
		name   string
		decode func() (secret.Secret, error)
	}{
		{"json value", func() (secret.Secret, error) {
			var s secret.Secret
			err := json.Unmarshal([]byte(`"`+value+`"`), &s)
			return s, err
		}},
		{"json field", func() (secret.Secret, error) {
			var f field
			err := json.Unmarshal([]byte(`{"pass":"`+value+`"}`), &f)
			return f.Pass, err
		}},
		{"json pointer field", func() (secret.Secret, error) {
			var f struct {
				Pass *secret.Secret `json:"pass"`
			}
			err := json.Unmarshal([]byte(`{"pass":"`+value+`"}`), &f)
			if f.Pass == nil {
				return secret.Secret{}, err
			}
			return *f.Pass, err
		}},
		{"json map value", func() (secret.Secret, error) {
			var m map[string]secret.Secret
			err := json.Unmarshal([]byte(`{"root":"`+value+`"}`), &m)
			return m["root"], err
		}},
		{"json number", func() (secret.Secret, error) {
			var s secret.Secret
			err := json.Unmarshal([]byte(`12345`), &s)
			return s, err
		}},
		{"UnmarshalText", func() (secret.Secret, error) {
			var s secret.Secret
			var tu encoding.TextUnmarshaler = &s
			err := tu.UnmarshalText([]byte(value))
			return s, err
		}},
		{"yaml field", func() (secret.Secret, error) {
			var f field
			err := yaml.Unmarshal([]byte("pass: "+value+"\n"), &f)
			return f.Pass, err
		}},
		{"yaml value", func() (secret.Secret, error) {
			var s secret.Secret
			err := yaml.Unmarshal([]byte(value+"\n"), &s)
			return s, err
		}},
		{"xml field", func() (secret.Secret, error) {
			var f field
			err := xml.Unmarshal([]byte("<field><pass>"+value+"</pass></field>"), &f)
			return f.Pass, err
		}},
		{"gob field", func() (secret.Secret, error) {
			var f struct{ Pass secret.Secret }
			err := gob.NewDecoder(bytes.NewReader(gobOf(gobText{Pass: value}))).Decode(&f)
			return f.Pass, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.decode()
			if err == nil {
				t.Fatal("decoding into a Secret succeeded")
			}
			if !s.IsZero() {
				t.Error("the Secret holds a value after a refused decode")
			}
			assertNoLeak(t, "error", err.Error())
		})
	}
}

func TestSecretRefusalMessage(t *testing.T) {
	var s secret.Secret
	err := json.Unmarshal([]byte(`"`+value+`"`), &s)
	if err == nil || !strings.Contains(err.Error(), "refusing to decode a secret") {
		t.Errorf("json.Unmarshal error = %v, want the refusal", err)
	}
}

func TestSecretReveal(t *testing.T) {
	tests := []struct {
		name      string
		s         secret.Secret
		reveal    string
		bytes     []byte
		zero      bool
		emptyCopy bool
	}{
		{name: "zero value", s: secret.Secret{}, reveal: "", bytes: nil, zero: true},
		{name: "New empty", s: secret.New(""), reveal: "", bytes: []byte{}, zero: true},
		{name: "FromBytes nil", s: secret.FromBytes(nil), reveal: "", bytes: nil, zero: true},
		{name: "New", s: secret.New(value), reveal: value, bytes: []byte(value), zero: false},
		{name: "FromBytes", s: secret.FromBytes([]byte(value)), reveal: value, bytes: []byte(value), zero: false},
		{name: "one byte", s: secret.New("x"), reveal: "x", bytes: []byte("x"), zero: false},
		{name: "binary", s: secret.FromBytes([]byte{0, 1, 0xff}), reveal: "\x00\x01\xff", bytes: []byte{0, 1, 0xff}, zero: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Reveal(); got != tt.reveal {
				t.Errorf("Reveal() = %q, want %q", got, tt.reveal)
			}
			if got := tt.s.RevealBytes(); !bytes.Equal(got, tt.bytes) {
				t.Errorf("RevealBytes() = %q, want %q", got, tt.bytes)
			}
			if got := tt.s.IsZero(); got != tt.zero {
				t.Errorf("IsZero() = %v, want %v", got, tt.zero)
			}
		})
	}
}

func TestSecretRevealBytesIsACopy(t *testing.T) {
	s := secret.New(value)
	b := s.RevealBytes()
	clear(b)
	if s.Reveal() != value {
		t.Error("changing RevealBytes' result changed the secret")
	}
}

func TestSecretEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b secret.Secret
		want bool
	}{
		{"same value, two secrets", secret.New(value), secret.New(value), true},
		{"FromBytes and New", secret.FromBytes([]byte(value)), secret.New(value), true},
		{"different", secret.New(value), secret.New("other"), false},
		{"prefix", secret.New(value), secret.New(value[:5]), false},
		{"longer", secret.New(value[:5]), secret.New(value), false},
		{"case", secret.New("abc"), secret.New("ABC"), false},
		{"zero and zero", secret.Secret{}, secret.Secret{}, true},
		{"zero and empty", secret.Secret{}, secret.New(""), true},
		{"zero and value", secret.Secret{}, secret.New(value), false},
		{"value and zero", secret.New(value), secret.Secret{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("a.Equal(b) = %v, want %v", got, tt.want)
			}
			if got := tt.b.Equal(tt.a); got != tt.want {
				t.Errorf("b.Equal(a) = %v, want %v", got, tt.want)
			}
		})
	}
	s := secret.New(value)
	if !s.Equal(s) {
		t.Error("a secret is not equal to itself")
	}
}

func TestSecretDestroy(t *testing.T) {
	buf := []byte(value)
	s := secret.FromBytes(buf)
	cp := s // copies share the buffer
	s.Destroy()
	if !bytes.Equal(buf, make([]byte, len(value))) {
		t.Errorf("Destroy left the credential in memory: %q", buf)
	}
	for name, x := range map[string]secret.Secret{"destroyed": s, "copy": cp} {
		if got := x.Reveal(); got != "" {
			t.Errorf("%s: Reveal() after Destroy = %q", name, got)
		}
		if len(x.RevealBytes()) != 0 {
			t.Errorf("%s: RevealBytes() after Destroy is not empty", name)
		}
		if !x.IsZero() {
			t.Errorf("%s: IsZero() after Destroy = false", name)
		}
		if x.Equal(secret.New(value)) {
			t.Errorf("%s: still equal to the value after Destroy", name)
		}
	}
	s.Destroy() // twice is harmless
	secret.Secret{}.Destroy()
	if got := fmt.Sprint(s); got != secret.Redacted {
		t.Errorf("a destroyed secret prints %q", got)
	}
}
