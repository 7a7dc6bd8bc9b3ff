package engine

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// Limit is a --limit pattern, with Ansible's syntax where it fits: terms
// separated by commas or colons; a term is a glob (*, ?, [...]) or, after
// ~, a regular expression; it matches a system by the system's name or
// address, its groups, its target's name or type, or "all". A system is
// kept when it matches one plain term (or there is none), every &term and
// no !term.
type Limit struct {
	Pattern           string
	any, all, exclude []term
}

type term struct {
	glob string
	re   *regexp.Regexp
}

func (t term) match(s string) bool {
	if t.re != nil {
		return t.re.MatchString(s)
	}
	ok, _ := path.Match(t.glob, s)
	return ok
}

// ParseLimit parses a --limit pattern.
func ParseLimit(pattern string) (*Limit, error) {
	l := &Limit{Pattern: pattern}
	fields := strings.FieldsFunc(pattern, func(r rune) bool { return r == ',' || r == ':' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("--limit %q: empty pattern", pattern)
	}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		list := &l.any
		switch {
		case strings.HasPrefix(f, "!"):
			list, f = &l.exclude, f[1:]
		case strings.HasPrefix(f, "&"):
			list, f = &l.all, f[1:]
		}
		var t term
		if re, ok := strings.CutPrefix(f, "~"); ok {
			r, err := regexp.Compile(re)
			if err != nil {
				return nil, fmt.Errorf("--limit %q: %q: %v", pattern, f, err)
			}
			t.re = r
		} else {
			if f == "" {
				return nil, fmt.Errorf("--limit %q: empty term", pattern)
			}
			if _, err := path.Match(f, ""); err != nil {
				return nil, fmt.Errorf("--limit %q: %q: %v", pattern, f, err)
			}
			t.glob = f
		}
		*list = append(*list, t)
	}
	return l, nil
}

// Match says whether the limit keeps system sys of target (name, type).
func (l *Limit) Match(target, typ string, sys connector.SystemRef) bool {
	names := append([]string{"all", target, typ, sys.Name, sys.Address}, sys.Groups...)
	hits := func(t term) bool {
		return slices.ContainsFunc(names, func(n string) bool { return n != "" && t.match(n) })
	}
	if len(l.any) > 0 && !slices.ContainsFunc(l.any, hits) {
		return false
	}
	for _, t := range l.all {
		if !hits(t) {
			return false
		}
	}
	return !slices.ContainsFunc(l.exclude, hits)
}

// SetLimit narrows the session to what the limit matches: a target that
// can narrow itself (connector.Scoper) keeps the matching systems; another
// target is kept whole when its one system (named as the target) matches.
// A limit that matches nothing is an error: a run of nothing would look
// like a clean one.
func (s *Session) SetLimit(l *Limit) error {
	var kept []*Target
	for _, t := range s.Targets {
		sc, ok := t.Impl.(connector.Scoper)
		if !ok {
			if l.Match(t.Spec.Name, t.Spec.Type, connector.SystemRef{Name: t.Spec.Name}) {
				kept = append(kept, t)
			} else {
				t.Impl.Close()
			}
			continue
		}
		var names []string
		for _, sys := range sc.Systems() {
			if l.Match(t.Spec.Name, t.Spec.Type, sys) {
				names = append(names, sys.Name)
			}
		}
		if len(names) == 0 {
			t.Impl.Close()
			continue
		}
		sc.Scope(names)
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return fmt.Errorf("--limit %q matches no target or system of %s", l.Pattern, s.Playbook.File)
	}
	s.Targets, s.Limit = kept, l
	return nil
}
