package ssh

import _ "embed"

// The shell that runs on hosts lives in scripts/, one file each; each
// file says what it does and what the connector sets before it. Only
// quoted arguments and variable assignments are added here (shellQuote).

// inventoryBase reads a host; see inventoryScript.
//
//go:embed scripts/inventory.sh
var inventoryBase string

// batchBase runs a host's changes as steps; see batch.
//
//go:embed scripts/batch.sh
var batchBase string

// removeAgentsBase defines remove_agents, for a batch that removes agents;
// see agentSteps.
//
//go:embed scripts/remove-agents.sh
var removeAgentsBase string

// The scripts below are given to sh -c, where the host's process list and
// sudo's log show them: they hold commands only, no comment, and are sent
// without their last newline where the Go constants they replace had none.
var (
	// readFilesScript prints, for each path argument, "@@read I absent",
	// "@@read I link" (the file or its directory is a symbolic link, not
	// followed), "@@read I notfile" or "@@read I SHA256 MODE UID GID" and
	// the content in base64 on one line.
	//
	//go:embed scripts/read-files.sh
	readFilesScript string

	// shadowHashScript prints an account's shadow hash.
	//
	//go:embed scripts/shadow-hash.sh
	shadowHashScript string

	// perlCryptScript compares a password with a hash of any scheme the
	// host's libcrypt knows (yescrypt, ...), both read on stdin.
	//
	//go:embed scripts/perl-crypt.sh
	perlCryptScript string

	// idsScript prints an account's uid and primary gid.
	//
	//go:embed scripts/ids.sh
	idsScript string

	// sshdPasswordScript prints the sshd settings that say whether it
	// takes a password.
	//
	//go:embed scripts/sshd-password.sh
	sshdPasswordScript string
)
