// Package reporttest builds realistic signed reports for tests and for the
// documentation's screenshot: a town hall handing its servers, directory,
// mail and vault over from one provider to another, with credentials
// rotated through a real secret store, provider access removed, a failure,
// a waiver, and a real hash-chained journal.
package reporttest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/report"
	"github.com/handoverhq/handover/handover/secret"
)

// Options shape the fixture.
type Options struct {
	Hosts int    // SSH hosts; 0 means 4
	Lang  string // report language; "" means fr
	// Formats is the report's formats (report.Report.Formats); nil: all.
	Formats []string
}

// Fixture is a signed report written to disk.
type Fixture struct {
	Dir      string // holds report/, run/ and key/
	Report   *report.Report
	Files    report.Files
	Key      string // the signing key (0600)
	Identity string
	// Secrets are the credential values used to build the fixture. None
	// may appear in any file of the report.
	Secrets []string
}

// Identity is the signer's principal.
const Identity = "handover@numerique-conseil.fr"

// Start is the run's start time.
func Start() time.Time { return time.Date(2026, 3, 12, 8, 30, 0, 0, time.UTC) }

// Write builds the fixture under dir: the run's journal in dir/run, the
// signing key in dir/key and the signed report in dir/report.
func Write(ctx context.Context, dir string, o Options) (*Fixture, error) {
	if o.Hosts == 0 {
		o.Hosts = 4
	}
	if o.Lang == "" {
		o.Lang = "fr"
	}
	f := &Fixture{Dir: dir, Identity: Identity}
	keyFile, err := writeKey(filepath.Join(dir, "key"))
	if err != nil {
		return nil, err
	}
	f.Key = keyFile
	b := &builder{ctx: ctx, store: secret.NewMemoryStore(), now: Start(), f: f}
	jpath := filepath.Join(dir, "run", "journal.jsonl")
	b.j, err = journal.Create(jpath, "20260312T083000Z-4f2a", "j.martin", b.clock)
	if err != nil {
		return nil, err
	}
	r, err := b.build(o)
	closeErr := b.j.Close()
	if err != nil {
		return nil, err
	}
	if closeErr != nil {
		return nil, closeErr
	}
	signer, err := report.LoadSigner(ctx, playbook.SigningSettings{Key: keyFile, Identity: Identity}, "")
	if err != nil {
		return nil, err
	}
	files, err := report.Write(ctx, filepath.Join(dir, "report"), r, jpath, signer)
	if err != nil {
		return nil, err
	}
	f.Report, f.Files = r, files
	return f, nil
}

func writeKey(dir string) (string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, Identity)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	return file, nil
}

type builder struct {
	ctx   context.Context
	store *secret.MemoryStore
	j     *journal.Journal
	now   time.Time
	f     *Fixture
	r     *report.Report
}

// clock advances three seconds per journal record, like a brisk run.
func (b *builder) clock() time.Time {
	b.now = b.now.Add(3 * time.Second)
	return b.now
}

func (b *builder) rec(r journal.Record) (journal.Record, error) { return b.j.Append(r) }

const (
	tServers = "serveurs"
	tLDAP    = "annuaire"
	tMail    = "messagerie"
	tVault   = "coffre"
	provKey  = "SHA256:Xb3kq2H0pPrestaNetSupportKey0000000000000"
)

func (b *builder) build(o Options) (*report.Report, error) {
	r := &report.Report{
		FormatVersion: report.FormatVersion,
		Tool:          report.Tool{Name: "handover", Version: "1.0.0"},
		Lang:          o.Lang,
		Formats:       o.Formats,
		Handover: playbook.Handover{
			Client:   playbook.Party{Name: "Mairie de Saint-Aubin-sur-Loire", Domain: "saint-aubin.fr", Contact: "Mme Claire Lefèvre, directrice générale des services"},
			Outgoing: playbook.Party{Name: "PrestaNet SARL", Domain: "prestanet.fr", Contact: "support@prestanet.fr"},
			Incoming: playbook.Party{Name: "Numérique Conseil", Domain: "numerique-conseil.fr", Contact: "Julien Martin"},
			Contract: "MAPA-2026-014",
			Date:     Start(),
			Operator: "j.martin",
		},
		Playbook: report.PlaybookInfo{File: "playbooks/saint-aubin.yaml", Hash: "9b1f0c2e4d6a8b0c1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d"},
		Run:      report.Run{ID: "20260312T083000Z-4f2a", Mode: "run", Operator: "j.martin", Started: Start()},
	}
	b.r = r
	if _, err := b.rec(journal.Record{Kind: journal.RunStart, Detail: map[string]string{"playbook": r.Playbook.File}}); err != nil {
		return nil, err
	}
	r.Dossier = []connector.Inventory{b.servers(o.Hosts), b.directory(), b.mail(), b.vault()}
	r.Presentation = report.Present(r.Dossier, describe)
	for _, inv := range r.Dossier {
		if _, err := b.rec(journal.Record{Kind: journal.Inventory, Target: inv.Target, Result: "ok", Detail: map[string]string{"systems": strconv.Itoa(len(inv.Systems))}}); err != nil {
			return nil, err
		}
	}
	if _, err := b.rec(journal.Record{Kind: journal.Planned, Detail: map[string]string{"changes": "planned"}}); err != nil {
		return nil, err
	}
	if err := b.apply(); err != nil {
		return nil, err
	}
	r.After = b.after(r.Dossier)
	r.Deviations.Residual = []string{
		"Le compte « prestanet » du coffre-fort reste actif jusqu'au 30 juin 2026 (dérogation) : à désactiver à l'échéance.",
		"srv-compta1 : la tâche planifiée de PrestaNet n'a pas pu être retirée (fichier verrouillé) ; à traiter sur place.",
	}
	r.Summary = summarise(r)
	r.Run.Result = report.RunPartial
	end, err := b.rec(journal.Record{Kind: journal.RunEnd, Result: plan.Result(r.Run.Result)})
	if err != nil {
		return nil, err
	}
	r.Run.Finished = end.Time
	recs, err := journal.Read(b.j.Path())
	if err != nil {
		return nil, err
	}
	r.Journal = report.Journal{File: report.JournalFile, Head: b.j.Head(), Records: recs}
	return r, nil
}

func (b *builder) servers(n int) connector.Inventory {
	inv := connector.Inventory{Target: tServers, Type: "ssh", Started: Start(), Finished: Start().Add(40 * time.Second)}
	roles := []string{"app", "fichiers", "compta", "etat-civil", "web", "sauvegarde"}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("srv-%s%d", roles[(i-1)%len(roles)], (i-1)/len(roles)+1)
		addr := fmt.Sprintf("127.0.1.%d:22", i+1)
		s := connector.System{
			Name: name, Kind: "host", Address: addr,
			Facts: []connector.Fact{{Name: "os", Value: "Debian GNU/Linux 12 (bookworm)"}, {Name: "kernel", Value: "6.1.0-18-amd64"}, {Name: "hostname", Value: name}},
			Hardware: &connector.Hardware{Vendor: "Dell Inc.", Model: "PowerEdge R250", Serial: fmt.Sprintf("7XK2M%02d", i), CPUModel: "Intel(R) Xeon(R) E-2314", CPUs: 4, MemoryMB: 16384,
				Disks: []connector.Disk{{Name: "sda", SizeMB: 476940, Model: "PERC H355"}}, IPs: []string{fmt.Sprintf("10.12.0.%d", 10+i)}},
			Software: []connector.Package{{Name: "openssh-server", Version: "1:9.2p1-2+deb12u2", State: "ii"}, {Name: "sudo", Version: "1.9.13p3-1+deb12u1", State: "ii"}, {Name: "cron", Version: "3.0pl1-162", State: "ii"}, {Name: "nginx", Version: "1.22.1-9", State: "ii"}, {Name: "postgresql-15", Version: "15.6-0+deb12u1", State: "ii"}, {Name: "rsync", Version: "3.2.7-1", State: "ii"}},
			Services: []connector.Service{{Name: "ssh", Enabled: true, Running: true}, {Name: "cron", Enabled: true, Running: true}, {Name: "nginx", Enabled: true, Running: true}},
			Ports:    []connector.Port{{Proto: "tcp", Addr: "0.0.0.0:22", Process: "sshd"}, {Proto: "tcp", Addr: "0.0.0.0:443", Process: "nginx"}},
			Accounts: []connector.Account{
				{Name: "root", Admin: true, AdminVia: []string{"uid 0"}, State: "enabled"},
				{Name: "admin-mairie", Display: "Service informatique", Admin: true, AdminVia: []string{"sudo group"}, State: "enabled"},
				{Name: "prestanet", Display: "PrestaNet support", Admin: true, AdminVia: []string{"sudo group"}, State: "enabled", Provider: true, Reasons: []string{`name "prestanet" matches outgoing.accounts pattern "prestanet*"`}},
			},
			Findings: []connector.Finding{{ID: "ssh-key:root:" + provKey, Kind: connector.KindSSHKey, Object: "root:" + provKey, Summary: "Clé SSH « support@prestanet.fr » autorisée pour root", Provider: true, Reasons: []string{"comment \"support@prestanet.fr\" is in the provider's domain prestanet.fr"}}},
			Links:    []connector.Link{{To: "ldap://127.0.0.1:389", Kind: "authenticates against"}, {To: "127.0.0.1:25", Kind: "relays mail to"}, {To: "backup.prestanet.fr", Kind: "backs up to"}},
		}
		if i == 1 {
			s.Software = append(s.Software, connector.Package{Name: "teamviewer", Version: "15.51.5", State: "ii"})
			s.Services = append(s.Services, connector.Service{Name: "teamviewerd", Enabled: true, Running: true})
			s.Findings = append(s.Findings, connector.Finding{ID: "agent:teamviewer", Kind: connector.KindAgent, Object: "teamviewer", Summary: "Logiciel de prise en main TeamViewer 15 installé et actif", Provider: true, Reasons: []string{"remote-access agent in the catalogue"}})
		}
		if i == 3 {
			s.Findings = append(s.Findings, connector.Finding{ID: "cron:/etc/cron.d/prestanet-sync", Kind: connector.KindCron, Object: "/etc/cron.d/prestanet-sync", Summary: "Tâche planifiée qui copie /srv vers backup.prestanet.fr chaque nuit", Provider: true, Reasons: []string{"mentions the provider's domain prestanet.fr"}})
		}
		inv.Systems = append(inv.Systems, s)
	}
	return inv
}

func (b *builder) directory() connector.Inventory {
	s := connector.System{
		Name: "directory", Kind: "directory", Address: "ldap://127.0.0.1:389",
		Facts: []connector.Fact{{Name: "server", Value: "OpenLDAP 2.5.13"}, {Name: "naming context", Value: "dc=saint-aubin,dc=fr"}, {Name: "password policy", Value: "ppolicy, 90 days"}},
		Accounts: []connector.Account{
			{Name: "cn=admin,dc=saint-aubin,dc=fr", Display: "LDAP administrator", Admin: true, AdminVia: []string{"rootdn"}, State: "enabled"},
			{Name: "uid=dsi,ou=people,dc=saint-aubin,dc=fr", Display: "Direction des systèmes d'information", Admin: true, AdminVia: []string{"cn=admins"}, State: "enabled"},
			{Name: "uid=prestanet-admin,ou=people,dc=saint-aubin,dc=fr", Display: "PrestaNet", Admin: true, AdminVia: []string{"cn=admins <- cn=admins-reseau"}, State: "enabled", Provider: true, Reasons: []string{`name "prestanet-admin" matches outgoing.accounts pattern "prestanet*"`}},
			{Name: "uid=svc-backup,ou=services,dc=saint-aubin,dc=fr", Display: "Sauvegarde", Service: true, State: "enabled"},
			{Name: "uid=c.lefevre,ou=people,dc=saint-aubin,dc=fr", Display: "Claire Lefèvre", State: "enabled"},
			{Name: "uid=p.garnier,ou=people,dc=saint-aubin,dc=fr", Display: "Paul Garnier", State: "enabled"},
		},
		Findings: []connector.Finding{{ID: "membership:uid=prestanet-admin:cn=admins-reseau", Kind: connector.KindMember, Object: "uid=prestanet-admin,ou=people,dc=saint-aubin,dc=fr", Summary: "prestanet-admin est membre de cn=admins-reseau (administrateurs)", Provider: true, Reasons: []string{"account attributed to the provider"}}},
	}
	return connector.Inventory{Target: tLDAP, Type: "ldap", Started: Start(), Finished: Start().Add(5 * time.Second), Systems: []connector.System{s}}
}

func (b *builder) mail() connector.Inventory {
	s := connector.System{
		Name: "mail", Kind: "mail", Address: "127.0.0.1:993",
		Facts: []connector.Fact{{Name: "server", Value: "Dovecot 2.3.19"}, {Name: "domain", Value: "saint-aubin.fr"}},
		Accounts: []connector.Account{
			{Name: "accueil@saint-aubin.fr", State: "enabled"}, {Name: "secretariat@saint-aubin.fr", State: "enabled"},
			{Name: "maire@saint-aubin.fr", State: "enabled"}, {Name: "postmaster@saint-aubin.fr", Admin: true, AdminVia: []string{"master user"}, State: "enabled"},
		},
		Findings: []connector.Finding{
			{ID: "forward:secretariat@saint-aubin.fr", Kind: connector.KindForward, Object: "secretariat@saint-aubin.fr", Summary: "secretariat@saint-aubin.fr renvoie une copie vers support@prestanet.fr", Provider: true, Reasons: []string{`mail "support@prestanet.fr" is in the provider's domain prestanet.fr`}},
			{ID: "forward:maire@saint-aubin.fr", Kind: connector.KindForward, Object: "maire@saint-aubin.fr", Summary: "maire@saint-aubin.fr renvoie vers cabinet@saint-aubin.fr"},
		},
		Links: []connector.Link{{To: "ldap://127.0.0.1:389", Kind: "authenticates against"}},
	}
	return connector.Inventory{Target: tMail, Type: "mail", Started: Start(), Finished: Start().Add(4 * time.Second), Systems: []connector.System{s}}
}

func (b *builder) vault() connector.Inventory {
	s := connector.System{
		Name: "vault", Kind: "vault", Address: "https://127.0.0.1:8200",
		Facts:    []connector.Fact{{Name: "version", Value: "Vault 1.15.6"}, {Name: "auth methods", Value: "token/, userpass/, approle/"}, {Name: "policies", Value: "default, admin, prestanet-ops, backup"}},
		Accounts: []connector.Account{{Name: "userpass/prestanet", Admin: true, AdminVia: []string{"policy prestanet-ops"}, Provider: true, State: "enabled", Reasons: []string{`name "prestanet" matches outgoing.accounts pattern "prestanet*"`}}},
		Findings: []connector.Finding{
			{ID: "token:accessor:hmac-7c1e", Kind: connector.KindToken, Object: "accessor hmac-7c1e", Summary: "Jeton périodique « prestanet-monitoring » (politique admin)", Provider: true, Reasons: []string{"display name mentions the provider's name \"PrestaNet\""}},
			{ID: "auth-method:userpass/prestanet", Kind: connector.KindAuth, Object: "userpass/prestanet", Summary: "Identifiant userpass « prestanet » (politique prestanet-ops)", Provider: true, Reasons: []string{`name "prestanet" matches outgoing.accounts pattern "prestanet*"`}},
		},
		Links: []connector.Link{{To: "ldap://127.0.0.1:389", Kind: "authenticates against"}},
	}
	return connector.Inventory{Target: tVault, Type: "vault", Started: Start(), Finished: Start().Add(3 * time.Second), Systems: []connector.System{s}}
}

// apply journals and records every action the way the engine does: the new
// secret stored as pending, intent, outcome, verification.
func (b *builder) apply() error {
	r := b.r
	var changes []plan.Change
	for _, s := range r.Dossier[0].Systems {
		changes = append(changes,
			plan.Change{Target: tServers, System: s.Name, Action: plan.RotatePassword, Object: "root", Reason: "administrator account", SecretPath: "saint-aubin/serveurs/" + s.Name + "/root", Before: "mot de passe de 2019", After: "nouveau mot de passe"},
			plan.Change{Target: tServers, System: s.Name, Action: plan.RemoveKey, Object: "root:" + provKey, Before: "clé support@prestanet.fr autorisée", After: "clé retirée", Reason: "provider key", Finding: "ssh-key:root:" + provKey},
			plan.Change{Target: tServers, System: s.Name, Action: plan.LockAccount, Object: "prestanet", Before: "compte actif, groupe sudo", After: "compte verrouillé", Reason: "provider account"},
		)
		for _, f := range s.Findings {
			switch f.Kind {
			case connector.KindAgent:
				changes = append(changes, plan.Change{Target: tServers, System: s.Name, Action: plan.RemoveAgent, Object: "teamviewer", Before: "teamviewer 15.51.5 actif", After: "paquet purgé", Reason: "remote-access agent", Finding: f.ID})
			case connector.KindCron:
				changes = append(changes, plan.Change{Target: tServers, System: s.Name, Action: plan.RemoveCron, Object: f.Object, Before: "tâche active", After: "tâche retirée", Reason: "provider job", Finding: f.ID})
			}
		}
	}
	changes = append(changes,
		plan.Change{Target: tLDAP, System: "directory", Action: plan.RotatePassword, Object: "cn=admin,dc=saint-aubin,dc=fr", Reason: "administrator account", SecretPath: "saint-aubin/annuaire/cn=admin"},
		plan.Change{Target: tLDAP, System: "directory", Action: plan.RemoveMembership, Object: "uid=prestanet-admin,ou=people,dc=saint-aubin,dc=fr", Before: "membre de cn=admins-reseau", After: "retiré du groupe", Reason: "provider admin", Finding: "membership:uid=prestanet-admin:cn=admins-reseau"},
		plan.Change{Target: tLDAP, System: "directory", Action: plan.LockAccount, Object: "uid=prestanet-admin,ou=people,dc=saint-aubin,dc=fr", Before: "actif", After: "verrouillé (pwdAccountLockedTime)", Reason: "provider account"},
		plan.Change{Target: tMail, System: "mail", Action: plan.RotatePassword, Object: "postmaster@saint-aubin.fr", Reason: "master user", SecretPath: "saint-aubin/messagerie/postmaster"},
		plan.Change{Target: tMail, System: "mail", Action: plan.RemoveForward, Object: "secretariat@saint-aubin.fr", Before: "copie vers support@prestanet.fr", After: "aucun renvoi", Reason: "forward to the provider", Finding: "forward:secretariat@saint-aubin.fr"},
		plan.Change{Target: tVault, System: "vault", Action: plan.RevokeToken, Object: "accessor hmac-7c1e", Before: "jeton valide (ttl 768h)", After: "jeton révoqué", Reason: "provider token", Finding: "token:accessor:hmac-7c1e"},
	)
	for i := range changes {
		changes[i].MakeID()
	}
	for _, ch := range changes {
		a, err := b.one(ch)
		if err != nil {
			return err
		}
		r.Actions = append(r.Actions, a)
	}
	waived := plan.Change{Target: tVault, System: "vault", Action: plan.RevokeToken, Object: "userpass/prestanet", Reason: "provider login", Finding: "auth-method:userpass/prestanet"}
	waived.MakeID()
	r.Deviations.Waivers = []plan.Waived{{Change: waived, Justification: "Le contrat de tierce maintenance applicative court jusqu'au 30 juin 2026 ; PrestaNet garde un accès en lecture pour la bascule de la comptabilité.", Approver: "Claire Lefèvre, DGS", Expires: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)}}
	for _, a := range r.Actions {
		if a.Result == plan.Failed {
			r.Deviations.Failures = append(r.Deviations.Failures, report.Failure{Target: a.Change.Target, System: a.Change.System, Change: a.Change.ID, Error: a.Error})
		}
	}
	// The provider's access found, and what became of it.
	byFinding := map[string]report.Action{}
	for _, a := range r.Actions {
		if a.Change.Finding != "" {
			byFinding[a.Change.System+"|"+a.Change.Finding] = a
		}
	}
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			for _, f := range s.Findings {
				if !f.Provider {
					continue
				}
				pa := report.ProviderAccess{Target: inv.Target, System: s.Name, Finding: f, Fate: report.FateRemaining}
				if a, ok := byFinding[s.Name+"|"+f.ID]; ok {
					pa.Change = a.Change.ID
					pa.Fate = report.FateRemoved
					if a.Result == plan.Failed {
						pa.Fate = report.FateFailed
					}
				} else if f.ID == waived.Finding {
					pa.Fate = report.FateWaived
					pa.Change = waived.ID
				}
				r.Outgoing = append(r.Outgoing, pa)
			}
		}
	}
	return nil
}

// one makes a single change's journal records and report action.
func (b *builder) one(ch plan.Change) (report.Action, error) {
	a := report.Action{Change: ch, Attempts: 1}
	intent := journal.Record{Kind: journal.Intent, Target: ch.Target, System: ch.System, Action: string(ch.Action), Object: ch.Object, Change: ch.ID, Attempt: 1}
	if ch.Action == plan.RotatePassword {
		val, err := secret.Generate(rand.Reader, secret.DefaultPolicy())
		if err != nil {
			return a, err
		}
		b.f.Secrets = append(b.f.Secrets, val.Reveal())
		v, err := b.store.PutPending(b.ctx, ch.SecretPath, val, map[string]string{"change": ch.ID})
		if err != nil {
			return a, err
		}
		ref := secret.Ref{Store: "vault", Path: v.Path, Version: v.Version}.String()
		intent.Secret = ref
		a.Secret = ref
	}
	in, err := b.rec(intent)
	if err != nil {
		return a, err
	}
	a.Started = in.Time
	failed := ch.Action == plan.RemoveCron
	result := plan.Applied
	out := journal.Record{Kind: journal.Outcome, Target: ch.Target, System: ch.System, Change: ch.ID}
	if failed {
		result, out.Error = plan.Failed, "rm /etc/cron.d/prestanet-sync: operation not permitted (file is immutable: chattr +i)"
	}
	out.Result = result
	o, err := b.rec(out)
	if err != nil {
		return a, err
	}
	a.Finished, a.Result, a.Error = o.Time, result, out.Error
	if failed {
		return a, nil
	}
	switch ch.Action {
	case plan.RotatePassword:
		a.Verification = []connector.Check{
			{Change: ch.ID, Kind: connector.NewWorks, What: "new credential works", OK: true, Detail: "fresh login with the new password accepted", At: b.now},
			{Change: ch.ID, Kind: connector.OldRejected, What: "old credential rejected", OK: true, Detail: "fresh login with the handed-over password refused", At: b.now},
		}
		if err := b.store.SetState(b.ctx, ch.SecretPath, 1, secret.Current); err != nil {
			return a, err
		}
		b.r.Credentials = append(b.r.Credentials, report.Credential{Target: ch.Target, System: ch.System, Account: ch.Object, Store: "vault", Where: "https://coffre.numerique-conseil.fr:8200 (kv/)", Path: ch.SecretPath, Version: 1, Changed: b.now})
	case plan.RemoveAgent:
		a.Verification = []connector.Check{{Change: ch.ID, Kind: connector.Absent, What: "agent teamviewer: no process left, package purged (ps, dpkg)", OK: true, At: b.now}}
	default:
		a.Verification = []connector.Check{{Change: ch.ID, Kind: connector.Absent, What: string(ch.Action) + " absent on re-inventory", OK: true, At: b.now}}
	}
	a.Verified = true
	if _, err := b.rec(journal.Record{Kind: journal.Verified, Target: ch.Target, System: ch.System, Change: ch.ID, Result: "ok"}); err != nil {
		return a, err
	}
	return a, nil
}

// after is the re-inventory: the provider's removed access is gone; the
// failed cron job and the waived login remain.
func (b *builder) after(before []connector.Inventory) []connector.Inventory {
	var out []connector.Inventory
	for _, inv := range before {
		n := connector.Inventory{Target: inv.Target, Type: inv.Type, Started: b.now, Finished: b.now}
		for _, s := range inv.Systems {
			ns := connector.System{Name: s.Name, Kind: s.Kind, Address: s.Address}
			for _, f := range s.Findings {
				if f.Kind == connector.KindCron || f.Kind == connector.KindAuth || !f.Provider {
					ns.Findings = append(ns.Findings, f)
				}
			}
			n.Systems = append(n.Systems, ns)
		}
		out = append(out, n)
	}
	return out
}

func summarise(r *report.Report) report.Summary {
	var s report.Summary
	at := map[string]int{}
	for _, inv := range r.Dossier {
		at[inv.Target] = len(s.Targets)
		ts := report.TargetSummary{Target: inv.Target, Type: inv.Type, Systems: len(inv.Systems)}
		for _, sys := range inv.Systems {
			if sys.Error == "" {
				ts.Reached++
			}
			for _, f := range sys.Findings {
				if f.Provider {
					ts.Findings++
				}
			}
		}
		s.Targets = append(s.Targets, ts)
	}
	for _, a := range r.Actions {
		ts := &s.Targets[at[a.Change.Target]]
		ts.Planned++
		switch {
		case a.Result.OK():
			ts.Applied++
		case a.Result == plan.Failed:
			ts.Failed++
		}
		if a.Verified {
			ts.Verified++
		}
	}
	for _, w := range r.Deviations.Waivers {
		s.Targets[at[w.Change.Target]].Waived++
	}
	return s
}
