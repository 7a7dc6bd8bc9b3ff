package ssh

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/handoverhq/handover/handover/playbook"
)

func TestParseAnsibleInventory(t *testing.T) {
	ini := `# the provider's inventory
srv-gw ansible_host=192.0.2.1

[web]
srv-web-[01:02] ansible_port=2222

[db]
srv-db-01 ansible_host=10.0.0.3 ansible_user=root

[paris:children]
web
db

[db:vars]
ansible_python_interpreter=/usr/bin/python3
`
	yml := `all:
  hosts:
    srv-gw: {ansible_host: 192.0.2.1}
  children:
    paris:
      children:
        web:
          vars: {ansible_port: 2222}
          hosts:
            srv-web-[01:02]:
        db:
          hosts:
            srv-db-01: {ansible_host: 10.0.0.3, ansible_user: root}
          vars: {ansible_python_interpreter: /usr/bin/python3}
`
	want := []ansibleHost{
		{Name: "srv-db-01", Address: "10.0.0.3", User: "root", Groups: []string{"db", "paris"}},
		{Name: "srv-gw", Address: "192.0.2.1"},
		{Name: "srv-web-01", Address: "srv-web-01", Port: 2222, Groups: []string{"paris", "web"}},
		{Name: "srv-web-02", Address: "srv-web-02", Port: 2222, Groups: []string{"paris", "web"}},
	}
	for name, src := range map[string]string{"ini": ini, "yaml": yml} {
		t.Run(name, func(t *testing.T) {
			got, err := parseAnsibleInventory([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].Vars = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// An imported inventory gives hosts their groups; what handover cannot
// honour (another login, a password in clear) is an error naming the host,
// never a silent difference.
func TestAnsibleInventorySettings(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ini")
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(good, []byte("[web]\nsrv-web-01 ansible_host=10.0.0.1\n"), 0o600)
	os.WriteFile(bad, []byte("[db]\nsrv-db-01 ansible_user=deploy\nsrv-db-02 ansible_password=hunter2\n"), 0o600)
	decode := func(src string) (settings, string) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		d := playbook.NewDecoder("pb.yaml")
		s := decodeSettings(d, doc.Content[0], func(s string) string { return s })
		return s, d.Diagnostics().Error()
	}
	s, errs := decode("ansible_inventory: " + good + "\nhosts: [{name: srv-x, groups: [dmz]}]\nauth: {agent: true}\ntrust_on_first_use: true\n")
	if errs != "" {
		t.Fatal(errs)
	}
	got := map[string][]string{}
	for _, h := range s.Hosts {
		got[h.Name+"@"+h.Address] = h.Groups
	}
	if want := map[string][]string{"srv-web-01@10.0.0.1": {"web"}, "srv-x@srv-x": {"dmz"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("hosts %v, want %v", got, want)
	}
	_, errs = decode("ansible_inventory: " + bad + "\nauth: {agent: true}\ntrust_on_first_use: true\n")
	for _, w := range []string{
		`host srv-db-01 logs in as "deploy" (ansible_user) but this target logs in as "root"`,
		`host srv-db-02 has ansible_password in the inventory`,
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("missing %q in:\n%s", w, errs)
		}
	}
	if strings.Contains(errs, "hunter2") {
		t.Errorf("the inventory's password is in the error:\n%s", errs)
	}
}
