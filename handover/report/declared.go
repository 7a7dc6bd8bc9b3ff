package report

import (
	"time"

	"github.com/handoverhq/handover/handover/journal"
	"github.com/handoverhq/handover/handover/playbook"
)

// DeclaredStatus is where a declared item's switch-day step stands.
type DeclaredStatus string

const (
	// DeclaredDone: attested in writing, and the attestation is younger
	// than the item's rotation period.
	DeclaredDone DeclaredStatus = "done"
	// DeclaredAwaiting: no written attestation yet.
	DeclaredAwaiting DeclaredStatus = "awaiting-attestation"
	// DeclaredStale: attested, but longer ago than its rotation period.
	DeclaredStale DeclaredStatus = "stale"
	// DeclaredWaived: covered by a waiver that has not expired.
	DeclaredWaived DeclaredStatus = "waived"
	// DeclaredNotRequired: its action is "nothing": listed, nothing due.
	DeclaredNotRequired DeclaredStatus = "not-required"
)

// DeclaredItem is one declared item and where its step stands.
type DeclaredItem struct {
	Item   playbook.Declared `json:"item"`
	Status DeclaredStatus    `json:"status"`
	// Attestation is the latest written attestation of the item, if any.
	Attestation *Attestation `json:"attestation,omitempty"`
	// Detail says why the status is what it is, in plain words.
	Detail string `json:"detail,omitempty"`
}

// Attestation is a person's written, dated statement that an item's step
// was done, as the attestation journal holds it.
type Attestation struct {
	By   string    `json:"by"`
	Done time.Time `json:"done"`
	Note string    `json:"note"`
	// Evidence is the base name of the file given as evidence, and
	// EvidenceSHA256 its digest (the file itself is the client's).
	Evidence       string    `json:"evidence,omitempty"`
	EvidenceSHA256 string    `json:"evidence_sha256,omitempty"`
	Recorded       time.Time `json:"recorded"`
	Operator       string    `json:"operator,omitempty"`
	// Seq and Hash locate the record in the attestation journal.
	Seq  int    `json:"seq"`
	Hash string `json:"hash"`
}

// Attestations is the playbook's attestation journal as the run read it:
// hash-chained like the run's journal, its head pinned by the signature.
type Attestations struct {
	File    string           `json:"file"`
	Head    string           `json:"head"`
	Records []journal.Record `json:"records"`
	// Error says why the journal could not be read or verified; its
	// attestations then count for nothing.
	Error string `json:"error,omitempty"`
}

// Completeness is the handover's completeness figure: every planned
// change and every declared item, and where each stands.
type Completeness struct {
	Items    int  `json:"items"`
	Done     int  `json:"done"`
	Awaiting int  `json:"awaiting_attestation"`
	Stale    int  `json:"stale"`
	Waived   int  `json:"waived"`
	Failed   int  `json:"failed"`
	Complete bool `json:"complete"`
	// Missing names what is neither done nor waived.
	Missing []string `json:"missing,omitempty"`
}

// attestations checks the attestation journal report.json carries: its
// chain and head, and that every declared item's attestation is one of its
// records, said the same. The journal file itself stays in the state
// directory; the signed report holds its records.
func (vr *verifier) attestations(r *Report, jsonName string) {
	a := r.Attestations
	if a == nil || a.Error != "" {
		return
	}
	head, err := journal.Verify(a.Records)
	if err != nil {
		vr.problem(jsonName, "attestations", "the attestation journal's records do not chain: %v", err)
		return
	}
	if head != a.Head && !(len(a.Records) == 0 && a.Head == journal.Genesis) {
		vr.problem(jsonName, "attestations", "the attestation journal ends at hash %s, but report.json says %s", short(head), short(a.Head))
	}
	bySeq := map[int]journal.Record{}
	for _, rec := range a.Records {
		bySeq[rec.Seq] = rec
	}
	for _, it := range r.Declared {
		at := it.Attestation
		if at == nil {
			continue
		}
		rec, ok := bySeq[at.Seq]
		if !ok || rec.Hash != at.Hash || rec.Kind != journal.Attested || rec.Object != it.Item.ID || rec.Detail["by"] != at.By || rec.Detail["note"] != at.Note || rec.Detail["evidence_sha256"] != at.EvidenceSHA256 {
			vr.problem(jsonName, "declared "+it.Item.ID, "its attestation is not record %d of the attestation journal as report.json holds it", at.Seq)
		}
	}
}
