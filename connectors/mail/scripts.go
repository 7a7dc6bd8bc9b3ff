package mail

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
)

// The shell that runs on the mail host lives in scripts/, one file each;
// each says what it does. Only quoted arguments and variable assignments
// are added here.
var (
	//go:embed scripts/inventory.sh
	inventoryScript string
	//go:embed scripts/read.sh
	readScript string
	//go:embed scripts/apply.sh
	applyBase string
	//go:embed scripts/queue.sh
	queueScript string
)

// record is one "@@KIND NAME CONTENT" line of a script's output.
type record struct {
	Kind, Name, Content string
}

// parseRecords reads a script's records; other lines are ignored.
func parseRecords(out []byte) ([]record, error) {
	var recs []record
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "@@") {
			continue
		}
		f := strings.SplitN(strings.TrimPrefix(l, "@@"), " ", 3)
		r := record{Kind: f[0]}
		if len(f) > 1 && f[1] != "-" {
			b, err := base64.StdEncoding.DecodeString(f[1])
			if err != nil {
				r.Name = f[1] // a plain word (@@missing doveadm, @@status x 0)
			} else {
				r.Name = string(b)
			}
		}
		if len(f) > 2 {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f[2]))
			if err != nil {
				r.Content = strings.TrimSpace(f[2])
			} else {
				r.Content = string(b)
			}
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// batch is an apply script: applyBase's functions, then calls with quoted
// arguments.
type batch struct {
	b     strings.Builder
	steps int
}

func (b *batch) call(fn string, args ...string) {
	b.b.WriteString(fn)
	for _, a := range args {
		b.b.WriteString(" " + shq(a))
	}
	b.b.WriteString("\n")
	b.steps++
}

func (b *batch) script() string { return applyBase + "\n" + b.b.String() + "finish\n" }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// shq quotes s for a POSIX shell.
func shq(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sprintfStep(id, what string) string { return fmt.Sprintf("%s %s", id, what) }
