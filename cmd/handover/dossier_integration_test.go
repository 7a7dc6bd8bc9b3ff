package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-ldap/ldap/v3"
	vault "github.com/hashicorp/vault/api"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// dossierPlaybook is the demo's directory and one of its hosts: the
// handover the bundle hands over.
const dossierPlaybook = `version: 1
handover:
  client: {name: Mairie de Saint-Exemple, domain: mairie-saint-exemple.test, contact: dsi@mairie-saint-exemple.test}
  outgoing: {name: Prestanet Informatique, domain: prestanet.test}
  incoming: {name: Nouvelle Infogérance, domain: nouvelle-infogerance.test, contact: contact@nouvelle-infogerance.test}
  contract: "Marché n° 2023-INF-07, clause de réversibilité (art. 14)"
  date: 2026-11-23
state: %[1]s/state
secrets:
  file:
    path: %[1]s/secrets.age
    passphrase: ${file:%[2]s}
signing:
  key: %[3]s
  identity: %[4]s
outgoing:
  names: [Prestanet Informatique, Prestanet]
  domains: [prestanet.test]
  key_comments: ["*@prestanet.test", "*prestanet*"]
  accounts: ["prestanet*"]
  agents: [all]
policy:
  # The accounts named, and each target's own login: what the bundle
  # carries is then the same whatever else the shared estate holds.
  rotate:
    admins: false
    accounts: ["serveurs:root", "annuaire:uid=slefevre,ou=direction,ou=people,dc=mairie-saint-exemple,dc=test"]
  password: {length: 24}
targets:
  - name: annuaire
    type: ldap
    url: ldap://127.0.0.1:10389
    ca_cert: %[5]s
    dialect: openldap
    bind_dn: uid=admin-annuaire,ou=services,dc=mairie-saint-exemple,dc=test
    password: ${file:/var/tmp/handover-testenv/slapd/passwords/admin-annuaire}
    base_dn: dc=mairie-saint-exemple,dc=test
    admin_groups: ["cn=admins,ou=groups,dc=mairie-saint-exemple,dc=test"]
    service_accounts:
      ous: ["ou=services,dc=mairie-saint-exemple,dc=test"]
    accounts:
      - dn: "uid=slefevre,ou=direction,ou=people,dc=mairie-saint-exemple,dc=test"
        password: ${file:/var/tmp/handover-testenv/slapd/passwords/slefevre}
      - dn: "uid=prestanet-admin,ou=partners,dc=mairie-saint-exemple,dc=test"
        password: ${file:/var/tmp/handover-testenv/slapd/passwords/prestanet-admin}
      - dn: "uid=kbenali,ou=services-techniques,ou=people,dc=mairie-saint-exemple,dc=test"
        password: ${file:/var/tmp/handover-testenv/slapd/passwords/kbenali}
      - dn: "uid=jmartin,ou=services-techniques,ou=people,dc=mairie-saint-exemple,dc=test"
        password: ${file:/var/tmp/handover-testenv/slapd/passwords/jmartin}
      - dn: "uid=tech-astreinte,ou=services-techniques,ou=people,dc=mairie-saint-exemple,dc=test"
        password: ${file:/var/tmp/handover-testenv/slapd/passwords/tech-astreinte}
      - dn: "uid=svc-supervision,ou=services,dc=mairie-saint-exemple,dc=test"
        password: ${file:/var/tmp/handover-testenv/slapd/passwords/svc-supervision}
  - name: serveurs
    type: ssh
    hosts: [{name: %[6]s, address: %[7]s}]
    user: root
    auth: {key_file: %[8]s}
    known_hosts: %[9]s
    passwords:
      - {account: root, password: "${file:%[10]s}", hosts: [%[6]s]}
      - {account: %[11]s, password: "${file:%[12]s}", hosts: [%[6]s]}
`

// TestDossierHandoverEndToEnd hands the dossier of a real run over: after
// the run, the bundle goes to an age key and an SSH ed25519 key; each
// opens it, one imports into a fresh file store and the other into the
// test estate's Vault, and a credential read back from each store logs in
// to its target (the host's root over SSH, an LDAP account by a bind). A
// wrong identity and a flipped byte fail; the receipt verifies with stock
// ssh-keygen; the next report lists the export and the receipt; and no
// secret appears in any output or file of the export, the import, the
// receipt or the letters.
func TestDossierHandoverEndToEnd(t *testing.T) {
	env := testenv.Require(t)
	testenv.LockComponent(t, "fleet", true)
	testenv.LockComponent(t, "slapd", true)
	resetComponents(t, "slapd,fleet")
	t.Cleanup(func() { resetComponents(t, "slapd,fleet") })

	dir := t.TempDir()
	h := env.Fleet.Hosts[len(env.Fleet.Hosts)-1]
	hostAddr := strings.Split(h.Addr, ":")[0]
	pb := filepath.Join(dir, "handover.yaml")
	writeFile(t, pb, fmt.Sprintf(dossierPlaybook, dir, env.Operator.PassphraseFile, env.Operator.SigningKey, env.Operator.Identity, env.CACert,
		h.Name, hostAddr, env.Fleet.OperatorKey, env.Fleet.KnownHosts, h.RootPasswordFile, h.Admin, h.AdminPassFile))

	var outputs []string
	step := func(wantCode int, args ...string) string {
		t.Helper()
		out, code, sig := handover(t, nil, args...)
		outputs = append(outputs, out)
		if sig != 0 || code != wantCode {
			t.Fatalf("handover %s: exit %d (signal %v), want %d\n%s", strings.Join(args, " "), code, sig, wantCode, out)
		}
		return out
	}
	step(0, "run", "--yes", pb)

	// The client's trust in its own signing key, as the incoming provider
	// receives it; the incoming provider's keys.
	pub, err := os.ReadFile(env.Operator.SigningPub)
	if err != nil {
		t.Fatal(err)
	}
	clientSigners := filepath.Join(dir, "client_signers")
	writeFile(t, clientSigners, env.Operator.Identity+" "+string(pub))
	ageKey := filepath.Join(dir, "incoming.agekey")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, ageKey, id.String()+"\n")
	sshKey := filepath.Join(dir, "incoming_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "contact@nouvelle-infogerance.test", "-f", sshKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	sshPub, err := os.ReadFile(sshKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	providerSigners := filepath.Join(dir, "provider_signers")
	writeFile(t, providerSigners, "contact@nouvelle-infogerance.test "+string(sshPub))

	st, err := secret.OpenFileStore(filepath.Join(dir, "secrets.age"), secret.FileUnlock{Passphrase: secret.New(testenv.ReadSecret(t, env.Operator.PassphraseFile))})
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "dossier.age")
	out := step(0, "dossier", "export", pb, "--to", id.Recipient().String(), "--to", strings.TrimSpace(string(sshPub)), "-o", bundle)
	if !strings.Contains(out, "annuaire/directory") || !strings.Contains(out, "serveurs/"+h.Name) {
		t.Fatalf("the export did not take both targets' credentials:\n%s", out)
	}

	// Wrong identity, flipped byte: refused, nothing written.
	stranger := filepath.Join(dir, "stranger.agekey")
	sid, _ := age.GenerateX25519Identity()
	writeFile(t, stranger, sid.String()+"\n")
	out, code, _ := handover(t, nil, "dossier", "open", bundle, "--identity", stranger, "--allowed-signers", clientSigners, "--no-receipt")
	outputs = append(outputs, out)
	if code != exitError || !strings.Contains(out, "not encrypted to this identity") {
		t.Errorf("a stranger's key: exit %d\n%s", code, out)
	}
	ct, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	flipped := filepath.Join(dir, "flipped.age")
	ct[len(ct)/2] ^= 0x01
	writeFile(t, flipped, string(ct))
	out, code, _ = handover(t, nil, "dossier", "open", flipped, "--identity", ageKey, "--allowed-signers", clientSigners, "--no-receipt")
	outputs = append(outputs, out)
	if code != exitError || !strings.Contains(out, "damaged or was altered") {
		t.Errorf("a flipped byte: exit %d\n%s", code, out)
	}

	// The age key imports into a fresh file store, signing its receipt
	// with the SSH key.
	fileStore := filepath.Join(dir, "incoming", "creds.age")
	fileSettings := filepath.Join(dir, "file-store.yaml")
	writeFile(t, fileSettings, fmt.Sprintf("secrets:\n  file:\n    path: %s\n    identity: %s\nstate: %s/incoming-state\n", fileStore, ageKey, dir))
	receipt1 := filepath.Join(dir, "receipt-age.json")
	step(0, "dossier", "open", bundle, "--identity", ageKey, "--allowed-signers", clientSigners, "--import", fileSettings,
		"--sign-key", sshKey, "--signer", "contact@nouvelle-infogerance.test", "--receipt", receipt1)

	// The SSH key imports into the test estate's Vault.
	var receipt2 string
	prefix := "handover-dossier/" + filepath.Base(dir)
	t.Run("vault", func(t *testing.T) {
		testenv.RequireVault(t, false)
		testenv.LockComponent(t, "vault", true)
		// What the import wrote under its own prefix goes with the test.
		t.Cleanup(func() { deleteKVTree(t, vaultClient(t, env), "secret", prefix) })
		vaultSettings := filepath.Join(dir, "vault-store.yaml")
		writeFile(t, vaultSettings, fmt.Sprintf("secrets:\n  vault:\n    address: %s\n    prefix: %s\n    token: ${file:%s}\n    ca_cert: %s\nstate: %s/incoming-vault-state\n",
			env.Vault.Addr, prefix, env.Vault.RootTokenFile, env.CACert, dir))
		receipt2 = filepath.Join(dir, "receipt-ssh.json")
		step(0, "dossier", "open", bundle, "--identity", sshKey, "--allowed-signers", clientSigners, "--import", vaultSettings, "--receipt", receipt2)
		vs, err := secret.OpenVaultStore(context.Background(), secret.VaultConfig{Address: env.Vault.Addr, Prefix: prefix, CACert: env.CACert,
			Token: secret.New(testenv.ReadSecret(t, env.Vault.RootTokenFile))})
		if err != nil {
			t.Fatal(err)
		}
		proveLogins(t, env, vs, st, h, hostAddr)
	})
	fs, err := secret.OpenFileStore(fileStore, secret.FileUnlock{IdentityFile: ageKey})
	if err != nil {
		t.Fatal(err)
	}
	proveLogins(t, env, fs, st, h, hostAddr)

	// The receipts verify with stock OpenSSH, and the client records one.
	for _, r := range []string{receipt1, receipt2} {
		if r == "" {
			continue
		}
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", providerSigners, "-I", "contact@nouvelle-infogerance.test", "-n", "handover-receipt", "-s", r+".sig")
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = bytes.NewReader(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("ssh-keygen -Y verify %s: %v\n%s", r, err, out)
		}
	}
	step(0, "dossier", "receipt", "verify", receipt1, "--allowed-signers", providerSigners, "--playbook", pb)
	letters := filepath.Join(dir, "letters")
	step(0, "dossier", "letters", pb, "--format", "html,md", "--return-within", "30 jours", "-o", letters)
	commitment, err := os.ReadFile(filepath.Join(letters, "commitment-fr.md"))
	if err != nil {
		t.Fatal(err)
	}
	remise, err := os.ReadFile(filepath.Join(letters, "remise-en.md"))
	if err != nil {
		t.Fatal(err)
	}
	bsum := sha256File(t, bundle)
	for _, want := range []string{h.Name + ": `root`", "uid=prestanet-admin", "30 jours"} {
		if !bytes.Contains(commitment, []byte(want)) {
			t.Errorf("the commitment does not list %q:\n%s", want, commitment)
		}
	}
	if !bytes.Contains(remise, []byte(bsum)) {
		t.Errorf("the procès-verbal does not name the bundle by its SHA-256 %s", bsum)
	}

	// The next report lists the export and the receipt.
	out = step(0, "run", "--yes", pb)
	m := regexp.MustCompile(`Report:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no report directory:\n%s", out)
	}
	js, err := os.ReadFile(filepath.Join(m[1], "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind": "export"`, `"kind": "receipt"`} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("the next report does not list %s", want)
		}
	}
	step(0, "verify", "--playbook", pb, filepath.Join(m[1], "report.json"))

	// No secret anywhere: every value the client's store holds (the ones
	// handed over included) and the passwords handed over at the start.
	var values []string
	list, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		val, _, err := st.Get(context.Background(), v.Path, v.Version)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, val.Reveal())
	}
	values = append(values, testenv.ReadSecret(t, h.RootPasswordFile), testenv.ReadSecret(t, h.AdminPassFile), testenv.ReadSecret(t, env.Operator.PassphraseFile))
	for _, out := range outputs {
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("a secret value appears in the output of a command")
			}
		}
	}
	scanned := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || p == pb || strings.HasPrefix(filepath.Base(p), "secrets.age") || strings.HasPrefix(p, filepath.Dir(fileStore)+"/") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		for _, v := range values {
			if strings.Contains(string(b), v) {
				t.Errorf("%s contains a secret value", p)
			}
		}
		return nil
	})
	if scanned < 20 {
		t.Errorf("the leak scan looked at %d files only", scanned)
	}
}

// proveLogins reads the imported credentials back from st and logs in
// with them: the host's root over SSH (password authentication, host key
// checked), and every imported LDAP account by a bind over StartTLS.
func proveLogins(t *testing.T, env *testenv.Env, st, client secret.Store, h testenv.Host, hostAddr string) {
	t.Helper()
	ctx := context.Background()
	vs, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ldapOK, sshOK int
	for _, v := range vs {
		if v.State != secret.Current {
			continue
		}
		val, _, err := st.Get(ctx, v.Path, v.Version)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case v.Path == connector.SecretPath("serveurs", h.Name, "root"):
			hk, err := knownhosts.New(env.Fleet.KnownHosts)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ssh.Dial("tcp", hostAddr+":22", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(val.Reveal())}, HostKeyCallback: hk, Timeout: 20 * time.Second})
			if err != nil {
				// Whether the value differs from the client's, or the host
				// no longer takes the client's either.
				cv, cm, cerr := client.Get(ctx, v.Path, 0)
				same := cerr == nil && cv.Equal(val)
				_, clientErr := ssh.Dial("tcp", hostAddr+":22", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(cv.Reveal())}, HostKeyCallback: hk, Timeout: 20 * time.Second})
				t.Errorf("%s: the imported root password does not log in to %s: %v (same value as the client's current %s#%d: %v; the client's value logs in: %v)", st.Kind(), h.Name, err, cm.Path, cm.Version, same, clientErr == nil)
				continue
			}
			c.Close()
			sshOK++
		case v.Meta["target"] == "annuaire" && strings.HasPrefix(v.Meta["object"], "uid="):
			pem, err := os.ReadFile(env.CACert)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			conn, err := ldap.DialURL("ldap://127.0.0.1:10389")
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.StartTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"}); err != nil {
				conn.Close()
				t.Fatalf("StartTLS: %v", err)
			}
			if err := conn.Bind(v.Meta["object"], val.Reveal()); err != nil {
				t.Errorf("%s: the imported password of %s does not bind: %v", st.Kind(), v.Meta["object"], err)
			} else {
				ldapOK++
			}
			conn.Close()
		}
	}
	if sshOK == 0 || ldapOK == 0 {
		t.Errorf("%s store: %d SSH and %d LDAP logins proven with imported credentials; want both", st.Kind(), sshOK, ldapOK)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// deleteKVTree deletes every secret under prefix of a KV version 2 mount,
// all versions and metadata.
func deleteKVTree(t *testing.T, c *vault.Client, mount, prefix string) {
	t.Helper()
	sec, err := c.Logical().List(mount + "/metadata/" + prefix)
	if err != nil {
		t.Errorf("list %s/%s: %v", mount, prefix, err)
		return
	}
	if sec == nil {
		return
	}
	keys, _ := sec.Data["keys"].([]any)
	for _, k := range keys {
		name, _ := k.(string)
		if strings.HasSuffix(name, "/") {
			deleteKVTree(t, c, mount, prefix+"/"+strings.TrimSuffix(name, "/"))
			continue
		}
		if _, err := c.Logical().Delete(mount + "/metadata/" + prefix + "/" + name); err != nil {
			t.Errorf("delete %s/%s/%s: %v", mount, prefix, name, err)
		}
	}
}
