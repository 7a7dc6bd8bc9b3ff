package ssh

import (
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"mvdan.cc/sh/v3/syntax"

	"github.com/handoverhq/handover/handover/connector"
)

// Backup link kinds: a host whose backups go to another system, and a
// backup server that pulls another system's files (rsnapshot, an rsync
// from a remote source).
const (
	LinkBackup     = "backs up to"
	LinkBackupFrom = "pulls backups from"
)

// backupLinks are the backup targets the host's configuration names: the
// repository of restic and borg (their environment files, borgmatic's
// configuration), the director of a Bacula or Bareos client, rsnapshot's
// remote sources, and the commands of cron lines and of the scripts cron
// runs (rsync, scp, restic, borg, duplicity, rdiff-backup, a curl upload)
// that copy to or from another host. Each names the host depended on; its Why names the
// file and the target without any credential a URL may carry.
func backupLinks(h *hostData) []connector.Link {
	var ls []connector.Link
	add := func(kind, file, what, repo string) {
		if to := repoHost(repo); to != "" {
			ls = append(ls, connector.Link{To: to, Kind: kind, Why: file + ": " + what + " " + stripUserinfo(repo)})
		}
	}
	for _, f := range h.Files {
		switch {
		case f.Kind == "cron":
			env := map[string]string{}
			for _, line := range strings.Split(string(f.Data), "\n") {
				commandTargets(line, env, func(kind, what, repo string) { add(kind, f.Path, what, repo) })
			}
		case f.Kind != "backup":
		case strings.Contains(f.Path, "/borgmatic"):
			for _, r := range borgmaticRepos(f.Data) {
				add(LinkBackup, f.Path, "borgmatic repository", r)
			}
		case path.Base(f.Path) == "rsnapshot.conf":
			for _, line := range strings.Split(string(f.Data), "\n") {
				// backup<TAB>SOURCE<TAB>DEST/: a remote source is pulled.
				if fs := strings.Split(strings.TrimSpace(line), "\t"); len(fs) >= 3 && fs[0] == "backup" && remoteArg(fs[1]) {
					add(LinkBackupFrom, f.Path, "rsnapshot backup", fs[1])
				}
			}
		case strings.HasPrefix(f.Path, "/etc/bacula/") || strings.HasPrefix(f.Path, "/etc/bareos/"):
			for _, m := range directorAddr.FindAllStringSubmatch(string(f.Data), -1) {
				tool := "Bacula"
				if strings.HasPrefix(f.Path, "/etc/bareos/") {
					tool = "Bareos"
				}
				if h := strings.Trim(m[1], `"`); h != "" {
					ls = append(ls, connector.Link{To: h, Kind: LinkBackup, Why: f.Path + ": " + tool + " director " + h})
				}
			}
		case strings.HasPrefix(f.Path, "/etc/cron."): // a script, read whole
			commandTargets(string(f.Data), map[string]string{}, func(kind, what, repo string) { add(kind, f.Path, what, repo) })
		default: // restic's and borg's environment files
			for _, line := range strings.Split(string(f.Data), "\n") {
				if m := repoAssignment.FindStringSubmatch(line); m != nil {
					add(LinkBackup, f.Path, repoTool[m[1]]+" repository", unquote(m[2]))
				}
			}
		}
	}
	return ls
}

var (
	// An Address line of a Director resource (bconsole.conf, a client's
	// Director for a connection it opens); a file daemon's own FDAddress
	// does not match.
	directorAddr = regexp.MustCompile(`(?im)^[ \t]*Address[ \t]*=[ \t]*("?[A-Za-z0-9_.:\[\]-]+"?)`)
	// RESTIC_REPOSITORY=... or BORG_REPO=..., exported or not.
	repoAssignment = regexp.MustCompile(`^[ \t]*(?:export[ \t]+)?(RESTIC_REPOSITORY|BORG_REPO)=(\S+)`)
	repoTool       = map[string]string{"RESTIC_REPOSITORY": "restic", "BORG_REPO": "borg"}
	// A URL's userinfo, up to its last @ (a password may hold one).
	userinfo = regexp.MustCompile(`(://)[^/\s]*@`)
)

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return strings.Trim(s, `"'`)
}

// stripUserinfo drops a URL's user and password ("rest:https://u:p@h/"
// becomes "rest:https://h/"): a repository URL may carry a password.
func stripUserinfo(s string) string { return userinfo.ReplaceAllString(s, "$1") }

// borgmaticRepos are the repositories of a borgmatic configuration:
// "repositories" at any depth (1.7's location: section or 1.8's top
// level), each a string or a mapping with a path.
func borgmaticRepos(data []byte) []string {
	var doc any
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k != "repositories" {
					walk(x)
					continue
				}
				list, _ := x.([]any)
				for _, r := range list {
					switch r := r.(type) {
					case string:
						out = append(out, r)
					case map[string]any:
						if p, ok := r["path"].(string); ok {
							out = append(out, p)
						}
					}
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

// repoHost is the host a backup repository or copy target is on:
// "sftp:user@host:/path", "rest:https://host:8000/", "s3:host/bucket",
// "ssh://user@host:22/./repo", "user@host:repo::archive", "host::module",
// "rsync://host/module". A cloud storage service without a host is named
// by its service; a local path, an rclone remote or a variable is none.
func repoHost(repo string) string {
	s := strings.TrimSpace(repo)
	if s == "" || strings.ContainsAny(s, "$`") {
		return ""
	}
	if i := strings.Index(s, "::"); i > 0 && !strings.Contains(s[:i], "://") && !strings.Contains(s[:i], "[") {
		// borg's REPO::ARCHIVE, or rsync's HOST::MODULE.
		if h := scpHost(s[:i] + ":"); h != "" {
			return h
		}
		return scpHost(s[:i])
	}
	for prefix, service := range map[string]string{"b2:": "Backblaze B2", "azure:": "Azure Blob Storage", "gs:": "Google Cloud Storage", "swift:": "OpenStack Swift"} {
		if strings.HasPrefix(s, prefix) {
			return service
		}
	}
	switch {
	case strings.HasPrefix(s, "rclone:"):
		return ""
	case strings.HasPrefix(s, "rest:"), strings.HasPrefix(s, "sftp:") && strings.HasPrefix(s[5:], "//"):
		s = s[strings.Index(s, ":")+1:]
		if strings.HasPrefix(s, "//") {
			s = "sftp:" + s
		}
	case strings.HasPrefix(s, "sftp:"):
		return scpHost(s[5:])
	case strings.HasPrefix(s, "s3:"):
		s = s[3:]
		if !strings.Contains(s, "://") {
			h, _, _ := strings.Cut(s, "/")
			return h
		}
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "file" {
			return ""
		}
		return u.Hostname()
	}
	return scpHost(s)
}

// scpHost is the host of "[user@]host:path" (scp, rsync over SSH, borg);
// "" for a local path.
func scpHost(s string) string {
	if s == "" || strings.ContainsAny(s[:1], "/.~-") {
		return ""
	}
	var h string
	if strings.HasPrefix(s, "[") || strings.Contains(s, "@[") {
		// [2001:db8::1]:path
		i, j := strings.Index(s, "["), strings.Index(s, "]")
		if j < i || j+1 >= len(s) || s[j+1] != ':' {
			return ""
		}
		return s[i+1 : j]
	}
	h, _, ok := strings.Cut(s, ":")
	if !ok || h == "" || strings.ContainsAny(h, "/= \t") {
		return ""
	}
	if i := strings.LastIndex(h, "@"); i >= 0 {
		h = h[i+1:]
	}
	return h
}

// remoteArg: an argument of rsync or scp that names another host.
func remoteArg(s string) bool {
	if strings.HasPrefix(s, "rsync://") || strings.Contains(s, "::") && !strings.HasPrefix(s, "/") {
		return repoHost(s) != ""
	}
	return !strings.HasPrefix(s, "-") && scpHost(s) != ""
}

// Options of the copy tools that take the next word as their value.
var optionArgs = map[string]map[string]bool{
	"rsync": set("-e", "--rsh", "-f", "--filter", "--exclude", "--include", "--exclude-from", "--include-from", "--files-from",
		"--password-file", "--log-file", "-T", "--temp-dir", "--link-dest", "--compare-dest", "--copy-dest", "--backup-dir",
		"--suffix", "--chmod", "--chown", "--port", "-B", "--block-size", "--timeout", "--bwlimit", "-M", "--remote-option", "--rsync-path"),
	"scp":          set("-P", "-i", "-o", "-F", "-c", "-l", "-S", "-J", "-D", "-X"),
	"duplicity":    set("--encrypt-key", "--sign-key", "--exclude", "--include", "--name", "--archive-dir", "--ssh-options", "--volsize", "--tempdir", "--log-file", "--full-if-older-than", "--exclude-filelist", "--include-filelist", "-t", "--time"),
	"rdiff-backup": set("--exclude", "--include", "--remote-schema", "--exclude-filelist", "--include-filelist"),
}

func set(ws ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// commandTargets finds, in shell code (a cron line's command, a script
// cron runs), the copy commands whose target (or source) is another host
// and reports each: restic -r REPO (or RESTIC_REPOSITORY=REPO set before),
// borg create REPO::ARCHIVE (or BORG_REPO=), rsync and scp to or from
// [user@]host:path, HOST::MODULE or rsync://, duplicity and rdiff-backup to
// a URL or host::path, curl uploading (-T) to a URL; sh -c 'CODE' is read
// too. The code is parsed with
// mvdan.cc/sh; what it cannot parse yields nothing. A word holding an
// expansion is not a host.
func commandTargets(code string, env map[string]string, report func(kind, what, repo string)) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(code), "")
	if err != nil {
		return
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.DeclClause: // export RESTIC_REPOSITORY=...
			for _, a := range n.Args {
				assign(env, a)
			}
		case *syntax.CallExpr:
			for _, a := range n.Assigns {
				assign(env, a)
			}
			words := make([]string, len(n.Args))
			for i, w := range n.Args {
				words[i] = literal(w)
			}
			callTargets(words, env, report)
		}
		return true
	})
}

func assign(env map[string]string, a *syntax.Assign) {
	if a.Name == nil || a.Value == nil || repoTool[a.Name.Value] == "" {
		return
	}
	env[a.Name.Value] = literal(a.Value)
}

// literal is a word's value with its quotes removed; "$" stands for any
// expansion, which repoHost refuses.
func literal(w *syntax.Word) string {
	var b strings.Builder
	var parts func(ps []syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				b.WriteString(p.Value)
			case *syntax.SglQuoted:
				b.WriteString(p.Value)
			case *syntax.DblQuoted:
				parts(p.Parts)
			default:
				b.WriteString("$")
			}
		}
	}
	parts(w.Parts)
	return b.String()
}

// callTargets reads one simple command. A cron line's schedule and user
// come first: the tool is found by its name wherever it is.
func callTargets(words []string, env map[string]string, report func(kind, what, repo string)) {
	// sh -c 'CODE', su - USER -c 'CODE', sudo bash -c 'CODE': the code.
	for i, w := range words {
		if w == "-c" && i > 0 && i+1 < len(words) && strings.ContainsAny(words[i+1], " \t;|&") {
			commandTargets(words[i+1], env, report)
			return
		}
	}
	for i, w := range words {
		tool := path.Base(w)
		if _, known := optionArgs[tool]; !known && tool != "restic" && tool != "borg" && tool != "curl" {
			continue
		}
		args := words[i+1:]
		switch tool {
		case "curl":
			// An upload (-T FILE, --upload-file) to a URL; the other
			// options (-u USER:PASSWORD among them) are never read.
			upload := slices.ContainsFunc(args, func(a string) bool {
				return a == "--upload-file" || strings.HasPrefix(a, "--upload-file=") || !strings.HasPrefix(a, "--") && strings.HasPrefix(a, "-") && strings.HasSuffix(a, "T")
			})
			for _, a := range args {
				if upload && strings.Contains(a, "://") && !strings.HasPrefix(a, "-") {
					report(LinkBackup, "curl upload to", a)
				}
			}
		case "restic":
			repo := env["RESTIC_REPOSITORY"]
			for k, a := range args {
				if (a == "-r" || a == "--repo") && k+1 < len(args) {
					repo = args[k+1]
				} else if v, ok := strings.CutPrefix(a, "--repo="); ok {
					repo = v
				}
			}
			if repo != "" {
				report(LinkBackup, "restic repository", repo)
			}
		case "borg":
			repo := env["BORG_REPO"]
			for _, a := range args {
				if k := strings.Index(a, "::"); k > 0 {
					repo = a[:k]
				}
			}
			if repo != "" && slices.Contains(args, "create") {
				report(LinkBackup, "borg repository", repo)
			}
		default:
			var pos []string
			for k := 0; k < len(args); k++ {
				a := args[k]
				if strings.HasPrefix(a, "-") {
					if optionArgs[tool][a] {
						k++
					}
					continue
				}
				pos = append(pos, a)
			}
			for k, a := range pos {
				if !remoteArg(a) {
					continue
				}
				if k == len(pos)-1 && len(pos) > 1 {
					report(LinkBackup, tool+" copy to", a)
				} else {
					report(LinkBackupFrom, tool+" copy from", a)
				}
			}
		}
		return
	}
}
