package dovecot

import "github.com/handoverhq/handover/testenv"

// MasterUser is the outgoing provider's master login: with it, "user*"
// MasterUser and the master password open any mailbox.
const (
	MasterUser      = "prestanet-master"
	MasterSeparator = "*"
	// probeUser is the testenv's own login for readiness, kept in a
	// passwd-file of its own so a rotation of a handed-over account never
	// makes a healthy server look dead.
	probeUser = "testenv-probe"
	// mailUID owns every mailbox: nobody/nogroup, above first_valid_uid
	// (500) and with no login on the machine.
	mailUID = 65534
	mailGID = 65534
)

// mailbox is one planted account and its Sieve script, if any.
type mailbox struct {
	Local string // local part; the login is Local@ClientDomain
	Name  string // who or what it is
	// Sieve is the active script's name and body; empty for none.
	ScriptName string
	Script     string
	// Forwards marks a script that redirects to the provider's domain.
	Forwards bool
}

func (m mailbox) login() string { return m.Local + "@" + testenv.ClientDomain }

// mailboxes are the town hall's staff and function mailboxes. Three of them
// carry a redirect the provider set up "temporarily"; one has an honest
// out-of-office reply.
var mailboxes = []mailbox{
	{Local: "sophie.lefevre", Name: "Sophie Lefèvre, responsable informatique"},
	{Local: "karim.benali", Name: "Karim Benali, technicien informatique"},
	{Local: "claire.moreau", Name: "Claire Moreau, directrice générale des services",
		ScriptName: "sauvegarde", Forwards: true,
		Script: `# Copie de sécurité demandée lors de la migration (Prestanet, 2019)
require ["copy"];
redirect :copy "supervision@` + testenv.ProviderDomain + `";
`},
	{Local: "paul.girard", Name: "Paul Girard, instructeur du droit des sols"},
	{Local: "nadia.haddad", Name: "Nadia Haddad, officier d'état civil"},
	{Local: "lucas.bernard", Name: "Lucas Bernard, bibliothécaire"},
	{Local: "martine.roux", Name: "Martine Roux, agent d'accueil"},
	{Local: "olivier.faure", Name: "Olivier Faure, responsable des services techniques"},
	{Local: "mairie", Name: "Boîte générale de la mairie",
		ScriptName: "archivage", Forwards: true,
		Script: `# Archivage externalisé (contrat Prestanet)
require ["copy"];
redirect :copy "archives-mairie@` + testenv.ProviderDomain + `";
`},
	{Local: "mediatheque", Name: "Médiathèque municipale"},
	{Local: "accueil", Name: "Accueil de la mairie",
		ScriptName: "absence",
		Script: `require ["vacation"];
vacation :days 1 :subject "Accueil de la mairie"
  "Bonjour, l'accueil est ouvert du lundi au vendredi de 8h30 à 17h. Nous vous répondrons dès que possible.";
`},
	{Local: "urbanisme", Name: "Service urbanisme",
		ScriptName: "suivi-permis", Forwards: true,
		Script: `# Suivi des dossiers de permis par le prestataire
require ["copy"];
if header :contains "subject" ["permis", "déclaration préalable"] {
  redirect :copy "urbanisme@` + testenv.ProviderDomain + `";
}
`},
}

// Mailbox is a planted mailbox, for the mail host that plants the same
// estate.
type Mailbox = mailbox

// Login is the mailbox's login: its full address.
func (m mailbox) Login() string { return m.login() }

// Mailboxes returns the planted mailboxes.
func Mailboxes() []Mailbox { return append([]Mailbox(nil), mailboxes...) }
