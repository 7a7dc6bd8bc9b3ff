package ssh

import (
	"regexp"
	"strings"
)

var (
	secretAssign = regexp.MustCompile(`(?i)^([^=]*(pass|pwd|secret|token|apikey|api_key|auth)[^=]*=).+$`)
	secretFlag   = regexp.MustCompile(`(?i)^--?(password|passwd|pass|pwd|secret|token|api-?key)$`)
)

// redactArgs hides what looks like a credential in a command line before
// it goes into the dossier: the value of NAME=VALUE where the name speaks
// of a password, token or secret, and the word after such a flag.
func redactArgs(args string) string {
	w := strings.Fields(args)
	for i := range w {
		switch {
		case secretAssign.MatchString(w[i]):
			w[i] = secretAssign.ReplaceAllString(w[i], "${1}[redacted]")
		case secretFlag.MatchString(w[i]) && i+1 < len(w):
			w[i+1] = "[redacted]"
		}
	}
	return strings.Join(w, " ")
}
