package ssh

import (
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// The parsers below read what a host (or a file the operator names) says:
// none may panic or run away on any input. `make fuzz` runs each for a
// bounded time; seeds are the shapes the tests and the test estate use.

func FuzzParseInventory(f *testing.F) {
	f.Add([]byte("@@section users\nroot:x:0:0:root:/root:/bin/bash\n@@section sudoers\n%sudo ALL=(ALL:ALL) ALL\n@@section ps\n1\tsshd\t/usr/sbin/sshd\t-D\n"))
	f.Add([]byte("@@section listen\ntcp 00000000:0016 00000000:0000 0A\n@@file /etc/passwd 644 0 0 12\ncm9vdDp4OjA6MAo=\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		h, err := parseInventory(out)
		if err == nil && h != nil {
			parseGrants(h, connector.NewOutgoing(playbook.Outgoing{Names: []string{"Presta"}}))
		}
	})
}

func FuzzAuthorizedKeys(f *testing.F) {
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxsBHq3g4pCDm2IoyYTYhNGFKTMCtcVXaJVpHNQGMLp support@prestanet.test\n"))
	f.Add([]byte(`command="/bin/true",no-pty,from="10.0.0.0/8" ssh-rsa AAAA x` + "\n# comment\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) { parseAuthorizedKeys(data) })
}

func FuzzSudoers(f *testing.F) {
	f.Add([]byte("User_Alias PRESTA = prestanet, presta2\nPRESTA ALL=(ALL) NOPASSWD: ALL\n#includedir /etc/sudoers.d\n"))
	f.Add([]byte("Defaults\tenv_reset\nroot ALL=(ALL:ALL) ALL \\\n  , /bin/ls\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sudoersLines(data)
		removeSudoersRule(data, "PRESTA ALL=(ALL) NOPASSWD: ALL", "")
	})
}

func FuzzBatchResults(f *testing.F) {
	f.Add([]byte("@@step 1 ok\n@@step 2 fail 1 chpasswd: error\n"))
	f.Fuzz(func(t *testing.T, out []byte) { parseResults(out) })
}

func FuzzCronLines(f *testing.F) {
	f.Add([]byte("*/5 * * * * root curl -u presta:Secret https://x/ > /dev/null\nMAILTO=root\n"), "abc")
	f.Fuzz(func(t *testing.T, data []byte, hash string) {
		removeLines(data, hash)
		for _, l := range []string{string(data)} {
			redactArgs(l)
		}
	})
}

func FuzzAnsibleInventory(f *testing.F) {
	f.Add([]byte("[web]\nsrv-web-[01:02] ansible_port=2222\n[all:children]\nweb\n"))
	f.Add([]byte("all:\n  children:\n    web:\n      hosts:\n        srv-[1:3]: {ansible_host: 10.0.0.1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) { parseAnsibleInventory(data) })
}

func FuzzProxyJump(f *testing.F) {
	f.Add("bastion,admin@10.0.0.1:2222")
	f.Add("[::1]:22,u@h")
	f.Fuzz(func(t *testing.T, v string) {
		parseProxyJump(v, "root", func(a string) (string, int, string) { return a, 0, "" })
	})
}
