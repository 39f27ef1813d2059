package gateway

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// handshake is a WebSocket upgrade request for target with the given
// Host and extra header lines.
func handshake(target, host string, extra ...string) []byte {
	req := string(upgradeRequest(target, extra...))
	return []byte(strings.Replace(req, "Host: localhost\r\n", "Host: "+host+"\r\n", 1))
}

// TestOwnOriginOpensWebSocket: with CORS_ORIGIN's list set, a page from
// SKER's own origin (Origin naming the request's Host) still connects,
// through the listener and through the Fiber route; a foreign origin and
// a missing Origin are refused with 403.
func TestOwnOriginOpensWebSocket(t *testing.T) {
	for _, routeOnly := range []bool{false, true} {
		name := map[bool]string{false: "listener", true: "route"}[routeOnly]
		t.Run(name, func(t *testing.T) {
			s := newStackWith(t, stackOptions{routeOnly: routeOnly,
				gateway: func(c *Config) { c.Origins = []string{"https://app.example"} }})
			_, tok := s.user("a")
			query := "/ws?token=" + url.QueryEscape(tok)
			for _, tc := range []struct {
				what, host, origin string
				want               int
			}{
				{"own origin", "sker.example:3000", "Origin: http://sker.example:3000", http.StatusSwitchingProtocols},
				{"own origin, host case", "SKER.example", "Origin: https://sker.EXAMPLE", http.StatusSwitchingProtocols},
				{"listed origin", "sker.example", "Origin: https://app.example", http.StatusSwitchingProtocols},
				{"foreign origin", "sker.example", "Origin: https://evil.example", http.StatusForbidden},
				{"own name, other port", "sker.example:3000", "Origin: http://sker.example:4000", http.StatusForbidden},
				{"no origin", "sker.example", "X-No-Origin: 1", http.StatusForbidden},
				{"forwarded host, untrusted peer", "upstream:3000", "Origin: https://sker.example\r\nX-Forwarded-Host: sker.example", http.StatusForbidden},
			} {
				c := s.raw()
				c.write(handshake(query, tc.host, tc.origin))
				c.expect(tc.what, tc.want)
				if tc.want == http.StatusSwitchingProtocols {
					c.hello()
				}
			}
		})
	}
}

// TestForwardedHostFromTrustedProxy: behind a trusted proxy that sets
// Host to the upstream's name, X-Forwarded-Host is the host that counts.
func TestForwardedHostFromTrustedProxy(t *testing.T) {
	s := newStack(t, func(c *Config) {
		c.Origins = []string{"https://app.example"}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}, nil)
	_, tok := s.user("a")
	query := "/ws?token=" + url.QueryEscape(tok)
	good := s.raw()
	good.write(handshake(query, "upstream:3000", "Origin: https://sker.example", "X-Forwarded-Host: sker.example"))
	good.expect("own origin in X-Forwarded-Host from a trusted proxy", http.StatusSwitchingProtocols)
	good.hello()
	bad := s.raw()
	bad.write(handshake(query, "upstream:3000", "Origin: https://evil.example", "X-Forwarded-Host: sker.example"))
	bad.expect("foreign origin from a trusted proxy", http.StatusForbidden)
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		origin, host string
		want         bool
	}{
		{"https://sker.example", "sker.example", true},
		{"https://sker.example:8443", "sker.example", true}, // nginx's $host has no port
		{"https://sker.example", "sker.example:443", true},
		{"http://sker.example", "sker.example:443", false},
		{"http://127.0.0.1:3000", "127.0.0.1:3000", true},
		{"http://[::1]:3000", "[::1]:3000", true},
		{"http://[::1]", "[::1]", true},
		{"https://sker.example.evil", "sker.example", false},
		{"null", "sker.example", false},
		{"ftp://sker.example", "sker.example", false},
		{"https://sker.example", "", false},
	} {
		if got := sameHost(tc.origin, tc.host); got != tc.want {
			t.Errorf("sameHost(%q, %q) = %v; want %v", tc.origin, tc.host, got, tc.want)
		}
	}
}
