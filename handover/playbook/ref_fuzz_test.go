package playbook

import "testing"

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"${env:X}", "${file:/a b}", "${vault:secret/x#k}", "${prompt:Mot de passe}", "${", "$${env:X}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { ParseRef(s) })
}
