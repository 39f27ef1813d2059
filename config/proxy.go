package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// trustProxy parses TRUST_PROXY: comma-separated IP addresses and CIDR
// ranges of the reverse proxies whose X-Forwarded-For, X-Forwarded-Proto
// and X-Forwarded-Host are believed. Empty believes none: the client is the
// connection's peer. A single address becomes a one-address range, so that
// every consumer matches ranges only.
func trustProxy(c *Config, v string) error {
	c.TrustProxy = nil
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := ParseProxy(part)
		if err != nil {
			return err
		}
		c.TrustProxy = append(c.TrustProxy, p)
	}
	return nil
}

// ParseProxy reads one TRUST_PROXY entry: an address ("127.0.0.1", "::1")
// or a range ("10.0.0.0/8"). A range with host bits set ("10.0.0.1/8") is
// refused rather than silently widened or narrowed, as is a zone
// ("fe80::1%eth0"), which a peer address never carries.
func ParseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want IP addresses or CIDR ranges like 127.0.0.1,10.0.0.0/8, got %q", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("range %q has host bits set; did you mean %s?", s, p.Masked())
		}
		return unmapPrefix(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("want IP addresses or CIDR ranges like 127.0.0.1,10.0.0.0/8, got %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapPrefix turns an IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) into
// its IPv4 form, the form peer addresses are compared in.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() {
		return p
	}
	bits := max(p.Bits()-96, 0)
	return netip.PrefixFrom(p.Addr().Unmap(), bits)
}
