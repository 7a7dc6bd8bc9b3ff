package ssh

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// removeLines drops the lines whose text (without surrounding
// whitespace) has the SHA-256 hash (lineHash), keeping everything else
// byte for byte. A plan names a cron line by its hash: the line may hold
// a password, which must not reach the plan, the journal or the report.
func removeLines(data []byte, hash string) ([]byte, int) {
	var out bytes.Buffer
	n := 0
	for _, line := range splitLines(data) {
		if lineHash(string(line)) == hash {
			n++
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), n
}

// lineHash is the hex SHA-256 of a line without its surrounding
// whitespace: what a plan and the journal keep of a cron line, by which
// the line is found again and what was removed can be checked.
func lineHash(line string) string {
	return sha256Hex([]byte(strings.TrimSpace(line)))
}

func isCronAssignment(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	return ok && name != "" && !strings.ContainsAny(strings.TrimSpace(name), " \t*/@")
}

func cronFindings(h *hostData, hc hostContext, providerAccounts map[string]bool) []connector.Finding {
	var out []connector.Finding
	for _, f := range h.Files {
		if f.Kind != "cron" {
			continue
		}
		owner := ""
		if strings.HasPrefix(f.Path, "/var/spool/cron/") {
			owner = path.Base(f.Path)
		}
		headerWhy := commentReasons(f.Data, hc.Outgoing)
		for _, line := range splitLines(f.Data) {
			text := strings.TrimSpace(string(line))
			if text == "" || strings.HasPrefix(text, "#") || isCronAssignment(text) {
				continue
			}
			// What the dossier shows of the line hides any credential in
			// it; the hash of the whole line is what finds it again.
			shown := redactArgs(text)
			fd := connector.Finding{
				ID:      "cron:" + f.Path + ":" + shortHash(text),
				Kind:    connector.KindCron,
				Object:  f.Path,
				Summary: fmt.Sprintf("%s: %s", f.Path, shown),
				Detail:  map[string]string{detailFile: f.Path, detailText: shown},
				Data:    cronData{File: f.Path, Text: shown, Hash: lineHash(text)},
				Reasons: hc.Outgoing.Text(text),
			}
			if owner != "" {
				fd.Detail[detailUser] = owner
				if providerAccounts[owner] {
					fd.Reasons = append(fd.Reasons, fmt.Sprintf("crontab of the provider's account %s", owner))
				}
			} else if fields := strings.Fields(text); len(fields) > 6 && providerAccounts[fields[5]] && !strings.HasPrefix(fields[0], "@") {
				fd.Reasons = append(fd.Reasons, fmt.Sprintf("runs as the provider's account %s", fields[5]))
			}
			for _, why := range hc.Outgoing.Text(path.Base(f.Path)) {
				fd.Reasons = append(fd.Reasons, "file name "+why)
			}
			fd.Reasons = append(fd.Reasons, headerWhy...)
			fd.Provider = len(fd.Reasons) > 0
			out = append(out, fd)
		}
	}
	return out
}

var ipv4 = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)

// correlateAddresses attributes a cron entry that calls an IP address a
// provider entry also calls: the same call-home job, planted twice.
func correlateAddresses(fs []connector.Finding) []connector.Finding {
	home := map[string]string{}
	for _, f := range fs {
		if !f.Provider {
			continue
		}
		d, _ := f.Data.(cronData)
		for _, ip := range ipv4.FindAllString(d.Text, -1) {
			if _, ok := home[ip]; !ok {
				home[ip] = d.File
			}
		}
	}
	for i, f := range fs {
		if f.Provider {
			continue
		}
		d, _ := f.Data.(cronData)
		for _, ip := range ipv4.FindAllString(d.Text, -1) {
			if src, ok := home[ip]; ok && !strings.HasPrefix(ip, "127.0.0.") {
				fs[i].Reasons = append(fs[i].Reasons, fmt.Sprintf("calls %s, as the provider's entry in %s does", ip, src))
				fs[i].Provider = true
				break
			}
		}
	}
	return fs
}
