package vault_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/hashicorp/vault/api"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/connector/connectortest"
	"github.com/handoverhq/handover/handover/engine"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/testenv"
)

// TestRekey: when the playbook says the provider held the unseal key
// shares, the run rekeys; the new shares are in the store (never in the
// report); after a seal, the old share no longer unseals and the new ones
// do. A second plan is empty.
func TestRekey(t *testing.T) {
	e := lockVault(t)
	v := e.Vault
	ctx := ctxFor(t, 5*time.Minute)
	_, pb := writePlaybook(t, pbOpts{rekey: true})
	res, store := connectortest.RunOnce(t, registry(), pb)
	var rekey *plan.Change
	for _, a := range res.Actions {
		if a.Change.Action == plan.InstallKey {
			ch := a.Change
			rekey = &ch
			if a.Result != plan.Applied || !a.Verified {
				t.Errorf("rekey: %s %s", a.Result, a.Error)
			}
			kinds := map[connector.CheckKind]bool{}
			for _, c := range a.Verification {
				kinds[c.Kind] = kinds[c.Kind] || c.OK
				t.Logf("check %s %s ok=%v %s", c.Kind, c.What, c.OK, c.Detail)
			}
			if !kinds[connector.NewWorks] || !kinds[connector.OldRejected] {
				t.Errorf("rekey: new-works %v, old-rejected %v", kinds[connector.NewWorks], kinds[connector.OldRejected])
			}
		}
	}
	if rekey == nil {
		t.Fatal("no rekey planned")
	}
	val, _, err := store.Get(ctx, rekey.SecretPath, 0)
	if err != nil {
		t.Fatalf("new shares in the store: %v", err)
	}
	newShares := strings.Fields(val.Reveal())
	oldShare := testenv.ReadSecret(t, v.UnsealKeyFile)
	if len(newShares) != 1 || newShares[0] == oldShare {
		t.Fatalf("the store holds %d new share(s), want 1 different from the old", len(newShares))
	}

	// check (a fresh session): the stored shares work, nothing drifted.
	var lg strings.Builder
	cr, err := session(t, pb, &lg).Check(ctx, engine.CheckOptions{Parallel: 1, NoBaseline: true})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, d := range cr.Drift {
		t.Errorf("check: %s %s: %s", d.Kind, d.Object, d.Detail)
	}

	root := client(t, e, v.RootTokenFile)
	if err := root.Sys().SealWithContext(ctx); err != nil {
		t.Fatalf("seal: %v", err)
	}
	st, err := root.Sys().UnsealWithContext(ctx, oldShare)
	if err == nil && !st.Sealed {
		t.Fatal("the old share still unseals the Vault")
	}
	t.Logf("unseal with the old share: %v", err)
	st, err = root.Sys().UnsealWithContext(ctx, newShares[0])
	if err != nil || st.Sealed {
		t.Fatalf("the new share does not unseal the Vault: %v (sealed %v)", err, st != nil && st.Sealed)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := root.Auth().Token().LookupSelfWithContext(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("vault not serving after the unseal: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, p := inventoryAndPlan(t, pb)
	for _, ch := range p.Changes {
		t.Errorf("second plan: %s %s", ch.Action, ch.Object)
	}
}

// TestRekeyToRecipients: the new shares go one to an age recipient and
// one to an OpenPGP key, encrypted before anything is written: the store
// holds only the encrypted bundle, the report no share; after a seal the
// old share fails, and the two shares, decrypted by their holders'
// private keys, unseal the Vault (threshold 2: both are needed).
func TestRekeyToRecipients(t *testing.T) {
	e := lockVault(t)
	v := e.Vault
	ctx := ctxFor(t, 5*time.Minute)
	dir := t.TempDir()

	ageID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pgpKey, err := openpgp.NewEntity("Maire de Saint-Exemple", "key holder", "maire@mairie-saint-exemple.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "maire.asc")
	var pub bytes.Buffer
	aw, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgpKey.Serialize(aw); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	if err := os.WriteFile(pubFile, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ks := fmt.Sprintf("    key_shares:\n      kind: unseal\n      shares: [\"${file:%s}\"]\n      new_threshold: 2\n      recipients:\n        - {name: DSI, age: %s}\n        - {name: Maire, pgp: %s}\n",
		v.UnsealKeyFile, ageID.Recipient(), pubFile)
	_, pb := writePlaybook(t, pbOpts{keyShares: ks})
	res, store := connectortest.RunOnce(t, registry(), pb)
	var rekey *plan.Change
	for _, a := range res.Actions {
		if a.Change.Action != plan.InstallKey {
			continue
		}
		ch := a.Change
		rekey = &ch
		if a.Result != plan.Applied || !a.Verified {
			t.Errorf("rekey: %s %s", a.Result, a.Error)
		}
		kinds := map[connector.CheckKind]bool{}
		for _, c := range a.Verification {
			kinds[c.Kind] = kinds[c.Kind] || c.OK
			t.Logf("check %s %s ok=%v %s", c.Kind, c.What, c.OK, c.Detail)
		}
		if !kinds[connector.NewWorks] || !kinds[connector.OldRejected] {
			t.Errorf("rekey: new-works %v, old-rejected %v", kinds[connector.NewWorks], kinds[connector.OldRejected])
		}
		if !strings.Contains(ch.After, "DSI (age "+ageID.Recipient().String()) || !strings.Contains(ch.After, "Maire (pgp ") {
			t.Errorf("the plan does not name the recipients: %s", ch.After)
		}
	}
	if rekey == nil {
		t.Fatal("no rekey planned")
	}
	val, _, err := store.Get(ctx, rekey.SecretPath, 0)
	if err != nil {
		t.Fatalf("the encrypted shares in the store: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(val.Reveal()), "\n")
	if len(lines) != 2 {
		t.Fatalf("the store holds %d lines, want one encrypted share per recipient", len(lines))
	}
	var plain []string
	for i, l := range lines {
		_, b64, ok := strings.Cut(l, ": ")
		if !strings.HasPrefix(l, fmt.Sprintf("share %d for ", i+1)) || !ok {
			t.Fatalf("stored line %d is not an encrypted share", i+1)
		}
		ct, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("share %d: %v", i+1, err)
		}
		var r io.Reader
		switch {
		case strings.Contains(l, ", age "):
			r, err = age.Decrypt(bytes.NewReader(ct), ageID)
		case strings.Contains(l, ", pgp "):
			var md *openpgp.MessageDetails
			md, err = openpgp.ReadMessage(bytes.NewReader(ct), openpgp.EntityList{pgpKey}, nil, nil)
			if err == nil {
				r = md.UnverifiedBody
			}
		default:
			t.Fatalf("share %d names no recipient kind", i+1)
		}
		if err != nil {
			t.Fatalf("decrypt share %d with its holder's key: %v", i+1, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, string(b))
	}
	// No plain share in the store's value, the report or the journal.
	oldShare := testenv.ReadSecret(t, v.UnsealKeyFile)
	for _, s := range append([]string{oldShare}, plain...) {
		if strings.Contains(val.Reveal(), s) {
			t.Errorf("a plain share is in the store's value")
		}
		for _, f := range append([]string{res.Journal}, res.Files...) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), s) {
				t.Errorf("a plain share is in %s", f)
			}
		}
	}

	root := client(t, e, v.RootTokenFile)
	if err := root.Sys().SealWithContext(ctx); err != nil {
		t.Fatalf("seal: %v", err)
	}
	if st, err := root.Sys().UnsealWithContext(ctx, oldShare); err == nil && !st.Sealed {
		t.Fatal("the old share still unseals the Vault")
	}
	if _, err := root.Sys().ResetUnsealProcessWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	var st *api.SealStatusResponse
	for i, p := range plain {
		st, err = root.Sys().UnsealWithContext(ctx, p)
		if err != nil {
			t.Fatalf("unseal with decrypted share %d: %v", i+1, err)
		}
		if i == 0 && !st.Sealed {
			t.Fatal("one share unsealed a threshold-2 Vault")
		}
	}
	if st.Sealed {
		t.Fatal("the two decrypted shares do not unseal the Vault")
	}
	waitServing(t, ctx, root)
}

// TestRekeyWithoutQuorum: the playbook says the provider held key shares
// but hands over none: no rekey is planned, the plan lists a manual step
// for the client's key holders, and the run's report records it as a
// deviation (and the completeness as missing).
func TestRekeyWithoutQuorum(t *testing.T) {
	testenv.RequireVault(t, true)
	ks := "    key_shares:\n      kind: unseal\n"
	_, pb := writePlaybook(t, pbOpts{keyShares: ks})
	_, p := inventoryAndPlan(t, pb)
	for _, ch := range p.Changes {
		if ch.Action == plan.InstallKey {
			t.Errorf("a rekey is planned without the quorum: %s", ch.After)
		}
	}
	var step *plan.Manual
	for i, m := range p.Manual {
		if m.Target == "coffre" && m.Item == "coffre.rekey" {
			step = &p.Manual[i]
		}
	}
	if step == nil {
		t.Fatalf("no manual step for the rekey: %+v", p.Manual)
	}
	if step.Status != "awaiting-attestation" || !strings.Contains(step.Detail, "vault operator rekey") || !strings.Contains(step.Detail, "0 of the 1 needed") {
		t.Errorf("manual step: %+v", *step)
	}
}

func waitServing(t *testing.T, ctx context.Context, c *api.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("vault not serving after the unseal: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
