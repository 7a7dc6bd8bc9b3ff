package ssh

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxExpansion bounds what one host pattern may expand to, so a typo like
// 10.0.[0-255].[0-255] is an error rather than 65 536 connections.
const maxExpansion = 4096

// ExpandHosts expands numeric ranges in a host pattern: "127.0.1.[1-5]",
// "srv-[01-20]" (the width of the first bound is kept: srv-01 … srv-20).
// Several ranges multiply. A pattern without brackets is itself.
func ExpandHosts(pattern string) ([]string, error) {
	open := rangeStart(pattern)
	if open < 0 {
		if strings.Count(pattern, "]") > strings.Count(pattern, "[") {
			return nil, fmt.Errorf("host pattern %q: ] without [", pattern)
		}
		return []string{pattern}, nil
	}
	end := strings.IndexByte(pattern[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("host pattern %q: [ without ]", pattern)
	}
	end += open
	lo, hi, ok := strings.Cut(pattern[open+1:end], "-")
	if !ok || lo == "" || hi == "" {
		return nil, fmt.Errorf("host pattern %q: a range is [FIRST-LAST], like [1-5] or [01-20]", pattern)
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return nil, fmt.Errorf("host pattern %q: range bounds must be whole numbers", pattern)
	}
	if a > b {
		return nil, fmt.Errorf("host pattern %q: range [%s-%s] goes backwards", pattern, lo, hi)
	}
	width := 0
	if len(lo) > 1 && lo[0] == '0' {
		width = len(lo)
	}
	rest, err := ExpandHosts(pattern[end+1:])
	if err != nil {
		return nil, err
	}
	if (b-a+1)*len(rest) > maxExpansion {
		return nil, fmt.Errorf("host pattern %q expands to more than %d hosts", pattern, maxExpansion)
	}
	var out []string
	for i := a; i <= b; i++ {
		for _, r := range rest {
			out = append(out, fmt.Sprintf("%s%0*d%s", pattern[:open], width, i, r))
		}
	}
	return out, nil
}

// hostLine is one host of an inventory file.
type hostLine struct {
	Name, Address string
	Port          int
	Line, Col     int
}

// parseInventoryFile reads an inventory file: one host per line, "NAME" or
// "NAME ADDRESS[:PORT]", ranges allowed in NAME (then ADDRESS must be
// absent), # comments. Problems come back with line and column.
func parseInventoryFile(data []byte) ([]hostLine, []lineError) {
	var hosts []hostLine
	var errs []lineError
	sc := bufio.NewScanner(bytes.NewReader(data))
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields, cols := fieldsWithColumns(line)
		if len(fields) == 0 {
			continue
		}
		col := cols[0]
		switch len(fields) {
		case 1:
			names, err := ExpandHosts(fields[0])
			if err != nil {
				errs = append(errs, lineError{ln, col, err.Error()})
				continue
			}
			for _, n := range names {
				h, port, err := splitHostPort(n)
				if err != nil {
					errs = append(errs, lineError{ln, col, err.Error()})
					break
				}
				hosts = append(hosts, hostLine{Name: n, Address: h, Port: port, Line: ln, Col: col})
			}
		case 2:
			if strings.ContainsAny(fields[0], "[]") {
				errs = append(errs, lineError{ln, col, "a range cannot be given an address; list the hosts one per line"})
				continue
			}
			h, port, err := splitHostPort(fields[1])
			if err != nil {
				errs = append(errs, lineError{ln, cols[1], err.Error()})
				continue
			}
			hosts = append(hosts, hostLine{Name: fields[0], Address: h, Port: port, Line: ln, Col: col})
		default:
			errs = append(errs, lineError{ln, cols[2], "expected NAME or NAME ADDRESS[:PORT]"})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, lineError{1, 1, err.Error()})
	}
	return hosts, errs
}

type lineError struct {
	Line, Col int
	Msg       string
}

// splitHostPort splits "host", "host:port" or "[v6]:port"; port 0 means
// the target's default.
func splitHostPort(s string) (string, int, error) {
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", 0, fmt.Errorf("host %q: %v", s, err)
		}
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("host %q: bad port %q", s, p)
		}
		return h, port, nil
	}
	if s == "" || strings.ContainsAny(s, " \t/@") {
		return "", 0, fmt.Errorf("host %q is not a host name or address", s)
	}
	return s, 0, nil
}

// rangeStart is the index of the first [ that opens a range, skipping IPv6
// literals ("[::1]"), or -1.
func rangeStart(p string) int {
	for i := 0; i < len(p); i++ {
		if p[i] != '[' {
			continue
		}
		end := strings.IndexByte(p[i:], ']')
		if end < 0 || !strings.Contains(p[i:i+end], ":") {
			return i
		}
		i += end
	}
	return -1
}

// fieldsWithColumns splits on blanks, returning each field's 1-based
// column.
func fieldsWithColumns(s string) ([]string, []int) {
	var fields []string
	var cols []int
	start := -1
	for i := 0; i <= len(s); i++ {
		blank := i == len(s) || s[i] == ' ' || s[i] == '\t'
		switch {
		case blank && start >= 0:
			fields, cols = append(fields, s[start:i]), append(cols, start+1)
			start = -1
		case !blank && start < 0:
			start = i
		}
	}
	return fields, cols
}
