package report

import (
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// format1 is the first version of report.json, still read, verified and
// rendered. It differs from the current format in one way the renderer
// must know: its checks carry no kind, only words.
const format1 = 1

// format1CheckKind derives a format 1 check's kind from the words format 1
// checks used to say what they proved, as format 1's renderer read them.
// Only reports of format 1 are read this way.
func format1CheckKind(c connector.Check) connector.CheckKind {
	what := strings.ToLower(c.What)
	switch {
	case strings.Contains(what, "new credential works"):
		return connector.NewWorks
	case strings.Contains(what, "old credential rejected"):
		return connector.OldRejected
	case strings.Contains(what, "absent on re-inventory"):
		return connector.Absent
	}
	return connector.Note
}
