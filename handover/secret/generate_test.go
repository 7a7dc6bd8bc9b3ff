package secret_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/secret"
)

// classesOf lists the character sets a policy must use, as Generate's
// documentation promises them.
func classesOf(p secret.Policy) map[string]string {
	cs := map[string]string{}
	if p.Lower {
		cs["lower"] = secret.Lower
	}
	if p.Upper {
		cs["upper"] = secret.Upper
	}
	if p.Digits {
		cs["digits"] = secret.Digits
	}
	if p.Symbols {
		cs["symbols"] = secret.Symbols
		if p.SymbolSet != "" {
			cs["symbols"] = p.SymbolSet
		}
	}
	return cs
}

var validPolicies = map[string]secret.Policy{
	"default":                   secret.DefaultPolicy(),
	"minimum length":            {Length: 12, Lower: true, Upper: true, Digits: true, Symbols: true},
	"maximum length":            {Length: 256, Lower: true, Upper: true, Digits: true, Symbols: true},
	"lower only":                {Length: 16, Lower: true},
	"upper only":                {Length: 16, Upper: true},
	"digits only":               {Length: 12, Digits: true},
	"symbols only":              {Length: 12, Symbols: true},
	"no symbols":                {Length: 20, Lower: true, Upper: true, Digits: true},
	"symbol set":                {Length: 24, Lower: true, Upper: true, Digits: true, Symbols: true, SymbolSet: "-_."},
	"one-symbol set":            {Length: 12, Lower: true, Symbols: true, SymbolSet: "@"},
	"symbol set only":           {Length: 12, Symbols: true, SymbolSet: "+="},
	"symbol set without symbol": {Length: 14, Lower: true, Digits: true, SymbolSet: "-"},
}

func TestGenerateFollowsPolicy(t *testing.T) {
	for name, p := range validPolicies {
		t.Run(name, func(t *testing.T) {
			classes := classesOf(p)
			allowed := strings.Join(func() []string {
				var all []string
				for _, c := range classes {
					all = append(all, c)
				}
				return all
			}(), "")
			for range 300 {
				s, err := secret.Generate(nil, p)
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				pw := s.Reveal()
				if len(pw) != p.Length {
					t.Fatalf("length %d, want %d", len(pw), p.Length)
				}
				for cname, c := range classes {
					if !strings.ContainsAny(pw, c) {
						t.Errorf("a password has no %s character (%q)", cname, c)
					}
				}
				for i := range len(pw) {
					if !strings.Contains(allowed, pw[i:i+1]) {
						t.Fatalf("a password holds byte %q, outside the policy's alphabet %q", pw[i], allowed)
					}
				}
			}
		})
	}
}

func TestGenerateRespectsSymbolSet(t *testing.T) {
	p := secret.Policy{Length: 64, Symbols: true, Lower: true, SymbolSet: "-_"}
	seen := map[byte]bool{}
	for range 200 {
		s, err := secret.Generate(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		pw := s.Reveal()
		for i := range len(pw) {
			if strings.IndexByte(secret.Symbols, pw[i]) >= 0 {
				seen[pw[i]] = true
			}
		}
	}
	want := map[byte]bool{'-': true, '_': true}
	if len(seen) != len(want) || !seen['-'] || !seen['_'] {
		t.Errorf("symbols used: %q, want exactly %q", keys(seen), "-_")
	}
}

func keys(m map[byte]bool) string {
	var b []byte
	for k := range m {
		b = append(b, k)
	}
	return string(b)
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       secret.Policy
		wantErr string
	}{
		{"no class", secret.Policy{Length: 24}, "enables no character class"},
		{"symbol set but symbols off", secret.Policy{Length: 24, SymbolSet: "-_"}, "enables no character class"},
		{"zero length", secret.Policy{Lower: true}, "below the minimum of 12"},
		{"negative length", secret.Policy{Length: -1, Lower: true}, "below the minimum of 12"},
		{"length 11", secret.Policy{Length: 11, Lower: true, Upper: true, Digits: true, Symbols: true}, "below the minimum of 12"},
		{"length 257", secret.Policy{Length: 257, Lower: true}, "above the maximum of 256"},
		{"non-ASCII symbol", secret.Policy{Length: 24, Lower: true, Symbols: true, SymbolSet: "-€"}, "symbol set"},
		{"space symbol", secret.Policy{Length: 24, Lower: true, Symbols: true, SymbolSet: "- "}, "symbol set"},
		{"control symbol", secret.Policy{Length: 24, Lower: true, Symbols: true, SymbolSet: "-\n"}, "symbol set"},
		{"letter as symbol", secret.Policy{Length: 24, Lower: true, Symbols: true, SymbolSet: "-a"}, "symbol set"},
		{"digit as symbol", secret.Policy{Length: 24, Lower: true, Symbols: true, SymbolSet: "-7"}, "symbol set"},
		{"repeated symbol", secret.Policy{Length: 24, Lower: true, Symbols: true, SymbolSet: "-_-"}, "symbol set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			s, gerr := secret.Generate(nil, tt.p)
			if gerr == nil || gerr.Error() != err.Error() {
				t.Errorf("Generate() = %v, want Validate's error %v", gerr, err)
			}
			if !s.IsZero() {
				t.Error("Generate returned a secret with its error")
			}
		})
	}
	for name, p := range validPolicies {
		t.Run("valid/"+name, func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

// seeded is a deterministic random source.
func seeded(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func TestGenerateUsesInjectedReader(t *testing.T) {
	for name, p := range validPolicies {
		t.Run(name, func(t *testing.T) {
			a, err := secret.Generate(seeded(1), p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := secret.Generate(seeded(1), p)
			if err != nil {
				t.Fatal(err)
			}
			c, err := secret.Generate(seeded(2), p)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Equal(b) {
				t.Error("the same random source gave two passwords")
			}
			if a.Equal(c) {
				t.Error("two random sources gave the same password")
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestGenerateReadsTheInjectedReader(t *testing.T) {
	cr := &countingReader{r: seeded(3)}
	if _, err := secret.Generate(cr, secret.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if cr.n < secret.DefaultPolicy().Length {
		t.Errorf("Generate read %d bytes from the injected reader, want at least one per character (%d)", cr.n, secret.DefaultPolicy().Length)
	}
}

func TestGenerateReaderError(t *testing.T) {
	boom := errors.New("entropy source gone")
	tests := map[string]io.Reader{
		"error at once":       io.MultiReader(failing{boom}),
		"error after a while": io.MultiReader(bytes.NewReader(make([]byte, 7)), failing{boom}),
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := secret.Generate(r, secret.DefaultPolicy())
			if !errors.Is(err, boom) {
				t.Fatalf("Generate() error = %v, want it to wrap %v", err, boom)
			}
			if !s.IsZero() {
				t.Error("Generate returned a secret with its error")
			}
		})
	}
	t.Run("short reader", func(t *testing.T) {
		_, err := secret.Generate(bytes.NewReader(make([]byte, 5)), secret.DefaultPolicy())
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Generate() error = %v, want an end of input", err)
		}
	})
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

// chiSquareLimit is the value a chi-square statistic with df degrees of
// freedom exceeds with probability about 1e-6 (Wilson–Hilferty), so the
// test below fails by chance about once in a million runs.
func chiSquareLimit(df int) float64 {
	const z = 4.75
	k := float64(df)
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

func chiSquare(counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	expected := float64(total) / float64(len(counts))
	var x float64
	for _, c := range counts {
		d := float64(c) - expected
		x += d * d / expected
	}
	return x
}

// TestGenerateDistribution is a sanity check against gross bias (modulo
// bias, a fixed character per position, a class favoured): within each
// class every character is equally likely, and every position draws the
// classes in the same proportions.
func TestGenerateDistribution(t *testing.T) {
	p := secret.DefaultPolicy()
	const samples = 20000
	classes := []string{secret.Lower, secret.Upper, secret.Digits, secret.Symbols}
	perChar := map[byte]int{}
	// perPosition[i][c] counts position i drawing from class c.
	perPosition := make([][]int, p.Length)
	for i := range perPosition {
		perPosition[i] = make([]int, len(classes))
	}
	for range samples {
		s, err := secret.Generate(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		pw := s.Reveal()
		for i := range len(pw) {
			perChar[pw[i]]++
			for c, class := range classes {
				if strings.IndexByte(class, pw[i]) >= 0 {
					perPosition[i][c]++
				}
			}
		}
	}
	for _, class := range classes {
		counts := make([]int, len(class))
		for i := range len(class) {
			counts[i] = perChar[class[i]]
		}
		if x, limit := chiSquare(counts), chiSquareLimit(len(class)-1); x > limit {
			t.Errorf("characters of %q are not equally likely: chi-square %.1f > %.1f (counts %v)", class, x, limit, counts)
		}
	}
	// Contingency test: position against class.
	colTotals := make([]int, len(classes))
	for _, row := range perPosition {
		for c, n := range row {
			colTotals[c] += n
		}
	}
	total := samples * p.Length
	var x float64
	for _, row := range perPosition {
		for c, n := range row {
			expected := float64(colTotals[c]) * float64(samples) / float64(total)
			d := float64(n) - expected
			x += d * d / expected
		}
	}
	if limit := chiSquareLimit((p.Length - 1) * (len(classes) - 1)); x > limit {
		t.Errorf("classes depend on the position: chi-square %.1f > %.1f (%v)", x, limit, perPosition)
	}
	// Each class's share is near its share of the alphabet: rejection of
	// passwords missing a class only nudges the small classes up.
	alphabet := 0
	for _, c := range classes {
		alphabet += len(c)
	}
	for c, class := range classes {
		got := float64(colTotals[c]) / float64(total)
		want := float64(len(class)) / float64(alphabet)
		if math.Abs(got-want) > 0.15*want {
			t.Errorf("class %q is %.3f of all characters, want about %.3f", class, got, want)
		}
	}
}
