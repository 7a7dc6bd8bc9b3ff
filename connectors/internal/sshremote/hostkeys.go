package sshremote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyOrder prefers ed25519, the key every current OpenSSH host has,
// so that a pinned ed25519 fingerprint is what the server shows.
var hostKeyOrder = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA,
}

// HostKeyError is a host whose key does not match what is known: the host
// is refused.
type HostKeyError struct {
	Host, Got, Want string
	// keyType is the type of the key the host presented.
	keyType string
}

func (e *HostKeyError) Error() string {
	if e.Want == "" {
		return fmt.Sprintf("host key of %s is unknown (%s): add it to known_hosts, pin it in host_keys, or set trust_on_first_use", e.Host, e.Got)
	}
	return fmt.Sprintf("host key of %s does not match: the host presents %s, expected %s; refusing the host (possible man-in-the-middle, or the host was reinstalled)", e.Host, e.Got, e.Want)
}

// HostKeys checks host keys against pins, a known_hosts file, or trust on
// first use, in that order of precedence.
type HostKeys struct {
	known   ssh.HostKeyCallback // nil without known_hosts
	file    string
	tofu    bool
	record  func(host, addr string, key ssh.PublicKey)
	mu      sync.Mutex
	trusted map[string]string // addr -> fingerprint trusted this run
	// pinAlgo is, by address, the host key algorithm that showed the
	// pinned key where the preferred one showed another.
	pinAlgo map[string][]string
	// hostCAs are the keys of known_hosts' @cert-authority lines (host
	// certificate authorities), by their wire form.
	hostCAs  map[string]bool
	fileLock sync.Mutex
}

// NewHostKeys checks host keys against file (a known_hosts file, or "")
// and, with tofu, trusts an unknown host on first use, appending its key
// to file and telling record.
func NewHostKeys(file string, tofu bool, record func(host, addr string, key ssh.PublicKey)) (*HostKeys, error) {
	hk := &HostKeys{file: file, tofu: tofu, record: record, trusted: map[string]string{}, pinAlgo: map[string][]string{}}
	if file != "" {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) && tofu {
			return hk, nil
		}
		cb, err := knownhosts.New(file)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", file, err)
		}
		hk.known = cb
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", file, err)
		}
		hk.hostCAs = map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 4 || f[0] != "@cert-authority" {
				continue
			}
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(f[2:], " "))); err == nil {
				hk.hostCAs[string(k.Marshal())] = true
			}
		}
	}
	return hk, nil
}

// Callback returns the check for one host. pin is a SHA256 fingerprint or
// "".
func (hk *HostKeys) Callback(name, pin string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		got := ssh.FingerprintSHA256(key)
		if pin != "" {
			if got != pin {
				return &HostKeyError{Host: name, Got: got, Want: pin, keyType: key.Type()}
			}
			return nil
		}
		hk.mu.Lock()
		prev, seen := hk.trusted[hostname]
		hk.mu.Unlock()
		if seen {
			if prev != got {
				return &HostKeyError{Host: name, Got: got, Want: prev + " (trusted earlier in this run)"}
			}
			return nil
		}
		if hk.known != nil {
			err := hk.known(hostname, remote, key)
			var ke *knownhosts.KeyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ke) && len(ke.Want) > 0:
				var want []string
				for _, k := range ke.Want {
					want = append(want, fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
				}
				return &HostKeyError{Host: name, Got: got, Want: strings.Join(want, " or ")}
			case errors.As(err, &ke):
				// Unknown host: fall through to trust on first use.
			default:
				return fmt.Errorf("host key of %s: %w", name, err)
			}
		}
		if !hk.tofu {
			return &HostKeyError{Host: name, Got: got}
		}
		hk.mu.Lock()
		hk.trusted[hostname] = got
		hk.mu.Unlock()
		if err := hk.remember(hostname, key); err != nil {
			return err
		}
		if hk.record != nil {
			hk.record(name, hostname, key)
		}
		return nil
	}
}

// remember appends a key trusted on first use to the known_hosts file, so
// the next run checks it.
func (hk *HostKeys) remember(addr string, key ssh.PublicKey) error {
	if hk.file == "" {
		return nil
	}
	hk.fileLock.Lock()
	defer hk.fileLock.Unlock()
	f, err := os.OpenFile(hk.file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", hk.file, err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", hk.file, err)
	}
	return nil
}

// certAlgorithms are the host certificate types, asked for first from a
// host that known_hosts knows by a certificate authority only.
var certAlgorithms = []string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// Algorithms returns the host key algorithms to offer for addr: those of
// the keys known_hosts holds for it, so the server does not pick a key
// type the file lacks; for a host it lists no key of (it may be known by
// a @cert-authority line), host certificates first when the file has
// such lines, then every algorithm.
func (hk *HostKeys) Algorithms(addr string) []string {
	if hk.known == nil {
		return hostKeyOrder
	}
	// Asking with a key no file can hold makes the callback list the known
	// keys of the host in its error.
	var probe ssh.PublicKey = dummyKey{}
	var ke *knownhosts.KeyError
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	err := hk.known(addr, tcp, probe)
	if !errors.As(err, &ke) {
		return hostKeyOrder
	}
	// The lines that match the host include its CAs' keys: those say
	// nothing of the host key's type.
	want := slices.DeleteFunc(slices.Clone(ke.Want), func(k knownhosts.KnownKey) bool { return hk.hostCAs[string(k.Key.Marshal())] })
	if len(want) == 0 {
		if len(want) < len(ke.Want) {
			return slices.Concat(certAlgorithms, hostKeyOrder)
		}
		return hostKeyOrder
	}
	ke = &knownhosts.KeyError{Want: want}
	var algos []string
	for _, want := range hostKeyOrder {
		for _, k := range ke.Want {
			if algoFor(k.Key.Type(), want) {
				algos = append(algos, want)
				break
			}
		}
	}
	if len(algos) == 0 {
		return hostKeyOrder
	}
	return algos
}

// pinFamilies are the host key algorithms tried, one family at a time,
// when a host presents a key other than the pinned one: a pin names one
// of the host's keys (an ECDSA or RSA fingerprint, from an older client or
// a provider's dossier), and a server shows the type the client prefers.
var pinFamilies = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256}, {ssh.KeyAlgoECDSA384}, {ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
}

// PinnedAlgorithms returns the host key algorithms to offer a host with a
// pinned key: the family that showed it before, if another did not.
func (hk *HostKeys) PinnedAlgorithms(addr string) []string {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	if a, ok := hk.pinAlgo[addr]; ok {
		return a
	}
	return hostKeyOrder
}

func algoFor(keyType, algo string) bool {
	if keyType == ssh.KeyAlgoRSA {
		return algo == ssh.KeyAlgoRSA || algo == ssh.KeyAlgoRSASHA256 || algo == ssh.KeyAlgoRSASHA512
	}
	return keyType == algo
}

// dummyKey is a public key no known_hosts line can match.
type dummyKey struct{}

func (dummyKey) Type() string                                 { return "handover-probe" }
func (dummyKey) Marshal() []byte                              { return []byte("handover-probe") }
func (dummyKey) Verify(data []byte, sig *ssh.Signature) error { return errors.New("probe key") }
