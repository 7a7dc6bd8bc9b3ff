package report_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/report/frenchtest"
	"github.com/handoverhq/handover/handover/report/reporttest"
)

// TestRenderFrenchFindingsOfEveryConnector renders in French the town
// hall's report with what every connector writes, as it writes it: the
// findings' summaries with the step left to do by hand, reasons, facts,
// the plan's before and after, the checks of a re-observation, and the
// engine's failures, skipped changes, residual risks and declared items.
// The HTML and the Markdown must hold none of the tool's English phrases
// (the labels, the presentations, and every wording frenchtest reads
// from the code), and keep the estate's values. (The ssh connector's own
// test renders what its code makes of captured hosts:
// connectors/ssh/french_test.go.)
func TestRenderFrenchFindingsOfEveryConnector(t *testing.T) {
	f, err := reporttest.Write(context.Background(), t.TempDir(), reporttest.Options{Lang: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	r := *f.Report
	r.Dossier = append(append([]connector.Inventory(nil), r.Dossier...), connectorsDossier()...)
	r.Actions = append(append([]report.Action(nil), r.Actions...), connectorsActions()...)
	for _, inv := range r.Dossier[len(f.Report.Dossier):] {
		for _, s := range inv.Systems {
			for _, fd := range s.Findings {
				if fd.Provider {
					r.Outgoing = append(r.Outgoing, report.ProviderAccess{Target: inv.Target, System: s.Name, Finding: fd, Fate: report.FateRemaining})
				}
			}
		}
	}
	r.Deviations.Failures = append(append([]report.Failure(nil), r.Deviations.Failures...),
		report.Failure{Target: "annuaire-ad", System: "dc01", Change: "5f1c2e", Error: "remove-membership CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local in CN=Domain Admins,CN=Users,DC=mairie,DC=local: failed: LDAP Result Code 50 \"Insufficient Access Rights\": 00002098: SecErr: DSID-03150F94"},
		report.Failure{Target: "serveurs", System: "srv-web1", Error: "inventory: ssh 127.0.1.9:22: dial tcp 127.0.1.9:22: connect: connection refused"},
		report.Failure{Target: "declared", Error: "attestation journal attestations.jsonl: record 3: hash chain broken"})
	r.Deviations.Residual = append(append([]string(nil), r.Deviations.Residual...),
		"serveurs/srv-web1 was not covered by this run (inventory: ssh 127.0.1.9:22: dial tcp 127.0.1.9:22: connect: connection refused): check it by hand or run again once it is reachable",
		"coffre/vault remove-grant entity prestanet-ops: policy prestanet-admin: not proven: entity prestanet-ops no longer carries prestanet-admin (re-read) policies: default, prestanet-admin",
		"coffre: manual step coffre.rekey (rotate, Vault unseal key shares), not made by handover: the outgoing provider held unseal key shares and 2 of the 3 needed were handed over (key_shares.shares): handover cannot rekey. With a quorum of the current holders: vault operator rekey -init -key-shares=5 -key-threshold=3 (-pgp-keys for the new holders), then the shares; then declare item coffre.rekey in the playbook and attest it (handover attest)",
		"declared pare-feu (firewall, Pare-feu Stormshield de la mairie): rotate: no written attestation yet (handover attest playbooks/saint-aubin.yaml pare-feu --by NAME --note TEXT)")
	attested := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	r.Declared = []report.DeclaredItem{
		{Item: playbook.Declared{ID: "pare-feu", Kind: "firewall", Name: "Pare-feu Stormshield de la mairie", Owner: "DSI", ProviderKnew: true, Action: playbook.DeclaredRotate},
			Status: report.DeclaredAwaiting, Detail: "rotate: no written attestation yet (handover attest playbooks/saint-aubin.yaml pare-feu --by NAME --note TEXT)"},
		{Item: playbook.Declared{ID: "wifi", Kind: "wifi", Name: "Wi-Fi des agents", Owner: "DSI", ProviderKnew: true, Action: playbook.DeclaredRotate, Rotation: 365 * 24 * time.Hour},
			Status: report.DeclaredStale, Attestation: &report.Attestation{By: "C. Lefèvre", Done: attested, Note: "clé WPA changée"},
			Detail: "attested as done on 2025-01-15, longer ago than its rotation period (365d): due again"},
		{Item: playbook.Declared{ID: "nas", Kind: "storage", Name: "NAS de sauvegarde", Owner: "DSI", Action: playbook.DeclaredRevoke},
			Status: report.DeclaredWaived, Detail: "waived until 2026-06-30 by Claire Lefèvre, DGS: contrat de maintenance en cours"},
	}

	ws, err := frenchtest.ToolWordings(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	phrases := append(englishPhrases(t), frenchtest.AllFragments(ws)...)
	t.Logf("scanning for %d English phrases", len(phrases))
	for _, format := range []string{"html", "md"} {
		b, err := report.Render(&r, format, "fr")
		if err != nil {
			t.Fatal(err)
		}
		text := frenchtest.Text(b, format)
		for _, leak := range frenchtest.Leaks(text, phrases) {
			t.Errorf("%s: English left: %s", format, frenchtest.Where(text, leak))
		}
		// The vault connector's finding kinds are its own words.
		for _, kind := range []string{"userpass-user", "identity-entity", "audit-device", "key-shares", "not-read", "ldap-auth"} {
			if strings.Contains(text, "| "+kind+" |") || strings.Contains(text, "\n"+kind+"\n") {
				t.Errorf("%s: the finding kind %s is printed as it is", format, kind)
			}
		}
		// The steps left to do by hand read in French; what they quote
		// from the estate, and its own errors, stay as they are.
		for _, want := range []string{
			"à la main : examiner le groupe CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local : effacer son managedBy CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local",
			"étape manuelle : donner à Vault un compte de connexion du client (auth/ldap/config binddn, bindpass)",
			"postconf -X always_bcc ; postfix reload",
			"vault operator rekey -init -key-shares=5 -key-threshold=3",
			`LDAP Result Code 50 "Insufficient Access Rights": 00002098: SecErr: DSID-03150F94`,
			"dial tcp 127.0.1.9:22: connect: connection refused",
			`description "Géré par PrestaNet"`,
			// The errors the tool writes read in French; the systems' and
			// the libraries' messages they quote stay as they are.
			"127.0.1.12:22 : aucune réponse SSH dans le délai host_timeout (10s) : dial tcp 127.0.1.12:22: i/o timeout",
			"ssh 127.0.1.13:22 : ssh: handshake failed: la clé d'hôte de 127.0.1.13:22 ne correspond pas : l'hôte présente SHA256:Qm9ndXNLZXlGb3JUZXN0aW5nT25seQ, attendue SHA256:UGlubmVkS2V5SW5Lbm93bkhvc3Rz (/etc/handover/known_hosts:3) ; hôte refusé",
			"commande distante : sudo refusé (code de sortie 1) : sudo: a password is required",
			`ldap ldaps://127.0.0.2:636 : bind CN=handover,OU=Services,DC=mairie,DC=local : LDAP Result Code 49 "Invalid Credentials": 80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563`,
			"le vault à https://127.0.0.3:8200 est scellé (0 parts de clé sur 3 données)",
			`retrait de CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local de CN=Domain Admins,CN=Users,DC=mairie,DC=local : LDAP Result Code 50 "Insufficient Access Rights"`,
			"commande distante : l'hôte n'a pas répondu à temps : context deadline exceeded",
			"/opt/teamviewer ou son répertoire est un lien symbolique : ni suivi, ni modifié",
			"lecture de l'entrée shadow de root : ssh: handshake failed: EOF",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", format, want)
			}
		}
	}
}

// connectorsDossier is what the ldap, mail, vault and dns connectors
// write of an estate, in their words (connectors/*/inventory.go).
func connectorsDossier() []connector.Inventory {
	provider := []string{`name "prestanet-admin" matches outgoing.accounts pattern "prestanet*"`}
	ldap := connector.System{
		Name: "dc01", Kind: "directory", Address: "ldaps://127.0.0.1:636",
		Facts: []connector.Fact{{Name: "dialect", Value: "ad"}, {Name: "admin_groups", Value: "CN=Domain Admins,CN=Users,DC=mairie,DC=local"}, {Name: "accounts", Value: "412"}},
		Accounts: []connector.Account{
			{Name: "CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local", Admin: true, State: "enabled", Provider: true, Reasons: provider,
				AdminVia: []string{"CN=Domain Admins <- CN=GG-Admins-Reseau (transitive membership reported by the server)", "CN=Domain Admins (primary group)"}},
		},
		Findings: []connector.Finding{
			{ID: "account:CN=prestanet-admin", Kind: connector.KindAccount, Object: "CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local", Provider: true, Reasons: provider,
				Summary: "account of the outgoing provider (enabled)"},
			{ID: "membership:1", Kind: connector.KindMember, Object: "CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local", Provider: true, Reasons: provider,
				Summary: "provider account is a member of CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local, which makes it an admin (CN=Domain Admins <- CN=GG-Admins-Reseau)"},
			{ID: "membership:2", Kind: connector.KindMember, Object: "CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local", Provider: true, Reasons: provider,
				Summary: "provider account is the only member of CN=GG-Support,OU=Groupes,DC=mairie,DC=local, which its object class cannot leave empty: CN=GG-Support leaves CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local instead, which ends the provider's rights through it and changes no one else's (CN=Domain Admins <- CN=GG-Admins-Reseau <- CN=GG-Support)"},
			{ID: "membership:3", Kind: connector.KindMember, Object: "CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local", Provider: true, Reasons: provider,
				Summary: "provider account is the only member of the admin group CN=GG-Astreinte,OU=Groupes,DC=mairie,DC=local, which cannot be left empty; the account is locked; by hand: CN=GG-Astreinte,OU=Groupes,DC=mairie,DC=local is an admin group whose only member is the provider's account (its object class needs one): add the member the client wants in it, then remove CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local from it, or delete the group"},
			{ID: "group:CN=GG-Admins-Reseau", Kind: connector.KindPolicy, Object: "CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local", Provider: true,
				Reasons: []string{"managedBy CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local: an account of the outgoing provider", `managedBy CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local: name "prestanet-admin" matches outgoing.accounts pattern "prestanet*"`},
				Summary: `admin chain group CN=GG-Admins-Reseau is the outgoing provider's by what it says (managedBy CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local: an account of the outgoing provider; managedBy CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local: name "prestanet-admin" matches outgoing.accounts pattern "prestanet*"); by hand: review the group CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local: clear its managedBy CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local (on Active Directory: Users and Computers, the group's Managed By tab, Clear, which also removes the manager's right to update the membership list; or remove that ACE from the group's security descriptor)`},
			{ID: "group:CN=GG-Astreinte", Kind: connector.KindPolicy, Object: "CN=GG-Astreinte,OU=Groupes,DC=mairie,DC=local", Provider: true,
				Reasons: []string{`description "Géré par PrestaNet" mentions the provider's name "PrestaNet"`},
				Summary: `admin chain group CN=GG-Astreinte is the outgoing provider's by what it says (description "Géré par PrestaNet" mentions the provider's name "PrestaNet"); by hand: review the group CN=GG-Astreinte,OU=Groupes,DC=mairie,DC=local: its description or info names the outgoing provider: correct it, and check who it lets in`},
			{ID: "credential-age:svc-sauvegarde", Kind: connector.KindCredAge, Object: "CN=svc-sauvegarde,OU=Services,DC=mairie,DC=local",
				Summary: "service account with admin rights: not rotated automatically (an application uses its password); list it in policy.rotate.accounts to rotate it"},
			{ID: "auth-method:insecure-bind", Kind: connector.KindAuth, Object: "CN=handover,OU=Services,DC=mairie,DC=local",
				Summary: "the bind account's password was sent unencrypted (StartTLS unavailable; allow_insecure_bind is set)"},
			{ID: "policy:missing", Kind: connector.KindPolicy, Object: "CN=GG-DSI,OU=Groupes,DC=mairie,DC=local",
				Summary: `admin group "CN=GG-DSI,OU=Groupes,DC=mairie,DC=local" (admin_groups) does not exist in the directory`},
		},
	}
	mail := connector.System{
		Name: "mail2", Kind: "mail", Address: "127.0.0.1:993",
		Facts: []connector.Fact{
			{Name: "domains", Value: "saint-aubin.fr, mairie-saint-aubin.fr"},
			{Name: "auth_cache", Value: "size 10M, ttl 1 hour (default): flushed before every login proof"},
			{Name: "passdb 1", Value: "master passdb passwd-file /etc/dovecot/master-users"},
			{Name: "mailbox accueil@saint-aubin.fr", Value: "1.2 GiB, last login 2026-03-02 09:14, quota *:storage=5G"},
			{Name: "password schemes in /etc/dovecot/users", Value: "SHA512-CRYPT"},
			{Name: "acl", Value: "vfile (IMAP ACLs read from the dovecot-acl files of each mailbox)"},
		},
		Accounts: []connector.Account{{Name: "support-presta@saint-aubin.fr", State: "enabled", Provider: true,
			Reasons: []string{`name "support-presta@saint-aubin.fr" matches outgoing.accounts pattern "*presta*"`}}},
		Findings: []connector.Finding{
			{ID: "master-user:prestanet-support", Kind: connector.KindMaster, Object: "prestanet-support", Provider: true,
				Reasons: []string{`name "prestanet-support" matches outgoing.accounts pattern "prestanet*"`},
				Summary: "master user prestanet-support (/etc/dovecot/master-users): opens every mailbox"},
			{ID: "master-db:/etc/dovecot/master-users", Kind: connector.KindMaster, Object: "/etc/dovecot/master-users", Provider: true,
				Reasons: []string{"every entry is a master user of the outgoing provider: prestanet-support"},
				Summary: "master passdb passwd-file /etc/dovecot/master-users holds only the outgoing provider's master users (prestanet-support)"},
			{ID: "account:support-presta", Kind: connector.KindAccount, Object: "support-presta@saint-aubin.fr", Provider: true,
				Summary: "mailbox support-presta@saint-aubin.fr of the outgoing provider on the client's server (enabled)"},
			{ID: "forward:virtual:secretariat", Kind: connector.KindForward, Object: "secretariat@saint-aubin.fr", Provider: true,
				Reasons: []string{"copies mail to copie@prestanet.fr, in the provider's domain prestanet.fr"},
				Summary: "Postfix virtual_alias_maps (/etc/postfix/virtual): secretariat@saint-aubin.fr -> secretariat@saint-aubin.fr, copie@prestanet.fr"},
			{ID: "forward:always_bcc", Kind: connector.KindForward, Object: "always_bcc", Provider: true,
				Reasons: []string{"copies every message to archive@prestanet.fr, in the provider's domain prestanet.fr"},
				Summary: "Postfix always_bcc = archive@prestanet.fr: a copy of every message"},
			{ID: "unsupported:always_bcc", Kind: connector.KindPolicy, Object: "mail2",
				Summary: "postfix always_bcc = archive@prestanet.fr sends a copy of every message to the provider: remove it from main.cf (postconf -X always_bcc; postfix reload); the connector does not edit main.cf"},
			{ID: "forward:/home/maire/.forward", Kind: connector.KindForward, Object: "/home/maire/.forward", Provider: true,
				Reasons: []string{"forwards to the provider's domain: maire@prestanet.fr"},
				Summary: ".forward /home/maire/.forward -> maire@prestanet.fr"},
			{ID: "sieve:accueil:roundcube", Kind: connector.KindForward, Object: "accueil roundcube", Provider: true,
				Reasons: []string{"sends mail to accueil@prestanet.fr, in the provider's domain prestanet.fr"},
				Summary: `Sieve script "roundcube" of accueil (active): redirect :copy accueil@prestanet.fr (conditional); keep`},
			{ID: "sieve:maire:vieux", Kind: connector.KindForward, Object: "maire vieux",
				Summary: `Sieve script "vieux" of maire cannot be parsed (line 3: unexpected token ';'): it is not changed; read it by hand`},
			{ID: "acl:direction:INBOX", Kind: connector.KindGrant, Object: "direction INBOX", Provider: true,
				Reasons: []string{"mail \"support@prestanet.fr\" is in the provider's domain prestanet.fr"},
				Summary: "IMAP ACL on INBOX of direction: user=support@prestanet.fr may lookup read write (/var/mail/direction/dovecot-acl)"},
			{ID: "directory:accueil", Kind: connector.KindAuth, Object: "accueil@saint-aubin.fr",
				Summary: "mailbox accueil@saint-aubin.fr authenticates in the directory (ldap://127.0.0.1:389, uid=accueil,ou=people,dc=saint-aubin,dc=fr): its password is rotated by target annuaire, and proven here over IMAP; handover holds its current password"},
			{ID: "auth-method:ldap", Kind: connector.KindAuth, Object: "passdb ldap",
				Summary: "passdb ldap /etc/dovecot/dovecot-ldap.conf.ext: mailbox passwords live in the directory; the ldap target rotates them, this connector proves them over IMAP (directory:)"},
			{ID: "account:compta", Kind: connector.KindAuth, Object: "compta@saint-aubin.fr",
				Summary: "the handed-over password of compta@saint-aubin.fr does not log in over IMAP (NO [AUTHENTICATIONFAILED] Authentication failed.): the provider may have changed it"},
		},
	}
	vault := connector.System{
		Name: "vault2", Kind: "vault", Address: "https://127.0.0.1:8201",
		Facts: []connector.Fact{
			{Name: "product", Value: "Vault (version 1.15.6)"},
			{Name: "key_shares", Value: "5 shares, threshold 3"},
			{Name: "ha", Value: "not enabled"},
			{Name: "policy prestanet-admin", Value: "administrator: sys/* [sudo]"},
			{Name: "ldap auth ldap/ tls", Value: "insecure_tls: Vault does not verify the directory's certificate"},
			{Name: "tokens", Value: "42 (0 gone while listing)"},
		},
		Findings: []connector.Finding{
			{ID: "policy:prestanet-admin", Kind: connector.KindPolicy, Object: "prestanet-admin", Provider: true,
				Reasons: []string{`name "prestanet-admin" matches outgoing.accounts pattern "prestanet*"`},
				Summary: "ACL policy of the outgoing provider, administrator: sys/* [sudo]"},
			{ID: "audit-device:prestanet/", Kind: "audit-device", Object: "audit device prestanet/", Provider: true,
				Reasons: []string{"sends to logs.prestanet.fr:514, in the provider's domain prestanet.fr"},
				Summary: "audit device sending Vault's audit log to the outgoing provider (socket); left enabled: it is the only audit device and the playbook names no audit_replacement (manual step: enable the client's own, then disable this one)"},
			{ID: "identity-entity:prestanet-ops", Kind: "identity-entity", Object: "entity prestanet-ops", Provider: true,
				Reasons: []string{"its only policies are the provider's: prestanet-admin"},
				Summary: "identity entity of the outgoing provider, aliases userpass/prestanet"},
			{ID: "userpass-user:prestanet", Kind: "userpass-user", Object: "userpass prestanet", Provider: true,
				Reasons: []string{"its alias belongs to the provider's entity prestanet-ops"},
				Summary: "userpass login of the outgoing provider on auth/userpass, policies prestanet-admin"},
			{ID: "ldap-auth:ldap", Kind: "ldap-auth", Object: "ldap auth ldap/", Provider: true,
				Reasons: []string{"its directory ldap://ldap.prestanet.fr is in the provider's domain prestanet.fr"},
				Summary: "LDAP auth method auth/ldap binds to ldap://ldap.prestanet.fr as cn=vault,dc=prestanet,dc=fr, the outgoing provider's: once that account is rotated or removed on the directory, logins through Vault's LDAP auth fail; manual step: give Vault a bind account of the client's (auth/ldap/config binddn, bindpass)"},
			{ID: "approle:prestanet-backup", Kind: "approle", Object: "approle prestanet-backup", Provider: true,
				Reasons: []string{`name "prestanet-backup" matches outgoing.accounts pattern "prestanet*"`},
				Summary: "AppRole of the outgoing provider on auth/approle, 2 secret-id(s), policies prestanet-admin"},
			{ID: "token:hmac-1", Kind: connector.KindToken, Object: "token hmac-1", Provider: true,
				Reasons: []string{"carries the provider's policy prestanet-admin", "issued by a login of the provider's (auth/userpass/login/prestanet)"},
				Summary: "token prestanet-ops (orphan, periodic 86400 s, expires 2026-04-12T08:30:00Z), policies default, prestanet-admin"},
			{ID: "token:hmac-2", Kind: connector.KindToken, Object: "token hmac-2",
				Summary: "root token root (no expiry), policies root; kept: the connector's own token; not an orphan: revoking its parent (if it is among the revoked tokens) would revoke it too: give handover an orphan token"},
			{ID: "grant:entity:ops", Kind: connector.KindGrant, Object: "entity ops: policy prestanet-admin", Provider: true,
				Reasons: []string{"policy prestanet-admin is the provider's"},
				Summary: "entity ops, kept by the client, carries the provider's policy prestanet-admin"},
			{ID: "key-shares:unseal", Kind: "key-shares", Object: "unseal key shares", Provider: true,
				Reasons: []string{"the playbook declares the provider held key shares (key_shares)"},
				Summary: "unseal key shares (5, threshold 3) held by the outgoing provider (playbook key_shares): whoever holds a quorum can generate a root token until a rekey; 2 share(s) handed over, fewer than the threshold 3: handover cannot rekey (a manual step in the plan)"},
			{ID: "not-read:sys/audit", Kind: "not-read", Object: "sys/audit",
				Summary: `not read: the connector's token lacks "sudo" on sys/audit (403: permission denied)`},
		},
	}
	dns := connector.System{
		Name: "saint-aubin.fr", Kind: "domain",
		Facts: []connector.Fact{{Name: "registrar (RDAP)", Value: "Gandi SAS"}, {Name: "answers over TCP", Value: "true"}},
		Findings: []connector.Finding{
			{ID: "cloud-service:m365", Kind: connector.KindCloudService, Object: "Microsoft 365",
				Summary: "Microsoft 365: mail reception (MX), mail sending (SPF), domain verification (TXT) (3 record(s))",
				Detail:  map[string]string{"service": "Microsoft 365", "roles": "mail reception (MX), mail sending (SPF), domain verification (TXT)", "evidence": "saint-aubin.fr. MX 0 saintaubin-fr.mail.protection.outlook.com.", "vendor": "Microsoft", "source": "https://learn.microsoft.com"}},
			{ID: "dns-record:mx", Kind: connector.KindDNSRecord, Object: "saint-aubin.fr MX", Provider: true,
				Reasons: []string{"mentions the provider's domain prestanet.fr"},
				Summary: "saint-aubin.fr. MX 20 relais.prestanet.fr. (mail reception (MX)) points at the outgoing provider"},
			{ID: "registrar", Kind: connector.KindDNSRecord, Object: "saint-aubin.fr registrar",
				Reasons: []string{"abuse contact on the provider's domain prestanet.fr"},
				Summary: "Gandi SAS: registrar of saint-aubin.fr (RDAP)"},
		},
	}
	// Systems whose inventory failed, with the errors the connectors
	// make of it around the libraries' and the hosts' own messages.
	unreachable := connector.System{Name: "srv-db1", Kind: "host", Address: "127.0.1.12:22",
		Error: "127.0.1.12:22: no SSH answer within host_timeout (10s): dial tcp 127.0.1.12:22: i/o timeout"}
	mismatch := connector.System{Name: "srv-web2", Kind: "host", Address: "127.0.1.13:22",
		Error: "ssh 127.0.1.13:22: ssh: handshake failed: host key of 127.0.1.13:22 does not match: the host presents SHA256:Qm9ndXNLZXlGb3JUZXN0aW5nT25seQ, expected SHA256:UGlubmVkS2V5SW5Lbm93bkhvc3Rz (/etc/handover/known_hosts:3); refusing the host (possible man-in-the-middle, or the host was reinstalled)"}
	sudo := connector.System{Name: "srv-app1", Kind: "host", Address: "127.0.1.14:22",
		Error: "remote command: sudo refused (exit 1): sudo: a password is required"}
	bind := connector.System{Name: "dc02", Kind: "directory", Address: "ldaps://127.0.0.2:636",
		Error: `ldap ldaps://127.0.0.2:636: bind CN=handover,OU=Services,DC=mairie,DC=local: LDAP Result Code 49 "Invalid Credentials": 80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563`}
	sealed := connector.System{Name: "vault3", Kind: "vault", Address: "https://127.0.0.3:8200",
		Error: "vault at https://127.0.0.3:8200 is sealed (0 of 3 key shares given): unseal it, then run again; nothing was read or changed"}
	start := reporttest.Start()
	return []connector.Inventory{
		{Target: "serveurs2", Type: "ssh", Started: start, Finished: start, Systems: []connector.System{unreachable, mismatch, sudo}},
		{Target: "annuaire2", Type: "ldap", Started: start, Finished: start, Systems: []connector.System{bind}},
		{Target: "coffre3", Type: "vault", Started: start, Finished: start, Systems: []connector.System{sealed}},
		{Target: "annuaire-ad", Type: "ldap", Started: start, Finished: start, Systems: []connector.System{ldap}},
		{Target: "messagerie2", Type: "mail", Started: start, Finished: start, Systems: []connector.System{mail}},
		{Target: "coffre2", Type: "vault", Started: start, Finished: start, Systems: []connector.System{vault}},
		{Target: "dns", Type: "dns", Started: start, Finished: start, Systems: []connector.System{dns}},
	}
}

// connectorsActions are changes the connectors plan, with the checks they
// word, and the engine's words for a skipped or a failed change.
func connectorsActions() []report.Action {
	at := reporttest.Start()
	check := func(kind connector.CheckKind, ok bool, what, detail string) connector.Check {
		return connector.Check{Kind: kind, OK: ok, What: what, Detail: detail, At: at}
	}
	act := func(target, system string, a plan.Action, object, before, after string, res plan.Result, errText string, checks ...connector.Check) report.Action {
		ch := plan.Change{Target: target, System: system, Action: a, Object: object, Before: before, After: after}
		ch.MakeID()
		for i := range checks {
			checks[i].Change = ch.ID
		}
		return report.Action{Change: ch, Result: res, Error: errText, Verified: res == plan.Applied, Verification: checks, Started: at, Finished: at}
	}
	return []report.Action{
		act("annuaire-ad", "dc01", plan.RemoveMembership, "CN=GG-Support in CN=GG-Admins-Reseau",
			"CN=GG-Support,OU=Groupes,DC=mairie,DC=local (whose only member is CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local) is a member of CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local",
			"CN=GG-Support,OU=Groupes,DC=mairie,DC=local no longer in CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local; it keeps its member, locked; no other admin loses a right",
			plan.Applied, "",
			check(connector.Present, true, "the client's other admins through CN=GG-Admins-Reseau,OU=Groupes,DC=mairie,DC=local keep their rights (admin groups re-walked)", "2 still admins: CN=dsi,OU=Admins,DC=mairie,DC=local; CN=c.lefevre,OU=Admins,DC=mairie,DC=local")),
		act("annuaire-ad", "dc01", plan.LockAccount, "CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local", "enabled", "disabled (userAccountControl ACCOUNTDISABLE)",
			plan.Applied, "", check(connector.State, true, "account disabled (re-read)", "state disabled")),
		act("annuaire-ad", "dc01", plan.RotatePassword, "CN=admin-mairie,OU=Admins,DC=mairie,DC=local", "password last changed 2019-04-02T10:00:00Z", "new generated password, stored before it is set",
			plan.Applied, "", check(connector.Note, true, "previous password refused by the KDC", "not checked (kerberos: false): the old password was tried with an LDAP simple bind only, which Active Directory lets through for up to 60 minutes after a change (old password allowed period)")),
		act("messagerie2", "mail2", plan.RemoveForward, "virtual_alias_maps secretariat@saint-aubin.fr",
			"Postfix virtual_alias_maps (/etc/postfix/virtual): secretariat@saint-aubin.fr -> secretariat@saint-aubin.fr, copie@prestanet.fr",
			"secretariat@saint-aubin.fr without copie@prestanet.fr (source edited, table rebuilt, postfix reloaded)", plan.Applied, "",
			check(connector.Note, true, "Postfix table hash:/etc/postfix/virtual re-read with postmap -s over SSH: secretariat@saint-aubin.fr no longer sends to copie@prestanet.fr", "")),
		act("messagerie2", "mail2", plan.RemoveGrant, "direction INBOX support@prestanet.fr",
			"IMAP ACL on INBOX of direction: user=support@prestanet.fr may lookup read write (/var/mail/direction/dovecot-acl)",
			"user=support@prestanet.fr has no right on INBOX of direction (doveadm acl delete)", plan.Applied, "",
			check(connector.Present, true, "the mailbox has no ACL file any more", "")),
		act("messagerie2", "mail2", plan.LockAccount, "support-presta@saint-aubin.fr", "login enabled", "login disabled (nologin in /etc/dovecot/users); its mail is kept", plan.Skipped,
			"an earlier rotation on this system is unresolved: outcome unknown, left for recovery: write /etc/dovecot/users: connection reset by peer"),
		act("coffre2", "vault2", plan.RemoveGrant, "entity ops: policy prestanet-admin", "entity ops carries policy prestanet-admin",
			"policies now default", plan.Applied, "", check(connector.State, false, "entity ops no longer carries prestanet-admin (re-read)", "policies: default, prestanet-admin")),
		act("coffre2", "vault2", plan.RevokeToken, "approle/prestanet-backup", "AppRole of the outgoing provider on auth/approle, 2 secret-id(s), policies prestanet-admin", "every secret-id destroyed, role deleted", plan.Applied, "",
			check(connector.Note, true, "role prestanet-backup gone from auth/approle (re-read)", "")),
		// Failed removals and a proof that could not be read, with the
		// errors the connectors make around the systems' own.
		act("annuaire-ad", "dc01", plan.RemoveMembership, "CN=prestanet-admin in CN=Domain Admins", "member of CN=Domain Admins,CN=Users,DC=mairie,DC=local (member)", "not a member", plan.Failed,
			`remove CN=prestanet-admin,OU=Prestataires,DC=mairie,DC=local from CN=Domain Admins,CN=Users,DC=mairie,DC=local: LDAP Result Code 50 "Insufficient Access Rights": 00002098: SecErr: DSID-03150F94`),
		act("serveurs2", "srv-app1", plan.RemoveKey, "SHA256:cHJlc3RhbmV0S2V5", "ssh-ed25519 key SHA256:cHJlc3RhbmV0S2V5 \"support@prestanet.fr\" authorises root (/root/.ssh/authorized_keys)", "removed", plan.Failed,
			"remote command: the host did not answer in time: context deadline exceeded"),
		act("serveurs2", "srv-app1", plan.RemoveAgent, "teamviewer", "package teamviewer 15.51.5 (deb)", "removed", plan.Failed,
			"/opt/teamviewer or its directory is a symbolic link: not followed, not touched"),
		act("serveurs2", "srv-app1", plan.RotatePassword, "root", "password last changed 2021-06-01", "new generated password, stored before it is set", plan.Applied, "",
			check(connector.Note, false, "new credential logs in", "read shadow entry of root: ssh: handshake failed: EOF")),
		act("coffre2", "vault2", plan.RemoveForward, "audit device prestanet/", "audit device sending Vault's audit log to the outgoing provider (socket)", "disabled after the replacement file device client/ is enabled", plan.Failed,
			"the target rejected 3 fresh credentials; the previous one stays current (last reason: permission denied)"),
	}
}
