package ssh

import (
	"testing"
	"time"

	"github.com/handoverhq/handover/handover/connector"
	"github.com/handoverhq/handover/handover/plan"
)

// TestAccountLockedReadsBoth: a lock is proven by the shadow entry only
// when the password is locked and the account expired, both.
func TestAccountLockedReadsBoth(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		entry *shadowEntry
		want  bool
	}{
		{"locked and expired", &shadowEntry{Hash: "!$6$s$h", Expire: 1}, true},
		{"no password and expired", &shadowEntry{Hash: "*", Expire: 1}, true},
		{"expired, password still set", &shadowEntry{Hash: "$6$s$h", Expire: 1}, false},
		{"expired, empty password", &shadowEntry{Hash: "", Expire: 1}, false},
		{"locked, not expired", &shadowEntry{Hash: "!$6$s$h", Expire: -1}, false},
		{"no shadow entry read", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hostData{Shadow: map[string]shadowEntry{}}
			if tc.entry != nil {
				h.Shadow["prestanet"] = *tc.entry
			}
			if c := accountLocked(h, "prestanet", now); c.ok != tc.want {
				t.Errorf("ok = %v, want %v (%s)", c.ok, tc.want, c.detail)
			}
		})
	}
}

// TestArtefactGoneReadsTheFiles: a removed key is proven gone only when
// the files were read and no account the file serves still has it.
func TestArtefactGoneReadsTheFiles(t *testing.T) {
	ch := plan.Change{Action: plan.RemoveKey, Finding: "ssh-key:root:SHA256:x:/etc/ssh/keys",
		Params: map[string]string{"user": "root", "file": "/etc/ssh/keys", "fingerprint": "SHA256:x"}}
	read := &hostData{FilesRead: true, Files: []remoteFile{{Path: "/etc/sudoers"}, {Path: "/etc/ssh/keys"}}}
	other := connector.Finding{ID: "ssh-key:admin:SHA256:x:/etc/ssh/keys", Data: keyData{User: "admin", File: "/etc/ssh/keys", Fingerprint: "SHA256:x"}}
	for _, tc := range []struct {
		name     string
		h        *hostData
		findings []connector.Finding
		want     bool
	}{
		{"gone", read, nil, true},
		{"still there for another account", read, []connector.Finding{other}, false},
		{"files not read", &hostData{}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := artefactGone(tc.h, tc.findings, ch); c.ok != tc.want {
				t.Errorf("ok = %v, want %v (%s: %s)", c.ok, tc.want, c.what, c.detail)
			}
		})
	}
}

// TestAgentPackagesRead: no package left is proven by a package list that
// was read: an empty one counts only when the package tool itself listed
// the database (the last package of an rpm host removed), not when
// nothing listed it.
func TestAgentPackagesRead(t *testing.T) {
	a := Agent{Name: "teamviewer", Packages: []string{"teamviewer"}}
	for _, tc := range []struct {
		name   string
		h      hostData
		wantOK bool
	}{
		{"rpm listed nothing", hostData{PkgMgrs: []string{"rpm"}, PackagesListed: true}, true},
		{"nothing listed", hostData{PkgMgrs: []string{"rpm"}}, false},
		{"other packages", hostData{PkgMgrs: []string{"dpkg"}, Packages: []pkgInfo{{Name: "bash", State: "ii"}}}, true},
		{"the agent's package left", hostData{PkgMgrs: []string{"dpkg"}, Packages: []pkgInfo{{Name: "teamviewer", State: "rc"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := agentGone(&tc.h, a)[0]; c.ok != tc.wantOK {
				t.Errorf("ok = %v, want %v (%s: %s)", c.ok, tc.wantOK, c.what, c.detail)
			}
		})
	}
}
