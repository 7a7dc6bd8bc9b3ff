package testenv

import (
	"net/netip"
	"testing"
)

// TestLightHostAddr: the light fleet's addresses are distinct, inside
// 127.0.16.0/20, and collide with no other component's.
func TestLightHostAddr(t *testing.T) {
	block := netip.MustParsePrefix("127.0.16.0/20")
	others := map[string]bool{ADHost: true, MailHostAddr: true, DNSHost: true, "127.0.0.1": true}
	for i := 1; i <= 251; i++ {
		others[HostAddr(i)] = true
	}
	seen := map[string]bool{}
	for i := 1; i <= LightHostsMax; i++ {
		a := LightHostAddr(i)
		ip, err := netip.ParseAddr(a)
		if err != nil || !block.Contains(ip) || ip.As4()[3] == 0 || ip.As4()[3] == 255 {
			t.Fatalf("light host %d: address %s is not a host address of %s", i, a, block)
		}
		if seen[a] || others[a] {
			t.Fatalf("light host %d: address %s is taken", i, a)
		}
		seen[a] = true
	}
}
