package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/handoverhq/handover/testenv"
)

var atVar = regexp.MustCompile(`@[A-Z_]+@`)

// scriptCmds are the testscript commands that reach the test estate.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"agekey":   agekeyCmd,
	"storeput": storeputCmd,
	"storeget": storegetCmd,
	// testenv sets variables naming the running test estate's last fleet
	// host, the operator's key and files, and the password the outgoing
	// provider handed over for its root account. It fails the script when
	// the estate is not up: such a script never skips.
	"testenv": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg {
			ts.Fatalf("unsupported: ! testenv")
		}
		env, err := testenv.Load()
		if err != nil {
			ts.Fatalf("integration script needs the testenv: %v", err)
		}
		if env.Fleet == nil || len(env.Fleet.Hosts) == 0 || env.Operator == nil {
			ts.Fatalf("the testenv has no fleet: run `make testenv-up`")
		}
		// The fleet in use until the script ends: no other test package
		// resets it meanwhile.
		release, err := testenv.Lock("fleet", false)
		if err != nil {
			ts.Fatalf("testenv: lock the fleet: %v", err)
		}
		ts.Defer(release)
		h := env.Fleet.Hosts[len(env.Fleet.Hosts)-1]
		for k, v := range map[string]string{
			"HOST_NAME":          h.Name,
			"HOST_ADDR":          strings.Split(h.Addr, ":")[0],
			"ROOT_PASSWORD_FILE": h.RootPasswordFile,
			"OPERATOR_KEY":       env.Fleet.OperatorKey,
			"KNOWN_HOSTS":        env.Fleet.KnownHosts,
			"SIGNING_KEY":        env.Operator.SigningKey,
			"IDENTITY":           env.Operator.Identity,
			"PASSPHRASE_FILE":    env.Operator.PassphraseFile,
		} {
			ts.Setenv(k, v)
		}
	},
	// expand FILE replaces each @NAME@ in FILE by the variable NAME (the
	// playbook's own ${...} references stay as they are).
	"expand": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: expand FILE")
		}
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		out := atVar.ReplaceAllStringFunc(string(b), func(m string) string {
			v := ts.Getenv(strings.Trim(m, "@"))
			if v == "" {
				ts.Fatalf("expand: %s is not set", m)
			}
			return v
		})
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(out), 0o600))
	},
	// nosecret SECRETFILE... -- PATH...: no value held in a SECRETFILE
	// appears in any file under the PATHs (files or directories, walked).
	"nosecret": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg {
			ts.Fatalf("unsupported: ! nosecret")
		}
		i := 0
		for i < len(args) && args[i] != "--" {
			i++
		}
		if i == len(args) || i == 0 {
			ts.Fatalf("usage: nosecret SECRETFILE... -- PATH...")
		}
		var values []string
		for _, f := range args[:i] {
			b, err := os.ReadFile(ts.MkAbs(f))
			ts.Check(err)
			v := strings.TrimRight(string(b), "\r\n")
			if v == "" {
				ts.Fatalf("%s holds no value", f)
			}
			values = append(values, v)
		}
		files := 0
		for _, p := range args[i+1:] {
			err := filepath.Walk(ts.MkAbs(p), func(path string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() {
					return err
				}
				files++
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, v := range values {
					if strings.Contains(string(b), v) {
						ts.Fatalf("%s holds a secret value", path)
					}
				}
				return nil
			})
			ts.Check(err)
		}
		if files == 0 {
			ts.Fatalf("nosecret: no file to look at")
		}
	},
}
