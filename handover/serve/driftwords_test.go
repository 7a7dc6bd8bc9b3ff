package serve

import (
	"strings"
	"testing"

	"github.com/handoverhq/handover/handover/drift"
	"github.com/handoverhq/handover/handover/engine"
)

// TestDriftInFrench: a French page words every kind of drift item in
// French and keeps the estate's values; an English page keeps the
// engine's detail.
func TestDriftInFrench(t *testing.T) {
	fr, en := words{Lang: "fr", m: labels["fr"]}, words{Lang: "en", m: labels["en"]}
	items := []engine.Drift{
		{Kind: drift.KindAdmin, Change: drift.Added, Object: "intrus", To: "sudo group", Detail: "intrus is an admin now, by sudo group (was not)"},
		{Kind: drift.KindSystem, Change: drift.Removed, Object: "h9", From: "127.0.1.9", Detail: "host h9 of the dossier is no longer in the inventory"},
		{Kind: drift.KindServiceUnit, Change: drift.Changed, Object: "anydesk.service", From: "disabled", To: "enabled", Detail: "service anydesk.service is enabled, was disabled"},
		{Kind: "forward", Change: drift.Added, Object: "direction", To: "redirect to x@prestanet.fr", Detail: "new forward: redirect to x@prestanet.fr"},
		{Kind: "token", Change: drift.Added, Object: "hvs.accessor", Detail: "new token: sudo on sys/*"},
		{Kind: "change-needed", Object: "root", Detail: "rotate: credential was handed over"},
		{Kind: "pending", Object: "root", Detail: "rotation left unfinished (file:x#2); `handover resume` settles it"},
		{Kind: "credential-age", Object: "root", Detail: "credential set on 2026-01-01 is older than policy.max_credential_age"},
		{Kind: "credential-broken", Object: "root", Detail: "the stored credential no longer logs in: it was changed outside handover"},
		{Kind: drift.KindUnreachable, Detail: "dial tcp 127.0.1.9:22: connect: connection refused"},
		{Kind: "waiver-expired", Object: "x", Detail: "waiver expired on 2026-11-01"},
		{Kind: "attestation-missing", Object: "wifi", Detail: "no attestation"},
	}
	english := []string{" is ", " was ", "new ", "of the dossier", "rotation left", "older than", "no longer", "expired"}
	for _, d := range items {
		got := fr.Detail(d)
		for _, e := range english {
			if strings.Contains(got, e) && !strings.Contains(d.To+d.From+d.Object, e) && d.Kind != drift.KindUnreachable && d.Kind != "credential-broken" {
				t.Errorf("%s: %q has the English %q", d.Kind, got, e)
			}
		}
		if fr.Kind(d.Kind) == d.Kind && d.Kind != "service" {
			t.Errorf("kind %s has no French word", d.Kind)
		}
		for _, v := range []string{d.Object, d.To, d.From} {
			if v != "" && d.Change != "" && !strings.Contains(got, v) {
				t.Errorf("%s: %q lost the estate's value %q", d.Kind, got, v)
			}
		}
		if en.Detail(d) != d.Detail || en.Kind(d.Kind) != d.Kind {
			t.Errorf("the English page changed %+v", d)
		}
	}
	if got := fr.Detail(items[9]); !strings.Contains(got, "connection refused") {
		t.Errorf("the error of an unreachable system is lost: %q", got)
	}
}
