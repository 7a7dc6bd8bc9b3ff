package ssh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// evidenceAccounts are the accounts that are the provider's by evidence
// rather than by name, with why: one whose GECOS names the provider, or
// whose only login means are the provider's keys (every key its
// authorized_keys files hold matches outgoing, and its password is locked
// or unset). Whatever its name (one that looks like a system account's)
// and whatever its uid (0 included). root, the connection's user and
// the access key's are never the provider's this way: their provider
// keys are removed, the accounts stay the client's.
func evidenceAccounts(h *hostData, hc hostContext) map[string][]string {
	keys := map[string][]bool{} // account -> whether each key is the provider's
	for _, f := range h.Files {
		if f.Kind != "authorized_keys" || f.Owner == caOwner {
			continue
		}
		for _, k := range parseAuthorizedKeys(f.Data) {
			keys[f.Owner] = append(keys[f.Owner], len(hc.Outgoing.Key(k.Fingerprint, k.Comment)) > 0 && k.Fingerprint != hc.AccessKeyFP)
		}
	}
	out := map[string][]string{}
	for _, p := range h.Passwd {
		if p.Name == "root" || p.Name == hc.LoginUser || p.Name == hc.AccessUser {
			continue
		}
		for _, why := range hc.Outgoing.Text(p.Gecos) {
			out[p.Name] = append(out[p.Name], "GECOS "+strconv.Quote(p.Gecos)+" "+why)
		}
		ks := keys[p.Name]
		if len(ks) == 0 {
			continue
		}
		all := true
		for _, prov := range ks {
			all = all && prov
		}
		sh, ok := h.Shadow[p.Name]
		if all && ok && !usablePassword(sh.Hash) {
			out[p.Name] = append(out[p.Name], fmt.Sprintf("its only login means are the provider's keys (%d key(s), no usable password)", len(ks)))
		}
	}
	return out
}

// usablePassword reports whether a shadow hash lets a password log in:
// not locked (!), not impossible (*, or any string crypt never makes),
// and not empty (an empty password is a way in of its own).
func usablePassword(hash string) bool {
	return hash == "" || !(strings.HasPrefix(hash, "!") || strings.HasPrefix(hash, "*") || !strings.HasPrefix(hash, "$") && len(hash) != 13)
}

// secondRoot is the finding of an account with uid 0 besides root that
// nothing attributes to the provider: root's rights under another name, a
// finding in itself. Who it belongs to is for a person to say.
func secondRoot(p passwdEntry, state string) connector.Finding {
	manual := fmt.Sprintf("if %s is not the client's: usermod -L -e 1 %s (its processes are root's: do not kill them by its name); if it is, give it a uid of its own", p.Name, p.Name)
	return connector.Finding{
		ID: "uid0:" + p.Name, Kind: connector.KindAccount, Object: p.Name, Provider: true,
		Reasons: []string{"a second account with uid 0: root's rights under another name"},
		Summary: fmt.Sprintf("account %s has uid 0 (%s): root's rights under another name; by hand: %s", p.Name, state, manual),
		Detail:  map[string]string{"uid": "0", "state": state, "manual": manual},
		Data:    persistData{Kind: "uid0", Manual: manual},
	}
}
