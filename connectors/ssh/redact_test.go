package ssh

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
	"github.com/handoverhq/handover/handover/playbook"
)

// TestRedactCommandLines: each shape of credential a command line (a
// cron entry, a process) may carry is hidden; what holds none is left as
// it is, spacing included.
func TestRedactCommandLines(t *testing.T) {
	const secret = "S3cr3t-x"
	tests := []struct {
		name, in, want string
	}{
		{"url user:pass@", "curl -s https://backup:S3cr3t-x@files.prestanet.fr/push", "curl -s https://backup:[redacted]@files.prestanet.fr/push"},
		{"url in rsync", "rsync -a /srv rsync://sauvegarde:S3cr3t-x@203.0.113.7/mairie", "rsync -a /srv rsync://sauvegarde:[redacted]@203.0.113.7/mairie"},
		{"mysqldump -pSECRET", "/usr/bin/mysqldump -u backup -pS3cr3t-x --all-databases", "/usr/bin/mysqldump -u backup -p[redacted] --all-databases"},
		{"mysql -pSECRET", "mysql -h db -uroot -pS3cr3t-x -e 'select 1'", "mysql -h db -uroot -p[redacted] -e 'select 1'"},
		{"sshpass -p SECRET", "sshpass -p S3cr3t-x ssh -p 2222 tunnel@bastion.prestanet.fr", "sshpass -p [redacted] ssh -p 2222 tunnel@bastion.prestanet.fr"},
		{"sshpass -pSECRET", "sshpass -pS3cr3t-x scp /etc/passwd x@y:", "sshpass -p[redacted] scp /etc/passwd x@y:"},
		{"curl -u user:pass", "curl -u prestanet:S3cr3t-x https://api.prestanet.fr/ping", "curl -u prestanet:[redacted] https://api.prestanet.fr/ping"},
		{"curl -uuser:pass", "curl -uprestanet:S3cr3t-x https://x", "curl -uprestanet:[redacted] https://x"},
		{"curl --user=user:pass", "curl --user=prestanet:S3cr3t-x https://x", "curl --user=prestanet:[redacted] https://x"},
		{"curl --user user:pass", "curl --user prestanet:S3cr3t-x https://x", "curl --user prestanet:[redacted] https://x"},
		{"PASSWORD=", "PASSWORD=S3cr3t-x /usr/local/bin/sync", "PASSWORD=[redacted] /usr/local/bin/sync"},
		{"TOKEN=", "TOKEN=S3cr3t-x curl https://x", "TOKEN=[redacted] curl https://x"},
		{"SECRET=", "export SECRET=S3cr3t-x; run", "export SECRET=[redacted]; run"},
		{"API_KEY=", "API_KEY=S3cr3t-x /opt/agent/report", "API_KEY=[redacted] /opt/agent/report"},
		{"MYSQL_PWD=", "MYSQL_PWD=S3cr3t-x mysqldump db", "MYSQL_PWD=[redacted] mysqldump db"},
		{"quoted value with spaces", `PASSWORD="S3cr3t-x and more" /bin/x`, `PASSWORD=[redacted] /bin/x`},
		{"--password=x", "mysqldump --password=S3cr3t-x db", "mysqldump --password=[redacted] db"},
		{"--password x", "tool --password S3cr3t-x go", "tool --password [redacted] go"},
		{"--api-key x", "agent --api-key S3cr3t-x", "agent --api-key [redacted]"},
		{"--token x", "curl --token S3cr3t-x https://x", "curl --token [redacted] https://x"},
		{"query string token", "wget -q https://x/ping?token=S3cr3t-x", "wget -q https://x/ping?token=[redacted]"},
		{"Authorization: Bearer", "curl -H 'Authorization: Bearer S3cr3t-x' https://api.prestanet.fr", "curl -H 'Authorization: Bearer [redacted]' https://api.prestanet.fr"},
		{"Authorization: Basic", `curl -H "Authorization: Basic S3cr3t-x" https://x`, `curl -H "Authorization: Basic [redacted]" https://x`},
		{"--header=Authorization:", "curl --header='Authorization: Bearer S3cr3t-x' https://x", "curl --header='Authorization: Bearer [redacted]' https://x"},
		{"X-Api-Key:", "curl -H 'X-Api-Key: S3cr3t-x' https://x", "curl -H 'X-Api-Key: [redacted]' https://x"},
		{"password=", "curl -d password=S3cr3t-x https://x", "curl -d password=[redacted] https://x"},
		// Nothing to hide: left as it is.
		{"ssh -p port", "ssh  -p 2222 tunnel@bastion", "ssh  -p 2222 tunnel@bastion"},
		{"mkdir -p", "mkdir -p /var/run/x && run", "mkdir -p /var/run/x && run"},
		{"sudo -u", "sudo -u backup /usr/local/bin/x", "sudo -u backup /usr/local/bin/x"},
		{"plain url", "curl -fsS https://hc-ping.example/abc >/dev/null 2>&1", "curl -fsS https://hc-ping.example/abc >/dev/null 2>&1"},
		{"cron line", "*/5 * * * * root timeout 10 bash -c 'echo x > /dev/tcp/203.0.113.7/8443'", "*/5 * * * * root timeout 10 bash -c 'echo x > /dev/tcp/203.0.113.7/8443'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactArgs(tt.in)
			if got != tt.want {
				t.Errorf("redactArgs(%q)\n= %q\nwant %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("the secret shows: %q", got)
			}
		})
	}
}

// TestCronSecretsStayOut: a cron entry with a password shows redacted in
// its finding (summary, detail, data) and in the change that removes it
// (object, before, params), whose params carry the hash of the line
// instead, by which the edit finds it.
func TestCronSecretsStayOut(t *testing.T) {
	const secret = "Pr3st4-S3cr3t"
	line := "0 3 * * * root mysqldump -u prestanet -p" + secret + " --all-databases | curl -s -u prestanet:" + secret + " -T - https://backup.prestanet.fr/"
	file := "/etc/cron.d/prestanet-backup"
	other := strings.ReplaceAll(line, secret, "another-one")
	data := "# Prestanet Informatique\n" + line + "\n" + other + "\n"
	h := &hostData{Files: []remoteFile{{Kind: "cron", Path: file, Mode: "644", Data: []byte(data)}}, Shadow: map[string]shadowEntry{}}
	out := connector.NewOutgoing(playbook.Outgoing{Names: []string{"Prestanet"}, Domains: []string{"prestanet.fr"}})
	sys := buildSystem(h, hostContext{Name: "h", Outgoing: out, Now: time.Now()})
	tg := &target{name: "t", s: settings{AccessKey: accessKeySettings{Disabled: true}}}
	chs := tg.planSystem(sys, connector.Decisions{})
	var found []connector.Finding
	for _, f := range sys.Findings {
		if f.Kind == connector.KindCron {
			found = append(found, f)
		}
	}
	if len(found) != 2 || len(chs) != 2 || chs[0].Action != plan.RemoveCron {
		t.Fatalf("findings %+v, changes %+v: want two cron findings and their removals", found, chs)
	}
	if chs[0].ID == chs[1].ID || found[0].ID == found[1].ID {
		t.Errorf("two lines that differ only in their password share an id: %s %s", chs[0].ID, found[0].ID)
	}
	shown, err := json.Marshal(struct {
		F connector.Finding
		C plan.Change
	}{found[0], chs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(shown), secret) {
		t.Errorf("the password shows: %s", shown)
	}
	if !strings.Contains(found[0].Summary, "-p[redacted]") || !strings.Contains(chs[0].Object, "prestanet:[redacted]") {
		t.Errorf("summary %q, object %q: want the line, redacted", found[0].Summary, chs[0].Object)
	}
	if chs[0].Params["hash"] != lineHash(line) {
		t.Errorf("params %v: want the hash of the line", chs[0].Params)
	}
	e := &fileEdit{path: file, changes: []int{0}}
	res := make([]connector.ChangeResult, 1)
	var b batch
	_, after, ok := planFileEdit(chs[:1], e, remoteFileState{Sum: sha256Hex([]byte(data)), Mode: "644", Data: []byte(data)}, res, &b, make([]string, 1))
	if want := "# Prestanet Informatique\n" + other + "\n"; !ok || string(after) != want {
		t.Errorf("the edit: %v, %q, want %q (%+v)", ok, after, want, res)
	}
	if strings.Contains(res[0].Detail, secret) {
		t.Errorf("the outcome shows the password: %s", res[0].Detail)
	}
}
