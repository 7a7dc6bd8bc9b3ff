package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
)

// KerberosLogin says whether login gets a ticket from the Samba AD DC's
// KDC with password: the test's own observation of an AD password (an
// LDAP simple bind still accepts the previous password for an hour after
// a change, the KDC refuses it at once). Anything but a clear refusal
// fails the test.
func KerberosLogin(t testing.TB, env *Env, login, password string) bool {
	t.Helper()
	cfg := krbconfig.New()
	cfg.LibDefaults.DefaultRealm = env.AD.Realm
	cfg.LibDefaults.UDPPreferenceLimit = 1
	cfg.Realms = []krbconfig.Realm{{Realm: env.AD.Realm, KDC: []string{env.AD.KDC}}}
	cl := krbclient.NewWithPassword(login, env.AD.Realm, password, cfg, krbclient.DisablePAFXFAST(true))
	defer cl.Destroy()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cl.Login() }()
	select {
	case err := <-done:
		if err != nil && !strings.Contains(err.Error(), "KDC_ERR_PREAUTH_FAILED") {
			t.Fatalf("kerberos login %s: %v", login, err)
		}
		return err == nil
	case <-ctx.Done():
		t.Fatalf("kerberos login %s: %v", login, ctx.Err())
		return false
	}
}
