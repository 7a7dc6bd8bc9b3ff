package connector

// Scoper is implemented by a target of several systems (an SSH target's
// hosts) that can narrow itself to some of them before it reads anything:
// `--limit` reaches only the systems it names.
type Scoper interface {
	// Systems lists the systems as configured, without any I/O.
	Systems() []SystemRef
	// Scope keeps only the named systems (names from Systems).
	Scope(names []string)
}

// SystemRef is a configured system, as a limit pattern sees it.
type SystemRef struct {
	Name    string
	Address string
	// Groups are the groups the playbook (or an imported inventory) puts
	// the system in.
	Groups []string
}
