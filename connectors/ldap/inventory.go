package ldap

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/handoverhq/handover/handover/connector"
)

// Limits of the nested-group walk: a directory with pathological nesting
// is reported, not walked forever.
const (
	maxChainsPerAccount = 16
	maxWalkSteps        = 100000
)

// Inventory reads the directory. Users are streamed page by page and only
// the accounts the plan or the report act on are kept (admins, service
// accounts, the provider's, the bind account, accounts the playbook
// names); the others are counted.
func (t *Target) Inventory(ctx context.Context) (*connector.Inventory, error) {
	inv := &connector.Inventory{Target: t.name, Type: Type, Started: t.now()}
	var sys connector.System
	err := t.withSession(ctx, func(sess *session) error {
		var err error
		sys, err = t.inventory(ctx, sess)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ldap %s: %w", t.s.URL.Redacted(), err)
	}
	inv.Systems = []connector.System{sys}
	inv.Finished = t.now()
	return inv, nil
}

// membership is one direct membership that makes an account an admin.
// It is also what the plan reads of a provider's membership.
type membership struct {
	Group string `json:"group"` // group DN
	Attr  string `json:"attr"`  // member, uniqueMember, memberUid, primaryGroupID
	Value string `json:"value"` // the attribute value naming the account
	// Via, when set, is the group the provider's account is the only
	// member of: a group that groupOfNames cannot leave empty. The
	// membership is then that group's own in the admin chain (Value names
	// the group), the least change that ends the provider's rights.
	Via string `json:"via,omitempty"`
	// Keep are the client's admins through Group, who must keep their
	// rights when Value leaves it (the plan's proof), one DN a line.
	Keep string `json:"keep,omitempty"`
}

// adminRecord is an account found in an admin group.
type adminRecord struct {
	DN     string
	Via    []string     // chains, "CN=Domain Admins <- CN=GG-Admins-Reseau"
	Direct []membership // the memberships the chains start from
}

func (r *adminRecord) addChain(chain string, m membership) {
	if !slices.Contains(r.Via, chain) && len(r.Via) < maxChainsPerAccount {
		r.Via = append(r.Via, chain)
	}
	if !slices.Contains(r.Direct, m) {
		r.Direct = append(r.Direct, m)
	}
}

type memberRef struct{ Attr, Value, DN string }

type node struct {
	exists  bool
	isGroup bool
	// needsMember: its object class requires a member (groupOfNames,
	// groupOfUniqueNames): the last one cannot be removed.
	needsMember bool
	members     []memberRef
	// dn and evidence (attribute, value) of a group: who manages or owns
	// it, what it says of itself (groupEvidenceAttrs).
	dn       string
	evidence [][2]string
}

// groupEvidenceAttrs are what a group of the admin chain says of whose it
// is: its manager (AD's managedBy: with "Manager can update membership
// list", an ACE lets that account change the group's members), its
// owners, its free text.
var groupEvidenceAttrs = []string{"managedBy", "owner", "description", "info"}

// walker follows member attributes from the admin groups down, reading
// each entry once.
type walker struct {
	t      *Target
	sess   *session
	info   *serverInfo
	nodes  map[string]*node
	uids   map[string]string // memberUid -> DN
	admins map[string]*adminRecord
	// parents are, per group met below an admin group, its memberships
	// in the groups of the admin chain above it.
	parents map[string][]membership
	// provider: the provider's accounts, by normalised DN (set once the
	// accounts are read).
	provider map[string]bool
	steps    int
	limited  bool
}

func (w *walker) node(ctx context.Context, dn string) (*node, error) {
	key := normDN(dn)
	if n, ok := w.nodes[key]; ok {
		return n, nil
	}
	e, err := w.sess.read(ctx, dn, append([]string{"objectClass", "member", "uniqueMember", "memberUid"}, groupEvidenceAttrs...)...)
	if err != nil {
		return nil, err
	}
	n := &node{dn: dn}
	w.nodes[key] = n
	if e == nil {
		return n, nil
	}
	n.exists = true
	for _, oc := range e.GetEqualFoldAttributeValues("objectClass") {
		switch strings.ToLower(oc) {
		case "group", "groupofnames", "groupofuniquenames", "posixgroup", "groupofurls":
			n.isGroup = true
		}
		switch strings.ToLower(oc) {
		case "groupofnames", "groupofuniquenames":
			n.needsMember = true
		}
	}
	if !n.isGroup {
		return n, nil
	}
	for _, attr := range groupEvidenceAttrs {
		for _, v := range e.GetEqualFoldAttributeValues(attr) {
			n.evidence = append(n.evidence, [2]string{attr, v})
		}
	}
	members, err := w.sess.values(ctx, e, "member")
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		n.members = append(n.members, memberRef{"member", m, m})
	}
	for _, m := range e.GetEqualFoldAttributeValues("uniqueMember") {
		// groupOfUniqueNames values may carry an #'UID' suffix.
		dn, _, _ := strings.Cut(m, "#")
		n.members = append(n.members, memberRef{"uniqueMember", m, dn})
	}
	for _, uid := range e.GetEqualFoldAttributeValues("memberUid") {
		dn, err := w.uid(ctx, uid)
		if err != nil {
			return nil, err
		}
		if dn != "" {
			n.members = append(n.members, memberRef{"memberUid", uid, dn})
		}
	}
	return n, nil
}

func (w *walker) uid(ctx context.Context, uid string) (string, error) {
	if dn, ok := w.uids[uid]; ok {
		return dn, nil
	}
	var found string
	_, err := w.sess.search(ctx, w.info.BaseDN, ldap.ScopeWholeSubtree, "(uid="+ldap.EscapeFilter(uid)+")", []string{"1.1"}, w.t.s.PageSize, func(e *ldap.Entry) error {
		if found == "" {
			found = e.DN
		}
		return nil
	})
	w.uids[uid] = found
	return found, err
}

// walk records every account below group, path being the groups from the
// admin group down to group. A group already on the path is a cycle and
// is not entered again.
func (w *walker) walk(ctx context.Context, group string, path []string) error {
	n, err := w.node(ctx, group)
	if err != nil {
		return err
	}
	for _, m := range n.members {
		w.steps++
		if w.steps > maxWalkSteps {
			w.limited = true
			return nil
		}
		child, err := w.node(ctx, m.DN)
		if err != nil {
			return err
		}
		if !child.exists {
			continue
		}
		if child.isGroup {
			if slices.ContainsFunc(path, func(p string) bool { return normDN(p) == normDN(m.DN) }) {
				continue
			}
			pm := membership{Group: group, Attr: m.Attr, Value: m.Value}
			if w.parents == nil {
				w.parents = map[string][]membership{}
			}
			if k := normDN(m.DN); !slices.Contains(w.parents[k], pm) {
				w.parents[k] = append(w.parents[k], pm)
			}
			if err := w.walk(ctx, m.DN, append(slices.Clone(path), m.DN)); err != nil {
				return err
			}
			continue
		}
		w.record(m.DN, chainOf(path), membership{Group: group, Attr: m.Attr, Value: m.Value})
	}
	return nil
}

func (w *walker) record(dn, chain string, m membership) {
	key := normDN(dn)
	r := w.admins[key]
	if r == nil {
		r = &adminRecord{DN: dn}
		w.admins[key] = r
	}
	r.addChain(chain, m)
}

func chainOf(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = rdn(p)
	}
	return strings.Join(parts, " <- ")
}

// adminGroups resolves the admin groups: the configured ones (DNs or
// names) and, for AD, the built-in ones by well-known SID. Names that
// resolve to nothing come back in missing.
func (t *Target) adminGroups(ctx context.Context, sess *session, info *serverInfo) (groups []string, missing []string, err error) {
	seen := map[string]bool{}
	add := func(dn string) {
		if k := normDN(dn); !seen[k] {
			seen[k] = true
			groups = append(groups, dn)
		}
	}
	find := func(filter string) ([]string, error) {
		var dns []string
		_, err := sess.search(ctx, info.BaseDN, ldap.ScopeWholeSubtree, filter, []string{"1.1"}, t.s.PageSize, func(e *ldap.Entry) error {
			dns = append(dns, e.DN)
			return nil
		})
		return dns, err
	}
	if info.Dialect == AD {
		var sids []string
		for _, g := range adDomainAdminRIDs {
			sids = append(sids, "(objectSid="+filterBytes(withRID(info.DomainSID, g.rid))+")")
		}
		for _, g := range adBuiltinAdminRIDs {
			sids = append(sids, "(objectSid="+filterBytes(builtinSID(g.rid))+")")
		}
		for _, name := range adNamedAdminGroups {
			sids = append(sids, "(sAMAccountName="+ldap.EscapeFilter(name)+")")
		}
		dns, err := find("(&(objectClass=group)(|" + strings.Join(sids, "") + "))")
		if err != nil {
			return nil, nil, err
		}
		for _, dn := range dns {
			add(dn)
		}
	}
	for _, g := range t.s.AdminGroups {
		if strings.Contains(g, "=") {
			e, err := sess.read(ctx, g, "1.1")
			if err != nil {
				return nil, nil, err
			}
			if e == nil {
				missing = append(missing, g)
				continue
			}
			add(e.DN)
			continue
		}
		filter := "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))(cn=" + ldap.EscapeFilter(g) + "))"
		if info.Dialect == AD {
			filter = "(&(objectClass=group)(|(cn=" + ldap.EscapeFilter(g) + ")(sAMAccountName=" + ldap.EscapeFilter(g) + ")))"
		}
		dns, err := find(filter)
		if err != nil {
			return nil, nil, err
		}
		if len(dns) == 0 {
			missing = append(missing, g)
		}
		for _, dn := range dns {
			add(dn)
		}
	}
	return groups, missing, nil
}

// admins finds every account in an admin group, nested memberships
// included, with the chains that make it one.
func (t *Target) admins(ctx context.Context, sess *session, info *serverInfo, groups []string) (*walker, error) {
	w := &walker{t: t, sess: sess, info: info, nodes: map[string]*node{}, uids: map[string]string{}, admins: map[string]*adminRecord{}}
	for _, g := range groups {
		if err := w.walk(ctx, g, []string{g}); err != nil {
			return nil, err
		}
	}
	if info.Dialect != AD {
		return w, nil
	}
	for _, g := range groups {
		// The server's own transitive evaluation catches what the walk
		// cannot see (members in a partition this connection does not
		// read).
		_, err := sess.search(ctx, info.BaseDN, ldap.ScopeWholeSubtree, "(&(objectClass=user)(memberOf:"+oidInChain+":="+ldap.EscapeFilter(g)+"))", []string{"1.1"}, t.s.PageSize, func(e *ldap.Entry) error {
			if _, ok := w.admins[normDN(e.DN)]; !ok {
				w.record(e.DN, rdn(g)+" (transitive membership reported by the server)", membership{Group: g, Attr: "member", Value: e.DN})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		// A primary group is a membership no member attribute shows.
		ge, err := sess.read(ctx, g, "objectSid")
		if err != nil {
			return nil, err
		}
		if ge == nil {
			continue
		}
		rid, ok := ridOf(ge.GetEqualFoldRawAttributeValue("objectSid"))
		if !ok {
			continue
		}
		_, err = sess.search(ctx, info.BaseDN, ldap.ScopeWholeSubtree, "(&(objectClass=user)(primaryGroupID="+strconv.FormatUint(uint64(rid), 10)+"))", []string{"1.1"}, t.s.PageSize, func(e *ldap.Entry) error {
			w.record(e.DN, rdn(g)+" (primary group)", membership{Group: g, Attr: "primaryGroupID", Value: strconv.FormatUint(uint64(rid), 10)})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// userFilter and userAttrs select accounts per dialect.
func userQuery(dialect string) (string, []string) {
	if dialect == AD {
		return "(&(objectCategory=person)(objectClass=user))",
			[]string{"sAMAccountName", "cn", "displayName", "mail", "userAccountControl", "msDS-User-Account-Control-Computed", "pwdLastSet", "lockoutTime", "accountExpires", "servicePrincipalName", "description", "info", "title", "managedBy", "seeAlso", "manager", "company"}
	}
	return "(|(objectClass=person)(objectClass=posixAccount)(objectClass=simpleSecurityObject))",
		append([]string{"uid", "cn", "displayName", "mail", "pwdChangedTime", "pwdAccountLockedTime", "shadowExpire", "objectClass"}, evidenceAttrs...)
}

// evidenceAttrs are the free-text attributes (and those naming another
// entry) that can say whose an entry is: one naming the provider makes the
// entry the provider's, whatever its name.
var evidenceAttrs = []string{"description", "o", "title", "info", "managedBy", "seeAlso", "manager"}

// dnAttrs of evidenceAttrs name another entry.
var dnAttrs = []string{"managedBy", "seeAlso", "manager"}

// account is what the inventory keeps of a directory entry.
type account struct {
	connector.Account
	DN    string
	Login string
}

// toAccount reads an entry in the dialect's terms.
func (t *Target) toAccount(e *ldap.Entry, dialect string, now time.Time) account {
	a := account{DN: e.DN}
	a.Name = e.DN
	a.Display = cmp.Or(e.GetEqualFoldAttributeValue("displayName"), e.GetEqualFoldAttributeValue("cn"))
	a.State = "enabled"
	if dialect == AD {
		a.Login = e.GetEqualFoldAttributeValue("sAMAccountName")
		uac, _ := strconv.ParseInt(e.GetEqualFoldAttributeValue("userAccountControl"), 10, 64)
		// lockoutTime stays set after the lockout duration ran out; the
		// constructed attribute says whether the account is locked now.
		_, locked := fileTime(e.GetEqualFoldAttributeValue("lockoutTime"))
		if v := e.GetEqualFoldAttributeValue("msDS-User-Account-Control-Computed"); v != "" {
			computed, _ := strconv.ParseInt(v, 10, 64)
			locked = computed&uacLockout != 0
		}
		expires, hasExpiry := fileTime(e.GetEqualFoldAttributeValue("accountExpires"))
		switch {
		case uac&uacAccountDisable != 0:
			a.State = "disabled"
		case locked:
			a.State = "locked"
		case hasExpiry && expires.Before(now):
			a.State = "expired"
		}
		if ts, ok := fileTime(e.GetEqualFoldAttributeValue("pwdLastSet")); ok {
			a.PasswordChanged = &ts
		}
	} else {
		a.Login = e.GetEqualFoldAttributeValue("uid")
		if e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != "" {
			a.State = "locked"
		} else if days, err := strconv.ParseInt(e.GetEqualFoldAttributeValue("shadowExpire"), 10, 64); err == nil && days > 0 && time.Unix(days*86400, 0).Before(now) {
			a.State = "expired"
		}
		if ts, err := parseGeneralizedTime(e.GetEqualFoldAttributeValue("pwdChangedTime")); err == nil {
			ts = ts.UTC()
			a.PasswordChanged = &ts
		}
	}
	if a.Login == "" {
		_, v, _ := strings.Cut(rdn(e.DN), "=")
		a.Login = v
	}
	// Service accounts: by OU, by name pattern, and (AD) by SPN.
	key := normDN(e.DN)
	for _, ou := range t.s.ServiceOUs {
		if strings.HasSuffix(key, ","+normDN(ou)) {
			a.Service = true
		}
	}
	for _, p := range t.s.ServicePatterns {
		lp := strings.ToLower(p)
		if ok, _ := filepath.Match(lp, strings.ToLower(a.Login)); ok {
			a.Service = true
		}
	}
	if dialect == AD && len(e.GetEqualFoldAttributeValues("servicePrincipalName")) > 0 {
		a.Service = true
	}
	// The provider's: by name or DN pattern, by login, by mail domain.
	mails := e.GetEqualFoldAttributeValues("mail")
	reasons := t.out.Account(e.DN, mails...)
	if a.Login != "" {
		for _, r := range t.out.Account(a.Login) {
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
	}
	// By what the entry says of itself: a description, an organisation, a
	// title naming the provider; a manager or owner that is the
	// provider's account.
	for _, attr := range append(slices.Clone(evidenceAttrs), "company") {
		for _, v := range e.GetEqualFoldAttributeValues(attr) {
			var why []string
			if slices.Contains(dnAttrs, attr) {
				for _, r := range t.out.Account(v) {
					why = append(why, fmt.Sprintf("%s %s: %s", attr, v, r))
				}
			}
			for _, r := range t.out.Text(v) {
				why = append(why, fmt.Sprintf("%s %q %s", attr, v, r))
			}
			for _, r := range why {
				if !slices.Contains(reasons, r) {
					reasons = append(reasons, r)
				}
			}
		}
	}
	if len(reasons) > 0 {
		a.Provider = true
		a.Reasons = reasons
	}
	return a
}

// inventory reads everything on an open, bound connection.
func (t *Target) inventory(ctx context.Context, sess *session) (connector.System, error) {
	info := t.info
	now := t.now()
	sys := connector.System{Name: System, Kind: KindDirectory, Address: t.s.URL.Redacted()}
	sys.Facts = append(sys.Facts, info.Facts...)
	if !sess.encrypted {
		sys.Findings = append(sys.Findings, connector.Finding{
			ID: "auth-method:insecure-bind", Kind: connector.KindAuth, Object: t.s.BindDN,
			Summary: "the bind account's password was sent unencrypted (StartTLS unavailable; allow_insecure_bind is set)",
		})
	}

	groups, missing, err := t.adminGroups(ctx, sess, info)
	if err != nil {
		return sys, err
	}
	for _, g := range missing {
		sys.Findings = append(sys.Findings, connector.Finding{
			ID: "policy:admin-group-missing:" + g, Kind: connector.KindPolicy, Object: g,
			Summary: fmt.Sprintf("admin group %q (admin_groups) does not exist in the directory", g),
		})
	}
	sys.Facts = append(sys.Facts, connector.Fact{Name: "admin_groups", Value: strings.Join(groups, "; ")})
	w, err := t.admins(ctx, sess, info, groups)
	if err != nil {
		return sys, err
	}
	if w.limited {
		sys.Findings = append(sys.Findings, connector.Finding{
			ID: "policy:nesting-limit", Kind: connector.KindPolicy, Object: info.BaseDN,
			Summary: fmt.Sprintf("admin group nesting is deeper than %d steps; the list of admins may be incomplete", maxWalkSteps),
		})
	}

	keep := func(a *account) bool {
		k := normDN(a.DN)
		if a.Admin || a.Service || a.Provider || k == normDN(t.s.BindDN) {
			return true
		}
		for _, h := range t.s.Accounts {
			if normDN(h.DN) == k {
				return true
			}
		}
		return t.listed(a.DN, a.Login)
	}
	counts := map[string]int{}
	total := 0
	seen := map[string]bool{}
	var kept []account
	handle := func(e *ldap.Entry) {
		a := t.toAccount(e, info.Dialect, now)
		if r, ok := w.admins[normDN(a.DN)]; ok {
			a.Admin = true
			a.AdminVia = slices.Clone(r.Via)
			slices.SortFunc(a.AdminVia, func(x, y string) int { return len(x) - len(y) })
		}
		total++
		counts[a.State]++
		seen[normDN(a.DN)] = true
		if keep(&a) {
			kept = append(kept, a)
		}
	}
	filter, attrs := userQuery(info.Dialect)
	referrals, err := sess.search(ctx, info.BaseDN, ldap.ScopeWholeSubtree, filter, attrs, t.s.PageSize, func(e *ldap.Entry) error {
		handle(e)
		return nil
	})
	if err != nil {
		return sys, err
	}
	// Admins the user filter did not match (an organizationalRole in an
	// admin group, say) and the bind account are read one by one.
	extra := []string{t.s.BindDN}
	for _, r := range w.admins {
		extra = append(extra, r.DN)
	}
	for _, dn := range extra {
		if seen[normDN(dn)] {
			continue
		}
		e, err := sess.read(ctx, dn, attrs...)
		if err != nil {
			return sys, err
		}
		if e == nil {
			if normDN(dn) == normDN(t.s.BindDN) {
				sys.Findings = append(sys.Findings, connector.Finding{
					ID: "account:bind-dn-not-an-entry", Kind: connector.KindAccount, Object: dn,
					Summary: "the bind DN is not an entry of the directory (a rootdn set in the server's configuration): its password cannot be rotated over LDAP and must be changed in the server configuration",
				})
			}
			continue
		}
		seen[normDN(dn)] = true
		handle(e)
	}
	slices.SortFunc(kept, func(a, b account) int { return strings.Compare(a.DN, b.DN) })
	w.provider = map[string]bool{}
	for _, a := range kept {
		if a.Provider {
			w.provider[normDN(a.DN)] = true
		}
	}
	sys.Findings = append(sys.Findings, t.groupFindings(w)...)
	for _, a := range kept {
		acct := a.Account
		if !a.Provider {
			pw, err := t.passwordFacts(ctx, a)
			if err != nil {
				return sys, err
			}
			acct.Password = pw
		}
		sys.Accounts = append(sys.Accounts, acct)
		sys.Findings = append(sys.Findings, t.accountFindings(a, w)...)
	}
	sys.Facts = append(sys.Facts,
		connector.Fact{Name: "accounts", Value: strconv.Itoa(total)},
		connector.Fact{Name: "accounts_enabled", Value: strconv.Itoa(counts["enabled"])},
		connector.Fact{Name: "accounts_disabled", Value: strconv.Itoa(counts["disabled"])},
		connector.Fact{Name: "accounts_locked", Value: strconv.Itoa(counts["locked"])},
		connector.Fact{Name: "accounts_expired", Value: strconv.Itoa(counts["expired"])},
		connector.Fact{Name: "admin_accounts", Value: strconv.Itoa(len(w.admins))},
	)
	if referrals > 0 {
		sys.Facts = append(sys.Facts, connector.Fact{Name: "referrals_not_followed", Value: strconv.Itoa(referrals)})
	}
	return sys, nil
}

// listed reports whether the playbook names the account (by DN or login)
// for this target (policy.rotate.accounts): it is then inventoried even if
// it is no admin.
func (t *Target) listed(dn, login string) bool {
	for _, x := range t.env.Named {
		if normDN(x) == normDN(dn) || (login != "" && strings.EqualFold(x, login)) {
			return true
		}
	}
	return false
}

// providerAccount is what the plan reads of a provider account: the login
// its lock is proven with (Kerberos, on AD).
type providerAccount struct {
	Login string `json:"login,omitempty"`
}

// accountFindings are what the plan acts on for one kept account: the
// provider's account and admin memberships; a service account with admin
// rights is noted, since its password is not rotated unless named.
func (t *Target) accountFindings(a account, w *walker) []connector.Finding {
	var fs []connector.Finding
	if a.Provider {
		fs = append(fs, connector.Finding{
			ID: "account:" + a.DN, Kind: connector.KindAccount, Object: a.DN, Provider: true, Reasons: a.Reasons,
			Summary: fmt.Sprintf("account of the outgoing provider (%s)", a.State),
			Detail:  map[string]string{"login": a.Login, "state": a.State},
			Data:    providerAccount{Login: a.Login},
		})
		if r, ok := w.admins[normDN(a.DN)]; ok {
			for _, m := range r.Direct {
				cuts, stuck := w.cuts(m, 0)
				for _, c := range cuts {
					f := connector.Finding{
						ID: "membership:" + a.DN + ":" + m.Group, Kind: connector.KindMember, Object: a.DN, Provider: true, Reasons: a.Reasons,
						Summary: fmt.Sprintf("provider account is a member of %s, which makes it an admin (%s)", m.Group, strings.Join(r.Via, "; ")),
						Detail:  map[string]string{"group": c.Group, "attr": c.Attr, "value": c.Value},
						Data:    c,
					}
					if c.Via != "" {
						f.ID += ":" + c.Group
						f.Summary = fmt.Sprintf("provider account is the only member of %s, which its object class cannot leave empty: %s leaves %s instead, which ends the provider's rights through it and changes no one else's (%s)", c.Via, rdn(c.Value), c.Group, strings.Join(r.Via, "; "))
						f.Detail["via"] = c.Via
						f.Detail["keep"] = c.Keep
					}
					fs = append(fs, f)
				}
				for _, g := range stuck {
					manual := fmt.Sprintf("%s is an admin group whose only member is the provider's account (its object class needs one): add the member the client wants in it, then remove %s from it, or delete the group", g, a.DN)
					fs = append(fs, connector.Finding{
						ID: "membership:" + a.DN + ":" + g, Kind: connector.KindMember, Object: a.DN, Provider: true, Reasons: a.Reasons,
						Summary: fmt.Sprintf("provider account is the only member of the admin group %s, which cannot be left empty; the account is locked; by hand: %s", g, manual),
						Detail:  map[string]string{"group": g, "manual": manual},
					})
				}
			}
		}
		return fs
	}
	if a.Admin && a.Service && normDN(a.DN) != normDN(t.s.BindDN) && !t.listed(a.DN, a.Login) {
		fs = append(fs, connector.Finding{
			ID: "account:" + a.DN, Kind: connector.KindAccount, Object: a.DN,
			Summary: "service account with admin rights: not rotated automatically (an application uses its password); list it in policy.rotate.accounts to rotate it",
			Detail:  map[string]string{"login": a.Login, "admin_via": strings.Join(a.AdminVia, "; ")},
		})
	}
	return fs
}

// groupFindings are the groups of the admin chain that are the
// provider's by what they say: managed or owned by one of its accounts,
// or naming it in their free text. handover changes no group's manager or
// owner (on AD the manager's right to change the members is an ACE of the
// group, which clearing managedBy alone does not remove): each is a
// finding with the step to take by hand. The provider's accounts are
// locked by the run, so the right is dormant meanwhile.
func (t *Target) groupFindings(w *walker) []connector.Finding {
	var fs []connector.Finding
	for _, k := range slices.Sorted(maps.Keys(w.nodes)) {
		n := w.nodes[k]
		if !n.isGroup || len(n.evidence) == 0 {
			continue
		}
		var why, managers []string
		for _, ev := range n.evidence {
			attr, v := ev[0], ev[1]
			var reasons []string
			if attr == "managedBy" || attr == "owner" {
				if w.provider[normDN(v)] {
					reasons = append(reasons, fmt.Sprintf("%s %s: an account of the outgoing provider", attr, v))
				}
				for _, x := range t.out.Account(v) {
					reasons = appendNew(reasons, fmt.Sprintf("%s %s: %s", attr, v, x))
				}
				if len(reasons) > 0 {
					managers = append(managers, attr+" "+v)
				}
			} else {
				for _, x := range t.out.Text(v) {
					reasons = append(reasons, fmt.Sprintf("%s %q %s", attr, v, x))
				}
			}
			for _, x := range reasons {
				why = appendNew(why, x)
			}
		}
		if len(why) == 0 {
			continue
		}
		manual := fmt.Sprintf("review the group %s: ", n.dn)
		if len(managers) > 0 {
			manual += fmt.Sprintf("clear its %s (on Active Directory: Users and Computers, the group's Managed By tab, Clear, which also removes the manager's right to update the membership list; or remove that ACE from the group's security descriptor)", strings.Join(managers, ", "))
		} else {
			manual += "its description or info names the outgoing provider: correct it, and check who it lets in"
		}
		fs = append(fs, connector.Finding{
			ID: "group:" + n.dn, Kind: connector.KindPolicy, Object: n.dn, Provider: true, Reasons: why,
			Summary: fmt.Sprintf("admin chain group %s is the outgoing provider's by what it says (%s); by hand: %s", rdn(n.dn), strings.Join(why, "; "), manual),
			Detail:  map[string]string{"group": n.dn, "manual": manual},
		})
	}
	return fs
}

func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// passwordFacts are the facts the engine's rotation policy reads of an
// account: its login, whether handover holds its current password (the
// store has a current value: a bind to compare would count as a failed
// login against the account's lockout policy), and whether it is the bind
// account.
func (t *Target) passwordFacts(ctx context.Context, a account) (*connector.Password, error) {
	pw := &connector.Password{Login: a.Login, Held: connector.HeldAbsent, Connector: normDN(a.DN) == normDN(t.s.BindDN)}
	if t.env.Secrets == nil {
		return pw, nil
	}
	v, ok, err := t.env.Secrets.Current(ctx, t.secretPath(a.DN))
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	if ok {
		pw.Held = connector.HeldCurrent
		v.Destroy()
	}
	return pw, nil
}

// parseGeneralizedTime reads an LDAP GeneralizedTime ("20261123223000Z",
// with optional fraction and offset).
func parseGeneralizedTime(v string) (time.Time, error) {
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999999Z0700", "200601021504Z0700"} {
		if ts, err := time.Parse(layout, v); err == nil {
			return ts, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a GeneralizedTime: %q", v)
}

// cuts are the memberships whose removal ends the admin rights m gives
// without emptying a group whose object class needs a member: m itself,
// or, where the provider is the only member of m's group, that group's
// own memberships in the admin chain above it (and so on up). stuck are
// the admin groups themselves that would be left empty: nothing can be
// removed there without a person choosing another member.
func (w *walker) cuts(m membership, depth int) (cuts []membership, stuck []string) {
	n := w.nodes[normDN(m.Group)]
	if n == nil || !n.needsMember || len(n.members) > 1 || depth > 8 {
		return []membership{m}, nil
	}
	parents := w.parents[normDN(m.Group)]
	if len(parents) == 0 {
		return nil, []string{m.Group}
	}
	for _, p := range parents {
		up := membership{Group: p.Group, Attr: p.Attr, Value: p.Value, Via: m.Group}
		if m.Via != "" {
			up.Via = m.Via
		}
		cs, st := w.cuts(up, depth+1)
		for i := range cs {
			cs[i].Keep = strings.Join(w.keepers(cs[i]), "\n")
		}
		cuts = append(cuts, cs...)
		stuck = append(stuck, st...)
	}
	return cuts, stuck
}

// keepers are the client's admins (not the provider's) whose rights come
// through c.Group by another way than c.Value: they must keep them once
// c.Value leaves c.Group.
func (w *walker) keepers(c membership) []string {
	group, removed := rdn(c.Group), rdn(c.Value)
	var out []string
	for k, r := range w.admins {
		if w.provider[k] {
			continue
		}
		for _, chain := range r.Via {
			parts := strings.Split(chain, " <- ")
			if slices.Contains(parts, group) && !slices.Contains(parts, removed) {
				out = append(out, r.DN)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
