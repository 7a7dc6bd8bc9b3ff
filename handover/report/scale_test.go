package report_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestRenderScaleLinear renders the town hall's report with 100, 400 and
// 700 hosts: the HTML grows by the same amount per host (the figure
// docs/report.md gives, about 9 KB), and rendering the same report twice
// gives the same bytes (verify re-renders and compares).
func TestRenderScaleLinear(t *testing.T) {
	size := map[int]int{}
	for _, n := range []int{100, 250, 400} {
		f, err := reporttest.Write(context.Background(), t.TempDir(), reporttest.Options{Hosts: n, Formats: []string{"html"}})
		if err != nil {
			t.Fatal(err)
		}
		a, err := report.Render(f.Report, "html", "fr")
		if err != nil {
			t.Fatal(err)
		}
		b, err := report.Render(f.Report, "html", "fr")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%d hosts: two renderings of one report differ", n)
		}
		size[n] = len(a)
	}
	low := float64(size[250]-size[100]) / 150
	high := float64(size[400]-size[250]) / 150
	t.Logf("HTML: %d bytes at 100 hosts, %d at 250, %d at 400: %.0f then %.0f bytes per host", size[100], size[250], size[400], low, high)
	if math.Abs(high-low)/low > 0.05 {
		t.Errorf("the HTML does not grow linearly: %.0f bytes per host from 100 to 400 hosts, %.0f from 400 to 700", low, high)
	}
	if high > 12000 {
		t.Errorf("%.0f bytes per host, more than the 12 KB docs/report.md allows", high)
	}
}
