package playbook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/playbook"
)

const declaredHead = `version: 1
handover:
  client: {name: Mairie}
  outgoing: {name: Prestanet}
outgoing: {domains: [prestanet.test]}
targets:
  - {name: dns, type: dns}
`

func TestDeclared(t *testing.T) {
	src := declaredHead + `declared:
  - id: pare-feu
    kind: firewall
    name: Pare-feu Stormshield SN310
    owner: DSI
    credential: "KeePass DSI, entrée pare-feu"
    provider_knew: true
    action: rotate
    rotation: 365d
  - id: registrar
    kind: registrar
    name: Compte Gandi
    owner: Secrétariat général
    provider_knew: true
    action: transfer-ownership
    waiver: {justification: "contrat Gandi au nom du prestataire jusqu'au 31/12", approver: Maire, expires: 2027-01-31}
`
	pb, d := playbook.Parse(file, []byte(src))
	if ds := d.Diagnostics(); len(ds) > 0 {
		t.Fatal(ds)
	}
	if len(pb.Declared) != 2 {
		t.Fatalf("declared: %+v", pb.Declared)
	}
	fw := pb.Declared[0]
	if fw.ID != "pare-feu" || fw.Kind != "firewall" || !fw.ProviderKnew || fw.Action != playbook.DeclaredRotate || fw.Rotation != 365*24*time.Hour || fw.Pos != posOf(t, src, "id: pare-feu") {
		t.Errorf("firewall: %+v", fw)
	}
	if w := pb.Declared[1].Waiver; w == nil || w.Approver != "Maire" || w.Expires.Format(time.DateOnly) != "2027-01-31" {
		t.Errorf("waiver: %+v", w)
	}
}

// Every problem of the section comes out at once, each at its place.
func TestDeclaredErrors(t *testing.T) {
	src := declaredHead + `declared:
  - id: wifi
    kind: wfii
    name: Wi-Fi
    owner: DSI
    provider_knew: true
    action: rotate
    colour: blue
  - id: wifi
    kind: nas
    name: NAS
    owner: DSI
    provider_knew: true
    action: nothing
    rotation: soon
  - id: Bad Id
    kind: licence
    name: Licences
    provider_knew: maybe
    action: burn
`
	_, d := playbook.Parse(file, []byte(src))
	got := d.Diagnostics().Error()
	for _, want := range []string{
		posOf(t, src, "wfii").String() + `: declared.kind "wfii" is not a known kind (did you mean "wifi"?)`,
		posOf(t, src, "colour").String() + `: unknown key "colour" in declared item`,
		posOf(t, src, "wifi\n    kind: nas").String() + `: declared.id "wifi" is already used at ` + posOf(t, src, "wifi").String(),
		posOf(t, src, "soon").String() + `: declared.rotation: invalid duration "soon"`,
		posOf(t, src, "id: wifi\n    kind: nas").String() + `: declared item "wifi": the outgoing provider knew its credential, so action nothing`,
		posOf(t, src, "Bad Id").String() + `: declared.id "Bad Id": use lower-case letters`,
		posOf(t, src, "maybe").String() + `: declared.provider_knew must be true or false`,
		posOf(t, src, "burn").String() + `: declared.action must be one of rotate, revoke-provider-account, transfer-ownership, nothing, not "burn"`,
		posOf(t, src, "id: Bad Id").String() + `: declared item: missing required key "owner"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing diagnostic\n  %s\nin:\n%s", want, got)
		}
	}
}
