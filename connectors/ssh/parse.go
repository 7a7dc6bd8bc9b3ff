package ssh

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
)

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
	Procs        []procInfo
	SocketPIDs   map[string]int // socket inode -> pid
	Listen       []listenSocket
	Passwd       []passwdEntry
	Groups       []groupEntry
	Shadow       map[string]shadowEntry
	SSHD         map[string]string
	Files        []remoteFile
	CronScripts  []string
	CatalogPaths []string
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

type unitFile struct {
	Name, Path, Link, Exec string
}

type procInfo struct {
	PID             int
	Comm, Exe, Args string
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

// parseInventory parses the inventory script's output.
func parseInventory(out []byte) (*hostData, error) {
	h := &hostData{OS: map[string]string{}, DMI: map[string]string{}, Enabled: map[string]bool{}, RunningUnits: map[string]bool{}, SocketPIDs: map[string]int{}, Shadow: map[string]shadowEntry{}, SSHD: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	section, arg := "", ""
	owner := ""
	var file *remoteFile
	var b64 strings.Builder
	seenEnd := false
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "@@"); ok {
			name, a, _ := strings.Cut(rest, " ")
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
			case "end":
				if file == nil {
					return nil, fmt.Errorf("inventory output: @@end outside a file")
				}
				data, err := decodeDump(b64.String())
				if err != nil {
					return nil, fmt.Errorf("inventory output: %s: %w", file.Path, err)
				}
				file.Data = data
				h.Files = append(h.Files, *file)
				file, section = nil, ""
				continue
			case "owner":
				owner = a
				continue
			case "catalog-end":
				seenEnd = true
			}
			section, arg = name, a
			continue
		}
		if section == "file" {
			b64.WriteString(line)
			continue
		}
		parseLine(h, section, arg, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("inventory output: %w", err)
	}
	if !seenEnd {
		return nil, fmt.Errorf("inventory output is truncated (no end marker)")
	}
	return h, nil
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
	case "ips":
		ip := strings.TrimSpace(line)
		if ip == "" {
			return
		}
		if addr, _, ok := strings.Cut(ip, "/"); ok {
			ip = addr
		}
		if net.ParseIP(ip) != nil {
			h.IPs = append(h.IPs, ip)
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
	case "running-units":
		if s := strings.TrimSpace(line); s != "" {
			h.RunningUnits[s] = true
		}
	case "processes":
		f := strings.SplitN(line, "\t", 4)
		if len(f) == 4 {
			pid, err := strconv.Atoi(f[0])
			if err == nil {
				h.Procs = append(h.Procs, procInfo{PID: pid, Comm: f[1], Exe: f[2], Args: strings.TrimSpace(f[3])})
			}
		}
	case "sockets":
		// "/proc/123/fd socket:[4567]"
		dir, link, ok := strings.Cut(line, " ")
		if !ok {
			return
		}
		pidStr := strings.TrimSuffix(strings.TrimPrefix(dir, "/proc/"), "/fd")
		pid, err := strconv.Atoi(pidStr)
		inode := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
		if err == nil && inode != "" {
			if _, dup := h.SocketPIDs[inode]; !dup {
				h.SocketPIDs[inode] = pid
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
