package slapd

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Given names and surnames the staff is drawn from. The lists are fixed so a
// directory of a given size is the same on every machine.
var (
	givenNames = []string{
		"Marie", "Jean", "Nathalie", "Philippe", "Isabelle", "Michel", "Sylvie",
		"Alain", "Catherine", "Patrick", "Françoise", "Nicolas", "Sandrine",
		"Christophe", "Valérie", "Stéphane", "Christine", "Frédéric", "Céline",
		"Laurent", "Aurélie", "Thierry", "Émilie", "Olivier", "Julie", "Éric",
		"Camille", "Sébastien", "Hélène", "David", "Chloé", "Mathieu", "Léa",
		"Antoine", "Manon", "Hugo", "Inès", "Thomas", "Sarah", "Lucas", "Zoé",
		"Romain", "Élodie", "Vincent", "Agnès", "Yannick", "Mélanie", "Pascal",
	}
	surnames = []string{
		"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
		"Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel",
		"Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
		"Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert", "Bonnet",
		"François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau",
		"Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
		"Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine",
		"Chevalier", "Robin", "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer",
		"Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche",
	}
	// titles per service OU, cycled through.
	titles = map[string][]string{
		"accueil":             {"Agent d'accueil", "Chargée d'accueil", "Responsable de l'accueil"},
		"etat-civil":          {"Officier d'état civil", "Agent d'état civil", "Gestionnaire des élections"},
		"urbanisme":           {"Instructeur du droit des sols", "Responsable urbanisme", "Assistante urbanisme"},
		"services-techniques": {"Agent technique", "Responsable des espaces verts", "Électricien", "Technicien bâtiment"},
		"mediatheque":         {"Bibliothécaire", "Assistant de conservation", "Animatrice jeunesse"},
		"direction":           {"Directrice générale des services", "Assistante de direction", "Chargé de communication", "Responsable des finances"},
	}
)

// services are the sub-OUs of ou=people, one per municipal service.
var services = []string{"accueil", "etat-civil", "urbanisme", "services-techniques", "mediatheque", "direction"}

// asciiLower folds "Lefèvre" to "lefevre" and drops what is not a letter,
// the way uids and mail local parts are made from names.
func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		}
	}
	return b.String()
}
