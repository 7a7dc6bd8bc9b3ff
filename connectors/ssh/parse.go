package ssh

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
)

// parseInventory parses the inventory script's output: "@@name [arg]"
// section lines and their content lines, except where the script says
// otherwise: a tar archive right after "@@archive", base64 between
// "@@file ..." and "@@end", and NUL-terminated "/proc/..." records in the
// "proc" section, where a process's name or arguments may hold any byte
// but NUL.
//
// Long: one pass over the output; its framings (archive, files, process records) share the loop's state.
func parseInventory(out []byte) (*hostData, error) {
	h := &hostData{OS: map[string]string{}, DMI: map[string]string{}, Enabled: map[string]bool{}, RunningUnits: map[string]bool{}, LiveUnits: map[string]unitState{}, SocketPIDs: map[string]int{}, Shadow: map[string]shadowEntry{}, SSHD: map[string]string{}}
	section, arg := "", ""
	owner := ""
	var file *remoteFile
	var b64 strings.Builder
	var keyFiles []string // "USER\tPATH", the accounts of the archive's authorized_keys
	var archive [][]archived
	procs := procTable{byPID: map[int]*procRecord{}}
	seenEnd := false
	for rest := out; len(rest) > 0; {
		if section == "proc" && bytes.HasPrefix(rest, []byte("/proc/")) {
			rec, after, ok := bytes.Cut(rest, []byte{0})
			if !ok {
				return nil, fmt.Errorf("inventory output: unterminated process record")
			}
			procs.add(h, string(rec))
			rest = after
			continue
		}
		var raw []byte
		raw, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line := string(bytes.TrimSuffix(raw, []byte{'\r'}))
		if head, ok := strings.CutPrefix(line, "@@"); ok {
			name, a, _ := strings.Cut(head, " ")
			switch name {
			case "file":
				f, err := parseFileHeader(a)
				if err != nil {
					return nil, err
				}
				if f.Kind == "authorized_keys" {
					f.Owner = owner
				}
				file = &f
				b64.Reset()
				section = "file"
				continue
			case "archive":
				groups, n, err := readArchive(rest)
				if err != nil {
					return nil, fmt.Errorf("inventory output: archive: %w", err)
				}
				archive, rest = groups, rest[n:]
				h.FilesRead = true
				section = ""
				continue
			case "persist-archive":
				groups, n, err := readArchive(rest)
				if err != nil {
					return nil, fmt.Errorf("inventory output: persistence archive: %w", err)
				}
				h.Persist = persistFiles(groups)
				rest = rest[n:]
				section = ""
				continue
			case "persist-end":
				h.PersistRead = true
			case "sshd-instance":
				pid, conf, _ := strings.Cut(a, " ")
				h.SSHDInstances = append(h.SSHDInstances, sshdInstance{PID: pid, Config: conf, Settings: map[string][]string{}})
			case "end":
				if file == nil {
					return nil, fmt.Errorf("inventory output: @@end outside a file")
				}
				data, err := decodeDump(b64.String())
				if err != nil {
					return nil, fmt.Errorf("inventory output: %s: %w", file.Path, err)
				}
				file.Data = data
				if file.Kind == "persist" || file.Kind == "called" {
					h.Persist = append(h.Persist, *file)
					file, section = nil, ""
					continue
				}
				h.Files = append(h.Files, *file)
				file, section = nil, ""
				continue
			case "owner":
				owner = a
				continue
			case "proc":
				procs.self, _ = strconv.Atoi(a)
			case "files-read":
				h.FilesRead = true
			case "packages":
				// The package tool ran: an empty list is an empty database.
				h.PackagesListed = true
			case "catalog-end":
				seenEnd = true
			}
			section, arg = name, a
			continue
		}
		switch section {
		case "file":
			b64.WriteString(line)
		case "authorized-keys":
			if line != "" {
				keyFiles = append(keyFiles, line)
			}
		default:
			parseLine(h, section, arg, line)
		}
	}
	if !seenEnd {
		return nil, fmt.Errorf("inventory output is truncated (no end marker)")
	}
	h.Procs = procs.list()
	if archive != nil {
		h.Files = append(h.Files, archivedFiles(archive, keyFiles)...)
	}
	return h, nil
}

// procTable gathers the "proc" section's records by PID, in the order of
// their names, leaving out the script's own shell.
type procTable struct {
	self  int
	order []int
	byPID map[int]*procRecord
}

type procRecord struct {
	comm, exe, cwd     string
	hasComm            bool
	args               []string
	fds, maps, cgroups []string
}

// add reads one record: "/proc/PID/comm:NAME\n", "/proc/PID/cmdline:ARG",
// "/proc/PID/exe:TARGET", "/proc/PID/cwd:TARGET", "/proc/PID/fd
// socket:[INODE]", "/proc/PID/fd /PATH" (an open file), or the whole of
// "/proc/PID/maps:CONTENT" or "/proc/PID/cgroup:CONTENT".
func (t *procTable) add(h *hostData, rec string) {
	pidStr, what, _ := strings.Cut(strings.TrimPrefix(rec, "/proc/"), "/")
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return
	}
	p := t.byPID[pid]
	if p == nil {
		p = &procRecord{}
		t.byPID[pid] = p
	}
	if link, ok := strings.CutPrefix(what, "fd "); ok {
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inode = strings.TrimSuffix(inode, "]")
			if _, dup := h.SocketPIDs[inode]; !dup && inode != "" {
				h.SocketPIDs[inode] = pid
			}
		} else if strings.HasPrefix(link, "/") && !slices.Contains(p.fds, link) {
			p.fds = append(p.fds, link)
		}
		return
	}
	switch kind, v, _ := strings.Cut(what, ":"); kind {
	case "comm":
		if !p.hasComm {
			t.order = append(t.order, pid)
		}
		p.comm, p.hasComm = strings.TrimRight(v, "\n"), true
	case "cmdline":
		p.args = append(p.args, v)
	case "exe":
		p.exe = strings.TrimRight(v, "\n")
	case "cwd":
		p.cwd = strings.TrimRight(v, "\n")
	case "maps":
		// "ADDRESS PERMS OFFSET DEV INODE PATH": only the path holds a
		// slash; the kernel writes a newline in it as \012.
		for _, l := range strings.Split(v, "\n") {
			if i := strings.IndexByte(l, '/'); i >= 0 && !slices.Contains(p.maps, l[i:]) {
				p.maps = append(p.maps, l[i:])
			}
		}
	case "cgroup":
		// "ID:CONTROLLERS:PATH", one line per hierarchy.
		for _, l := range strings.Split(v, "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 && !slices.Contains(p.cgroups, f[2]) {
				p.cgroups = append(p.cgroups, f[2])
			}
		}
	}
}

// list is the processes that have a name: one that exited before its name
// was read is gone. Arguments are joined by spaces, with tabs and newlines
// made spaces.
func (t *procTable) list() []procInfo {
	var ps []procInfo
	blank := strings.NewReplacer("\t", " ", "\n", " ")
	for _, pid := range t.order {
		if pid == t.self {
			continue
		}
		p := t.byPID[pid]
		ps = append(ps, procInfo{PID: pid, Comm: p.comm, Exe: p.exe, Args: strings.TrimSpace(blank.Replace(strings.Join(p.args, " "))),
			Argv: p.args, Cwd: p.cwd, FDs: p.fds, Maps: p.maps, Cgroups: p.cgroups})
	}
	return ps
}

// archived is a regular file of the script's tar archive.
type archived struct {
	hdr  *tar.Header
	data []byte
}

// readArchive reads the tar archives at the start of out: four groups of
// members separated by /dev/null (authorized_keys candidates, sudoers,
// cron, backup configurations and cron scripts), of which it keeps the regular files (a link is not followed). A hard link (tar's entry for
// a file it already stored) has the content of its target. n is the
// archive's length, with any zero padding after its end.
func readArchive(out []byte) (groups [][]archived, n int, err error) {
	byName := map[string]archived{}
	groups = make([][]archived, 1, 3)
	// Archives follow one another (the script runs tar once without -h,
	// once with it): each after the previous one's end and zero padding
	// starts with an absolute name.
	for n < len(out) && (n == 0 || out[n] == '/') {
		r := bytes.NewReader(out[n:])
		if err := readOneArchive(r, byName, &groups); err != nil {
			return nil, 0, err
		}
		n = len(out) - r.Len()
		for n < len(out) && out[n] == 0 {
			n++
		}
	}
	return groups, n, nil
}

func readOneArchive(r io.Reader, byName map[string]archived, groups *[][]archived) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var m archived
		switch hdr.Typeflag {
		case tar.TypeChar:
			if hdr.Name == "/dev/null" {
				*groups = append(*groups, nil)
			}
			continue
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			m = archived{hdr, data}
			if _, dup := byName[hdr.Name]; !dup {
				byName[hdr.Name] = m
			}
		case tar.TypeLink:
			target, ok := byName[hdr.Linkname]
			if !ok {
				continue
			}
			m = archived{hdr, target.data}
		default:
			continue
		}
		g := *groups
		g[len(g)-1] = append(g[len(g)-1], m)
	}
}

// archivedFiles lists the archive's files as the script's per-file dump
// would: an authorized_keys file once per account it serves (keyFiles,
// "USER\tPATH", sorted and unique as sort -u would), then sudoers, cron
// and backup files in the archive's order.
func archivedFiles(groups [][]archived, keyFiles []string) []remoteFile {
	file := func(kind string, m archived) remoteFile {
		return remoteFile{Kind: kind, Mode: strconv.FormatInt(m.hdr.Mode&0o7777, 8), UID: m.hdr.Uid, GID: m.hdr.Gid, Path: m.hdr.Name, Data: m.data}
	}
	group := func(i int) []archived {
		if i < len(groups) {
			return groups[i]
		}
		return nil
	}
	var files []remoteFile
	keys := map[string]archived{}
	for _, m := range group(0) {
		keys[m.hdr.Name] = m
	}
	pairs := slices.Clone(keyFiles)
	slices.Sort(pairs)
	for _, p := range slices.Compact(pairs) {
		user, path, _ := strings.Cut(p, "\t")
		if m, ok := keys[path]; ok {
			f := file("authorized_keys", m)
			f.Owner = user
			files = append(files, f)
		}
	}
	for _, m := range group(1) {
		files = append(files, file("sudoers", m))
	}
	for _, m := range group(2) {
		files = append(files, file("cron", m))
	}
	for _, m := range group(3) {
		files = append(files, file("backup", m))
	}
	return files
}

func parseFileHeader(a string) (remoteFile, error) {
	f := strings.SplitN(a, " ", 5)
	if len(f) != 5 {
		return remoteFile{}, fmt.Errorf("inventory output: bad file header %q", a)
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return remoteFile{}, fmt.Errorf("inventory output: bad file header %q", a)
	}
	return remoteFile{Kind: f[0], Mode: f[1], UID: uid, GID: gid, Path: f[4]}, nil
}

func decodeDump(s string) ([]byte, error) {
	if h, ok := strings.CutPrefix(s, "hex:"); ok {
		return hex.DecodeString(h)
	}
	return base64.StdEncoding.DecodeString(s)
}

// Long: one case per section of the inventory output.
func parseLine(h *hostData, section, arg, line string) {
	switch section {
	case "hostname":
		if h.Hostname == "" {
			h.Hostname = strings.TrimSpace(line)
		}
	case "os-release":
		if k, v, ok := strings.Cut(line, "="); ok {
			h.OS[k] = strings.Trim(v, `"'`)
		} else if strings.TrimSpace(line) != "" {
			h.OS["PRETTY_NAME"] = strings.TrimSpace(line)
		}
	case "kernel":
		h.Kernel = strings.TrimSpace(line)
	case "cpu":
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "processor":
			h.CPUs++
		case "model name":
			if h.CPUModel == "" {
				h.CPUModel = strings.TrimSpace(v)
			}
		}
	case "memory":
		f := strings.Fields(line)
		if len(f) >= 2 {
			h.MemKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	case "dmi":
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(v) != "" {
			h.DMI[k] = strings.TrimSpace(v)
		}
	case "disks":
		f := strings.Split(line, "\t")
		if len(f) >= 2 {
			n, _ := strconv.ParseInt(strings.TrimSpace(f[1]), 10, 64)
			d := diskInfo{Name: f[0], Sectors: n}
			if len(f) >= 3 {
				d.Model = strings.TrimSpace(f[2])
			}
			h.Disks = append(h.Disks, d)
		}
	case "ips": // one address per line
		addIP(h, strings.TrimSpace(line))
	case "ip-addr": // ip -o addr show: "2: eth0    inet 192.0.2.2/24 brd ..."
		if f := strings.Fields(line); len(f) >= 4 {
			addIP(h, f[3])
		}
	case "pkgmgr":
		if s := strings.TrimSpace(line); s != "" {
			h.PkgMgrs = append(h.PkgMgrs, s)
		}
	case "packages":
		f := strings.Split(line, "\t")
		if len(f) == 4 {
			h.Packages = append(h.Packages, pkgInfo{Format: f[0], State: strings.TrimSpace(f[1]), Name: f[2], Version: f[3]})
		}
	case "systemd":
		h.Systemd = strings.TrimSpace(line) == "running"
	case "unit-files":
		f := strings.Split(line, "\t")
		if len(f) == 4 {
			h.UnitFiles = append(h.UnitFiles, unitFile{Name: f[0], Path: f[1], Link: f[2], Exec: f[3]})
		}
	case "enabled":
		if s := strings.TrimSpace(line); s != "" {
			h.Enabled[s] = true
		}
	case "units":
		// list-units marks a failed unit with a bullet where it can print
		// one; --plain should leave it out.
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "●"))
		if len(f) >= 4 {
			h.LiveUnits[f[0]] = unitState{Load: f[1], Active: f[2], Sub: f[3]}
			if f[3] == "running" {
				h.RunningUnits[f[0]] = true
			}
		}
	case "net":
		if s, ok := parseProcNet(arg, line); ok {
			h.Listen = append(h.Listen, s)
		}
	case "passwd":
		f := strings.Split(line, ":")
		if len(f) == 7 {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				h.Passwd = append(h.Passwd, passwdEntry{Name: f[0], UID: uid, GID: gid, Gecos: f[4], Home: f[5], Shell: f[6]})
			}
		}
	case "group":
		f := strings.Split(line, ":")
		if len(f) == 4 {
			gid, _ := strconv.Atoi(f[2])
			g := groupEntry{Name: f[0], GID: gid}
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.Members = append(g.Members, m)
				}
			}
			h.Groups = append(h.Groups, g)
		}
	case "shadow":
		f := strings.Split(line, ":")
		if len(f) >= 8 {
			h.Shadow[f[0]] = shadowEntry{Hash: f[1], LastChange: atoiOr(f[2], -1), Expire: atoiOr(f[7], -1)}
		}
	case "sshd":
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			h.SSHD[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	case "key-links": // USER\tLINK\tTARGET\tFILE
		if f := strings.Split(line, "\t"); len(f) == 4 {
			h.KeyLinks = append(h.KeyLinks, keyLink{User: f[0], Link: f[1], Target: f[2], File: f[3]})
		}
	case "linger":
		if s := strings.TrimSpace(line); s != "" {
			h.Linger = append(h.Linger, s)
		}
	case "sshd-instance":
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && len(h.SSHDInstances) > 0 {
			i := &h.SSHDInstances[len(h.SSHDInstances)-1]
			i.Settings[k] = append(i.Settings[k], strings.TrimSpace(v))
		}
	case "deps": // KIND\tVALUE\tFILE
		if f := strings.Split(line, "\t"); len(f) == 3 && f[1] != "" {
			h.Deps = append(h.Deps, hostDep{Kind: f[0], Value: f[1], File: f[2]})
		}
	case "cron-scripts":
		if s := strings.TrimSpace(line); s != "" {
			h.CronScripts = append(h.CronScripts, s)
		}
	case "catalog-paths":
		if s := strings.TrimSpace(line); s != "" {
			h.CatalogPaths = append(h.CatalogPaths, line)
		}
	}
}

// addIP keeps an address, without its prefix length, if it is one.
func addIP(h *hostData, s string) {
	if addr, _, ok := strings.Cut(s, "/"); ok {
		s = addr
	}
	if s != "" && net.ParseIP(s) != nil {
		h.IPs = append(h.IPs, s)
	}
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// parseProcNet reads one line of /proc/net/{tcp,tcp6,udp,udp6} and keeps
// listening TCP sockets and bound UDP sockets.
func parseProcNet(proto, line string) (listenSocket, bool) {
	f := strings.Fields(line)
	if len(f) < 10 || f[0] == "sl" {
		return listenSocket{}, false
	}
	st := f[3]
	switch {
	case strings.HasPrefix(proto, "tcp") && st != "0A":
		return listenSocket{}, false
	case strings.HasPrefix(proto, "udp") && st != "07":
		return listenSocket{}, false
	}
	addr, err := decodeProcAddr(f[1])
	if err != nil {
		return listenSocket{}, false
	}
	return listenSocket{Proto: strings.TrimSuffix(proto, "6"), Addr: addr, Inode: f[9]}, true
}

// decodeProcAddr decodes "0100007F:0016" (IPv4) or the 32-hex-digit IPv6
// form; each 32-bit word is in host (little-endian) order.
func decodeProcAddr(s string) (string, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad port %q", s)
	}
	return net.JoinHostPort(net.IP(raw).String(), strconv.Itoa(int(port))), nil
}
