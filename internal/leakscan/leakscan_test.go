package leakscan_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handoverhq/handover/internal/leakscan"
)

// planted has every character that an encoding changes.
const planted = `pl4nted<&>"'+/= ü?%#`

// TestFindsAPlantedSecretInEveryForm plants one value in an artefact in
// each form a leak takes, in the middle of other text, and proves the scan
// finds each and names its form, never the value.
func TestFindsAPlantedSecretInEveryForm(t *testing.T) {
	jsonEsc, _ := json.Marshal(planted)
	forms := map[string]string{
		"raw":     planted,
		"json":    string(jsonEsc),
		"html":    html.EscapeString(planted),
		"url":     url.QueryEscape(planted),
		"hex":     hex.EncodeToString([]byte(planted)),
		"base64":  base64.StdEncoding.EncodeToString([]byte(planted)),
		"base64 ": base64.StdEncoding.EncodeToString([]byte("x" + planted + "tail")), // another alignment
		"base64u": base64.URLEncoding.EncodeToString([]byte("xy" + planted)),
	}
	dir := t.TempDir()
	for name, text := range forms {
		p := filepath.Join(dir, "report-"+strings.TrimSpace(name)+".txt")
		if strings.Contains(name, " ") || strings.HasSuffix(name, "u") {
			p = filepath.Join(dir, "sub", "page-"+strings.TrimSpace(name)+".html")
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("before "+text+" after\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Clean files, ciphertext and a file a test declared as revealing.
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("clean.json", `{"secret":"file:serveurs/h/root#2"}`)
	write("store.age", "age-encryption.org/v1\n"+planted)
	write("reveal.out", planted)
	write(leakscan.IgnoreFile, "reveal.out\n")

	sc := leakscan.New([]leakscan.Secret{{Value: planted, Source: "planted"}, {Value: "short", Source: "too short"}})
	hits, files, err := sc.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if files != len(forms)+1 || sc.Skipped() != 1 {
		t.Errorf("scanned %d files (%d ciphertext), want %d (1)", files, sc.Skipped(), len(forms)+1)
	}
	found := map[string]string{}
	for _, h := range hits {
		if strings.Contains(h.String(), planted) {
			t.Errorf("a hit shows the secret: %s", h)
		}
		found[filepath.Base(h.File)] = h.Form
	}
	for name := range forms {
		want := strings.TrimSuffix(strings.TrimSpace(name), "u")
		file := "report-" + strings.TrimSpace(name) + ".txt"
		if strings.Contains(name, " ") || strings.HasSuffix(name, "u") {
			file = "page-" + strings.TrimSpace(name) + ".html"
		}
		if got, ok := found[file]; !ok {
			t.Errorf("%s form (%s) not found", name, file)
		} else if !strings.HasPrefix(got, want) && got != "raw" {
			t.Errorf("%s: found as %s", name, got)
		}
		delete(found, file)
	}
	if len(found) > 0 {
		t.Errorf("hits in files holding no leak: %v", found)
	}
}

// TestFormsOfEveryAlignment: base64 at each of the three alignments, in
// both alphabets, is among the forms, and each form differs from the rest.
func TestFormsOfEveryAlignment(t *testing.T) {
	v := "Zq9-Lm3/xY7+wP2_kR5!"
	forms := leakscan.Forms(v)
	has := func(s string) bool {
		for _, f := range forms {
			if strings.Contains(s, string(f.Needle)) {
				return true
			}
		}
		return false
	}
	for pre := 0; pre < 3; pre++ {
		for post := 0; post < 3; post++ {
			b := []byte(strings.Repeat("a", pre) + v + strings.Repeat("b", post))
			for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
				if s := e.EncodeToString(b); !has(s) {
					t.Errorf("base64 with %d bytes before, %d after: %s not found", pre, post, s)
				}
			}
		}
	}
	if has(base64.StdEncoding.EncodeToString([]byte("Zq9-Lm3/xY8+wP2_kR5!"))) {
		t.Error("a different value matched")
	}
}

// TestFindsACopiedPrivateKey: a private key's file copied into an
// artefact (its PEM wrapped at 70 columns) is found through the key's
// private scalar, and another key of the same type is not.
func TestFindsACopiedPrivateKey(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		return p
	}
	secrets, err := leakscan.FromKeyFile(gen("leaked"))
	if err != nil || len(secrets) != 1 {
		t.Fatalf("key secrets: %d, %v", len(secrets), err)
	}
	gen("other")
	arts := t.TempDir()
	for _, n := range []string{"leaked", "other", "other.pub", "leaked.pub"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(arts, n+".log"), append([]byte("log line\n"), b...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hits, _, err := leakscan.New(secrets).Dir(arts)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || filepath.Base(strings.Fields(hits[0].File)[0]) != "leaked.log" {
		t.Errorf("hits %v, want leaked.log only", hits)
	}
}
