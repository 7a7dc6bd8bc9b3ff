package ssh

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/testenv"
)

// TestParseProcRecords checks that the process table's NUL-terminated
// records keep a process's arguments from forging a section, and rebuild
// what a per-process read gave: names without their newline, arguments
// joined by spaces, the script's own shell left out.
func TestParseProcRecords(t *testing.T) {
	records := []string{
		"/proc/1/comm:sshd\n",
		"/proc/42/comm:evil\n@@sshd\n",
		"/proc/7/comm:kworker/0:1\n",
		"/proc/99/comm:sh\n",
		"/proc/1/cmdline:sshd: /usr/sbin/sshd -D",
		"/proc/1/cmdline:",
		"/proc/1/cmdline:[listener]",
		"/proc/42/cmdline:x\n@@catalog-end\n",
		"/proc/42/cmdline:tab\there",
		"/proc/1/exe:/usr/sbin/sshd",
		"/proc/42/exe:/tmp/a\nb (deleted)",
		"/proc/7/exe:",
		"/proc/1/fd socket:[100]",
		"/proc/42/fd socket:[100]",
		"/proc/42/fd socket:[200]",
		"/proc/42/cwd:/opt/teamviewer",
		"/proc/42/fd /opt/teamviewer/log (deleted)",
		"/proc/42/fd /opt/teamviewer/log (deleted)",
		"/proc/42/maps:55d0-55d1 r-xp 00000000 08:01 12 /opt/teamviewer/tv bin (deleted)\n55d1-55d2 r--p 00000000 08:01 12 /opt/teamviewer/tv bin (deleted)\n7ff0-7ff1 rw-p 00000000 00:00 0 \n7ff2-7ff3 r-xp 00000000 08:01 9 /usr/lib/libc.so.6\n",
		"/proc/1/cgroup:12:cpu,cpuacct:/system.slice/ssh.service\n1:name=systemd:/system.slice/ssh.service\n0::/system.slice/ssh.service\n",
	}
	out := "@@hostname\nh\n@@proc 99\n" + strings.Join(records, "\x00") + "\x00@@catalog-paths\n@@catalog-end\n"
	h, err := parseInventory([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []procInfo{
		{PID: 1, Comm: "sshd", Exe: "/usr/sbin/sshd", Args: "sshd: /usr/sbin/sshd -D  [listener]",
			Argv: []string{"sshd: /usr/sbin/sshd -D", "", "[listener]"}, Cgroups: []string{"/system.slice/ssh.service"}},
		{PID: 42, Comm: "evil\n@@sshd", Exe: "/tmp/a\nb (deleted)", Args: "x @@catalog-end  tab here",
			Argv: []string{"x\n@@catalog-end\n", "tab\there"}, Cwd: "/opt/teamviewer", FDs: []string{"/opt/teamviewer/log (deleted)"},
			Maps: []string{"/opt/teamviewer/tv bin (deleted)", "/usr/lib/libc.so.6"}},
		{PID: 7, Comm: "kworker/0:1"},
	}
	if !reflect.DeepEqual(h.Procs, want) {
		t.Errorf("Procs = %+v\nwant %+v", h.Procs, want)
	}
	if len(h.SSHD) != 0 {
		t.Errorf("a process name forged the sshd section: %v", h.SSHD)
	}
	if fmt.Sprint(h.SocketPIDs) != "map[100:1 200:42]" {
		t.Errorf("SocketPIDs = %v", h.SocketPIDs)
	}

	forged := "@@proc 99\n/proc/42/cmdline:x\n@@catalog-end\n\x00"
	if _, err := parseInventory([]byte(forged[:len(forged)-1])); err == nil {
		t.Error("an unterminated process record parsed")
	}
}

type tarEntry struct {
	name, link string
	typ        byte
	mode       int64
	uid, gid   int
	data       string
}

func buildTar(t *testing.T, entries []tarEntry, padding int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Format: tar.FormatGNU}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, padding))
	return buf.Bytes()
}

// TestParseArchive reads an archive as the script writes it: groups
// separated by /dev/null, a second mention of a file as a hard link, a
// directory or a FIFO where a file was expected, then more sections.
func TestParseArchive(t *testing.T) {
	archive := buildTar(t, []tarEntry{
		{name: "/root/.ssh/authorized_keys", typ: tar.TypeReg, mode: 0o600, data: "ssh-ed25519 AAAA root\n"},
		{name: "/etc/ssh/keys", typ: tar.TypeReg, mode: 0o644, data: "ssh-ed25519 BBBB shared\n"},
		{name: "/home/x/.ssh/authorized_keys", typ: tar.TypeDir, mode: 0o755},
		{name: "/dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "/etc/sudoers", typ: tar.TypeReg, mode: 0o440, data: "root ALL=(ALL) ALL\n"},
		{name: "/etc/sudoers.d/odd\nname", typ: tar.TypeReg, mode: 0o4440, uid: 0, gid: 5, data: "x\n"},
		{name: "/dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "/etc/cron.d/fifo", typ: tar.TypeFifo, mode: 0o644},
		{name: "/var/spool/cron/crontabs/root", typ: tar.TypeReg, mode: 0o600, gid: 101, data: "* * * * * true\n"},
		{name: "/etc/cron.d/linked", link: "/etc/sudoers", typ: tar.TypeLink, mode: 0o440},
	}, 1024)
	keyFiles := "bob\t/etc/ssh/keys\nroot\t/root/.ssh/authorized_keys\nalice\t/etc/ssh/keys\nx\t/home/x/.ssh/authorized_keys\nroot\t/root/.ssh/authorized_keys\nnone\t/missing\n"
	out := "@@hostname\nh\n@@authorized-keys\n" + keyFiles + "@@archive\n" + string(archive) + "@@cron-scripts\n/etc/cron.daily/x\n@@catalog-paths\n@@catalog-end\n"
	h, err := parseInventory([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range h.Files {
		got = append(got, fmt.Sprintf("%s %s %s %d %d %q %q", f.Kind, f.Owner, f.Mode, f.UID, f.GID, f.Path, f.Data))
	}
	want := []string{
		`authorized_keys alice 644 0 0 "/etc/ssh/keys" "ssh-ed25519 BBBB shared\n"`,
		`authorized_keys bob 644 0 0 "/etc/ssh/keys" "ssh-ed25519 BBBB shared\n"`,
		`authorized_keys root 600 0 0 "/root/.ssh/authorized_keys" "ssh-ed25519 AAAA root\n"`,
		`sudoers  440 0 0 "/etc/sudoers" "root ALL=(ALL) ALL\n"`,
		`sudoers  4440 0 5 "/etc/sudoers.d/odd\nname" "x\n"`,
		`cron  600 0 101 "/var/spool/cron/crontabs/root" "* * * * * true\n"`,
		`cron  440 0 0 "/etc/cron.d/linked" "root ALL=(ALL) ALL\n"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Equal(h.CronScripts, []string{"/etc/cron.daily/x"}) {
		t.Errorf("the section after the archive: CronScripts = %q", h.CronScripts)
	}
}

// TestParseArchiveTwoArchivesAndKeyLinks reads the inventory's two
// archives (authorized_keys files stored without following links, then
// sudoers and cron) and the authorized_keys files that are links, which
// make findings of their own.
func TestParseArchiveTwoArchivesAndKeyLinks(t *testing.T) {
	keys := buildTar(t, []tarEntry{
		{name: "/root/.ssh/authorized_keys", typ: tar.TypeReg, mode: 0o600, data: "ssh-ed25519 AAAA root\n"},
		{name: "/home/x/.ssh/authorized_keys", link: "/etc/shadow", typ: tar.TypeSymlink, mode: 0o777},
	}, 0)
	rest := buildTar(t, []tarEntry{
		{name: "/dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "/etc/sudoers", typ: tar.TypeReg, mode: 0o440, data: "root ALL=(ALL) ALL\n"},
		{name: "/dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "/etc/crontab", typ: tar.TypeReg, mode: 0o644, data: "* * * * * root true\n"},
	}, 1024)
	links := "prestanet\t/home/prestanet/.ssh\t/root/.ssh\t/home/prestanet/.ssh/authorized_keys\njdupont\t/home/jdupont/.ssh/authorized_keys\t/etc/shadow\t/home/jdupont/.ssh/authorized_keys\n"
	out := "@@hostname\nh\n@@passwd\nprestanet:x:1001:1001:Prestanet Informatique,,,:/home/prestanet:/bin/bash\njdupont:x:1002:1002:Jean Dupont:/home/jdupont:/bin/bash\n" +
		"@@key-links\n" + links + "@@authorized-keys\nroot\t/root/.ssh/authorized_keys\nx\t/home/x/.ssh/authorized_keys\n@@archive\n" + string(keys) + string(rest) + "@@cron-scripts\n@@catalog-paths\n@@catalog-end\n"
	h, err := parseInventory([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range h.Files {
		got = append(got, f.Kind+" "+f.Owner+" "+f.Path)
	}
	want := []string{"authorized_keys root /root/.ssh/authorized_keys", "sudoers  /etc/sudoers", "cron  /etc/crontab"}
	if !slices.Equal(got, want) {
		t.Errorf("Files %q, want %q (a link is not read)", got, want)
	}
	o := connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}, Accounts: []string{"prestanet"}})
	sys := buildSystem(h, hostContext{Name: "h", Outgoing: o, Now: time.Now()})
	var links2 []string
	for _, f := range sys.Findings {
		if strings.HasPrefix(f.ID, "auth-method:authorized-keys-link:") {
			links2 = append(links2, fmt.Sprintf("%s %v", f.Object, f.Provider))
			if !strings.Contains(f.Summary, "symbolic link") {
				t.Errorf("summary %q", f.Summary)
			}
		}
	}
	if want := []string{"prestanet:/home/prestanet/.ssh/authorized_keys true", "jdupont:/home/jdupont/.ssh/authorized_keys false"}; !slices.Equal(links2, want) {
		t.Errorf("link findings %q, want %q", links2, want)
	}
}

func TestParseArchiveRejectsTruncation(t *testing.T) {
	archive := buildTar(t, []tarEntry{
		{name: "/etc/sudoers", typ: tar.TypeReg, mode: 0o440, data: strings.Repeat("x", 2000)},
	}, 0)
	// A cut at a member's end (512+2048) or in the end marker leaves the
	// next section where a header or the marker should be.
	for _, cut := range []int{100, 512 + 700, 512 + 2048, len(archive) - 512} {
		out := "@@archive\n" + string(archive[:cut]) + "@@catalog-paths\n@@catalog-end\n"
		if _, err := parseInventory([]byte(out)); err == nil {
			t.Errorf("an archive cut at %d of %d bytes parsed", cut, len(archive))
		}
	}
}

// TestInventoryAgreesWithHostTools runs, on the fleet, what the inventory
// script does without (a process per file, per process and per table,
// dpkg-query, uname) and checks that the parsed inventory holds the same.
//
// Long: one comparison per part of the inventory, each against the host's own tool.
func TestInventoryAgreesWithHostTools(t *testing.T) {
	e := testenv.Require(t)
	testenv.LockComponent(t, "fleet", false)
	if e.Fleet == nil || len(e.Fleet.Hosts) == 0 {
		t.Fatal("testenv has no fleet: run bin/testenv up -only fleet")
	}
	tg := configure(t, e, fleetSettings(e, ""), secret.NewMemoryStore(), nil)
	const reference = `export LC_ALL=C
uname -srm
echo @@packages
dpkg-query -W -f='deb\t${db:Status-Abbrev}\t${Package}\t${Version}\n'
echo @@files
for f in /etc/sudoers /etc/sudoers.d/* /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/* \
	/etc/restic/* /etc/default/restic* /root/.restic* /etc/borg/* /etc/default/borg* /etc/borgmatic/* /etc/borgmatic.d/* /etc/rsnapshot.conf \
	/etc/bacula/bconsole.conf /etc/bacula/bacula-fd.conf /etc/bareos/bconsole.conf /etc/bareos/bareos-fd.conf /etc/bareos/bareos-fd.d/director/* \
	/etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*; do
	[ -f "$f" ] && printf '%s %s %s\n' "$(stat -L -c '%a %u %g' -- "$f")" "$(base64 -w0 < "$f")" "$f"
done
echo @@procs
for p in /proc/[0-9]*; do
	[ "${p#/proc/}" = "$$" ] && continue
	comm=$(cat "$p/comm" 2>/dev/null) || continue
	printf '%s\t%s\t%s\t%s\n' "${p#/proc/}" "$comm" "$(readlink "$p/exe")" "$(tr '\0\t\n' '   ' < "$p/cmdline")"
done
`
	for _, h := range tg.s.Hosts {
		t.Run(h.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			data, err := tg.readHost(ctx, h, false)
			if err != nil {
				t.Fatal(err)
			}
			r, err := tg.runnerFor(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := r.Run(ctx, reference, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			kernel, rest, _ := strings.Cut(string(ref), "\n@@packages\n")
			pkgs, rest, _ := strings.Cut(rest, "@@files\n")
			files, procs, _ := strings.Cut(rest, "@@procs\n")

			if data.Kernel != kernel {
				t.Errorf("Kernel = %q, uname -srm says %q", data.Kernel, kernel)
			}
			want := &hostData{}
			for _, l := range strings.Split(pkgs, "\n") {
				parseLine(want, "packages", "", l)
			}
			if !slices.Equal(data.Packages, want.Packages) || len(want.Packages) == 0 {
				t.Errorf("Packages differ from dpkg-query's:\n%v\nwant:\n%v", data.Packages, want.Packages)
			}
			var gotFiles []string
			for _, f := range data.Files {
				if f.Kind != "authorized_keys" {
					gotFiles = append(gotFiles, fmt.Sprintf("%s %d %d %s %s", f.Mode, f.UID, f.GID, base64.StdEncoding.EncodeToString(f.Data), f.Path))
				}
			}
			if want := strings.Split(strings.TrimSuffix(files, "\n"), "\n"); !slices.Equal(gotFiles, want) {
				t.Errorf("sudoers, cron and backup files differ from stat and base64:\n%s\nwant:\n%s", strings.Join(gotFiles, "\n"), strings.Join(want, "\n"))
			}
			// Both lists hold their own session's sshd: the rest must agree.
			var gotProcs, wantProcs []string
			for _, p := range data.Procs {
				if !strings.HasSuffix(p.Args, "@notty") {
					gotProcs = append(gotProcs, fmt.Sprintf("%d\t%s\t%s\t%s", p.PID, p.Comm, p.Exe, p.Args))
				}
			}
			for _, l := range strings.Split(strings.TrimSuffix(procs, "\n"), "\n") {
				f := strings.SplitN(l, "\t", 4)
				if len(f) == 4 && !strings.HasSuffix(strings.TrimSpace(f[3]), "@notty") {
					wantProcs = append(wantProcs, strings.Join(append(f[:3], strings.TrimSpace(f[3])), "\t"))
				}
			}
			if !slices.Equal(gotProcs, wantProcs) || len(wantProcs) == 0 {
				t.Errorf("processes differ from a read of each:\n%s\nwant:\n%s", strings.Join(gotProcs, "\n"), strings.Join(wantProcs, "\n"))
			}

			// The re-inventory, given sshd's settings, reads the same.
			again, err := tg.readHost(ctx, h, true)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(again.SSHD, data.SSHD) || len(data.SSHD) == 0 {
				t.Errorf("re-inventory: sshd settings %v, want %v", again.SSHD, data.SSHD)
			}
			if !slices.Equal(again.Packages, data.Packages) || !slices.EqualFunc(again.Passwd, data.Passwd, func(a, b passwdEntry) bool { return a == b }) || len(again.UnitFiles) != len(data.UnitFiles) {
				t.Errorf("re-inventory: packages, accounts or unit files differ")
			}
			if again.CPUs != 0 || len(again.Listen) != 0 {
				t.Errorf("re-inventory: read the hardware or the network (%d CPUs, %d sockets)", again.CPUs, len(again.Listen))
			}
			if len(again.Files) != len(data.Files) {
				t.Errorf("re-inventory: %d files, want %d", len(again.Files), len(data.Files))
			}
			for i := range min(len(again.Files), len(data.Files)) {
				if a, d := again.Files[i], data.Files[i]; a.Path != d.Path || a.Owner != d.Owner || !bytes.Equal(a.Data, d.Data) {
					t.Errorf("re-inventory: file %d is %s (%s), want %s (%s)", i, a.Path, a.Owner, d.Path, d.Owner)
				}
			}
		})
	}
}
