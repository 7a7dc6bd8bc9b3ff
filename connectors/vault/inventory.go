package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
)

// Finding kinds of a Vault, besides connector.KindToken, KindPolicy and
// KindAuth.
const (
	KindUserpass = "userpass-user"
	KindAppRole  = "approle"
	KindEntity   = "identity-entity"
	KindGroup    = "identity-group"
	KindAudit    = "audit-device"
	KindShares   = "key-shares"
	KindUnread   = "not-read"
	KindLDAPAuth = "ldap-auth"
)

// LinkAuth is the kind of a Vault's link to the directory its LDAP auth
// method binds to (the same words as a host's link to its directory).
const LinkAuth = "authenticates against"

// What a finding's plan reads (Finding.Data).
type (
	tokenData struct {
		Accessor string   `json:"accessor"`
		Root     bool     `json:"root,omitempty"`
		Orphan   bool     `json:"orphan,omitempty"`
		Path     string   `json:"path,omitempty"`
		Policies []string `json:"policies,omitempty"`
		// Kept: the connector's own token, the secret store's, or one
		// keep_tokens lists: never revoked.
		Kept string `json:"kept,omitempty"`
		// HandedOver is 1 + the index of the playbook's
		// provider_credentials.tokens entry that is this token, or 0.
		HandedOver int `json:"handed_over,omitempty"`
	}
	userData struct {
		Mount string `json:"mount"`
		User  string `json:"user"`
	}
	roleData struct {
		Mount     string   `json:"mount"`
		Role      string   `json:"role"`
		Accessors []string `json:"secret_id_accessors,omitempty"`
	}
	identityData struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	// grantData is a provider policy carried by something the client
	// keeps (Holder: "group", "entity", "userpass", "approle").
	grantData struct {
		Policy string `json:"policy"`
		Holder string `json:"holder"`
		ID     string `json:"id"` // group/entity id, or mount/name
		Name   string `json:"name"`
	}
	policyData struct {
		Name string `json:"name"`
		// UsedBy lists what of the client's still carries it and cannot
		// be detached by the plan (a token of the client's): the policy
		// is then kept and reported.
		UsedBy []string `json:"used_by,omitempty"`
	}
	auditData struct {
		Path string `json:"path"`
		Type string `json:"type"`
		// Others counts the audit devices not attributed to the provider.
		Others int `json:"others"`
	}
	sharesData struct {
		Recovery  bool `json:"recovery,omitempty"`
		Shares    int  `json:"shares"`
		Threshold int  `json:"threshold"`
		// Given is how many shares the playbook hands over: a rekey
		// needs Threshold of them.
		Given int `json:"given"`
		Held  connector.Held
	}
)

// Inventory reads the Vault with the connector's token. It never writes:
// the only requests that are not reads are a fresh login with a
// credential the secret store holds (its token revoked at once) and
// AppRole's secret-id lookup, to tell whether the store's value is
// current.
func (t *Target) Inventory(ctx context.Context) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	sys := connector.System{Name: System, Kind: KindVault, Address: t.s.Address}
	if err := t.read(ctx, &sys); err != nil {
		sys = connector.System{Name: System, Kind: KindVault, Address: t.s.Address, Error: err.Error()}
	}
	inv.Systems = []connector.System{sys}
	inv.Finished = t.now()
	return inv, nil
}

// reader is one inventory's state.
type reader struct {
	t   *Target
	c   *api.Client
	sys *connector.System

	self, store  string          // accessors of the connector's and the store's tokens
	provPolicies map[string]bool // policies attributed to the provider
	adminVia     map[string]string
	provEntities map[string]string // id -> name
	provLogins   map[string]bool   // "auth/<mount>/login/<user>" of the provider's users
	provRoles    map[string]bool   // "<mount>/<role>" of the provider's AppRoles
	entityNames  map[string]string // id -> name, every entity
	// client objects carrying a provider policy
	grants []grantData
}

func (t *Target) read(ctx context.Context, sys *connector.System) error {
	c, err := t.conn(ctx)
	if err != nil {
		return err
	}
	r := &reader{t: t, c: c, sys: sys, provPolicies: map[string]bool{}, adminVia: map[string]string{}, provEntities: map[string]string{}, provLogins: map[string]bool{}, provRoles: map[string]bool{}, entityNames: map[string]string{}}
	if err := r.server(ctx); err != nil {
		return err
	}
	accessors := r.listAccessors(ctx)
	r.mountsAndAuth(ctx)
	r.policies(ctx)
	r.audit(ctx)
	r.identity(ctx)
	r.logins(ctx)
	if err := r.tokens(ctx, accessors); err != nil {
		return err
	}
	r.grantFindings()
	r.kv(ctx)
	r.shares(ctx)
	for i := range r.sys.Findings {
		r.sys.Findings[i].Reasons = uniq(r.sys.Findings[i].Reasons)
	}
	for i := range r.sys.Accounts {
		r.sys.Accounts[i].Reasons = uniq(r.sys.Accounts[i].Reasons)
	}
	return nil
}

func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (r *reader) fact(name, value string) {
	r.sys.Facts = append(r.sys.Facts, connector.Fact{Name: name, Value: value})
}

// unread records what the token could not read: the capability and the
// path, and Vault's words. The report shows it; nothing pretends it saw.
func (r *reader) unread(capability, path string, err error) {
	r.sys.Findings = append(r.sys.Findings, connector.Finding{
		ID: KindUnread + ":" + path, Kind: KindUnread, Object: path,
		Summary: fmt.Sprintf("not read: the connector's token lacks %q on %s (%s)", capability, path, vaultWords(err)),
		Detail:  map[string]string{"capability": capability, "path": path},
	})
}

// server reads seal status (refusing a sealed Vault) and the token's self.
func (r *reader) server(ctx context.Context) error {
	st, err := r.c.Sys().SealStatusWithContext(ctx)
	if err != nil {
		return describeErr(r.t.s.Address, "sys/seal-status", err)
	}
	if !st.Initialized {
		return fmt.Errorf("vault at %s is not initialised", r.t.s.Address)
	}
	if st.Sealed {
		return fmt.Errorf("vault at %s is sealed (%d of %d key shares given): unseal it, then run again; nothing was read or changed", r.t.s.Address, st.Progress, st.T)
	}
	self, err := r.c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return describeErr(r.t.s.Address, "auth/token/lookup-self (the connector's token)", err)
	}
	r.self, _ = self.Data["accessor"].(string)
	if r.store, err = r.t.storeAccessor(ctx); err != nil {
		return fmt.Errorf("the secret store is a Vault, and its token could not be looked up (%w): nothing is planned on %s, which may be the same Vault", err, r.t.s.Address)
	}
	r.fact("version", st.Version)
	prod, why := product(st)
	r.fact("product", prod+" ("+why+")")
	r.fact("cluster", st.ClusterName)
	r.fact("seal_type", st.Type)
	r.fact("storage", st.StorageType)
	r.fact("key_shares", fmt.Sprintf("%d shares, threshold %d", st.N, st.T))
	if st.RecoverySeal {
		r.fact("recovery_seal", "yes (auto-unseal; recovery key shares)")
	}
	if l, err := r.c.Sys().LeaderWithContext(ctx); err == nil {
		ha := "not enabled"
		if l.HAEnabled {
			ha = fmt.Sprintf("enabled, this node leader: %v, leader %s", l.IsSelf, l.LeaderAddress)
		}
		r.fact("ha", ha)
	} else {
		r.unread("read", "sys/leader", err)
	}
	if ks, err := r.c.Sys().KeyStatusWithContext(ctx); err == nil {
		r.fact("encryption_key", fmt.Sprintf("term %d, installed %s", ks.Term, ks.InstallTime.UTC().Format(time.RFC3339)))
	} else {
		r.unread("read", "sys/key-status", err)
	}
	policies, _ := self.TokenPolicies()
	r.fact("connector_token", fmt.Sprintf("accessor %s, policies %s", r.self, strings.Join(policies, ", ")))
	return nil
}

// storeAccessor is the secret store's token accessor when the store is
// this Vault: that token and its policy are never revoked.
func (t *Target) storeAccessor(ctx context.Context) (string, error) {
	type vaultStore interface {
		VaultStoreToken(ctx context.Context) (addr, accessor string, ok bool, err error)
	}
	vs, ok := t.env.Secrets.(vaultStore)
	if !ok {
		return "", nil
	}
	addr, acc, ok, err := vs.VaultStoreToken(ctx)
	if err != nil {
		return "", err
	}
	if !ok || strings.TrimRight(addr, "/") != t.s.Address {
		return "", nil
	}
	return acc, nil
}

func (r *reader) mountsAndAuth(ctx context.Context) {
	mounts, err := r.c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		r.unread("read", "sys/mounts", err)
	} else {
		for _, p := range sortedKeys(mounts) {
			m := mounts[p]
			typ := m.Type
			if v := m.Options["version"]; v != "" && typ == "kv" {
				typ += " v" + v
			}
			r.fact("mount "+p, strings.TrimSpace(typ+" "+m.Description))
		}
	}
	auths, err := r.c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		r.unread("read", "sys/auth", err)
		return
	}
	for _, p := range sortedKeys(auths) {
		a := auths[p]
		r.fact("auth "+p, strings.TrimSpace(a.Type+" "+a.Description))
	}
}

// policy rule: path "x" { capabilities = [...] }
var (
	ruleRe = regexp.MustCompile(`(?s)path\s+"([^"]+)"\s*\{(.*?)\}`)
	capsRe = regexp.MustCompile(`capabilities\s*=\s*\[([^\]]*)\]`)
)

// adminRules lists the rules of a policy that make an administrator: sudo
// anywhere, or writing on * or sys/*.
func adminRules(text string) []string {
	var out []string
	for _, m := range ruleRe.FindAllStringSubmatch(text, -1) {
		path := m[1]
		cm := capsRe.FindStringSubmatch(m[2])
		if cm == nil {
			continue
		}
		var caps []string
		for _, c := range strings.Split(cm[1], ",") {
			if c = strings.Trim(strings.TrimSpace(c), `"`); c != "" {
				caps = append(caps, c)
			}
		}
		if slices.Contains(caps, "deny") {
			continue
		}
		writes := slices.ContainsFunc(caps, func(c string) bool { return c == "create" || c == "update" || c == "sudo" || c == "delete" })
		switch {
		case slices.Contains(caps, "sudo"):
			out = append(out, fmt.Sprintf("%s: %s", path, strings.Join(caps, ",")))
		case writes && (path == "*" || path == "sys/*" || strings.HasPrefix(path, "sys/policy") || strings.HasPrefix(path, "auth/*")):
			out = append(out, fmt.Sprintf("%s: %s", path, strings.Join(caps, ",")))
		}
	}
	return out
}

func (r *reader) policies(ctx context.Context) {
	names, err := r.c.Sys().ListPoliciesWithContext(ctx)
	if err != nil {
		r.unread("list", "sys/policies/acl", err)
		return
	}
	r.adminVia["root"] = "root policy"
	sort.Strings(names)
	for _, n := range names {
		if n == "root" {
			continue
		}
		text, err := r.c.Sys().GetPolicyWithContext(ctx, n)
		if err != nil {
			r.unread("read", "sys/policies/acl/"+n, err)
			continue
		}
		rules := adminRules(text)
		if len(rules) > 0 {
			r.fact("policy "+n, "administrator: "+strings.Join(rules, "; "))
		} else {
			r.fact("policy "+n, "no administrative rule")
		}
		if len(rules) > 0 {
			r.adminVia[n] = "policy " + n + " (" + strings.Join(rules, "; ") + ")"
		}
		why := r.t.out.Account(n)
		why = append(why, r.t.out.Text(text)...)
		if len(why) == 0 {
			continue
		}
		r.provPolicies[n] = true
		detail := map[string]string{"rules": strings.Join(rules, "; ")}
		r.sys.Findings = append(r.sys.Findings, connector.Finding{
			ID: connector.KindPolicy + ":" + n, Kind: connector.KindPolicy, Object: "policy " + n,
			Summary:  "ACL policy of the outgoing provider" + adminSuffix(rules),
			Provider: true, Reasons: why, Detail: detail,
			Data: policyData{Name: n},
		})
	}
}

func adminSuffix(rules []string) string {
	if len(rules) == 0 {
		return ""
	}
	return ", administrator: " + strings.Join(rules, "; ")
}

func (r *reader) audit(ctx context.Context) {
	devs, err := r.c.Sys().ListAuditWithContext(ctx)
	if err != nil {
		r.unread("sudo", "sys/audit", err)
		return
	}
	var prov []string
	whys := map[string][]string{}
	for _, p := range sortedKeys(devs) {
		d := devs[p]
		desc := d.Type + " " + d.Description
		for _, k := range sortedKeys(d.Options) {
			desc += " " + k + "=" + d.Options[k]
		}
		r.fact("audit "+p, strings.TrimSpace(desc))
		why := r.t.out.Text(p + " " + desc)
		if a := d.Options["address"]; a != "" {
			host := a
			if h, _, ok := strings.Cut(a, ":"); ok {
				host = h
			}
			if dom := r.t.out.Domain(host); dom != "" {
				why = append(why, "sends to "+a+", in the provider's domain "+dom)
			}
		}
		if len(why) > 0 {
			prov = append(prov, p)
			whys[p] = why
		}
	}
	for _, p := range prov {
		d := devs[p]
		summary := "audit device sending Vault's audit log to the outgoing provider (" + d.Type + ")"
		if r.t.s.Audit == nil && len(devs) == len(prov) {
			summary += "; left enabled: it is the only audit device and the playbook names no audit_replacement (manual step: enable the client's own, then disable this one)"
		}
		r.sys.Findings = append(r.sys.Findings, connector.Finding{
			ID: KindAudit + ":" + p, Kind: KindAudit, Object: "audit device " + p,
			Summary:  summary,
			Provider: true, Reasons: whys[p], Detail: map[string]string{"type": d.Type, "description": d.Description},
			Data: auditData{Path: p, Type: d.Type, Others: len(devs) - len(prov)},
		})
	}
}

// list LISTs path; a 404 is an empty list.
func (r *reader) list(ctx context.Context, path string) ([]string, error) {
	s, err := r.c.Logical().ListWithContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, nil
	}
	raw, _ := s.Data["keys"].([]any)
	out := make([]string, 0, len(raw))
	for _, k := range raw {
		if ks, ok := k.(string); ok {
			out = append(out, ks)
		}
	}
	return out, nil
}

func strs(v any) []string {
	raw, _ := v.([]any)
	var out []string
	for _, x := range raw {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func strMap(v any) map[string]string {
	raw, _ := v.(map[string]any)
	out := map[string]string{}
	for k, x := range raw {
		out[k] = fmt.Sprint(x)
	}
	return out
}

func (r *reader) provOnly(policies []string) bool {
	n := 0
	for _, p := range policies {
		if p == "default" {
			continue
		}
		if !r.provPolicies[p] {
			return false
		}
		n++
	}
	return n > 0
}

func (r *reader) metaWhy(m map[string]string) []string {
	var why []string
	for _, k := range sortedKeys(m) {
		why = append(why, r.t.out.Text(m[k])...)
	}
	return why
}

func (r *reader) identity(ctx context.Context) {
	ids, err := r.list(ctx, "identity/entity/id")
	if err != nil {
		r.unread("list", "identity/entity/id", err)
	}
	for _, id := range ids {
		s, err := r.c.Logical().ReadWithContext(ctx, "identity/entity/id/"+id)
		if err != nil || s == nil {
			r.unread("read", "identity/entity/id/"+id, err)
			continue
		}
		name, _ := s.Data["name"].(string)
		r.entityNames[id] = name
		policies := strs(s.Data["policies"])
		meta := strMap(s.Data["metadata"])
		why := r.t.out.Account(name)
		why = append(why, r.metaWhy(meta)...)
		if r.provOnly(policies) {
			why = append(why, "its only policies are the provider's: "+strings.Join(policies, ", "))
		}
		var aliases []string
		rawAliases, _ := s.Data["aliases"].([]any)
		for _, a := range rawAliases {
			am, _ := a.(map[string]any)
			aliases = append(aliases, fmt.Sprintf("%v (%v)", am["name"], am["mount_path"]))
		}
		disabled, _ := s.Data["disabled"].(bool)
		if len(why) == 0 {
			for _, p := range policies {
				if r.provPolicies[p] {
					r.grants = append(r.grants, grantData{Policy: p, Holder: "entity", ID: id, Name: name})
				}
			}
			continue
		}
		r.provEntities[id] = name
		if disabled {
			continue // nothing left to do: the finding would plan nothing
		}
		r.sys.Findings = append(r.sys.Findings, connector.Finding{
			ID: KindEntity + ":" + name, Kind: KindEntity, Object: "entity " + name,
			Summary:  "identity entity of the outgoing provider, aliases " + strings.Join(aliases, ", "),
			Provider: true, Reasons: why,
			Detail: map[string]string{"id": id, "policies": strings.Join(policies, ", "), "aliases": strings.Join(aliases, ", ")},
			Data:   identityData{ID: id, Name: name},
		})
	}
	gids, err := r.list(ctx, "identity/group/id")
	if err != nil {
		r.unread("list", "identity/group/id", err)
	}
	for _, id := range gids {
		s, err := r.c.Logical().ReadWithContext(ctx, "identity/group/id/"+id)
		if err != nil || s == nil {
			r.unread("read", "identity/group/id/"+id, err)
			continue
		}
		name, _ := s.Data["name"].(string)
		policies := strs(s.Data["policies"])
		members := strs(s.Data["member_entity_ids"])
		why := r.t.out.Account(name)
		why = append(why, r.metaWhy(strMap(s.Data["metadata"]))...)
		if len(members) > 0 && !slices.ContainsFunc(members, func(m string) bool { _, ok := r.provEntities[m]; return !ok }) {
			why = append(why, "every member is the provider's entity")
		}
		if len(why) == 0 {
			for _, p := range policies {
				if r.provPolicies[p] {
					r.grants = append(r.grants, grantData{Policy: p, Holder: "group", ID: id, Name: name})
				}
			}
			continue
		}
		var mnames []string
		for _, m := range members {
			mnames = append(mnames, r.entityNames[m])
		}
		r.sys.Findings = append(r.sys.Findings, connector.Finding{
			ID: KindGroup + ":" + name, Kind: KindGroup, Object: "group " + name,
			Summary:  "identity group of the outgoing provider, policies " + strings.Join(policies, ", "),
			Provider: true, Reasons: why,
			Detail: map[string]string{"id": id, "members": strings.Join(mnames, ", ")},
			Data:   identityData{ID: id, Name: name},
		})
	}
}

// logins reads userpass users on every userpass mount and AppRole roles
// on every approle mount.
func (r *reader) logins(ctx context.Context) {
	auths, err := r.c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		return // reported by mountsAndAuth
	}
	for _, p := range sortedKeys(auths) {
		a := auths[p]
		mount := strings.TrimSuffix(p, "/")
		switch a.Type {
		case "userpass":
			r.userpass(ctx, mount, a.Accessor)
		case "approle":
			r.approle(ctx, mount)
		case "ldap":
			r.ldapAuth(ctx, mount)
		}
	}
}

// policiesOf is a login's or role's policies: token_policies and the
// older policies field together.
func policiesOf(d map[string]any) []string {
	ps := strs(d["token_policies"])
	for _, p := range strs(d["policies"]) {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

func (r *reader) admin(policies []string) []string {
	var via []string
	for _, p := range policies {
		if v, ok := r.adminVia[p]; ok {
			via = append(via, v)
		}
	}
	return via
}

func (r *reader) userpass(ctx context.Context, mount, accessor string) {
	users, err := r.list(ctx, "auth/"+mount+"/users")
	if err != nil {
		r.unread("list", "auth/"+mount+"/users", err)
		return
	}
	for _, u := range users {
		s, err := r.c.Logical().ReadWithContext(ctx, "auth/"+mount+"/users/"+u)
		if err != nil || s == nil {
			r.unread("read", "auth/"+mount+"/users/"+u, err)
			continue
		}
		policies := policiesOf(s.Data)
		name := mount + "/" + u
		why := r.t.out.Account(u)
		if r.provOnly(policies) {
			why = append(why, "its only policies are the provider's: "+strings.Join(policies, ", "))
		}
		if e, ok := r.aliasEntity(ctx, accessor, u); ok {
			why = append(why, "its alias belongs to the provider's entity "+e)
		}
		via := r.admin(policies)
		acct := connector.Account{Name: name, Display: u, Admin: len(via) > 0, AdminVia: via, State: "enabled", Provider: len(why) > 0, Reasons: why}
		if acct.Provider {
			r.provLogins["auth/"+mount+"/login/"+u] = true
			r.sys.Findings = append(r.sys.Findings, connector.Finding{
				ID: KindUserpass + ":" + name, Kind: KindUserpass, Object: "userpass " + name,
				Summary:  "userpass login of the outgoing provider on auth/" + mount + ", policies " + strings.Join(policies, ", "),
				Provider: true, Reasons: why, Data: userData{Mount: mount, User: u},
			})
		} else {
			acct.Password = &connector.Password{Login: u, Held: r.heldUserpass(ctx, mount, u)}
			for _, p := range policies {
				if r.provPolicies[p] {
					r.grants = append(r.grants, grantData{Policy: p, Holder: "userpass", ID: name, Name: name})
				}
			}
		}
		r.sys.Accounts = append(r.sys.Accounts, acct)
	}
}

// ldapAuthFields are the settings of an LDAP auth method the dossier
// shows: an allow-list, so that bindpass (which Vault does not return
// anyway) and anything a later release adds are never copied.
var ldapAuthFields = []string{"url", "binddn", "userdn", "userattr", "upndomain", "groupdn", "groupattr", "starttls", "insecure_tls"}

// ldapAuth reads an LDAP auth method's configuration: the directory it
// binds to becomes a link of the dossier (Vault logins depend on that
// directory), and a bind account or directory of the provider's is a
// finding: rotating or removing that account on the directory breaks
// Vault's LDAP logins.
func (r *reader) ldapAuth(ctx context.Context, mount string) {
	path := "auth/" + mount + "/config"
	s, err := r.c.Logical().ReadWithContext(ctx, path)
	if err != nil || s == nil {
		r.unread("read", path, err)
		return
	}
	conf := map[string]string{}
	var shown []string
	for _, k := range ldapAuthFields {
		v := fmt.Sprint(s.Data[k])
		if s.Data[k] == nil || v == "" {
			continue
		}
		conf[k] = v
		shown = append(shown, k+"="+v)
	}
	r.fact("ldap auth "+mount+"/", strings.Join(shown, " "))
	var why []string
	for _, u := range strings.Split(conf["url"], ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		host := u
		if _, rest, ok := strings.Cut(u, "://"); ok {
			host, _, _ = strings.Cut(rest, "/")
		}
		if h, _, ok := strings.Cut(host, ":"); ok && !strings.Contains(h, "]") {
			host = h
		}
		dom := r.t.out.Domain(host)
		if dom != "" {
			why = append(why, "its directory "+u+" is in the provider's domain "+dom)
		}
		r.sys.Links = append(r.sys.Links, connector.Link{To: u, Kind: LinkAuth, Provider: dom != "", Why: path + " url (LDAP auth method " + mount + "/)"})
	}
	if dn := conf["binddn"]; dn != "" {
		why = append(why, r.t.out.Account(rdnValue(dn))...)
		why = append(why, r.t.out.Text(dn)...)
	}
	if conf["insecure_tls"] == "true" {
		r.fact("ldap auth "+mount+"/ tls", "insecure_tls: Vault does not verify the directory's certificate")
	}
	if len(why) == 0 {
		return
	}
	r.sys.Findings = append(r.sys.Findings, connector.Finding{
		ID: KindLDAPAuth + ":" + mount, Kind: KindLDAPAuth, Object: "ldap auth " + mount + "/",
		Summary: fmt.Sprintf("LDAP auth method auth/%s binds to %s as %s, the outgoing provider's: once that account is rotated or removed on the directory, logins through Vault's LDAP auth fail; "+
			"manual step: give Vault a bind account of the client's (auth/%s/config binddn, bindpass)", mount, conf["url"], conf["binddn"], mount),
		Provider: true, Reasons: why,
		Detail: map[string]string{"url": conf["url"], "binddn": conf["binddn"], "userdn": conf["userdn"], "groupdn": conf["groupdn"]},
	})
}

// rdnValue is the value of a DN's first RDN: "prestanet-admin" of
// "uid=prestanet-admin,ou=partners,dc=example".
func rdnValue(dn string) string {
	first, _, _ := strings.Cut(dn, ",")
	_, v, ok := strings.Cut(first, "=")
	if !ok {
		return first
	}
	return strings.TrimSpace(v)
}

// aliasEntity says whether user's alias on the mount belongs to a
// provider entity.
func (r *reader) aliasEntity(ctx context.Context, mountAccessor, user string) (string, bool) {
	if len(r.provEntities) == 0 {
		return "", false
	}
	s, err := r.c.Logical().WriteWithContext(ctx, "identity/lookup/entity", map[string]any{"alias_name": user, "alias_mount_accessor": mountAccessor})
	if err != nil || s == nil {
		return "", false
	}
	id, _ := s.Data["id"].(string)
	name, ok := r.provEntities[id]
	return name, ok
}

func (r *reader) approle(ctx context.Context, mount string) {
	roles, err := r.list(ctx, "auth/"+mount+"/role")
	if err != nil {
		r.unread("list", "auth/"+mount+"/role", err)
		return
	}
	for _, role := range roles {
		base := "auth/" + mount + "/role/" + role
		s, err := r.c.Logical().ReadWithContext(ctx, base)
		if err != nil || s == nil {
			r.unread("read", base, err)
			continue
		}
		policies := policiesOf(s.Data)
		name := mount + "/" + role
		why := r.t.out.Account(role)
		if r.provOnly(policies) {
			why = append(why, "its only policies are the provider's: "+strings.Join(policies, ", "))
		}
		accs, err := r.list(ctx, base+"/secret-id")
		if err != nil {
			r.unread("list", base+"/secret-id", err)
		}
		var cidrs []string
		cidrs = append(cidrs, strs(s.Data["secret_id_bound_cidrs"])...)
		cidrs = append(cidrs, strs(s.Data["token_bound_cidrs"])...)
		var sids []string
		for _, a := range accs {
			l, err := r.c.Logical().WriteWithContext(ctx, base+"/secret-id-accessor/lookup", map[string]any{"secret_id_accessor": a})
			if err != nil || l == nil {
				r.unread("update", base+"/secret-id-accessor/lookup", err)
				continue
			}
			meta := strMap(l.Data["metadata"])
			why = append(why, r.metaWhy(meta)...)
			cidrs = append(cidrs, strs(l.Data["cidr_list"])...)
			sids = append(sids, fmt.Sprintf("%s (created %v, expires %v)", a, l.Data["creation_time"], l.Data["expiration_time"]))
		}
		via := r.admin(policies)
		acct := connector.Account{Name: name, Display: "AppRole " + role, Admin: len(via) > 0, AdminVia: via, Service: true, State: "enabled", Provider: len(why) > 0, Reasons: why}
		detail := map[string]string{"policies": strings.Join(policies, ", "), "secret_ids": strings.Join(sids, "; "), "cidrs": strings.Join(cidrs, ", ")}
		if acct.Provider {
			r.provRoles[mount+"/"+role] = true
			r.sys.Findings = append(r.sys.Findings, connector.Finding{
				ID: KindAppRole + ":" + name, Kind: KindAppRole, Object: "approle " + name,
				Summary:  fmt.Sprintf("AppRole of the outgoing provider on auth/%s, %d secret-id(s), policies %s", mount, len(accs), strings.Join(policies, ", ")),
				Provider: true, Reasons: why, Detail: detail, Data: roleData{Mount: mount, Role: role, Accessors: accs},
			})
		} else {
			acct.Password = &connector.Password{Login: role, Held: r.heldSecretID(ctx, mount, role)}
			for _, p := range policies {
				if r.provPolicies[p] {
					r.grants = append(r.grants, grantData{Policy: p, Holder: "approle", ID: name, Name: name})
				}
			}
		}
		r.sys.Accounts = append(r.sys.Accounts, acct)
	}
}

// heldUserpass: does the store's current password log in? (A login, its
// token revoked at once.)
func (r *reader) heldUserpass(ctx context.Context, mount, user string) connector.Held {
	if r.t.env.Secrets == nil {
		return connector.HeldUnknown
	}
	v, ok, err := r.t.env.Secrets.Current(ctx, r.t.secretPath(mount+"/"+user))
	if err != nil {
		return connector.HeldUnknown
	}
	if !ok {
		return connector.HeldAbsent
	}
	defer v.Destroy()
	works, err := r.t.userpassLogin(ctx, mount, user, v.Reveal())
	switch {
	case err != nil:
		return connector.HeldUnknown
	case works:
		return connector.HeldCurrent
	}
	return connector.HeldDiffers
}

func (r *reader) heldSecretID(ctx context.Context, mount, role string) connector.Held {
	if r.t.env.Secrets == nil {
		return connector.HeldUnknown
	}
	v, ok, err := r.t.env.Secrets.Current(ctx, r.t.secretPath(mount+"/"+role))
	if err != nil {
		return connector.HeldUnknown
	}
	if !ok {
		return connector.HeldAbsent
	}
	defer v.Destroy()
	s, err := r.c.Logical().WriteWithContext(ctx, "auth/"+mount+"/role/"+role+"/secret-id/lookup", map[string]any{"secret_id": v.Reveal()})
	switch {
	case err != nil && !isStatus(err, http.StatusNotFound):
		return connector.HeldUnknown
	case s != nil && s.Data != nil:
		return connector.HeldCurrent
	}
	return connector.HeldDiffers
}

// tokenSummary is how a token not worth a finding is counted.
type tokenSummary struct {
	display  string
	policies string
}

// tokenInfo is what the inventory reads of a lookup-accessor answer:
// decoded as it streams in, into these fields only.
type tokenInfo struct {
	DisplayName string            `json:"display_name"`
	Policies    []string          `json:"policies"`
	Meta        map[string]string `json:"meta"`
	Path        string            `json:"path"`
	Orphan      bool              `json:"orphan"`
	EntityID    string            `json:"entity_id"`
	Period      json.Number       `json:"period"`
	CreationTTL json.Number       `json:"creation_ttl"`
	TTL         json.Number       `json:"ttl"`
	ExpireTime  any               `json:"expire_time"`
	Type        string            `json:"type"`
}

// listAccessors lists the token accessors while the rest of the
// inventory is read: on a Vault with many tokens, the LIST is Vault's
// longest single answer.
func (r *reader) listAccessors(ctx context.Context) func() ([]string, error) {
	type listed struct {
		accs []string
		err  error
	}
	ch := make(chan listed, 1)
	go func() {
		accs, err := r.list(ctx, "auth/token/accessors")
		ch <- listed{accs, err}
	}()
	return func() ([]string, error) { l := <-ch; return l.accs, l.err }
}

// lookupAccessor posts one lookup-accessor over the API client's own
// HTTP client (its verified TLS, HTTP/2 and connection pool) and decodes
// the answer's data as it streams, into info.
func (r *reader) lookupAccessor(ctx context.Context, hc *http.Client, token, acc string, info *tokenInfo) error {
	body, _ := json.Marshal(struct {
		Accessor string `json:"accessor"`
	}{acc})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.t.s.Address+"/v1/auth/token/lookup-accessor", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", token)
	req.Header.Set("X-Vault-Request", "true")
	req.Header.Set("Content-Type", "application/json")
	if r.t.s.Namespace != "" {
		req.Header.Set("X-Vault-Namespace", r.t.s.Namespace)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		re := &api.ResponseError{HTTPMethod: http.MethodPost, URL: req.URL.String(), StatusCode: resp.StatusCode}
		var e struct {
			Errors []string `json:"errors"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e) == nil {
			re.Errors = e.Errors
		}
		return re
	}
	var out struct {
		Data *tokenInfo `json:"data"`
	}
	out.Data = info
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("auth/token/lookup-accessor: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // the connection goes back to the pool
	return nil
}

// tokens looks up every accessor listed (list), with bounded
// concurrency: results are summarised as they come, so memory does not
// grow with the number of tokens beyond the accessor list itself.
func (r *reader) tokens(ctx context.Context, list func() ([]string, error)) error {
	accs, err := list()
	if err != nil {
		r.unread("sudo", "auth/token/accessors", err)
		return nil
	}
	type looked struct {
		acc  string
		info tokenInfo
		err  error
	}
	hc := r.c.CloneConfig().HttpClient
	token := r.c.Token()
	jobs := make(chan string)
	results := make(chan looked, r.t.s.Concurrency)
	var wg sync.WaitGroup
	for i := 0; i < r.t.s.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				l := looked{acc: a}
				l.err = r.lookupAccessor(ctx, hc, token, a, &l.info)
				results <- l
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, a := range accs {
			select {
			case jobs <- a:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	// The handed-over tokens' accessors, to prove them dead after.
	known := map[string]int{}
	for i, ref := range r.t.s.ProviderTokens {
		v, err := r.t.resolve(ctx, ref)
		if err != nil {
			continue
		}
		s, err := r.c.Logical().WriteWithContext(ctx, "auth/token/lookup", map[string]any{"token": v.Reveal()})
		v.Destroy()
		if err == nil && s != nil {
			if a, _ := s.Data["accessor"].(string); a != "" {
				known[a] = i + 1
			}
		}
	}
	counts := map[tokenSummary]int{}
	var total, gone, failed int
	var firstErr error
	for l := range results {
		switch {
		case l.err != nil && isStatus(l.err, http.StatusBadRequest):
			gone++ // revoked or expired between the list and the lookup
			continue
		case l.err != nil:
			failed++
			if firstErr == nil {
				firstErr = l.err
			}
			continue
		}
		total++
		if f, ok := r.token(l.acc, &l.info); ok {
			if td, ok := f.Data.(tokenData); ok && known[l.acc] > 0 {
				td.HandedOver = known[l.acc]
				f.Data = td
			}
			r.sys.Findings = append(r.sys.Findings, f)
			continue
		}
		pols := l.info.Policies
		sort.Strings(pols)
		key := tokenSummary{display: l.info.DisplayName, policies: strings.Join(pols, ",")}
		if len(counts) < 200 {
			counts[key]++
		} else if _, ok := counts[key]; ok {
			counts[key]++
		} else {
			counts[tokenSummary{display: "(others)"}]++
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed > 0 {
		r.unread("update", "auth/token/lookup-accessor", fmt.Errorf("%d of %d lookups failed, first: %w", failed, len(accs), firstErr))
	}
	r.fact("tokens", fmt.Sprintf("%d (%d gone while listing)", total, gone))
	keys := make([]tokenSummary, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i].display+keys[i].policies < keys[j].display+keys[j].policies
	})
	for i, k := range keys {
		if i == 20 {
			break
		}
		r.fact("tokens of "+k.display, fmt.Sprintf("%d, policies %s", counts[k], k.policies))
	}
	// Findings come in the order lookups finished: sort them.
	sort.SliceStable(r.sys.Findings, func(i, j int) bool { return r.sys.Findings[i].ID < r.sys.Findings[j].ID })
	return nil
}

// token decides whether a looked-up token is worth a finding: the
// provider's, a root token, or one handover keeps.
func (r *reader) token(acc string, d *tokenInfo) (connector.Finding, bool) {
	display, policies, meta, path, orphan, entity := d.DisplayName, d.Policies, d.Meta, d.Path, d.Orphan, d.EntityID
	root := slices.Contains(policies, "root")
	var why []string
	why = append(why, r.t.out.Account(strings.TrimPrefix(strings.TrimPrefix(display, "token-"), "userpass-"))...)
	why = append(why, r.metaWhy(meta)...)
	for _, k := range []string{"username", "role_name"} {
		if v := meta[k]; v != "" {
			why = append(why, r.t.out.Account(v)...)
		}
	}
	for _, p := range policies {
		if r.provPolicies[p] {
			why = append(why, "carries the provider's policy "+p)
		}
	}
	if r.provLogins[path] {
		why = append(why, "issued by a login of the provider's ("+path+")")
	}
	if rn := meta["role_name"]; rn != "" && strings.HasPrefix(path, "auth/") {
		mount := strings.TrimSuffix(strings.TrimPrefix(path, "auth/"), "/login")
		if r.provRoles[mount+"/"+rn] {
			why = append(why, "issued by the provider's AppRole "+mount+"/"+rn)
		}
	}
	if name, ok := r.provEntities[entity]; ok && entity != "" {
		why = append(why, "issued to the provider's entity "+name)
	}
	kept := ""
	switch {
	case acc == r.self:
		kept = "the connector's own token"
	case acc == r.store && r.store != "":
		kept = "the secret store's token"
	case slices.Contains(r.t.s.KeepTokens, acc):
		kept = "listed in keep_tokens"
	}
	if len(why) == 0 && !root && kept == "" {
		return connector.Finding{}, false
	}
	// Only what does not move by itself: the remaining TTL would make
	// every saved plan stale (findings count in the fingerprint).
	detail := map[string]string{
		"display_name": display, "policies": strings.Join(policies, ", "), "orphan": strconv.FormatBool(orphan),
		"period": d.Period.String(), "creation_ttl": d.CreationTTL.String(), "expire_time": fmt.Sprint(d.ExpireTime),
		"creation_path": path, "entity_id": entity, "type": d.Type,
	}
	summary := fmt.Sprintf("token %s (%s), policies %s", display, tokenShape(orphan, d), strings.Join(policies, ", "))
	if root {
		summary = "root " + summary
		if kept == "" {
			why = append(why, "a root token: whoever holds it can do anything")
		}
	}
	if kept != "" {
		summary += "; kept: " + kept
		if !orphan {
			// Vault keeps no parent accessor to check against: say it.
			summary += "; not an orphan: revoking its parent (if it is among the revoked tokens) would revoke it too: give handover an orphan token"
		}
	}
	return connector.Finding{
		ID: connector.KindToken + ":" + acc, Kind: connector.KindToken, Object: "token " + acc,
		Summary: summary, Provider: len(why) > 0 && kept == "", Reasons: why, Detail: detail,
		Data: tokenData{Accessor: acc, Root: root, Orphan: orphan, Path: path, Policies: policies, Kept: kept},
	}, true
}

func tokenShape(orphan bool, d *tokenInfo) string {
	var parts []string
	if orphan {
		parts = append(parts, "orphan")
	}
	if p := d.Period.String(); p != "0" && p != "" {
		parts = append(parts, "periodic "+p+" s")
	}
	if d.TTL.String() == "0" {
		parts = append(parts, "no expiry")
	} else {
		parts = append(parts, "expires "+fmt.Sprint(d.ExpireTime))
	}
	return strings.Join(parts, ", ")
}

// grantFindings: a provider policy carried by something the client keeps
// (a group, an entity, a login) is detached; the policy itself is deleted
// once nothing of the client's carries it (the plan checks that).
func (r *reader) grantFindings() {
	for _, g := range r.grants {
		obj := g.Holder + " " + g.Name + ": policy " + g.Policy
		r.sys.Findings = append(r.sys.Findings, connector.Finding{
			ID: connector.KindGrant + ":" + g.Holder + ":" + g.Name + ":" + g.Policy, Kind: connector.KindGrant, Object: obj,
			Summary:  fmt.Sprintf("%s %s, kept by the client, carries the provider's policy %s", g.Holder, g.Name, g.Policy),
			Provider: true, Reasons: []string{"policy " + g.Policy + " is the provider's"}, Data: g,
		})
	}
}

// kv lists the KV paths of every KV mount with their metadata (version
// 2) -- never a value. Facts only: the store's own writes must not make a
// plan stale.
func (r *reader) kv(ctx context.Context) {
	if r.t.s.KVMaxPaths == 0 {
		return
	}
	mounts, err := r.c.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return
	}
	n := 0
	for _, p := range sortedKeys(mounts) {
		m := mounts[p]
		if m.Type != "kv" && m.Type != "generic" {
			continue
		}
		v2 := m.Options["version"] == "2"
		mount := strings.TrimSuffix(p, "/")
		listBase := mount + "/"
		if v2 {
			listBase = mount + "/metadata/"
		}
		var walk func(dir string) bool
		walk = func(dir string) bool {
			keys, err := r.list(ctx, listBase+dir)
			if err != nil {
				r.unread("list", listBase+dir, err)
				return true
			}
			for _, k := range keys {
				if strings.HasSuffix(k, "/") {
					if !walk(dir + k) {
						return false
					}
					continue
				}
				if n >= r.t.s.KVMaxPaths {
					r.fact("kv", fmt.Sprintf("stopped at kv_max_paths (%d): more paths were not listed", r.t.s.KVMaxPaths))
					return false
				}
				n++
				val := "KV v1"
				if v2 {
					md, err := r.c.Logical().ReadWithContext(ctx, mount+"/metadata/"+dir+k)
					if err != nil || md == nil {
						r.unread("read", mount+"/metadata/"+dir+k, err)
						continue
					}
					val = fmt.Sprintf("version %v, updated %v, created %v", md.Data["current_version"], md.Data["updated_time"], md.Data["created_time"])
				}
				r.fact("kv "+mount+"/"+dir+k, val)
			}
			return true
		}
		if !walk("") {
			return
		}
	}
}

// shares records the key shares the playbook says the provider held.
func (r *reader) shares(ctx context.Context) {
	ks := r.t.s.KeyShares
	if ks == nil {
		return
	}
	st, err := r.c.Sys().SealStatusWithContext(ctx)
	if err != nil {
		return
	}
	held := connector.HeldAbsent
	if r.t.env.Secrets != nil {
		_, ok, err := r.t.env.Secrets.Current(ctx, r.t.secretPath(sharesObject(ks.Recovery)))
		switch {
		case err != nil:
			held = connector.HeldUnknown
		case ok:
			held = connector.HeldCurrent
		}
	}
	kind := "unseal"
	if ks.Recovery {
		kind = "recovery"
	}
	given := 0
	if old, ok, err := r.t.oldShares(ctx); err != nil {
		r.fact("key_shares handed over", "not read: "+err.Error())
	} else if ok {
		given = len(strings.Fields(old.Reveal()))
		old.Destroy()
	}
	f := connector.Finding{
		ID: KindShares + ":" + kind, Kind: KindShares, Object: sharesObject(ks.Recovery),
		Summary:  fmt.Sprintf("%s key shares (%d, threshold %d) held by the outgoing provider (playbook key_shares): whoever holds a quorum can generate a root token until a rekey", kind, st.N, st.T),
		Provider: held != connector.HeldCurrent, Reasons: []string{"the playbook declares the provider held key shares (key_shares)"},
		Data: sharesData{Recovery: ks.Recovery, Shares: st.N, Threshold: st.T, Given: given, Held: held},
	}
	if given < st.T && held != connector.HeldCurrent {
		f.Summary += fmt.Sprintf("; %d share(s) handed over, fewer than the threshold %d: handover cannot rekey (a manual step in the plan)", given, st.T)
	}
	if held == connector.HeldCurrent {
		f.Summary = fmt.Sprintf("%s key shares (%d, threshold %d) made by handover's rekey, held in the secret store", kind, st.N, st.T)
	}
	r.sys.Findings = append(r.sys.Findings, f)
}

func sharesObject(recovery bool) string {
	if recovery {
		return "recovery key shares"
	}
	return "unseal key shares"
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// isStatus reports a Vault response error of the given HTTP status.
func isStatus(err error, code int) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// vaultWords is Vault's own message for an error.
func vaultWords(err error) string {
	if err == nil {
		return "no data"
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		if len(re.Errors) > 0 {
			var words []string
			for _, e := range re.Errors {
				// Vault wraps messages in a multierror's text.
				e = strings.Join(strings.Fields(e), " ")
				if _, rest, ok := strings.Cut(e, "error occurred: * "); ok {
					e = rest
				}
				if _, rest, ok := strings.Cut(e, "errors occurred: "); ok {
					e = rest
				}
				words = append(words, e)
			}
			return fmt.Sprintf("%d: %s", re.StatusCode, strings.Join(words, "; "))
		}
		return fmt.Sprintf("HTTP %d", re.StatusCode)
	}
	return err.Error()
}

// describeErr says what happened reaching Vault: TLS, connection,
// permission.
func describeErr(addr, what string, err error) error {
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode == http.StatusForbidden:
		return fmt.Errorf("vault at %s: %s: permission denied (%s): check the connector's token and its policy (docs/connectors/vault.md)", addr, what, vaultWords(err))
	case errors.As(err, &re) && re.StatusCode == http.StatusServiceUnavailable:
		return fmt.Errorf("vault at %s: %s: unavailable, sealed or in standby (%s)", addr, what, vaultWords(err))
	case errors.As(err, &re):
		return fmt.Errorf("vault at %s: %s: %s", addr, what, vaultWords(err))
	case strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "certificate"):
		return fmt.Errorf("vault at %s: TLS verification failed (check ca_cert): %w", addr, err)
	}
	return fmt.Errorf("vault at %s: %s: unreachable: %w", addr, what, err)
}
