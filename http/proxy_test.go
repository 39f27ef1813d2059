package skerhttp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/auth"
	skerhttp "github.com/skerhq/sker/http"
	"golang.org/x/crypto/bcrypt"
)

// proxyHarness serves on loopback (so that the peer is 127.0.0.1) with
// trusted as TrustedProxies and a login limit of 3 failures per address.
func proxyHarness(t *testing.T, trusted ...string) (*harness, string) {
	t.Helper()
	h := newHarness(t, func(c *skerhttp.Config, d *skerhttp.Deps) {
		for _, p := range trusted {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(p))
		}
		d.Auth = auth.New(auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost,
			LoginPerIP: auth.Rule{Limit: 3, Window: time.Minute}}, d.Store, nil, d.Logger)
	})
	return h, h.serve()
}

// failLogin posts a wrong login for a fresh email (so that only the
// per-address limit can trip) with xff as X-Forwarded-For, and returns
// the status.
func failLogin(t *testing.T, base, xff string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{
		"email": fmt.Sprintf("nobody%d@example.com", time.Now().UnixNano()), "password": "wrong password"})
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST login: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginLimitKeysOnForwardedAddress: from a trusted proxy, failures
// count against the address the proxy appended to X-Forwarded-For, not
// the proxy's own, and not an address the client put in front of it.
func TestLoginLimitKeysOnForwardedAddress(t *testing.T) {
	h, base := proxyHarness(t, "127.0.0.1/32")
	for i := range 3 {
		if got := failLogin(t, base, "203.0.113.1"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d from 203.0.113.1: got %d; want 401", i+1, got)
		}
	}
	if got := failLogin(t, base, "203.0.113.1"); got != http.StatusTooManyRequests {
		t.Fatalf("4th failure from 203.0.113.1: got %d; want 429", got)
	}
	// Another client behind the same proxy is not limited.
	if got := failLogin(t, base, "203.0.113.2"); got != http.StatusUnauthorized {
		t.Fatalf("first failure from 203.0.113.2: got %d; want 401 (not the proxy's address counted)", got)
	}
	// The limited client sends its own X-Forwarded-For; the proxy appends
	// the address it saw: the rightmost counts.
	if got := failLogin(t, base, "198.51.100.7, 203.0.113.1"); got != http.StatusTooManyRequests {
		t.Fatalf("limited client with its own X-Forwarded-For in front: got %d; want 429", got)
	}
	if !strings.Contains(h.logs.String(), "client=203.0.113.2") {
		t.Errorf("access log has no client=203.0.113.2:\n%s", h.logs.String())
	}
}

// TestLoginLimitIgnoresUntrustedForwardedFor: from a peer that is not a
// trusted proxy, X-Forwarded-For is ignored, so a client cannot dodge the
// limit by sending a new address each time.
func TestLoginLimitIgnoresUntrustedForwardedFor(t *testing.T) {
	for _, trusted := range [][]string{nil, {"10.0.0.0/8"}} {
		t.Run(fmt.Sprint(trusted), func(t *testing.T) {
			h, base := proxyHarness(t, trusted...)
			for i := range 3 {
				if got := failLogin(t, base, fmt.Sprintf("203.0.113.%d", i+1)); got != http.StatusUnauthorized {
					t.Fatalf("failure %d: got %d; want 401", i+1, got)
				}
			}
			if got := failLogin(t, base, "203.0.113.99"); got != http.StatusTooManyRequests {
				t.Fatalf("4th failure with yet another X-Forwarded-For: got %d; want 429 (keyed on the peer)", got)
			}
			if logs := h.logs.String(); strings.Contains(logs, "client=203.0.113.") || !strings.Contains(logs, "client=127.0.0.1") {
				t.Errorf("access log: want client=127.0.0.1 and no forwarded address:\n%s", logs)
			}
		})
	}
}

// TestClientBehindProxyChain: with two trusted hops (a load balancer in
// 10.0.0.0/8, then nginx on loopback), the client is the address the
// outer one saw.
func TestClientBehindProxyChain(t *testing.T) {
	h, base := proxyHarness(t, "127.0.0.1/32", "10.0.0.0/8")
	failLogin(t, base, "198.51.100.7, 203.0.113.9, 10.1.2.3")
	if logs := h.logs.String(); !strings.Contains(logs, "client=203.0.113.9") {
		t.Errorf("access log: want client=203.0.113.9:\n%s", logs)
	}
}
