package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/handoverhq/handover/handover/playbook"
)

// Trust is where Verify gets the keys it accepts as the signer's. A
// signature proves who signed only against a key the verifier holds from
// another channel: TrustAllowedSigners and TrustSigningKey are such
// sources; IntegrityOnly uses the allowed_signers shipped beside the
// report, which proves the files are unchanged since they were signed,
// but not by whom. The zero Trust is refused.
type Trust struct {
	mode    trustMode
	file    string // allowed_signers to read; "" for the shipped one
	source  string // where the keys come from, for messages
	signers []allowedSigner
	now     time.Time // for valid-after, valid-before; zero: time.Now
	// skipRenderings: the renderings' signatures are checked, but they
	// are not rendered again and compared (see WithoutRenderings).
	skipRenderings bool
}

// WithoutRenderings makes Verify check every signature, the canonical
// form of report.json and the journal, but not render report.html and
// report.md again to compare them: for a reader of report.json's data
// only (a freshness check's baseline), at a fraction of the cost.
func (t Trust) WithoutRenderings() Trust {
	t.skipRenderings = true
	return t
}

type trustMode int

const (
	noTrust trustMode = iota
	trustGiven
	trustShipped
)

// TrustAllowedSigners trusts the keys of an allowed_signers file the
// verifier supplies (ssh-keygen's ALLOWED SIGNERS format).
func TrustAllowedSigners(file string) Trust {
	return Trust{mode: trustGiven, file: file, source: file}
}

// IntegrityOnly checks the report against the allowed_signers shipped
// with it: the files are proven unchanged since signed, the signer is not.
func IntegrityOnly() Trust { return Trust{mode: trustShipped} }

// TrustSigningKey trusts the key a playbook's signing section names, for
// its identity: signing.public_key (a key, a .pub file or a SHA256
// fingerprint), else the public half of signing.key (KEY.pub, or the key
// file itself when it is not passphrase-protected). source names the
// playbook in messages; relative paths start at baseDir.
func TrustSigningKey(s playbook.SigningSettings, baseDir, source string) (Trust, error) {
	e := allowedSigner{Line: 0}
	if s.Identity != "" {
		e.Principals = []string{s.Identity}
	}
	switch {
	case strings.HasPrefix(strings.TrimSpace(s.PublicKey), "SHA256:"):
		e.fp = strings.TrimSpace(s.PublicKey)
		source += " (signing.public_key)"
	case s.PublicKey != "":
		k, err := parsePublicKey(s.PublicKey, baseDir)
		if err != nil {
			return Trust{}, err
		}
		e.Key = k
		source += " (signing.public_key)"
	case s.Key != "":
		k, err := publicHalf(resolve(baseDir, s.Key))
		if err != nil {
			return Trust{}, err
		}
		e.Key = k
		source += " (signing.key)"
	default:
		return Trust{}, errors.New("the playbook's signing section names no key (signing.key or signing.public_key)")
	}
	return Trust{mode: trustGiven, source: source, signers: []allowedSigner{e}}, nil
}

// At sets the time valid-after and valid-before are checked at (by
// default the time of the verification, as ssh-keygen -Y verify does).
func (t Trust) At(now time.Time) Trust {
	t.now = now
	return t
}

func parsePublicKey(v, baseDir string) (ssh.PublicKey, error) {
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(v)); err == nil {
		return k, nil
	}
	file := resolve(baseDir, v)
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("signing.public_key: neither a key, a SHA256 fingerprint nor a readable file: %w", err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing.public_key %s: %w", file, err)
	}
	return k, nil
}

// publicHalf reads a private key's public half: KEY.pub, or the key file
// itself when it is not encrypted.
func publicHalf(file string) (ssh.PublicKey, error) {
	if b, err := os.ReadFile(file + ".pub"); err == nil {
		if k, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			return k, nil
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w (give its public key as signing.public_key, or put it in %s.pub)", file, err, file)
	}
	return s.PublicKey(), nil
}

// allowedSigner is one line of an allowed_signers file.
type allowedSigner struct {
	Line        int
	Principals  []string // a pattern-list; empty: any
	Namespaces  []string // a pattern-list; empty: any
	CA          bool     // cert-authority: Key signs the signers' certificates
	ValidAfter  time.Time
	ValidBefore time.Time
	Key         ssh.PublicKey
	fp          string // a key known by its fingerprint only (Key is nil)
}

// parseAllowedSigners reads ssh-keygen's ALLOWED SIGNERS format:
// principals, options (cert-authority, namespaces=, valid-after=,
// valid-before=), key. A key may have several lines; each is a separate
// grant.
func parseAllowedSigners(b []byte, name string) ([]allowedSigner, error) {
	var out []allowedSigner
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		principals, rest := cutField(line)
		as := allowedSigner{Line: n}
		for _, p := range strings.Split(strings.Trim(principals, `"`), ",") {
			if p != "" {
				as.Principals = append(as.Principals, p)
			}
		}
		// ParseAuthorizedKey reads the options before the key, as
		// authorized_keys has them.
		key, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(rest))
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n, err)
		}
		for _, o := range opts {
			k, v, _ := strings.Cut(o, "=")
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "namespaces":
				as.Namespaces = strings.Split(v, ",")
			case "cert-authority":
				as.CA = true
			case "valid-after", "valid-before":
				t, err := parseSignerTime(v)
				if err != nil {
					return nil, fmt.Errorf("%s line %d: %s: %w", name, n, k, err)
				}
				if strings.ToLower(k) == "valid-after" {
					as.ValidAfter = t
				} else {
					as.ValidBefore = t
				}
			default:
				return nil, fmt.Errorf("%s line %d: unknown option %q", name, n, k)
			}
		}
		as.Key = key
		out = append(out, as)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no signer listed", name)
	}
	return out, nil
}

// parseSignerTime reads an allowed_signers time as ssh-keygen does:
// YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, in UTC with a final Z, else
// in local time.
func parseSignerTime(v string) (time.Time, error) {
	loc := time.Local
	if s, ok := strings.CutSuffix(v, "Z"); ok {
		v, loc = s, time.UTC
	}
	layout := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}[len(v)]
	if layout == "" {
		return time.Time{}, fmt.Errorf("%q is not a time (YYYYMMDD[HHMM[SS]][Z])", v)
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time (YYYYMMDD[HHMM[SS]][Z])", v)
	}
	return t, nil
}

// cutField splits off the first blank-separated field, honouring quotes.
func cutField(s string) (field, rest string) {
	quoted := false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\t') && !quoted:
			return s[:i], strings.TrimSpace(s[i+1:])
		}
	}
	return s, ""
}

// check decides whether the entry accepts a signature made by key, for
// identity (the signer report.json names; "" when unknown: not checked),
// in namespace ns, at now. concerns is false when the entry is about
// another key; why says what refused it when it concerns the key.
func (a allowedSigner) check(key ssh.PublicKey, identity, ns string, now time.Time) (concerns bool, why string) {
	cert, isCert := key.(*ssh.Certificate)
	switch {
	case a.CA:
		if !isCert || !bytes.Equal(cert.SignatureKey.Marshal(), a.Key.Marshal()) {
			return false, ""
		}
	case isCert:
		return false, ""
	case a.Key != nil:
		if !bytes.Equal(key.Marshal(), a.Key.Marshal()) {
			return false, ""
		}
	default:
		if ssh.FingerprintSHA256(key) != a.fp {
			return false, ""
		}
	}
	if identity != "" && len(a.Principals) > 0 && !matchPatternList(a.Principals, identity) {
		return true, fmt.Sprintf("is for %s, not for %q, the signer report.json names", strings.Join(a.Principals, ","), identity)
	}
	if len(a.Namespaces) > 0 && !matchPatternList(a.Namespaces, ns) {
		return true, fmt.Sprintf("does not allow namespace %s (namespaces=%s)", ns, strings.Join(a.Namespaces, ","))
	}
	if !a.ValidAfter.IsZero() && now.Before(a.ValidAfter) {
		return true, fmt.Sprintf("is not valid yet: valid-after %s", a.ValidAfter.Format(time.RFC3339))
	}
	if !a.ValidBefore.IsZero() && !now.Before(a.ValidBefore) {
		return true, fmt.Sprintf("has expired: valid-before %s", a.ValidBefore.Format(time.RFC3339))
	}
	if isCert {
		if cert.CertType != ssh.UserCert {
			return true, "certificate is not a user certificate"
		}
		// CheckCert also verifies the CA's signature of the certificate.
		p := identity
		if p == "" && len(cert.ValidPrincipals) > 0 {
			p = cert.ValidPrincipals[0]
		}
		checker := ssh.CertChecker{Clock: func() time.Time { return now }}
		if err := checker.CheckCert(p, cert); err != nil {
			return true, "certificate refused: " + strings.TrimPrefix(err.Error(), "ssh: ")
		}
	}
	return true, ""
}

// matchPatternList is OpenSSH's match_pattern_list: s matches when one
// pattern matches and no negated one (!pattern) does; patterns use * and ?.
func matchPatternList(patterns []string, s string) bool {
	ok := false
	for _, p := range patterns {
		if neg, isNeg := strings.CutPrefix(p, "!"); isNeg {
			if wildcard(neg, s) {
				return false
			}
			continue
		}
		if wildcard(p, s) {
			ok = true
		}
	}
	return ok
}

// wildcard matches s against a pattern of * (any run) and ? (one rune).
func wildcard(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcard(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			_, n := firstRune(s)
			p, s = p[1:], s[n:]
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
	}
	return s == ""
}

func firstRune(s string) (rune, int) {
	for i, r := range s {
		if i > 0 {
			return r, i
		}
	}
	return 0, len(s)
}

// accept finds an entry that accepts key. It returns nil and, for each
// entry about that key, why it refused (none: no entry lists the key).
func accept(signers []allowedSigner, key ssh.PublicKey, identity, ns string, now time.Time) (*allowedSigner, []string) {
	var whys []string
	for i := range signers {
		concerns, why := signers[i].check(key, identity, ns, now)
		switch {
		case !concerns:
		case why == "":
			return &signers[i], nil
		case signers[i].Line > 0:
			whys = append(whys, "line "+strconv.Itoa(signers[i].Line)+" "+why)
		default:
			whys = append(whys, "the key "+why)
		}
	}
	return nil, whys
}

// load reads the trusted signers, from the file given or shipped in dir.
func (t *Trust) load(dir string) error {
	switch t.mode {
	case noTrust:
		return errors.New("no trust source: give your own copy of the signer's key (an allowed_signers file, or the playbook's signing key), or ask for integrity only")
	case trustShipped:
		t.file = filepath.Join(dir, AllowedSignersFile)
		t.source = t.file
	}
	if t.signers != nil {
		return nil
	}
	b, err := os.ReadFile(t.file)
	if err != nil {
		return fmt.Errorf("allowed signers: %w", err)
	}
	t.signers, err = parseAllowedSigners(b, filepath.Base(t.file))
	return err
}

// VerifyDetached checks a detached, armored SSH signature of data made in
// namespace ns by identity, against the signers trust names (given, not
// shipped: there is no directory to ship them in). It is how files other
// than the report (a receipt) are checked with the same trust rules as
// the report. It returns the signing key's SHA256 fingerprint.
func (t Trust) VerifyDetached(data, armored []byte, ns, identity string) (string, error) {
	if t.mode != trustGiven {
		return "", errors.New("no trust source: give your own copy of the signer's key (an allowed_signers file)")
	}
	if err := t.load(""); err != nil {
		return "", err
	}
	sig, err := sshsig.Unarmor(armored)
	if err != nil {
		return "", fmt.Errorf("not a readable SSH signature: %w", err)
	}
	if sig.Namespace != ns {
		return "", fmt.Errorf("signature namespace is %q, not %q", sig.Namespace, ns)
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	now := t.now
	if now.IsZero() {
		now = time.Now()
	}
	e, whys := accept(t.signers, sig.PublicKey, identity, ns, now)
	switch {
	case e == nil && len(whys) == 0:
		return fp, fmt.Errorf("made by key %s, which %s does not list", fp, t.source)
	case e == nil:
		return fp, fmt.Errorf("made by key %s, which %s does not accept for %s: %s", fp, t.source, identity, strings.Join(whys, "; "))
	}
	if sshsig.Verify(bytes.NewReader(data), sig, sig.PublicKey, sig.HashAlgorithm, ns) != nil {
		return fp, fmt.Errorf("does not match its signature: the file was changed after it was signed")
	}
	return fp, nil
}
