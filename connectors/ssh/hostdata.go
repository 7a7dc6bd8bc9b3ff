package ssh

// hostData is the inventory script's output, parsed. It may hold password
// hashes (shadow): it never leaves the connector.
type hostData struct {
	Hostname     string
	OS           map[string]string
	Kernel       string
	CPUModel     string
	CPUs         int
	MemKB        int64
	DMI          map[string]string
	Disks        []diskInfo
	IPs          []string
	PkgMgrs      []string
	Packages     []pkgInfo
	Systemd      bool
	UnitFiles    []unitFile
	Enabled      map[string]bool
	RunningUnits map[string]bool
	// LiveUnits are the services and timers a running systemd holds that
	// are not inactive (or have failed), by name.
	LiveUnits  map[string]unitState
	Procs      []procInfo
	SocketPIDs map[string]int // socket inode -> pid
	Listen     []listenSocket
	Passwd     []passwdEntry
	Groups     []groupEntry
	Shadow     map[string]shadowEntry
	SSHD       map[string]string
	// ServerVersion is the SSH server's identification ("SSH-2.0-OpenSSH_9.2p1
	// Debian-2"), from the connection the inventory ran on.
	ServerVersion string
	Files         []remoteFile
	// KeyLinks are the authorized_keys files that are links, or sit in a
	// directory that is one: not read (root follows no account's link).
	KeyLinks []keyLink
	// PackagesListed: the package manager's own tool listed the packages
	// (rpm -qa, dpkg-query), even if it listed none.
	PackagesListed bool
	// FilesRead: the authorized_keys, sudoers and cron files were read
	// (the archive, or each dumped): one not in Files is not on the host.
	FilesRead    bool
	CronScripts  []string
	CatalogPaths []string
	// Persist are the files that start something again on its own
	// (scripts/persist.sh: units, at jobs, rc.local and init scripts,
	// ~/.ssh/rc, sshd's configurations, PAM, ld.so.preload, VPN clients,
	// .forward), Kind "persist", and the programs they call, Kind
	// "called". PersistRead: the part that reads them ran to its end.
	Persist     []remoteFile
	PersistRead bool
	// Linger are the accounts whose user manager systemd starts at boot.
	Linger []string
	// SSHDInstances are the sshd processes listening, each with the
	// configuration it was started with and what sshd -T -f says of it.
	SSHDInstances []sshdInstance
	// Deps are what the host's configuration says it depends on (links.go).
	Deps []hostDep
}

// sshdInstance is one listening sshd: its PID ("-" when none was seen
// and the main configuration was read), its configuration file, and
// sshd -T's values of the settings that matter (empty when sshd -T could
// not read it).
type sshdInstance struct {
	PID, Config string
	Settings    map[string][]string
}

type diskInfo struct {
	Name    string
	Sectors int64
	Model   string
}

type pkgInfo struct {
	Format  string // deb or rpm
	State   string // dpkg's two-letter abbreviation: ii, rc, iU...
	Name    string
	Version string
}

// unitState is a unit as systemd holds it: whether it is loaded (or
// not-found: its file gone), its high- and low-level activation states.
type unitState struct{ Load, Active, Sub string }

type unitFile struct {
	Name, Path, Link, Exec string
}

// procInfo is a running process as the inventory read it from /proc.
// Args is its command line joined by spaces (tabs and newlines made
// spaces); Argv keeps the arguments apart. Cwd, FDs and Maps are read
// only where they may name a catalogue agent's path (the rest is not
// collected), Cgroups only where they may name an agent's unit.
type procInfo struct {
	PID             int
	Comm, Exe, Args string
	Argv            []string
	Cwd             string
	FDs             []string // open files (their link's target)
	Maps            []string // mapped files
	Cgroups         []string // cgroup paths, one per hierarchy
}

type listenSocket struct {
	Proto, Addr, Inode string
}

type passwdEntry struct {
	Name        string
	UID, GID    int
	Gecos       string
	Home, Shell string
}

type groupEntry struct {
	Name    string
	GID     int
	Members []string
}

type shadowEntry struct {
	Hash       string
	LastChange int // days since 1970-01-01; -1 unknown
	Expire     int // days since 1970-01-01; -1 never
}

// remoteFile is a file the script dumped.
type remoteFile struct {
	Kind     string // authorized_keys, sudoers, cron
	Owner    string // the account an authorized_keys file serves
	Mode     string // octal, as stat prints it
	UID, GID int
	Path     string
	Data     []byte
}

// keyLink is an authorized_keys file sshd would read for User that is a
// link, or whose directory is: Link points to Target.
type keyLink struct {
	User, Link, Target, File string
}
