package dossier

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/report"
)

// ReceiptNamespace is the SSHSIG namespace of receipts: `ssh-keygen -Y
// verify -n handover-receipt`.
const ReceiptNamespace = "handover-receipt"

// ReceiptFormat names the receipt's layout.
const ReceiptFormat = "handover-receipt/1"

// Receipt is the incoming provider's signed acknowledgement that it opened
// a bundle: which bundle and manifest (by hash), when, with which key, and
// what it imported. It holds no secret value.
type Receipt struct {
	Format         string    `json:"format"`
	Bundle         string    `json:"bundle_id"`
	BundleSHA256   string    `json:"bundle_sha256"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	Opened         time.Time `json:"opened"`
	// Recipient is the key that decrypted the bundle.
	Recipient Recipient `json:"recipient"`
	// Signer is who signs the receipt: the identity ssh-keygen -Y verify
	// is given with -I, and the signing key's fingerprint.
	Signer            string         `json:"signer"`
	SignerFingerprint string         `json:"signer_fingerprint"`
	Handover          ReceiptParties `json:"handover"`
	Report            ReportInfo     `json:"report"`
	// ReportTrust says whose key the report was verified against.
	ReportTrust string `json:"report_trust"`
	// Credentials lists every credential the bundle held, and Imported
	// says where each imported one went.
	Credentials []CredentialInfo `json:"credentials"`
	Imported    []Imported       `json:"imported,omitempty"`
}

// ReceiptParties names the parties, as the manifest does.
type ReceiptParties struct {
	Client   string `json:"client"`
	Outgoing string `json:"outgoing"`
	Incoming string `json:"incoming"`
}

// Imported is one credential imported into the recipient's store.
type Imported struct {
	From     string `json:"from"` // the bundle's store reference
	Store    string `json:"store"`
	Location string `json:"location"`
	Path     string `json:"path"`
	Version  int    `json:"version"`
}

// NewReceipt describes an opened bundle.
func NewReceipt(o *Opened, now time.Time, signer string, key ssh.PublicKey, imported []Imported) *Receipt {
	m := o.Manifest
	r := &Receipt{
		Format: ReceiptFormat, Bundle: m.ID, BundleSHA256: o.SHA256, ManifestSHA256: o.ManifestSHA256,
		Opened: now.UTC().Truncate(time.Second), Recipient: o.Identity, Signer: signer, SignerFingerprint: ssh.FingerprintSHA256(key),
		Handover: ReceiptParties{Client: m.Handover.Client.Name, Outgoing: m.Handover.Outgoing.Name, Incoming: m.Handover.Incoming.Name},
		Report:   m.Report, Imported: imported, Credentials: []CredentialInfo{},
	}
	if o.Verification != nil {
		r.ReportTrust = o.Verification.TrustSource
	}
	for _, c := range o.Credentials {
		r.Credentials = append(r.Credentials, c.Info)
	}
	return r
}

// Marshal is the receipt's signed form.
func (r *Receipt) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// SignReceipt signs the receipt's bytes with an SSH key: an armored
// SSHSIG signature that `ssh-keygen -Y verify` checks.
func SignReceipt(data []byte, s ssh.Signer) ([]byte, error) {
	sig, err := sshsig.SignWithRand(bytes.NewReader(data), rand.Reader, s, sshsig.HashSHA512, ReceiptNamespace)
	if err != nil {
		return nil, fmt.Errorf("sign the receipt: %w", err)
	}
	return sshsig.Armor(sig), nil
}

// LoadSigningKey reads an unprotected SSH private key to sign receipts.
func LoadSigningKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	defer clear(b)
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, fmt.Errorf("signing key %s: %w", path, ErrEncryptedKey)
		}
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return s, nil
}

// ReadReceipt parses a receipt strictly.
func ReadReceipt(b []byte) (*Receipt, error) {
	var r Receipt
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a receipt: %w", err)
	}
	if r.Format != ReceiptFormat {
		return nil, fmt.Errorf("receipt format %q, this build reads %q", r.Format, ReceiptFormat)
	}
	return &r, nil
}

// VerifyReceipt checks a receipt file and its signature (file + ".sig")
// against the signers trust names, for the identity the receipt says
// signed it, and that the key is the one the receipt names.
func VerifyReceipt(file string, trust report.Trust) (*Receipt, []byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("receipt: %w", err)
	}
	sig, err := os.ReadFile(file + report.SigSuffix)
	if err != nil {
		return nil, nil, fmt.Errorf("receipt signature: %w", err)
	}
	r, err := ReadReceipt(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	fp, err := trust.VerifyDetached(b, sig, ReceiptNamespace, r.Signer)
	if err != nil {
		return r, nil, fmt.Errorf("%s%s: %w", file, report.SigSuffix, err)
	}
	if fp != r.SignerFingerprint {
		return r, nil, fmt.Errorf("%s: signed by key %s, but it names %s as its signer's key", file, fp, r.SignerFingerprint)
	}
	if strings.TrimSpace(r.BundleSHA256) == "" {
		return r, nil, fmt.Errorf("%s: names no bundle", file)
	}
	return r, b, nil
}
