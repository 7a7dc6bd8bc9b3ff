package report

import (
	"slices"
	"testing"
)

// TestRenderLabelsComplete checks every language has exactly the same
// labels, so no rendering falls back or fails in one language only.
func TestRenderLabelsComplete(t *testing.T) {
	keys := func(lang string) []string {
		var ks []string
		for k := range labels[lang] {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	want := keys(DefaultLang)
	for _, lang := range Langs() {
		got := keys(lang)
		for _, k := range want {
			if _, ok := labels[lang][k]; !ok {
				t.Errorf("%s lacks label %q", lang, k)
			}
		}
		for _, k := range got {
			if _, ok := labels[DefaultLang][k]; !ok {
				t.Errorf("%s has label %q that %s lacks", lang, k, DefaultLang)
			}
		}
	}
}
