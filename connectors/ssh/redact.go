package ssh

import (
	"path"
	"regexp"
	"strings"
)

// What a command line may hold that is a credential, word by word (a
// word as the shell splits it: quotes keep spaces in). Each pattern's
// first group is kept, the rest of the match replaced.
var (
	// NAME=VALUE where the name speaks of a password, token or secret:
	// PASSWORD=, MYSQL_PWD=, API_KEY=, --password=, ?token=.
	secretAssign = regexp.MustCompile(`(?i)^([^=]*(?:pass|pwd|secret|token|api_?key|api-key|auth|credential)[^=]*=)(.+)$`)
	// A flag whose value, the next word, is a credential.
	secretFlag = regexp.MustCompile(`(?i)^--?[a-z0-9_-]*(?:password|passwd|pass|pwd|secret|token|api-?key|credentials?)$`)
	// scheme://user:password@host
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'"]*:)[^/\s@'"]+@`)
	// An HTTP header that carries a credential: Authorization: Bearer x.
	secretHeader = regexp.MustCompile(`(?i)^(.*\b(?:authorization|proxy-authorization|x-api-key|x-auth-token|private-token|api-key|x-vault-token|cookie):\s*(?:(?:bearer|basic|token|digest|negotiate|bot)\s+)?)([^'"]+)(['"]?)$`)
	// curl's and wget's user:password: -uUSER:PASS, --user=USER:PASS.
	userPassJoined = regexp.MustCompile(`^(-[uU][^:-][^:]*:|--(?:proxy-)?user=[^:]*:)(.+)$`)
	// mysql's -pPASSWORD, sshpass's -pPASSWORD.
	joinedP = regexp.MustCompile(`^(-p)(.+)$`)
)

// mysqlTools take their password joined to -p.
var mysqlTools = map[string]bool{"mysql": true, "mysqldump": true, "mysqladmin": true, "mysqlcheck": true, "mysqlimport": true, "mysqlshow": true, "mysqlpump": true, "mariadb": true, "mariadb-dump": true, "mariadb-admin": true, "mariadb-check": true, "mariadb-import": true}

const redacted = "[redacted]"

// redactArgs hides what looks like a credential in a command line (a
// cron entry, a process's arguments) before it goes into the dossier, a
// plan, the journal or a report: NAME=VALUE where the name speaks of a
// password, token or secret, the word after such a flag, a URL's
// user:password@, curl's -u USER:PASSWORD, mysql's and sshpass's
// -pPASSWORD, an Authorization header. The line is otherwise kept as it
// is, spacing included; a line without any is returned unchanged.
func redactArgs(line string) string {
	words := shellWords(line)
	repl := make([]string, len(words))
	set := func(i int, s string) {
		if s != words[i].text {
			repl[i] = s
		}
	}
	mysql, sshpass := false, false
	for i := 0; i < len(words); i++ {
		w := words[i].text
		bare := strings.Trim(w, `'"`)
		switch base := path.Base(bare); {
		case mysqlTools[base]:
			mysql = true
		case base == "sshpass":
			sshpass = true
		case bare == "|" || bare == "||" || bare == "&&" || bare == ";":
			mysql, sshpass = false, false
		}
		next := func(keep func(string) string) {
			if i+1 < len(words) {
				i++
				set(i, keep(words[i].text))
			}
		}
		switch {
		case secretHeader.MatchString(w):
			set(i, secretHeader.ReplaceAllString(w, "${1}"+redacted+"${3}"))
		case secretFlag.MatchString(w):
			next(func(string) string { return redacted })
		case w == "-u" || w == "-U" || w == "--user" || w == "--proxy-user":
			next(func(v string) string {
				if u, _, ok := strings.Cut(v, ":"); ok {
					return u + ":" + redacted
				}
				return v
			})
		case userPassJoined.MatchString(w):
			set(i, userPassJoined.ReplaceAllString(w, "${1}"+redacted))
		case sshpass && w == "-p":
			sshpass = false
			next(func(string) string { return redacted })
		case (sshpass || mysql) && joinedP.MatchString(w):
			sshpass = false
			set(i, joinedP.ReplaceAllString(w, "${1}"+redacted))
		case secretAssign.MatchString(w):
			m := secretAssign.FindStringSubmatch(w)
			value, tail := m[2], ""
			if value[0] != '\'' && value[0] != '"' {
				// An unquoted value ends where the shell's next command
				// or redirection starts.
				if j := strings.IndexAny(value, ";&|<>)"); j >= 0 {
					tail = value[j:]
				}
			}
			set(i, m[1]+redacted+tail)
		case urlUserinfo.MatchString(w):
			set(i, urlUserinfo.ReplaceAllString(w, "${1}"+redacted+"@"))
		}
		if repl[i] == "" && urlUserinfo.MatchString(w) {
			set(i, urlUserinfo.ReplaceAllString(w, "${1}"+redacted+"@"))
		}
	}
	var b strings.Builder
	at := 0
	for i, w := range words {
		if repl[i] == "" {
			continue
		}
		b.WriteString(line[at:w.start])
		b.WriteString(repl[i])
		at = w.start + len(w.text)
	}
	if at == 0 {
		return line
	}
	b.WriteString(line[at:])
	return b.String()
}

type shellWord struct {
	start int
	text  string
}

// shellWords splits a command line into words as the shell would, quotes
// and backslashes keeping blanks inside a word, and returns each as it is
// written (quotes included) with its offset.
func shellWords(s string) []shellWord {
	var out []shellWord
	start, quote, esc := -1, byte(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				esc = true
			}
		case c == ' ' || c == '\t' || c == '\n':
			if start >= 0 {
				out = append(out, shellWord{start, s[start:i]})
				start = -1
			}
			continue
		case c == '\'' || c == '"':
			quote = c
		case c == '\\':
			esc = true
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, shellWord{start, s[start:]})
	}
	return out
}
