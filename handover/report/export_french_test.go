package report

// WordPairs are the English and French wordings of the tool's label
// table and of the connectors' words the renderer translates, for the
// French scan (french_test.go).
func WordPairs() (labelPairs, toolPairs [][2]string) {
	for k, en := range labels["en"] {
		labelPairs = append(labelPairs, [2]string{en, labels["fr"][k]})
	}
	for en, fr := range toolPhrases["fr"] {
		toolPairs = append(toolPairs, [2]string{en, fr})
	}
	return labelPairs, toolPairs
}

// ToolList translates what the tool joined with "; " as a French
// rendering does, and returns the parts no wording of the tool's reads.
func ToolList(lang, s string) (string, []string) {
	r := newTranslator(lang).parts(s, "; ")
	return r.out, r.unknown
}

// ToolRead is ToolList with how much of s the tool's wordings read as
// their own text (the values they hold aside).
func ToolRead(lang, s string) (out string, score int, unknown []string) {
	r := newTranslator(lang).parts(s, "; ")
	return r.out, r.score, r.unknown
}
