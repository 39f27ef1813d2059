package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestTrustProxy(t *testing.T) {
	c, _, err := Load(nil, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustProxy) != 0 {
		t.Fatalf("default TRUST_PROXY: got %v; want none", c.TrustProxy)
	}
	c, _, err = Load(nil, env(map[string]string{"TRUST_PROXY": " 127.0.0.1, 10.0.0.0/8,::1,::ffff:192.168.0.0/112 "}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.168.0.0/16"),
	}
	if !slices.Equal(c.TrustProxy, want) {
		t.Fatalf("TRUST_PROXY: got %v; want %v", c.TrustProxy, want)
	}
}

// TestTrustProxyBadEntry: a bad entry stops start-up, naming the variable
// and the entry.
func TestTrustProxyBadEntry(t *testing.T) {
	for _, bad := range []string{"localhost", "10.0.0.0/33", "10.0.0.1/8", "1.2.3", "fe80::1%eth0", "127.0.0.1,nginx"} {
		_, _, err := Load(nil, env(map[string]string{"TRUST_PROXY": bad}), "")
		if err == nil {
			t.Errorf("TRUST_PROXY=%q: no error", bad)
			continue
		}
		entry := bad[strings.LastIndex(bad, ",")+1:]
		if !strings.Contains(err.Error(), "TRUST_PROXY") || !strings.Contains(err.Error(), entry) {
			t.Errorf("TRUST_PROXY=%q: error %q does not name the variable and %q", bad, err, entry)
		}
	}
}
