package ssh

import (
	"net"
	"net/url"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// hostDep is one thing a host's configuration says it depends on.
type hostDep struct {
	Kind  string // ldap-uri, directory-server, relayhost, nameserver, mount-nfs...
	Value string // as written
	File  string
}

// Link kinds of a host, for the schéma de principe.
const (
	LinkAuth     = "authenticates against"
	LinkMount    = "mounts a share from"
	LinkRelay    = "relays mail through"
	LinkResolver = "resolves names through"
	LinkAgent    = "remote access through"
)

// agentLinks link a host to the service of each remote-access agent that
// can run on it (TeamViewer, an RMM), the provider's marked.
func agentLinks(agents []connector.Finding) []connector.Link {
	var ls []connector.Link
	for _, f := range agents {
		if svc := f.Detail["service"]; svc != "" {
			ls = append(ls, connector.Link{To: svc, Kind: LinkAgent, Provider: f.Provider, Why: "catalogue agent " + f.Object})
		}
	}
	return ls
}

// links are the dependencies a host's configuration names: the directory
// its LDAP client, nslcd or sssd asks, the servers of its network file
// systems, its Postfix relay, its DNS resolvers and its backup targets
// (backup.go). Each names the host
// (or address) depended on, as the schéma matches it with the systems of
// the dossier, and where it was read; one on the provider's domain is
// marked.
func links(h *hostData, out connector.Outgoing) []connector.Link {
	var ls []connector.Link
	seen := map[[2]string]bool{}
	for _, d := range h.Deps {
		kind, to := "", ""
		switch {
		case d.Kind == "ldap-uri":
			kind, to = LinkAuth, uriHost(d.Value)
		case d.Kind == "directory-server":
			kind, to = LinkAuth, strings.TrimPrefix(d.Value, "_srv_")
		case d.Kind == "relayhost":
			kind, to = LinkRelay, relayHost(d.Value)
		case d.Kind == "nameserver":
			kind, to = LinkResolver, d.Value
		case strings.HasPrefix(d.Kind, "mount-"):
			kind, to = LinkMount, mountHost(d.Value)
		}
		if kind == "" || to == "" || d.Kind == "nameserver" && localResolver(to) {
			continue
		}
		if seen[[2]string{kind, to}] {
			continue
		}
		seen[[2]string{kind, to}] = true
		ls = append(ls, connector.Link{To: to, Kind: kind, Provider: out.Domain(to) != "", Why: d.File + ": " + d.Value})
	}
	for _, l := range backupLinks(h) {
		if seen[[2]string{l.Kind, l.To}] {
			continue
		}
		seen[[2]string{l.Kind, l.To}] = true
		l.Provider = out.Domain(l.To) != ""
		ls = append(ls, l)
	}
	return ls
}

// uriHost is the host of "ldap://dc1.example.lan:389/" or "ldaps://x".
func uriHost(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Hostname()
}

// relayHost is the host of a Postfix relayhost: "[mx.example.net]:587",
// "mx.example.net", "[192.0.2.25]".
func relayHost(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	return strings.Trim(s, "[]")
}

// mountHost is the server of "srv:/export" (NFS) or "//srv/share" (CIFS).
func mountHost(s string) string {
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		h, _, _ := strings.Cut(rest, "/")
		return h
	}
	if h, _, ok := strings.Cut(s, ":"); ok {
		return strings.Trim(h, "[]")
	}
	return ""
}

// localResolver: a stub resolver on the host itself (systemd-resolved's
// 127.0.0.53, a local dnsmasq or unbound on 127.0.0.1 or ::1) is no
// dependency on another system.
func localResolver(s string) bool {
	return s == "127.0.0.53" || s == "127.0.0.1" || s == "::1"
}
