package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// checkOrigin is the listener's origin check; see allowOrigin. The
// listener sets the request's RemoteAddr to the connection's peer.
func (g *Gateway) checkOrigin(r *http.Request) bool {
	var peer netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr()
	}
	return g.allowOrigin(r.Header.Get("Origin"), r.Host, r.Header.Get("X-Forwarded-Host"), peer)
}

// allowOrigin decides whether a handshake may open a WebSocket. With
// Config.Origins empty, any may (or none: the token, not a cookie,
// authenticates). Otherwise the Origin header must be one of them or be
// SKER's own origin: a page SKER served itself (the studio) must connect
// whatever CORS_ORIGIN lists for other sites. Own means that the origin
// names the host the request was addressed to: its Host header or, when
// the peer is one of Config.TrustedProxies, its X-Forwarded-Host (a proxy
// may rewrite Host to the upstream's name). A request without an Origin
// header is refused then, as it names no origin at all.
func (g *Gateway) allowOrigin(origin, host, forwardedHost string, peer netip.Addr) bool {
	if len(g.cfg.Origins) == 0 || slices.Contains(g.cfg.Origins, origin) {
		return true
	}
	if origin == "" {
		return false
	}
	if sameHost(origin, host) {
		return true
	}
	if forwardedHost == "" || !g.trustedProxy(peer) {
		return false
	}
	first, _, _ := strings.Cut(forwardedHost, ",")
	return sameHost(origin, strings.TrimSpace(first))
}

// trustedProxy reports whether peer is one of Config.TrustedProxies.
func (g *Gateway) trustedProxy(peer netip.Addr) bool {
	if !peer.IsValid() {
		return false
	}
	peer = peer.Unmap()
	for _, p := range g.cfg.TrustedProxies {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// sameHost reports whether origin (scheme://host[:port]) names host (a
// Host header, host[:port]). The host names must be equal (case aside).
// When host has a port, the origin's port must be it (80 or 443 when the
// origin has none, after its scheme); a host without a port matches the
// name on any port, because proxies pass the name alone (nginx's $host)
// while the browser's origin keeps a non-default port.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || host == "" {
		return false
	}
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	} else {
		name = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if name == "" || !strings.EqualFold(u.Hostname(), name) {
		return false
	}
	if port == "" {
		return true
	}
	originPort := u.Port()
	if originPort == "" {
		originPort = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return originPort == port
}
