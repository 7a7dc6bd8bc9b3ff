package ssh

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/playbook"
)

// TestBackupLinks reads the backup targets of the agents' configurations,
// crontabs and cron scripts: each a link to the host (or storage service)
// depended on, the provider's marked, and no password of a repository URL
// or an environment file in any link.
func TestBackupLinks(t *testing.T) {
	h := &hostData{Files: []remoteFile{
		{Kind: "backup", Path: "/etc/restic/sauvegarde.env", Data: []byte("# Sauvegarde Prestanet\nexport RESTIC_REPOSITORY=\"sftp:sauvegarde@backup.prestanet.fr:/srv/restic/mairie\"\nRESTIC_PASSWORD=Repo-Secret-1\n")},
		{Kind: "backup", Path: "/etc/default/borg", Data: []byte("BORG_REPO=ssh://borg@nas.mairie.lan:2222/./repo\nBORG_PASSPHRASE=Repo-Secret-2\n")},
		{Kind: "backup", Path: "/etc/borgmatic/config.yaml", Data: []byte("source_directories: [/etc, /home]\nrepositories:\n  - path: ssh://u123@u123.your-storagebox.de:23/./mairie\n    label: hetzner\n  - path: /var/backups/local\nencryption_passphrase: Repo-Secret-3\n")},
		{Kind: "backup", Path: "/etc/borgmatic.d/old.yaml", Data: []byte("location:\n  repositories:\n    - backup@10.0.0.9:borg\n")},
		{Kind: "backup", Path: "/etc/rsnapshot.conf", Data: []byte("snapshot_root\t/srv/snapshots/\nbackup\troot@srv-web.mairie.lan:/etc/\tsrv-web/\nbackup\t/home/\tlocalhost/\n")},
		{Kind: "backup", Path: "/etc/bacula/bconsole.conf", Data: []byte("Director {\n  Name = bacula-dir\n  DIRport = 9101\n  address = bacula.prestanet.fr\n  Password = \"Repo-Secret-4\"\n}\n")},
		{Kind: "backup", Path: "/etc/bareos/bareos-fd.conf", Data: []byte("FileDaemon {\n  FDAddress = 0.0.0.0\n}\n")},
		{Kind: "backup", Path: "/etc/cron.daily/sauvegarde", Data: []byte("#!/bin/sh\nset -e\nif [ -d /srv ]; then\n  rsync -a --delete -e 'ssh -p 2222' /srv/ backup@192.0.2.10:/volume1/mairie/ >/dev/null 2>&1\nfi\nrestic -r rest:https://mairie:Repo-Secret-5@restic.prestanet.fr:8000/mairie backup /etc\nrestic -r $REPO check\n")},
		{Kind: "cron", Path: "/etc/cron.d/copies", Data: []byte("MAILTO=root\nRESTIC_REPOSITORY=s3:s3.eu-west-3.amazonaws.com/mairie-sauvegardes\n15 1 * * * root restic backup /srv && restic forget --keep-daily 7\n30 2 * * * root /usr/bin/scp -i /root/.ssh/id_backup /var/backups/db.sql.gz archive@srv-archive.mairie.lan:/archives/\n45 3 * * * root sh -c 'borg create backup@bk.mairie.lan:repo::{now} /etc'\n50 3 * * * root su - borg -c 'borg create --stats backup@bk2.mairie.lan:repo::x /srv'\n0 4 * * * root rsync -a rsync://miroir.mairie.lan/depot/ /srv/miroir/\n# 0 5 * * * root rsync -a /x commented.example:/y\n0 6 * * * root cp /etc/passwd /root/passwd.bak\n0 7 * * * root tar -czf - /etc 2>/dev/null | curl -fsS -u prestanet:Repo-Secret-6 -T - https://depot.prestanet.fr/srv.tgz >/dev/null 2>&1\n0 8 * * * root curl -fsS -u x:Repo-Secret-7 https://status.prestanet.fr/ping\n")},
		{Kind: "sudoers", Path: "/etc/sudoers", Data: []byte("Defaults env_keep += \"RESTIC_REPOSITORY\"\n")},
	}}
	out := connector.NewOutgoing(playbook.Outgoing{Domains: []string{"prestanet.fr"}})
	var got []string
	for _, l := range links(h, out) {
		got = append(got, l.Kind+" | "+l.To+" | "+map[bool]string{true: "provider", false: "client"}[l.Provider]+" | "+l.Why)
		if strings.Contains(l.Why, "Repo-Secret") {
			t.Errorf("a repository password in %+v", l)
		}
	}
	want := []string{
		"backs up to | backup.prestanet.fr | provider | /etc/restic/sauvegarde.env: restic repository sftp:sauvegarde@backup.prestanet.fr:/srv/restic/mairie",
		"backs up to | nas.mairie.lan | client | /etc/default/borg: borg repository ssh://nas.mairie.lan:2222/./repo",
		"backs up to | u123.your-storagebox.de | client | /etc/borgmatic/config.yaml: borgmatic repository ssh://u123.your-storagebox.de:23/./mairie",
		"backs up to | 10.0.0.9 | client | /etc/borgmatic.d/old.yaml: borgmatic repository backup@10.0.0.9:borg",
		"pulls backups from | srv-web.mairie.lan | client | /etc/rsnapshot.conf: rsnapshot backup root@srv-web.mairie.lan:/etc/",
		"backs up to | bacula.prestanet.fr | provider | /etc/bacula/bconsole.conf: Bacula director bacula.prestanet.fr",
		"backs up to | 192.0.2.10 | client | /etc/cron.daily/sauvegarde: rsync copy to backup@192.0.2.10:/volume1/mairie/",
		"backs up to | restic.prestanet.fr | provider | /etc/cron.daily/sauvegarde: restic repository rest:https://restic.prestanet.fr:8000/mairie",
		"backs up to | s3.eu-west-3.amazonaws.com | client | /etc/cron.d/copies: restic repository s3:s3.eu-west-3.amazonaws.com/mairie-sauvegardes",
		"backs up to | srv-archive.mairie.lan | client | /etc/cron.d/copies: scp copy to archive@srv-archive.mairie.lan:/archives/",
		"backs up to | bk.mairie.lan | client | /etc/cron.d/copies: borg repository backup@bk.mairie.lan:repo",
		"backs up to | bk2.mairie.lan | client | /etc/cron.d/copies: borg repository backup@bk2.mairie.lan:repo",
		"pulls backups from | miroir.mairie.lan | client | /etc/cron.d/copies: rsync copy from rsync://miroir.mairie.lan/depot/",
		"backs up to | depot.prestanet.fr | provider | /etc/cron.d/copies: curl upload to https://depot.prestanet.fr/srv.tgz",
	}
	if !slices.Equal(got, want) {
		t.Errorf("backup links:\n got %q\nwant %q", got, want)
	}
}

func TestRepoHost(t *testing.T) {
	for repo, want := range map[string]string{
		"sftp:user@host.example:/srv/restic":    "host.example",
		"sftp://user@host.example:2222//srv/r":  "host.example",
		"rest:https://u:p@rest.example:8000/":   "rest.example",
		"s3:https://minio.example:9000/bucket":  "minio.example",
		"s3:s3.amazonaws.com/bucket":            "s3.amazonaws.com",
		"b2:bucket:path":                        "Backblaze B2",
		"azure:container:/":                     "Azure Blob Storage",
		"gs:bucket:/":                           "Google Cloud Storage",
		"rclone:remote:path":                    "",
		"/srv/restic":                           "",
		"./repo":                                "",
		"~/repo":                                "",
		"ssh://borg@[2001:db8::5]:22/./repo":    "2001:db8::5",
		"borg@[2001:db8::5]:repo":               "2001:db8::5",
		"user@host.example:repo::archive-{now}": "host.example",
		"host.example::module/path":             "host.example",
		"rsync://user@host.example/module":      "host.example",
		"file:///srv/backup":                    "",
		"$REPO":                                 "",
		"scp://backup@host.example//srv/dup":    "host.example",
		"--exclude=/proc":                       "",
	} {
		if got := repoHost(repo); got != want {
			t.Errorf("repoHost(%q) = %q, want %q", repo, got, want)
		}
	}
}

// FuzzBackupLinks: whatever a crontab, a cron script or a backup
// configuration holds (the provider wrote them), reading its targets never
// panics, and a link's why never carries a URL's password.
func FuzzBackupLinks(f *testing.F) {
	for _, s := range []string{
		"0 1 * * * root rsync -a /x u@h:/y\n", "RESTIC_REPOSITORY=rest:https://u:p@h/\n", "repositories:\n  - path: ssh://[::1]:2/r\n",
		"backup\troot@[2001:db8::1]:/etc/\tx/\n", "Director {\n Address = \"d\"\n}\n", "sh -c 'borg create x@[::1::2]:r::a' ; curl -T - 'https://a:b@c/'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		h := &hostData{}
		for _, p := range []string{"/etc/cron.d/x", "/etc/restic/x", "/etc/borgmatic/config.yaml", "/etc/rsnapshot.conf", "/etc/bacula/bconsole.conf", "/etc/cron.daily/x"} {
			kind := "backup"
			if p == "/etc/cron.d/x" {
				kind = "cron"
			}
			h.Files = append(h.Files, remoteFile{Kind: kind, Path: p, Data: []byte(data)})
		}
		for _, l := range backupLinks(h) {
			if m := regexp.MustCompile(`://([^/\s]*)@`).FindStringSubmatch(l.Why); l.To == "" || m != nil && strings.Contains(m[1], ":") {
				t.Errorf("link %+v", l)
			}
		}
	})
}
