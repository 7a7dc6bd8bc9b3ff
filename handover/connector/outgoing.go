package connector

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/handoverhq/handover/handover/playbook"
)

// Outgoing recognises the outgoing provider's artefacts from the
// playbook's outgoing section. Every match says why, for the report.
type Outgoing struct {
	o playbook.Outgoing
}

// NewOutgoing returns a matcher for the playbook's outgoing section.
func NewOutgoing(o playbook.Outgoing) Outgoing { return Outgoing{o: o} }

// Account matches an account by name (login, DN or any of its RDN values)
// and mail addresses.
func (m Outgoing) Account(name string, mails ...string) []string {
	var why []string
	lname := strings.ToLower(name)
	for _, p := range m.o.Accounts {
		lp := strings.ToLower(p)
		if ok, _ := filepath.Match(lp, lname); ok {
			why = append(why, fmt.Sprintf("name %q matches outgoing.accounts pattern %q", name, p))
			continue
		}
		// For DNs, also match the first RDN's value ("uid=prestanet-admin,...").
		if rdn, _, ok := strings.Cut(lname, ","); ok {
			if _, v, ok := strings.Cut(rdn, "="); ok {
				if ok, _ := filepath.Match(lp, v); ok {
					why = append(why, fmt.Sprintf("name %q matches outgoing.accounts pattern %q", v, p))
				}
			}
		}
	}
	for _, mail := range mails {
		if d := m.Domain(mail); d != "" {
			why = append(why, fmt.Sprintf("mail %q is in the provider's domain %s", mail, d))
		}
	}
	return why
}

// Domain returns the provider domain an address or host name belongs to,
// or "".
func (m Outgoing) Domain(addr string) string {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if _, host, ok := strings.Cut(addr, "@"); ok {
		addr = host
	}
	for _, d := range m.o.Domains {
		ld := strings.ToLower(d)
		if addr == ld || strings.HasSuffix(addr, "."+ld) {
			return d
		}
	}
	return ""
}

// Text matches free text (a cron line, a sieve script, a comment) against
// the provider's domains and names.
func (m Outgoing) Text(s string) []string {
	var why []string
	ls := strings.ToLower(s)
	for _, d := range m.o.Domains {
		// An empty domain is contained in every text.
		if d != "" && strings.Contains(ls, strings.ToLower(d)) {
			why = append(why, fmt.Sprintf("mentions the provider's domain %s", d))
		}
	}
	for _, n := range m.o.Names {
		if n != "" && strings.Contains(ls, strings.ToLower(n)) {
			why = append(why, fmt.Sprintf("mentions the provider's name %q", n))
		}
	}
	return why
}

// Key matches an SSH public key by fingerprint and comment.
func (m Outgoing) Key(fingerprint, comment string) []string {
	var why []string
	for _, fp := range m.o.SSHKeys {
		if fp == fingerprint {
			why = append(why, fmt.Sprintf("fingerprint %s is listed in outgoing.ssh_keys", fp))
		}
	}
	lc := strings.ToLower(comment)
	for _, p := range m.o.KeyComments {
		if ok, _ := filepath.Match(strings.ToLower(p), lc); ok {
			why = append(why, fmt.Sprintf("comment %q matches outgoing.key_comments pattern %q", comment, p))
		}
	}
	if d := m.Domain(comment); d != "" && !strings.ContainsAny(comment, " ") {
		why = append(why, fmt.Sprintf("comment %q is in the provider's domain %s", comment, d))
	}
	return why
}

// AgentNames returns the names outgoing.agents lists and where each is
// written, for the connector whose catalogue they name.
func (m Outgoing) AgentNames() ([]string, []playbook.Pos) { return m.o.Agents, m.o.AgentsPos }

// Agent reports whether a catalogue agent is selected for removal
// (outgoing.agents: a list of names, "all", or absent for all).
func (m Outgoing) Agent(name string) bool {
	if len(m.o.Agents) == 0 {
		return true
	}
	for _, a := range m.o.Agents {
		if strings.EqualFold(a, "all") || strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}
