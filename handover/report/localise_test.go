package report

import "testing"

// TestFrenchToolText: the connectors' English phrases read in French, the
// estate's values they quote unchanged; an unknown phrase stays as it is.
func TestFrenchToolText(t *testing.T) {
	for in, want := range map[string]string{
		`name "prestanet" matches outgoing.accounts pattern "prestanet*"`:         `le nom "prestanet" correspond au motif "prestanet*" (outgoing.accounts du playbook)`,
		`comment "support@prestanet.fr" is in the provider's domain prestanet.fr`: `le commentaire "support@prestanet.fr" est dans le domaine du prestataire prestanet.fr`,
		"disabled":                    "désactivé",
		"sshd_passwordauthentication": "sshd : authentification par mot de passe (PasswordAuthentication)",
		"shadow hash of root is the stored password's (re-inventory: /etc/shadow read anew, compared with the store) (store: current)": "l'empreinte de /etc/shadow de root est celle du mot de passe rangé au coffre (nouvel inventaire : /etc/shadow relu et comparé) (coffre : à jour)",
		"account locked (re-read)":                                    "compte verrouillé (relu)",
		"user prestanet: mentions the provider's domain prestanet.fr": "utilisateur prestanet : mentionne le domaine du prestataire prestanet.fr",
		"boite-presta (disabled)":                                     "boite-presta (désactivé)",
		"something new a connector says":                              "something new a connector says",
	} {
		if got := toolText("fr", in); got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
		if got := toolText("en", in); got != in {
			t.Errorf("in English %q became %q", in, got)
		}
	}
}
