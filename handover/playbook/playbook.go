// Package playbook owns the handover playbook language: YAML to a typed
// Playbook with positions, every problem reported as file:line:col, all at
// once. Target settings are decoded by their connector with the same
// Decoder, so connector errors come out together with the rest.
package playbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/secret"
)

// SchemaVersion is the playbook format this build reads.
const SchemaVersion = 1

// Playbook is one handover, as written.
type Playbook struct {
	File string // as given
	Dir  string // the playbook's directory: relative paths start here
	// Hash is the SHA-256 of the file's bytes, recorded in plans and reports.
	Hash string

	Version  int
	Handover Handover
	State    string // state directory (journals, lock, plans)
	Report   ReportSettings
	Secrets  SecretsSettings
	Signing  SigningSettings
	Outgoing Outgoing
	Policy   Policy
	Waivers  []Waiver
	Targets  []Target
	// Declared lists what no connector reads, each with its switch-day
	// step, attested in writing (declared.go).
	Declared []Declared
	// Watch is how `handover serve` watches the playbook (watch.go); nil
	// when the playbook has no watch section.
	Watch *WatchSettings
}

// Party is a party to the handover.
type Party struct {
	Name    string `json:"name"`
	Domain  string `json:"domain,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// Handover says who hands over what to whom, under which contract.
type Handover struct {
	Client   Party     `json:"client"`
	Outgoing Party     `json:"outgoing"`
	Incoming Party     `json:"incoming"`
	Contract string    `json:"contract,omitempty"`
	Date     time.Time `json:"date"`
	Operator string    `json:"operator,omitempty"`
}

type ReportSettings struct {
	Dir     string
	Lang    string // fr or en
	Formats []string
}

type SecretsSettings struct {
	Store string // "file" or "vault"
	File  FileStoreSettings
	Vault VaultSettings
}

type FileStoreSettings struct {
	Path       string
	Passphrase Ref
	Identity   string // age identity file
}

type VaultSettings struct {
	Address string
	Mount   string
	Prefix  string
	Token   Ref
	CACert  string
	Pos     Pos
}

// VaultTransit names a transit key: signing.vault_transit.
type VaultTransit struct {
	Mount string // default "transit"
	Key   string
}

type SigningSettings struct {
	Key       string // SSH private key file
	Agent     bool   // use ssh-agent (SSH_AUTH_SOCK)
	PublicKey string // selects the agent key, or checks the file key
	Identity  string // principal in allowed_signers
	Pos       Pos
	// VaultTransit signs with a Vault transit ed25519 key (the Vault of
	// secrets.vault, else VAULT_ADDR): the private key never leaves Vault.
	VaultTransit *VaultTransit
	// KeyPos, AgentPos, PublicKeyPos and VaultTransitPos are where each
	// setting is written (zero when it is not), for diagnostics about the
	// key.
	KeyPos, AgentPos, PublicKeyPos, VaultTransitPos Pos
}

// Outgoing is how to recognise the outgoing provider.
type Outgoing struct {
	Names       []string `json:"names,omitempty"`
	Domains     []string `json:"domains,omitempty"`
	SSHKeys     []string `json:"ssh_keys,omitempty"`     // SHA256:... fingerprints
	KeyComments []string `json:"key_comments,omitempty"` // glob patterns
	Accounts    []string `json:"accounts,omitempty"`     // glob patterns on names or DNs
	Agents      []string `json:"agents,omitempty"`       // catalogue names, or "all"
	// AgentsPos is where each of Agents is written, for the connector
	// that knows the catalogue to point at an unknown name.
	AgentsPos []Pos `json:"-"`
}

// Policy is what to rotate and how.
type Policy struct {
	RotateAdmins     bool
	RotateAccounts   []string // extra accounts, per target: "target:account"
	Password         secret.Policy
	Retries          int
	AccessKeyType    string // ed25519 or rsa
	MaxCredentialAge time.Duration
	Parallel         int
	Timeout          time.Duration // per target
}

// Waiver is a known deviation the run must not fix and the report shows.
type Waiver struct {
	Target        string    `json:"target"`
	Finding       string    `json:"finding"` // glob on a finding's id
	Justification string    `json:"justification"`
	Approver      string    `json:"approver"`
	Expires       time.Time `json:"expires"`
	Pos           Pos       `json:"pos"`
}

// Target is one system to hand over; its type's connector decodes Settings.
type Target struct {
	Name     string
	Type     string
	Timeout  time.Duration
	Password *secret.Policy // overrides policy.password for this target
	Settings *yaml.Node     // the target mapping without the common keys
	Pos      Pos
}

// Common target keys, decoded here; the rest belong to the connector.
var commonTargetKeys = []string{"name", "type", "timeout", "password_policy"}

// IsCommonTargetKey reports whether key is decoded by the playbook itself.
func IsCommonTargetKey(key string) bool {
	for _, k := range commonTargetKeys {
		if k == key {
			return true
		}
	}
	return false
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Load reads and parses a playbook file.
func Load(path string) (*Playbook, *Decoder, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, nil, err
	}
	pb, d := Parse(path, data)
	return pb, d, nil
}

// Parse decodes a playbook. The Decoder holds the diagnostics so far;
// connectors add theirs when they decode target settings.
func Parse(file string, data []byte) (*Playbook, *Decoder) {
	d := NewDecoder(file)
	sum := sha256.Sum256(data)
	pb := &Playbook{File: file, Dir: filepath.Dir(file), Hash: hex.EncodeToString(sum[:])}
	pb.Policy = Policy{RotateAdmins: true, Password: secret.DefaultPolicy(), Retries: 3, AccessKeyType: "ed25519", MaxCredentialAge: 90 * 24 * time.Hour, Parallel: 16, Timeout: 10 * time.Minute}
	pb.Report = ReportSettings{Lang: "fr", Formats: []string{"json", "html", "md"}}
	pb.Secrets.Store = "file"

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		d.unreadable = true
		if errors.Is(err, io.EOF) {
			d.Errorf(&yaml.Node{Line: 1, Column: 1}, "playbook is empty")
			return pb, d
		}
		d.diags = append(d.diags, yamlError(file, err)...)
		return pb, d
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.Errorf(&extra, "a playbook is a single YAML document; found another one here")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var versionSeen bool
	d.Map(root, "playbook", map[string]Field{
		"version": {Required: true, Decode: func(n *yaml.Node) {
			versionSeen = true
			pb.Version = d.Int(n, "version", 1, 1000)
			if pb.Version != 0 && pb.Version != SchemaVersion {
				d.Errorf(n, "playbook version %d is not supported by this build (it reads version %d)", pb.Version, SchemaVersion)
			}
		}},
		"handover": {Required: true, Decode: func(n *yaml.Node) { pb.Handover = decodeHandover(d, n) }},
		"state":    {Decode: func(n *yaml.Node) { pb.State = d.NonEmpty(n, "state") }},
		"report":   {Decode: func(n *yaml.Node) { decodeReport(d, n, &pb.Report) }},
		"secrets":  {Decode: func(n *yaml.Node) { decodeSecrets(d, n, &pb.Secrets) }},
		"signing":  {Decode: func(n *yaml.Node) { decodeSigning(d, n, &pb.Signing) }},
		"outgoing": {Required: true, Decode: func(n *yaml.Node) { pb.Outgoing = decodeOutgoing(d, n) }},
		"policy":   {Decode: func(n *yaml.Node) { decodePolicy(d, n, &pb.Policy) }},
		"waivers":  {Decode: func(n *yaml.Node) { pb.Waivers = decodeWaivers(d, n) }},
		"targets":  {Required: true, Decode: func(n *yaml.Node) { pb.Targets = decodeTargets(d, n) }},
		"declared": {Decode: func(n *yaml.Node) { pb.Declared = decodeDeclared(d, n) }},
		"watch":    {Decode: func(n *yaml.Node) { pb.Watch = decodeWatch(d, n) }},
	})
	_ = versionSeen
	if pb.State == "" {
		base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		pb.State = filepath.Join(".handover", base)
	}
	if pb.Report.Dir == "" {
		pb.Report.Dir = filepath.Join(pb.State, "reports")
	}
	return pb, d
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlError(file string, err error) Diagnostics {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var ds Diagnostics
	for _, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			var line int
			fmt.Sscanf(sm[1], "%d", &line)
			ds = append(ds, Diagnostic{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "YAML syntax: " + sm[2]})
			continue
		}
		ds = append(ds, Diagnostic{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "YAML syntax: " + strings.TrimPrefix(m, "yaml: ")})
	}
	return ds
}

func decodeParty(d *Decoder, n *yaml.Node, what string) Party {
	var p Party
	d.Map(n, what, map[string]Field{
		"name":    {Required: true, Decode: func(n *yaml.Node) { p.Name = d.NonEmpty(n, what+".name") }},
		"domain":  {Decode: func(n *yaml.Node) { p.Domain = d.NonEmpty(n, what+".domain") }},
		"contact": {Decode: func(n *yaml.Node) { p.Contact = d.String(n, what+".contact") }},
	})
	return p
}

func decodeHandover(d *Decoder, n *yaml.Node) Handover {
	var h Handover
	d.Map(n, "handover", map[string]Field{
		"client":   {Required: true, Decode: func(n *yaml.Node) { h.Client = decodeParty(d, n, "handover.client") }},
		"outgoing": {Required: true, Decode: func(n *yaml.Node) { h.Outgoing = decodeParty(d, n, "handover.outgoing") }},
		"incoming": {Decode: func(n *yaml.Node) { h.Incoming = decodeParty(d, n, "handover.incoming") }},
		"contract": {Decode: func(n *yaml.Node) { h.Contract = d.String(n, "handover.contract") }},
		"date":     {Decode: func(n *yaml.Node) { h.Date = d.Date(n, "handover.date") }},
		"operator": {Decode: func(n *yaml.Node) { h.Operator = d.String(n, "handover.operator") }},
	})
	return h
}

func decodeReport(d *Decoder, n *yaml.Node, r *ReportSettings) {
	d.Map(n, "report", map[string]Field{
		"dir":  {Decode: func(n *yaml.Node) { r.Dir = d.NonEmpty(n, "report.dir") }},
		"lang": {Decode: func(n *yaml.Node) { r.Lang = d.OneOf(n, "report.lang", "fr", "en") }},
		"formats": {Decode: func(n *yaml.Node) {
			r.Formats = nil
			d.Seq(n, "report.formats", func(item *yaml.Node) {
				f := d.OneOf(item, "report.formats item", "json", "html", "md")
				if f != "" && slices.Contains(r.Formats, f) {
					d.Errorf(item, "report.formats: %s is listed twice", f)
				}
				r.Formats = append(r.Formats, f)
			})
			// report.json is the signed record the renderings are made
			// from and handover verify checks: never left out.
			if n.Kind == yaml.SequenceNode && !slices.Contains(r.Formats, "json") {
				d.Errorf(n, "report.formats: json is always written (the signed record that html and md render and that handover verify checks): list it")
			}
		}},
	})
}

func decodeSecrets(d *Decoder, n *yaml.Node, s *SecretsSettings) {
	var storeNode, fileNode, vaultNode *yaml.Node
	// Whether a passphrase was written, even one that is not a valid
	// reference (that error is reported on its own).
	var passphraseGiven bool
	d.Map(n, "secrets", map[string]Field{
		"store": {Decode: func(n *yaml.Node) { storeNode = n; s.Store = d.OneOf(n, "secrets.store", "file", "vault") }},
		"file": {Decode: func(n *yaml.Node) {
			fileNode = n
			d.Map(n, "secrets.file", map[string]Field{
				"path": {Required: true, Decode: func(n *yaml.Node) { s.File.Path = d.NonEmpty(n, "secrets.file.path") }},
				"passphrase": {Decode: func(n *yaml.Node) {
					passphraseGiven = true
					s.File.Passphrase = d.Ref(n, "secrets.file.passphrase")
				}},
				"identity": {Decode: func(n *yaml.Node) { s.File.Identity = d.NonEmpty(n, "secrets.file.identity") }},
			})
		}},
		"vault": {Decode: func(n *yaml.Node) {
			vaultNode = n
			s.Vault.Pos = d.Pos(n)
			d.Map(n, "secrets.vault", map[string]Field{
				"address": {Decode: func(n *yaml.Node) { s.Vault.Address = d.NonEmpty(n, "secrets.vault.address") }},
				"mount":   {Decode: func(n *yaml.Node) { s.Vault.Mount = d.NonEmpty(n, "secrets.vault.mount") }},
				"prefix":  {Required: true, Decode: func(n *yaml.Node) { s.Vault.Prefix = strings.Trim(d.NonEmpty(n, "secrets.vault.prefix"), "/") }},
				"token":   {Decode: func(n *yaml.Node) { s.Vault.Token = d.Ref(n, "secrets.vault.token") }},
				"ca_cert": {Decode: func(n *yaml.Node) { s.Vault.CACert = d.NonEmpty(n, "secrets.vault.ca_cert") }},
			})
		}},
	})
	// Without an explicit store, a lone vault section means vault.
	if storeNode == nil && vaultNode != nil && fileNode == nil {
		s.Store = "vault"
	}
	switch s.Store {
	case "file":
		if fileNode == nil {
			d.Errorf(n, "secrets: store is file but secrets.file is missing")
		} else if !passphraseGiven == (s.File.Identity == "") {
			d.Errorf(fileNode, "secrets.file needs exactly one of passphrase or identity")
		}
	case "vault":
		if vaultNode == nil {
			d.Errorf(n, "secrets: store is vault but secrets.vault is missing")
		}
	}
}

func decodeSigning(d *Decoder, n *yaml.Node, s *SigningSettings) {
	s.Pos = d.Pos(n)
	d.Map(n, "signing", map[string]Field{
		"key":        {Decode: func(n *yaml.Node) { s.KeyPos = d.Pos(n); s.Key = d.NonEmpty(n, "signing.key") }},
		"agent":      {Decode: func(n *yaml.Node) { s.AgentPos = d.Pos(n); s.Agent = d.Bool(n, "signing.agent") }},
		"public_key": {Decode: func(n *yaml.Node) { s.PublicKeyPos = d.Pos(n); s.PublicKey = d.NonEmpty(n, "signing.public_key") }},
		"identity":   {Required: true, Decode: func(n *yaml.Node) { s.Identity = d.NonEmpty(n, "signing.identity") }},
		"vault_transit": {Decode: func(n *yaml.Node) {
			s.VaultTransitPos = d.Pos(n)
			vt := &VaultTransit{Mount: "transit"}
			d.Map(n, "signing.vault_transit", map[string]Field{
				"mount": {Decode: func(n *yaml.Node) { vt.Mount = strings.Trim(d.NonEmpty(n, "signing.vault_transit.mount"), "/") }},
				"key":   {Required: true, Decode: func(n *yaml.Node) { vt.Key = d.NonEmpty(n, "signing.vault_transit.key") }},
			})
			s.VaultTransit = vt
		}},
	})
	switch {
	case s.VaultTransit != nil && (s.Key != "" || s.Agent):
		d.Errorf(n, "signing: use one of key, agent and vault_transit")
	case s.VaultTransit != nil:
	case s.Key == "" && !s.Agent:
		d.Errorf(n, "signing needs a key file (key) or agent: true")
	case s.Key != "" && s.Agent:
		d.Errorf(n, "signing: use either key or agent, not both")
	}
	if s.Agent && s.PublicKey == "" {
		d.Errorf(n, "signing: with agent: true, public_key selects the agent's key")
	}
}

var fingerprint = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)

func decodeOutgoing(d *Decoder, n *yaml.Node) Outgoing {
	var o Outgoing
	d.Map(n, "outgoing", map[string]Field{
		"names":   {Decode: func(n *yaml.Node) { o.Names = d.Strings(n, "outgoing.names") }},
		"domains": {Decode: func(n *yaml.Node) { o.Domains = d.Strings(n, "outgoing.domains") }},
		"ssh_keys": {Decode: func(n *yaml.Node) {
			d.Seq(n, "outgoing.ssh_keys", func(item *yaml.Node) {
				fp := d.String(item, "outgoing.ssh_keys item")
				if !fingerprint.MatchString(fp) {
					d.Errorf(item, "outgoing.ssh_keys: %q is not a SHA256 key fingerprint (as `ssh-keygen -lf` prints: SHA256:…)", fp)
				}
				o.SSHKeys = append(o.SSHKeys, fp)
			})
		}},
		"key_comments": {Decode: func(n *yaml.Node) { o.KeyComments = globs(d, n, "outgoing.key_comments") }},
		"accounts":     {Decode: func(n *yaml.Node) { o.Accounts = globs(d, n, "outgoing.accounts") }},
		"agents": {Decode: func(n *yaml.Node) {
			o.Agents = d.Strings(n, "outgoing.agents")
			if n = resolveAlias(n); n.Kind == yaml.SequenceNode {
				for _, item := range n.Content {
					o.AgentsPos = append(o.AgentsPos, d.Pos(item))
				}
			} else {
				o.AgentsPos = append(o.AgentsPos, d.Pos(n))
			}
		}},
	})
	if len(o.Names)+len(o.Domains)+len(o.SSHKeys)+len(o.KeyComments)+len(o.Accounts) == 0 {
		d.Errorf(n, "outgoing: give at least one way to recognise the provider (names, domains, ssh_keys, key_comments or accounts)")
	}
	return o
}

func globs(d *Decoder, n *yaml.Node, what string) []string {
	var out []string
	d.Seq(n, what, func(item *yaml.Node) {
		g := d.NonEmpty(item, what+" item")
		if _, err := filepath.Match(g, ""); err != nil {
			d.Errorf(item, "%s: bad pattern %q: %v", what, g, err)
		}
		out = append(out, g)
	})
	return out
}

// DecodePasswordPolicy decodes a password policy mapping over base.
func DecodePasswordPolicy(d *Decoder, n *yaml.Node, what string, base secret.Policy) secret.Policy {
	p := base
	d.Map(n, what, map[string]Field{
		"length":     {Decode: func(n *yaml.Node) { p.Length = d.Int(n, what+".length", 12, 256) }},
		"lower":      {Decode: func(n *yaml.Node) { p.Lower = d.Bool(n, what+".lower") }},
		"upper":      {Decode: func(n *yaml.Node) { p.Upper = d.Bool(n, what+".upper") }},
		"digits":     {Decode: func(n *yaml.Node) { p.Digits = d.Bool(n, what+".digits") }},
		"symbols":    {Decode: func(n *yaml.Node) { p.Symbols = d.Bool(n, what+".symbols") }},
		"symbol_set": {Decode: func(n *yaml.Node) { p.SymbolSet = d.NonEmpty(n, what+".symbol_set") }},
	})
	if err := p.Validate(); err != nil {
		d.Errorf(n, "%s: %v", what, err)
	}
	return p
}

func decodePolicy(d *Decoder, n *yaml.Node, p *Policy) {
	d.Map(n, "policy", map[string]Field{
		"rotate": {Decode: func(n *yaml.Node) {
			d.Map(n, "policy.rotate", map[string]Field{
				"admins": {Decode: func(n *yaml.Node) { p.RotateAdmins = d.Bool(n, "policy.rotate.admins") }},
				"accounts": {Decode: func(n *yaml.Node) {
					d.Seq(n, "policy.rotate.accounts", func(item *yaml.Node) {
						s := d.String(item, "policy.rotate.accounts item")
						if t, a, ok := strings.Cut(s, ":"); !ok || t == "" || a == "" {
							d.Errorf(item, "policy.rotate.accounts: %q must be TARGET:ACCOUNT", s)
						}
						p.RotateAccounts = append(p.RotateAccounts, s)
					})
				}},
			})
		}},
		"password":           {Decode: func(n *yaml.Node) { p.Password = DecodePasswordPolicy(d, n, "policy.password", p.Password) }},
		"retries":            {Decode: func(n *yaml.Node) { p.Retries = d.Int(n, "policy.retries", 0, 10) }},
		"access_key_type":    {Decode: func(n *yaml.Node) { p.AccessKeyType = d.OneOf(n, "policy.access_key_type", "ed25519", "rsa") }},
		"max_credential_age": {Decode: func(n *yaml.Node) { p.MaxCredentialAge = d.Duration(n, "policy.max_credential_age") }},
		"parallel":           {Decode: func(n *yaml.Node) { p.Parallel = d.Int(n, "policy.parallel", 1, 1024) }},
		"timeout":            {Decode: func(n *yaml.Node) { p.Timeout = d.Duration(n, "policy.timeout") }},
	})
}

func decodeWaivers(d *Decoder, n *yaml.Node) []Waiver {
	var ws []Waiver
	d.Seq(n, "waivers", func(item *yaml.Node) {
		w := Waiver{Pos: d.Pos(item)}
		d.Map(item, "waiver", map[string]Field{
			"target":        {Required: true, Decode: func(n *yaml.Node) { w.Target = d.NonEmpty(n, "waiver.target") }},
			"finding":       {Required: true, Decode: func(n *yaml.Node) { w.Finding = d.NonEmpty(n, "waiver.finding") }},
			"justification": {Required: true, Decode: func(n *yaml.Node) { w.Justification = d.NonEmpty(n, "waiver.justification") }},
			"approver":      {Required: true, Decode: func(n *yaml.Node) { w.Approver = d.NonEmpty(n, "waiver.approver") }},
			"expires":       {Required: true, Decode: func(n *yaml.Node) { w.Expires = d.Date(n, "waiver.expires") }},
		})
		ws = append(ws, w)
	})
	return ws
}

func decodeTargets(d *Decoder, n *yaml.Node) []Target {
	var ts []Target
	names := map[string]Pos{}
	d.Seq(n, "targets", func(item *yaml.Node) {
		t := Target{Pos: d.Pos(item)}
		if item.Kind != yaml.MappingNode {
			d.Errorf(item, "a target must be a mapping with at least name and type")
			return
		}
		settings := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: item.Line, Column: item.Column}
		var nameNode *yaml.Node
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			switch k.Value {
			case "name":
				nameNode = v
				t.Name = d.NonEmpty(v, "target name")
				if t.Name != "" && !targetName.MatchString(t.Name) {
					d.Errorf(v, "target name %q: use lower-case letters, digits, - and _ (it names files and secret paths)", t.Name)
				}
			case "type":
				t.Type = d.NonEmpty(v, "target type")
			case "timeout":
				t.Timeout = d.Duration(v, "target timeout")
			case "password_policy":
				p := DecodePasswordPolicy(d, v, "password_policy", secret.DefaultPolicy())
				t.Password = &p
			default:
				settings.Content = append(settings.Content, k, v)
			}
		}
		if nameNode == nil {
			d.Errorf(item, "target: missing required key \"name\"")
		} else if prev, dup := names[t.Name]; dup {
			d.Errorf(nameNode, "target name %q is already used at %s", t.Name, prev)
		} else {
			names[t.Name] = d.Pos(nameNode)
		}
		if t.Type == "" {
			d.Errorf(item, "target %q: missing required key \"type\"", t.Name)
		}
		t.Settings = settings
		ts = append(ts, t)
	})
	if n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.Errorf(n, "targets: the playbook names no target")
	}
	return ts
}
