package ssh

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
)

var persistOutgoing = connector.NewOutgoing(playbook.Outgoing{
	Names: []string{"Prestanet"}, Domains: []string{"prestanet.test"},
	SSHKeys: []string{"SHA256:provider"}, Accounts: []string{"prestanet*"},
})

// persistHost is a host holding one item of each persistence kind, the
// provider's and not.
func persistHost() *hostData {
	file := func(p string, uid int, text string) remoteFile {
		return remoteFile{Kind: "persist", Path: p, UID: uid, Mode: "644", Data: []byte(text)}
	}
	return &hostData{
		PersistRead: true,
		Passwd: []passwdEntry{
			{Name: "root", UID: 0, Home: "/root"},
			{Name: "jdupont", UID: 1002, GID: 1002, Home: "/home/jdupont"},
			{Name: "prestanet", UID: 1001, GID: 1001, Home: "/home/prestanet", Gecos: "Prestanet"},
		},
		Shadow:  map[string]shadowEntry{},
		Enabled: map[string]bool{"sync.service": true}, LiveUnits: map[string]unitState{},
		Linger: []string{"prestanet"},
		SSHDInstances: []sshdInstance{
			{PID: "10", Config: "/etc/ssh/sshd_config", Settings: map[string][]string{}},
			{PID: "20", Config: "/etc/ssh/sshd_support", Settings: map[string][]string{"port": {"2222"}}},
		},
		Persist: []remoteFile{
			file("/etc/systemd/system/sync.service", 0, "[Unit]\nDescription=Sync\n[Service]\nExecStart=/usr/local/sbin/sync --all\n"),
			file("/etc/systemd/system/backup.service", 0, "[Service]\nExecStart=/usr/local/sbin/backup\n"),
			file("/etc/systemd/system/prestanet-x.timer", 0, "[Timer]\nOnCalendar=daily\n"),
			file("/home/prestanet/.config/systemd/user/t.service", 1001, "[Service]\nExecStart=/usr/bin/ssh -N -R 2222:localhost:22 x@example.org\n"),
			file("/etc/systemd/user/g.service", 0, "[Unit]\nDescription=Prestanet agent\n"),
			file("/etc/systemd/system/ssh.service.d/sup.conf", 0, "# Prestanet\n[Service]\nExecStartPost=-/bin/true\n"),
			file("/etc/systemd/system/cron.service.d/x.conf", 0, "[Service]\nExecStart=\nExecStart=/usr/sbin/cron -f -L 15 # prestanet.test\n"),
			file("/etc/systemd/system/getty@tty1.service.d/noclear.conf", 0, "[Service]\nTTYVTDisallocate=no\n"),
			file("/etc/systemd/system/multi-user.target.d/prestanet.conf", 0, "[Unit]\nWants=prestanet.service\n"),
			file("/home/prestanet/.config/systemd/user/t.service.d/o.conf", 1001, "[Service]\nEnvironment=X=1\n"),
			file("/etc/systemd/system/watch.path", 0, "[Unit]\nDescription=Surveillance (Prestanet)\n[Path]\nPathChanged=/etc/passwd\n"),
			file("/etc/profile.d/zz-audit.sh", 0, "# audit\ncurl -fsS https://audit.prestanet.test/login?u=$USER >/dev/null 2>&1 &\nexport EDITOR=vim\n"),
			file("/home/jdupont/.bashrc", 1002, "alias ll='ls -l'\n(/usr/bin/ssh -fN -R 2201:localhost:22 relais@prestanet.test &)\n"),
			file("/etc/environment", 0, "LANG=fr_FR.UTF-8\n"),
			file("/etc/update-motd.d/10-uname", 0, "#!/bin/sh\nuname -snrvm\n"),
			file("/etc/update-motd.d/99-prestanet", 0, "#!/bin/sh\necho 'Support : support@prestanet.test'\n"),
			file("/etc/apt/apt.conf.d/99prestanet", 0, "DPkg::Post-Invoke { \"curl -s https://inv.prestanet.test/apt || true\"; };\n"),
			file("/run/systemd/transient/run-r1.service", 0, "[Service]\nExecStart=/usr/bin/ssh -N -R 2222:localhost:22 support@prestanet.test\n"),
			file("/var/spool/cron/atjobs/a0001", 0, "#!/bin/sh\nLOGNAME=root; export LOGNAME\ncd /root || {\n\t echo 'x' >&2\n\t exit 1\n}\n${SHELL:-/bin/sh} << 'marcinDELIMITER1'\ncurl -u u:s3cret https://maj.prestanet.test/x\nmarcinDELIMITER1\n"),
			file("/etc/rc.local", 0, "#!/bin/sh -e\n/opt/prestanet/tunnel &\nlogger boot\nexit 0\n"),
			file("/etc/init.d/prestanet-agent", 0, "#!/bin/sh\necho\n"),
			file("/etc/init.d/cron", 0, "#!/bin/sh\necho\n"),
			file("/home/jdupont/.ssh/rc", 1002, "logger -t audit $USER\n"),
			file("/home/jdupont/.forward", 1002, "\\jdupont\nsupport@prestanet.test\n"),
			file("/etc/pam.d/sshd", 0, "@include common-auth\nsession optional pam_exec.so /usr/local/sbin/prestanet-notify\nauth required /opt/prestanet/pam_x.so\nauth [success=1 default=ignore] /opt/other/pam_y.so\nauth required pam_unix.so\n"),
			file("/etc/ld.so.preload", 0, "/usr/local/lib/libprestanet.so\n/usr/lib/libok.so\n"),
			file("/etc/ssh/sshd_config", 0, "Port 22\nMatch User prestanet\n\tForceCommand /bin/true\nMatch all\nAuthorizedPrincipalsFile /etc/ssh/principals/%u\n"),
			file("/etc/ssh/sshd_support", 0, "# Prestanet\nPort 2222\n"),
			file("/etc/wireguard/wg0.conf", 0, "[Interface]\nPrivateKey = c2VjcmV0\n[Peer]\nEndpoint = vpn.prestanet.test:51820\n"),
			file("/etc/openvpn/client/x.conf", 0, "client\nremote vpn.example.org 1194\n"),
			{Kind: "called", Path: "/usr/local/sbin/sync", Data: []byte("#!/bin/sh\nrsync -a / nas.prestanet.test:\n")},
			{Kind: "called", Path: "/usr/local/sbin/backup", Data: []byte("#!/bin/sh\ntar c /etc\n")},
		},
	}
}

// TestPersistenceRules: each kind is found, attributed by what it says,
// what it calls, its name or its owner, and planned for removal or left
// with the step to take by hand, as the rules say.
func TestPersistenceRules(t *testing.T) {
	h := persistHost()
	fs := persistFindings(h, hostContext{Outgoing: persistOutgoing}, nil, map[string]bool{"prestanet": true}, nil)
	byID := map[string]connector.Finding{}
	for _, f := range fs {
		byID[f.ID] = f
	}
	tests := []struct {
		id       string
		provider bool
		action   plan.Action // "": no change
		manual   bool
		why      string // a reason contains it
	}{
		{"service:sync.service", true, plan.RemovePersistence, false, "calls /usr/local/sbin/sync, which mentions the provider's domain"},
		{"service:prestanet-x.timer", true, plan.RemovePersistence, false, "its name"},
		{"service:prestanet:t.service", true, plan.RemovePersistence, false, "provider's account prestanet"},
		{"service:user:g.service", true, "", true, "name"},
		{"dropin:ssh.service:sup.conf", true, plan.RemovePersistence, false, "name"},
		{"dropin:cron.service:x.conf", true, plan.RemovePersistence, false, "domain"},
		{"dropin:prestanet:t.service:o.conf", true, "", true, "provider's account prestanet"},
		{"service:watch.path", true, plan.RemovePersistence, false, "name"},
		{"service:run-r1.service", true, plan.RemovePersistence, false, "domain"},
		{"persistence:/etc/profile.d/zz-audit.sh:" + shortHash("curl -fsS https://audit.prestanet.test/login?u=$USER >/dev/null 2>&1 &"), true, plan.RemovePersistence, false, "domain"},
		{"persistence:/home/jdupont/.bashrc:" + shortHash("(/usr/bin/ssh -fN -R 2201:localhost:22 relais@prestanet.test &)"), true, plan.RemovePersistence, false, "domain"},
		{"hook:/etc/update-motd.d/99-prestanet", true, plan.RemovePersistence, false, "domain"},
		{"hook:/etc/apt/apt.conf.d/99prestanet", true, "", true, "domain"},
		{"at:/var/spool/cron/atjobs/a0001", true, plan.RemoveCron, false, "domain"},
		{"init:prestanet-agent", true, plan.RemovePersistence, false, "name"},
		{"forward:/home/jdupont/.forward:" + shortHash("support@prestanet.test"), true, plan.RemoveForward, false, "forwards to support@prestanet.test"},
		{"forward:/home/jdupont/.forward:" + shortHash(`\jdupont`), false, "", false, ""},
		{"persistence:/etc/rc.local:" + shortHash("/opt/prestanet/tunnel &"), true, plan.RemovePersistence, false, "name"},
		{"persistence:/etc/rc.local:" + shortHash("logger boot"), false, "", false, ""},
		{"persistence:/home/jdupont/.ssh/rc:" + shortHash("logger -t audit $USER"), false, "", false, ""},
		{"pam:/etc/pam.d/sshd:" + shortHash("session optional pam_exec.so /usr/local/sbin/prestanet-notify"), true, plan.RemovePersistence, false, "name"},
		{"pam:/etc/pam.d/sshd:" + shortHash("auth required /opt/prestanet/pam_x.so"), true, "", true, "name"},
		{"pam:/etc/pam.d/sshd:" + shortHash("auth [success=1 default=ignore] /opt/other/pam_y.so"), false, "", false, ""},
		{"preload:" + shortHash("/usr/local/lib/libprestanet.so"), true, plan.RemovePersistence, false, "name"},
		{"preload:" + shortHash("/usr/lib/libok.so"), false, "", false, ""},
		{"sshd:/etc/ssh/sshd_config:" + shortHash("ForceCommand /bin/true"), true, "", true, "Match block"},
		{"sshd:/etc/ssh/sshd_config:" + shortHash("AuthorizedPrincipalsFile /etc/ssh/principals/%u"), false, "", false, ""},
		{"sshd-instance:/etc/ssh/sshd_support", true, plan.RemovePersistence, false, "its configuration"},
		{"tunnel:/etc/wireguard/wg0.conf", true, "", true, "connects to vpn.prestanet.test:51820"},
		{"tunnel:/etc/openvpn/client/x.conf", false, "", false, ""},
	}
	for _, tt := range tests {
		f, ok := byID[tt.id]
		if !ok {
			t.Errorf("%s: not found", tt.id)
			continue
		}
		if f.Provider != tt.provider {
			t.Errorf("%s: provider=%v, want %v (reasons %q)", tt.id, f.Provider, tt.provider, f.Reasons)
		}
		if tt.why != "" && !slices.ContainsFunc(f.Reasons, func(r string) bool { return strings.Contains(r, tt.why) }) {
			t.Errorf("%s: reasons %q, want one saying %q", tt.id, f.Reasons, tt.why)
		}
		d, _ := f.Data.(persistData)
		ch, planned := persistChange(f, d)
		switch {
		case tt.action == "" && planned && f.Provider:
			t.Errorf("%s: planned %s, want none", tt.id, ch.Action)
		case tt.action != "" && (!planned || ch.Action != tt.action):
			t.Errorf("%s: planned %v %s, want %s", tt.id, planned, ch.Action, tt.action)
		}
		if tt.manual != (f.Detail["manual"] != "") {
			t.Errorf("%s: manual step %q, want one: %v", tt.id, f.Detail["manual"], tt.manual)
		}
		for _, s := range []string{f.Summary, strings.Join(f.Reasons, " "), ch.Before, ch.After} {
			if strings.Contains(s, "s3cret") || strings.Contains(s, "c2VjcmV0") {
				t.Errorf("%s: a secret in %q", tt.id, s)
			}
		}
	}
	for id, restart := range map[string]string{"dropin:ssh.service:sup.conf": "", "dropin:cron.service:x.conf": "yes"} {
		f := byID[id]
		ch, _ := persistChange(f, f.Data.(persistData))
		if ch.Params["restart"] != restart || ch.Params["unit"] != strings.Split(id, ":")[1] {
			t.Errorf("%s: restart=%q unit=%q, want restart=%q (%s)", id, ch.Params["restart"], ch.Params["unit"], restart, ch.After)
		}
	}
	for _, id := range []string{"dropin:getty@tty1.service:noclear.conf", "hook:/etc/update-motd.d/10-uname",
		"persistence:/etc/profile.d/zz-audit.sh:" + shortHash("export EDITOR=vim"), "persistence:/home/jdupont/.bashrc:" + shortHash("alias ll='ls -l'"),
		"persistence:/etc/environment:" + shortHash("LANG=fr_FR.UTF-8")} {
		if _, ok := byID[id]; ok {
			t.Errorf("the host's own %s is listed", id)
		}
	}
	if _, ok := byID["init:cron"]; ok {
		t.Error("the distribution's init script cron is listed")
	}
	if _, ok := byID["service:backup.service"]; ok {
		t.Error("the host's own unit backup.service is listed")
	}
	if f := byID["service:prestanet:t.service"]; !strings.Contains(f.Summary, "lingers") {
		t.Errorf("a lingering account's unit does not say so: %s", f.Summary)
	}
}

// TestPersistGoneNeedsARead: a removal proven on a re-inventory that did
// not read the persistence files fails, naming why; one that read them and
// finds the line gone passes, naming the file.
func TestPersistGoneNeedsARead(t *testing.T) {
	ch := plan.Change{Action: plan.RemovePersistence, Finding: "persistence:/etc/rc.local:x", Object: "/etc/rc.local #abc",
		Params: map[string]string{"file": "/etc/rc.local", "op": persistLine, "hash": lineHash("/opt/prestanet/tunnel &")}}
	if c := persistGone(&hostData{}, nil, ch); c[0].ok || !strings.Contains(c[0].detail, "did not read") {
		t.Errorf("unread: %+v", c)
	}
	h := &hostData{PersistRead: true, Persist: []remoteFile{{Kind: "persist", Path: "/etc/rc.local", Data: []byte("logger boot\n")}}}
	if c := persistGone(h, nil, ch); !c[0].ok || !strings.Contains(c[0].detail, "/etc/rc.local read") {
		t.Errorf("gone: %+v", c)
	}
	h.Persist[0].Data = []byte("  /opt/prestanet/tunnel &\n")
	if c := persistGone(h, nil, ch); c[0].ok {
		t.Errorf("still there: %+v", c)
	}
	unit := plan.Change{Action: plan.RemovePersistence, Finding: "service:x.service", Params: map[string]string{"file": "/etc/systemd/system/x.service", "op": persistUnit, "unit": "x.service"}}
	h = &hostData{PersistRead: true, Systemd: true, Enabled: map[string]bool{"x.service": true}, LiveUnits: map[string]unitState{"x.service": {Active: "active", Sub: "running"}}}
	for _, c := range persistGone(h, nil, unit)[1:] {
		if c.ok {
			t.Errorf("enabled and active, yet %q passes: %s", c.what, c.detail)
		}
	}
}

// TestAccountsByEvidenceRules: an account is the provider's by its GECOS,
// or when the provider's keys are its only login means; never root, nor
// an account with a usable password or a key of its own; a second uid 0
// is a finding of its own, and a shared uid's lock keeps the sessions.
func TestAccountsByEvidenceRules(t *testing.T) {
	keys := func(owner string, lines ...string) remoteFile {
		return remoteFile{Kind: "authorized_keys", Owner: owner, Path: "/home/" + owner + "/.ssh/authorized_keys", Data: []byte(strings.Join(lines, "\n") + "\n")}
	}
	prov := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGrKPWOR2m5xN6HkRSe6Mhk6mpBQn4h2DqpzXqtS8Ppm support@prestanet.test"
	own := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqcDOl/0uVZVW+G1qgZuHYrnNb3q0JEzDN6W+m5HGE7 jdupont@mairie.test"
	h := &hostData{
		Passwd: []passwdEntry{
			{Name: "root", UID: 0, Home: "/root"},
			{Name: "svc-backup", UID: 988, Home: "/home/svc-backup"},
			{Name: "svc-both", UID: 987, Home: "/home/svc-both"},
			{Name: "svc-pw", UID: 986, Home: "/home/svc-pw"},
			{Name: "systemd-netsync", UID: 989, Gecos: "Synchro Prestanet,,,", Home: "/"},
			{Name: "toor", UID: 0, Gecos: "Astreinte Prestanet", Home: "/root"},
			{Name: "sysop", UID: 0, Gecos: "Exploitation", Home: "/root"},
		},
		Shadow: map[string]shadowEntry{
			"root": {Hash: "$6$x$y", Expire: -1}, "svc-backup": {Hash: "*", Expire: -1}, "svc-both": {Hash: "!", Expire: -1}, "svc-pw": {Hash: "$6$a$b", Expire: -1},
			"systemd-netsync": {Hash: "*", Expire: -1}, "toor": {Hash: "*", Expire: -1}, "sysop": {Hash: "*", Expire: -1},
		},
		Files: []remoteFile{
			keys("root", prov), keys("svc-backup", prov), keys("svc-both", prov, own), keys("svc-pw", prov),
			{Kind: "sudoers", Path: "/etc/sudoers", Data: []byte("root ALL=(ALL:ALL) ALL\nsvc-backup, jdupont ALL=(ALL) NOPASSWD: ALL\n")},
		},
		FilesRead: true,
	}
	sys := buildSystem(h, hostContext{Name: "h", Outgoing: persistOutgoing, Now: time.Now()})
	byID := map[string]connector.Finding{}
	for _, f := range sys.Findings {
		byID[f.ID] = f
	}
	for name, want := range map[string]bool{"root": false, "svc-backup": true, "svc-both": false, "svc-pw": false, "systemd-netsync": true, "toor": true, "sysop": false} {
		if _, got := byID["account:"+name]; got != want {
			t.Errorf("account %s: the provider's = %v, want %v (%v)", name, got, want, byID["account:"+name].Reasons)
		}
	}
	if f, ok := byID["uid0:sysop"]; !ok || f.Detail["manual"] == "" {
		t.Errorf("a second uid 0 (sysop) is not a finding with the step to take: %+v", f)
	}
	if _, ok := byID["uid0:toor"]; ok {
		t.Error("toor, the provider's, is also listed as an unattributed uid 0")
	}
	chs := (&target{name: "t", s: settings{}}).planSystem(sys, connector.Decisions{})
	lock := slices.IndexFunc(chs, func(c plan.Change) bool { return c.Action == plan.LockAccount && c.Object == "toor" })
	if lock < 0 || chs[lock].Params["sessions"] != "keep" {
		t.Errorf("toor's lock would end root's processes: %+v", chs)
	}
	grant := slices.IndexFunc(chs, func(c plan.Change) bool { return c.Action == plan.RemoveGrant && c.Params["file"] == "/etc/sudoers" })
	if grant < 0 || chs[grant].Params["replace"] != "jdupont ALL=(ALL) NOPASSWD: ALL" {
		t.Errorf("the main sudoers rule shared with jdupont: %+v", chs)
	}
}
