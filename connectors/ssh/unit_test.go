package ssh

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

func TestSHA512Crypt(t *testing.T) {
	// Expected values from `openssl passwd -6` (glibc's algorithm).
	tests := []struct{ pw, setting, want string }{
		{"Hello world!", "$6$saltstring", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"Hello world!", "$6$rounds=10000$saltstringsaltstring", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{strings.Repeat("p", 100), "$6$x/y.Z", "$6$x/y.Z$FFFFQ.Z77s04dpJwLLFHaPW8NsRoycFQdga4C5K7xehX.tBrsfjg5V2UuM5TSCN26AJNPDnO/ulo4vdM4JSIm1"},
		{"correct horse", "$6$testsalt", "$6$testsalt$cbbwgYyM1LY/2OzxhMS6.YhN4y1/0YkbEVVA20ZiZcSbQjmaejFZKCu7McxdocQYpOVpfUreIWntIDrRnWyt6/"},
	}
	for _, tt := range tests {
		got, err := sha512Crypt([]byte(tt.pw), tt.setting+"$")
		if err != nil || got != tt.want {
			t.Errorf("sha512Crypt(%q, %q) = %q, %v; want %q", tt.pw, tt.setting, got, err, tt.want)
		}
		if m, ok := sha512Matches([]byte(tt.pw), tt.want); !m || !ok {
			t.Errorf("sha512Matches(%q) = %v, %v", tt.pw, m, ok)
		}
		if m, _ := sha512Matches([]byte(tt.pw+"x"), tt.want); m {
			t.Errorf("a wrong password matches %q", tt.want)
		}
	}
}

func TestExpandHosts(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"srv-a", []string{"srv-a"}, ""},
		{"127.0.1.[1-3]", []string{"127.0.1.1", "127.0.1.2", "127.0.1.3"}, ""},
		{"srv-[08-10]", []string{"srv-08", "srv-09", "srv-10"}, ""},
		{"r[1-2]-h[1-2]", []string{"r1-h1", "r1-h2", "r2-h1", "r2-h2"}, ""},
		{"[::1]:2222", []string{"[::1]:2222"}, ""},
		{"srv-[5-1]", nil, "backwards"},
		{"srv-[1-", nil, "[ without ]"},
		{"srv-[a-b]", nil, "whole numbers"},
		{"10.0.[0-255].[0-255]", nil, "more than"},
	}
	for _, tt := range tests {
		got, err := ExpandHosts(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ExpandHosts(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ExpandHosts(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseInventoryFile(t *testing.T) {
	hosts, errs := parseInventoryFile([]byte("# fleet\nweb-[1-2]\ndb 10.0.0.5:2222  # primary\nbad a b\nx-[3-1]\n"))
	var names []string
	for _, h := range hosts {
		names = append(names, h.Name+"="+h.Address+":"+strings.TrimPrefix(joinHostPort("", h.Port), "]:"))
	}
	if !slices.Equal(names, []string{"web-1=web-1::0", "web-2=web-2::0", "db=10.0.0.5::2222"}) {
		t.Errorf("hosts = %v", names)
	}
	if len(errs) != 2 || errs[0].Line != 4 || errs[0].Col != 7 || errs[1].Line != 5 {
		t.Errorf("errors = %+v", errs)
	}
}

func TestBuiltinCatalogIsComplete(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Agents) < 28 {
		t.Fatalf("%d agents, want at least 28", len(c.Agents))
	}
	for _, want := range []string{"teamviewer", "anydesk", "rustdesk", "screenconnect", "connectwise-automate", "splashtop", "ninjarmm", "datto-rmm", "kaseya-vsa", "atera", "tacticalrmm", "meshcentral", "simplehelp", "action1", "pulseway", "syncro", "level", "beyondtrust", "realvnc", "tigervnc", "x11vnc", "chrome-remote-desktop", "nomachine", "zabbix-agent", "nrpe", "check-mk-agent", "salt-minion", "puppet", "amazon-ssm-agent", "teleport"} {
		a, ok := c.Lookup(want)
		if !ok {
			t.Errorf("catalogue lacks %s", want)
			continue
		}
		if a.Vendor == "" || !strings.HasPrefix(a.Source, "https://") || a.Title == "" {
			t.Errorf("%s: incomplete: %+v", want, a)
		}
		if len(a.Packages)+len(a.Units)+len(a.Processes)+len(a.Paths) == 0 {
			t.Errorf("%s: nothing to detect it by", want)
		}
		if !a.Removal.Purge && len(a.Removal.Uninstaller) == 0 && len(a.Removal.Files) == 0 {
			t.Errorf("%s: no way to remove it", want)
		}
	}
}

func TestParseCatalogReportsPositions(t *testing.T) {
	ext := `agents:
  - name: Bad_Name
    title: X
    vendor: Y
    source: http://example.com
    packages: [ok]
    units: []
    processes: []
    paths: [relative/path]
    configs: []
    cron: []
    timers: []
    colour: blue
    removal: {purge: false, uninstaller: "", files: []}
  - name: nothing
    title: N
    vendor: V
    source: https://example.com/doc
    packages: []
    units: []
    processes: []
    paths: []
    configs: []
    cron: []
    timers: []
    removal: {purge: true, uninstaller: "", files: ['/opt/$(reboot)']}
  - name: teamviewer
    title: T
`
	_, ds := ParseCatalog("extra.yaml", []byte(ext))
	want := []string{
		"extra.yaml:2:11: agent name \"Bad_Name\"",
		"extra.yaml:5:13: agent Bad_Name.source",
		"extra.yaml:9:13: agent Bad_Name.paths: \"relative/path\"",
		"extra.yaml:13:5: unknown key \"colour\"",
		"extra.yaml:14:14: agent Bad_Name.removal: give purge: true",
		"extra.yaml:15:5: agent nothing: give at least one of",
		"extra.yaml:26:14: agent nothing.removal: purge: true needs packages",
		"extra.yaml:26:53: agent nothing.removal.files: \"/opt/$(reboot)\": only * and ?",
		"extra.yaml:27:5: agent: missing required key \"configs\"",
	}
	got := strings.Split(ds.Error(), "\n")
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("missing diagnostic %q in:\n%s", w, ds.Error())
		}
	}
}

func TestAuthorizedKeysEditing(t *testing.T) {
	const keep1 = `from="10.0.0.1",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJs6Wc1mAcfYqVvZEM/VmqOVIvQu9bSKhSW1yKXD3eS keep@client` + "\r\n"
	const drop = `command="/usr/local/sbin/backup",no-port-forwarding ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKo4zcyUP0Mn5b2lUHzApJeZ7gcSaDbPEkK2oX+4FzNh backup@prestanet.test` + "\n"
	const comment = "# the client's own keys\n\n"
	const garbage = "not a key line\n"
	const keep2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOrGT7Kj4vTzw9yiZeAXXE6pJmBMe0yIC6E+Y5j2nHXk"
	data := []byte(comment + keep1 + drop + garbage + keep2)
	keys := parseAuthorizedKeys(data)
	if len(keys) != 3 {
		t.Fatalf("parsed %d keys, want 3", len(keys))
	}
	if keys[1].Comment != "backup@prestanet.test" || !slices.Equal(keys[1].Options, []string{`command="/usr/local/sbin/backup"`, "no-port-forwarding"}) || keys[1].Line != 4 {
		t.Errorf("key 2 = %+v", keys[1])
	}
	out, n := removeKeys(data, map[string]bool{keys[1].Fingerprint: true})
	if n != 1 || string(out) != comment+keep1+garbage+keep2 {
		t.Errorf("removeKeys = %d, %q", n, out)
	}
	again, n := removeKeys(out, map[string]bool{keys[1].Fingerprint: true})
	if n != 0 || string(again) != string(out) {
		t.Errorf("second removal changed the file: %q", again)
	}
	added, ok, err := appendKey(out, strings.TrimSuffix(drop[strings.Index(drop, "ssh-ed25519"):], "\n"))
	if err != nil || !ok || string(added) != comment+keep1+garbage+keep2+"\n"+drop[strings.Index(drop, "ssh-ed25519"):] {
		t.Errorf("appendKey = %q, %v, %v", added, ok, err)
	}
	if _, ok, _ := appendKey(added, keep2+" other comment"); ok {
		t.Error("appendKey added a key already present")
	}
}

func TestRemoveLines(t *testing.T) {
	data := []byte("# Supervision Prestanet\nSHELL=/bin/sh\n*/5 * * * * root /usr/bin/call-home\n")
	out, n := removeLines(data, "*/5 * * * * root /usr/bin/call-home")
	if n != 1 || string(out) != "# Supervision Prestanet\nSHELL=/bin/sh\n" {
		t.Errorf("removeLines = %d %q", n, out)
	}
	if !onlyCommentsLeft(out, true) || onlyCommentsLeft(out, false) {
		t.Error("onlyCommentsLeft is wrong about assignments")
	}
}

func TestShellQuoting(t *testing.T) {
	tests := []struct{ in, quote, glob string }{
		{"/opt/teamviewer", "/opt/teamviewer", "/opt/teamviewer"},
		{"/opt/JWrapper-Remote Access", "'/opt/JWrapper-Remote Access'", "/opt/JWrapper-Remote Access"},
		{"/opt/bomgar*", "'/opt/bomgar*'", "/opt/bomgar*"},
		{"it's $(x)", `'it'\''s $(x)'`, "it's $(x)"},
		{"/opt/a[1]", "'/opt/a[1]'", "/opt/a[1]"},
		{`/opt/a[1]\*`, `'/opt/a[1]\*'`, `/opt/a\[1\]\\*`},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.quote {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.quote)
		}
		if got := globLine(tt.in); got != tt.glob {
			t.Errorf("globLine(%q) = %s, want %s", tt.in, got, tt.glob)
		}
	}
}

func TestParseProcNet(t *testing.T) {
	tests := []struct{ proto, line, want string }{
		{"tcp", "   0: 0101007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0", "127.0.1.1:22"},
		{"tcp6", "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42 1 0000000000000000 100 0 0 10 0", "[::]:8080"},
		{"tcp", "   1: 0101007F:0016 0100007F:D2F0 01 00000000:00000000 02:000A7D8E 00000000     0        0 999 4 0000000000000000 20 4 30 10 -1", ""},
	}
	for _, tt := range tests {
		s, ok := parseProcNet(tt.proto, tt.line)
		if got := map[bool]string{true: s.Addr, false: ""}[ok]; got != tt.want {
			t.Errorf("parseProcNet(%s) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestParseCapturedInventories reads inventories captured from the test
// fleet: the output of inventoryScript(BuiltinCatalog()) run with
// "/bin/sh -s" as root on its first three hosts, shadow hashes replaced by
// the hash of "correct horse". Re-capture them when the script's output
// changes.
func TestParseCapturedInventories(t *testing.T) {
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	out := connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}, Domains: []string{"prestanet.test"}, Accounts: []string{"prestanet*"}, KeyComments: []string{"*prestanet*"}})
	tests := []struct {
		file       string
		hostname   string
		agents     []string
		rcPackage  string
		keyFiles   []string
		providerCr []string
	}{
		{"inventory-srv-fichiers-01.txt", "srv-fichiers-01", []string{"teamviewer", "anydesk"}, "", []string{"/root/.ssh/authorized_keys", "/etc/ssh/authorized_keys/root"}, []string{"/etc/cron.d/prestanet-supervision", "/var/spool/cron/crontabs/root"}},
		{"inventory-srv-app-01.txt", "srv-app-01", []string{"rustdesk", "ninjarmm"}, "", []string{"/root/.ssh/authorized_keys"}, []string{"/etc/cron.d/prestanet-supervision"}},
		{"inventory-poste-accueil-01.txt", "poste-accueil-01", []string{"teamviewer", "anydesk"}, "anydesk", []string{"/root/.ssh/authorized_keys", "/etc/ssh/authorized_keys/root"}, []string{"/etc/cron.d/prestanet-supervision"}},
	}
	for _, tt := range tests {
		t.Run(tt.hostname, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			h, err := parseInventory(raw)
			if err != nil {
				t.Fatal(err)
			}
			if h.Hostname != tt.hostname || h.OS["ID"] != "debian" || h.Systemd || h.CPUs == 0 {
				t.Errorf("host facts: %q %v systemd=%v cpus=%d", h.Hostname, h.OS, h.Systemd, h.CPUs)
			}
			sys := buildSystem(h, hostContext{Name: tt.hostname, Outgoing: out, Catalog: cat, AccessUser: "root", Now: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
				Held: func(account, hash string) connector.Held {
					if m, _ := sha512Matches([]byte("correct horse"), hash); m {
						return connector.HeldCurrent
					}
					return connector.HeldDiffers
				}})
			for _, a := range sys.Accounts {
				if a.Admin && a.State == "enabled" && a.Password != nil && a.Password.Held != connector.HeldCurrent {
					t.Errorf("%s: held %q", a.Name, a.Password.Held)
				}
			}
			var agents, files, cron []string
			for _, f := range sys.Findings {
				switch f.Kind {
				case connector.KindAgent:
					agents = append(agents, f.Object)
					if tt.rcPackage == f.Object && !strings.Contains(f.Summary, "dpkg rc") {
						t.Errorf("rc state not said: %s", f.Summary)
					}
				case connector.KindSSHKey:
					if !slices.Contains(files, f.Detail[detailFile]) && f.Detail[detailUser] == "root" {
						files = append(files, f.Detail[detailFile])
					}
				case connector.KindCron:
					if f.Provider {
						cron = append(cron, f.Detail[detailFile])
					}
				}
			}
			slices.Sort(agents)
			want := slices.Clone(tt.agents)
			slices.Sort(want)
			if !slices.Equal(agents, want) {
				t.Errorf("agents = %v, want %v", agents, want)
			}
			slices.Sort(files)
			slices.Sort(tt.keyFiles)
			if !slices.Equal(files, tt.keyFiles) {
				t.Errorf("root's key files = %v, want %v", files, tt.keyFiles)
			}
			if !slices.Equal(cron, tt.providerCr) {
				t.Errorf("provider cron = %v, want %v", cron, tt.providerCr)
			}
			if f := fact(sys, factAccessKeyFile); f != "/root/.ssh/authorized_keys" {
				t.Errorf("access key file = %q", f)
			}
		})
	}
}

func fact(s connector.System, name string) string {
	for _, f := range s.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func TestParseInventoryRejectsTruncatedOutput(t *testing.T) {
	raw, err := os.ReadFile("testdata/inventory-srv-app-01.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseInventory(raw[:len(raw)/2]); err == nil {
		t.Error("a truncated output parsed")
	}
}

func TestSettingsErrors(t *testing.T) {
	const src = `hosts:
  - 127.0.1.[1-3]
  - {name: db, adress: 10.0.0.5}
  - srv-[3-1]
user: admin
auth: {}
host_keys: {127.0.1.1: "MD5:aa", ghost: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
passwords:
  - {account: root, password: hunter2}
parallel: 0
timeout_host: 5s
access_key: {public_key: "ssh-ed25519 nope"}
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	d := playbook.NewDecoder("pb.yaml")
	decodeSettings(d, doc.Content[0], func(s string) string { return s })
	want := []string{
		"pb.yaml:3:16: unknown key \"adress\" in hosts item (did you mean \"address\"?)",
		"pb.yaml:4:5: host pattern \"srv-[3-1]\": range [3-1] goes backwards",
		"pb.yaml:1:1: user \"admin\" is not root: set sudo",
		"pb.yaml:6:7: auth: give key_file, agent: true or password",
		"pb.yaml:7:24: host_keys: \"MD5:aa\" is not a SHA256 fingerprint",
		"pb.yaml:1:1: host_keys names \"ghost\"",
		"pb.yaml:9:31: passwords.password: credentials must be references",
		"pb.yaml:10:11: parallel must be between 1 and 256, not 0",
		"pb.yaml:11:1: unknown key \"timeout_host\"",
		"pb.yaml:12:26: access_key.public_key: not an SSH public key",
		"pb.yaml:2:5: host \"127.0.1.2\": no way to check its host key",
	}
	got := d.Diagnostics().Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

func TestPlanIsIdempotentOnACleanHost(t *testing.T) {
	tg := &target{name: "fleet", s: settings{User: "root", AccessKey: accessKeySettings{User: "root"}}}
	sys := connector.System{Name: "h1", Facts: []connector.Fact{{Name: factAccessKeyFile, Value: "/root/.ssh/authorized_keys"}},
		Accounts: []connector.Account{{Name: "root", Admin: true, State: "enabled", Password: &connector.Password{Held: connector.HeldCurrent, Connector: true}}},
		Findings: []connector.Finding{
			{ID: "ssh-key:root:SHA256:x:/root/.ssh/authorized_keys", Kind: connector.KindSSHKey, Data: keyData{AccessKey: true, User: "root", File: "/root/.ssh/authorized_keys"}},
			{ID: "agent:x", Kind: connector.KindAgent, Object: "x", Provider: false},
		}}
	changes, err := tg.Plan(&connector.Inventory{Systems: []connector.System{sys}}, connector.Decisions{AccessKeyType: "ed25519"})
	if err != nil || len(changes) != 0 {
		t.Errorf("plan = %v, %v; want nothing", changes, err)
	}
	d := connector.Decisions{AccessKeyType: "ed25519", Rotate: []connector.Rotation{{System: "h1", Account: "root", Reason: "admin"}, {System: "down", Account: "root"}}}
	changes, _ = tg.Plan(&connector.Inventory{Systems: []connector.System{sys, {Name: "down", Error: "unreachable"}}}, d)
	if len(changes) != 1 || changes[0].Action != "rotate-password" || !changes[0].Last || changes[0].SecretPath != "fleet/h1/root" {
		t.Errorf("plan = %+v", changes)
	}
}

// TestAccessKeyType: an ed25519 access key unless the host's sshd cannot
// take one (too old, or left out of its accepted algorithms); an asked-for
// RSA key stays RSA.
func TestAccessKeyType(t *testing.T) {
	for _, tt := range []struct {
		banner, algos, want, asked string
	}{
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "", "ed25519", "ed25519"},
		{"SSH-2.0-OpenSSH_8.7", "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256", "ed25519", "ed25519"},
		{"SSH-2.0-OpenSSH_8.7", "ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256", "rsa", "ed25519"}, // FIPS mode
		{"SSH-2.0-OpenSSH_8.7", "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,rsa-sha2-512", "ed25519", "ed25519"},
		{"SSH-2.0-OpenSSH_5.3", "", "rsa", "ed25519"}, // CentOS 6
		{"SSH-2.0-OpenSSH_6.4", "", "rsa", "ed25519"}, // before ed25519
		{"SSH-2.0-OpenSSH_6.6.1", "", "ed25519", "ed25519"},
		{"SSH-2.0-OpenSSH_10.0", "", "ed25519", "ed25519"},
		{"SSH-2.0-dropbear_2022.83", "", "ed25519", "ed25519"},
		{"SSH-2.0-OpenSSH_9.2p1", "", "rsa", "rsa"},
	} {
		h := &hostData{ServerVersion: tt.banner, SSHD: map[string]string{}, Passwd: []passwdEntry{{Name: "root", Home: "/root"}}}
		if tt.algos != "" {
			h.SSHD["pubkeyacceptedalgorithms"] = tt.algos
		}
		sys := buildSystem(h, hostContext{Name: "h", AccessUser: "root", Now: time.Now()})
		tg := &target{name: "fleet", s: settings{User: "root", AccessKey: accessKeySettings{User: "root"}}}
		changes, _ := tg.Plan(&connector.Inventory{Systems: []connector.System{sys}}, connector.Decisions{AccessKeyType: tt.asked})
		if len(changes) != 1 || changes[0].Params["key_type"] != tt.want {
			t.Errorf("%s, accepted %q, asked %q: %+v, want a %s key", tt.banner, tt.algos, tt.asked, changes, tt.want)
		}
	}
}

// An AuthorizedKeysCommand is reported as an access of its own, the
// provider's when it names the provider.
func TestAuthorizedKeysCommandFinding(t *testing.T) {
	out := connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}})
	for _, tc := range []struct {
		cmd             string
		found, provider bool
	}{
		{"none", false, false},
		{"/usr/local/bin/prestanet-keys %u", true, true},
		{"/usr/bin/sss_ssh_authorizedkeys", true, false},
	} {
		h := &hostData{SSHD: map[string]string{"authorizedkeyscommand": tc.cmd}, Shadow: map[string]shadowEntry{}}
		sys := buildSystem(h, hostContext{Name: "h", Outgoing: out, Now: time.Now()})
		i := slices.IndexFunc(sys.Findings, func(f connector.Finding) bool { return f.Kind == connector.KindAuth })
		if (i >= 0) != tc.found || (i >= 0 && sys.Findings[i].Provider != tc.provider) {
			t.Errorf("%q: findings %v, want found=%v provider=%v", tc.cmd, sys.Findings, tc.found, tc.provider)
		}
	}
}

// A process whose command line names the provider is reported once, by a
// stable id, with what looks like a credential hidden; an agent's own
// processes are left to its finding.
func TestProcessFindings(t *testing.T) {
	out := connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}, Domains: []string{"prestanet.fr"}})
	h := &hostData{Procs: []procInfo{
		{PID: 10, Comm: "autossh", Args: "/usr/bin/autossh -M 0 -N -R 2222:localhost:22 tunnel@bastion.prestanet.fr"},
		{PID: 11, Comm: "autossh", Args: "/usr/bin/autossh -M 0 -N -R 2222:localhost:22 tunnel@bastion.prestanet.fr"},
		{PID: 12, Comm: "curl", Args: "curl --token abc123 -d password=hunter2 https://api.prestanet.fr/ping"},
		{PID: 13, Comm: "cron", Args: "/usr/sbin/cron -f"},
		{PID: 14, Comm: "teamviewerd", Args: "/opt/teamviewer/tv_bin/teamviewerd -d --owner=prestanet"},
	}}
	agents := []connector.Finding{{Kind: connector.KindAgent, Data: agentData{Processes: []string{"14:teamviewerd"}}}}
	fs := processFindings(h, hostContext{Outgoing: out}, agents)
	if len(fs) != 2 {
		t.Fatalf("findings: %v", fs)
	}
	if !fs[0].Provider || fs[0].ID != "process:"+shortHash(h.Procs[0].Args) {
		t.Errorf("tunnel: %+v", fs[0])
	}
	if s := fs[1].Summary; strings.Contains(s, "abc123") || strings.Contains(s, "hunter2") || !strings.Contains(s, "password=[redacted]") {
		t.Errorf("a credential shows: %s", s)
	}
}
