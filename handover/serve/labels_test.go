package serve

import (
	"maps"
	"slices"
	"testing"
)

// TestLabelsBothLanguages: every wording exists in French and English.
func TestLabelsBothLanguages(t *testing.T) {
	en, fr := slices.Sorted(maps.Keys(labels["en"])), slices.Sorted(maps.Keys(labels["fr"]))
	if !slices.Equal(en, fr) {
		t.Errorf("labels differ:\nen %v\nfr %v", en, fr)
	}
}
