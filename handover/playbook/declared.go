package playbook

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Declared is something of the estate no connector reads (a firewall, the
// Wi-Fi, the domain's registrar, a SaaS console, a licence, the keys of
// the server room): the playbook declares it, says who owns it and what
// must be done about it on switch day, and a person attests in writing
// that it was done (`handover attest`).
type Declared struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Name is how the client calls it ("Pare-feu Stormshield SN310").
	Name string `json:"name"`
	// Owner is who holds it for the client (a person or a role).
	Owner string `json:"owner"`
	// Credential says where its admin credential is kept (a vault entry,
	// a sealed envelope): never the credential itself.
	Credential string `json:"credential,omitempty"`
	// ProviderKnew: the outgoing provider knew its credential or had an
	// account on it.
	ProviderKnew bool `json:"provider_knew"`
	// Action is what is expected on switch day (DeclaredActions).
	Action string `json:"action"`
	// Rotation is how long an attestation stays valid: a check after that
	// reports the item as due again. Zero: never.
	Rotation time.Duration `json:"rotation,omitempty"`
	Notes    string        `json:"notes,omitempty"`
	// Waiver, when set, covers the item: its step is knowingly not done.
	Waiver *DeclaredWaiver `json:"waiver,omitempty"`
	Pos    Pos             `json:"pos"`
}

// DeclaredWaiver is a justified, approved and dated decision not to do a
// declared item's step (yet).
type DeclaredWaiver struct {
	Justification string    `json:"justification"`
	Approver      string    `json:"approver"`
	Expires       time.Time `json:"expires"`
}

// DeclaredKinds are the kinds of things a playbook can declare.
var DeclaredKinds = []string{
	"firewall", "switch", "router", "wifi", "vpn",
	"registrar", "dns-host",
	"m365-tenant", "google-workspace", "saas", "cloud-console",
	"backup-service", "nas", "printer", "telephony", "isp",
	"licence", "contract", "physical",
}

// Declared actions: what switch day asks of an item.
const (
	// DeclaredRotate: change its admin credential(s).
	DeclaredRotate = "rotate"
	// DeclaredRevoke: remove the outgoing provider's account or access.
	DeclaredRevoke = "revoke-provider-account"
	// DeclaredTransfer: move its ownership (registrar account, tenant's
	// global admin, licence holder) to the client.
	DeclaredTransfer = "transfer-ownership"
	// DeclaredNothing: listed in the dossier, nothing to do.
	DeclaredNothing = "nothing"
)

// DeclaredActions lists the actions, in the order the plan lists them.
var DeclaredActions = []string{DeclaredRotate, DeclaredRevoke, DeclaredTransfer, DeclaredNothing}

var declaredID = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

func decodeDeclared(d *Decoder, n *yaml.Node) []Declared {
	var out []Declared
	ids := map[string]Pos{}
	d.Seq(n, "declared", func(item *yaml.Node) {
		x := Declared{Pos: d.Pos(item)}
		var idNode *yaml.Node
		if !d.Map(item, "declared item", map[string]Field{
			"id": {Required: true, Decode: func(n *yaml.Node) {
				idNode = n
				x.ID = d.NonEmpty(n, "declared.id")
				if x.ID != "" && !declaredID.MatchString(x.ID) {
					d.Errorf(n, "declared.id %q: use lower-case letters, digits, ., - and _ (attestations name it)", x.ID)
				}
			}},
			"kind": {Required: true, Decode: func(n *yaml.Node) {
				x.Kind, _ = d.scalar(n, "declared.kind")
				if x.Kind != "" && !slices.Contains(DeclaredKinds, x.Kind) {
					d.Errorf(n, "declared.kind %q is not a known kind%s (known: %s)", x.Kind, Suggest(x.Kind, DeclaredKinds), strings.Join(DeclaredKinds, ", "))
				}
			}},
			"name":          {Required: true, Decode: func(n *yaml.Node) { x.Name = d.NonEmpty(n, "declared.name") }},
			"owner":         {Required: true, Decode: func(n *yaml.Node) { x.Owner = d.NonEmpty(n, "declared.owner") }},
			"credential":    {Decode: func(n *yaml.Node) { x.Credential = d.NonEmpty(n, "declared.credential") }},
			"provider_knew": {Required: true, Decode: func(n *yaml.Node) { x.ProviderKnew = d.Bool(n, "declared.provider_knew") }},
			"action": {Required: true, Decode: func(n *yaml.Node) {
				x.Action = d.OneOf(n, "declared.action", DeclaredActions...)
			}},
			"rotation": {Decode: func(n *yaml.Node) { x.Rotation = d.Duration(n, "declared.rotation") }},
			"notes":    {Decode: func(n *yaml.Node) { x.Notes = d.String(n, "declared.notes") }},
			"waiver": {Decode: func(n *yaml.Node) {
				w := &DeclaredWaiver{}
				d.Map(n, "declared.waiver", map[string]Field{
					"justification": {Required: true, Decode: func(n *yaml.Node) { w.Justification = d.NonEmpty(n, "declared.waiver.justification") }},
					"approver":      {Required: true, Decode: func(n *yaml.Node) { w.Approver = d.NonEmpty(n, "declared.waiver.approver") }},
					"expires":       {Required: true, Decode: func(n *yaml.Node) { w.Expires = d.Date(n, "declared.waiver.expires") }},
				})
				x.Waiver = w
			}},
		}) {
			return
		}
		if x.ProviderKnew && x.Action == DeclaredNothing && x.Waiver == nil {
			d.Errorf(item, "declared item %q: the outgoing provider knew its credential, so action nothing leaves it in the provider's hands: choose rotate, revoke-provider-account or transfer-ownership, or add a waiver", x.ID)
		}
		if idNode != nil && x.ID != "" {
			if prev, dup := ids[x.ID]; dup {
				d.Errorf(idNode, "declared.id %q is already used at %s", x.ID, prev)
			} else {
				ids[x.ID] = d.Pos(idNode)
			}
		}
		out = append(out, x)
	})
	return out
}
