package config

import (
	"slices"
	"strings"
	"testing"
)

// TestRoles: SKER_ROLES is every role by default and with "all", and a
// comma list otherwise, each role once in a fixed order.
func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want []string
	}{
		{"", []string{"gateway", "canvases", "ai", "bridge"}},
		{"all", []string{"gateway", "canvases", "ai", "bridge"}},
		{"bridge,gateway", []string{"gateway", "bridge"}},
		{"gateway", []string{"gateway"}},
		{"ai, canvases", []string{"canvases", "ai"}},
		{"canvases,canvases", []string{"canvases"}},
	} {
		c, _, err := Load(nil, env(map[string]string{"SKER_ROLES": tc.v}), "")
		if err != nil {
			t.Errorf("SKER_ROLES=%q: %v", tc.v, err)
			continue
		}
		if !slices.Equal(c.Roles, tc.want) {
			t.Errorf("SKER_ROLES=%q: got %v; want %v", tc.v, c.Roles, tc.want)
		}
	}
	for _, bad := range []string{"none", "gateway,", "all,ai", "Gateway", "gateway canvases"} {
		_, _, err := Load(nil, env(map[string]string{"SKER_ROLES": bad}), "")
		if err == nil || !strings.Contains(err.Error(), "SKER_ROLES") {
			t.Errorf("SKER_ROLES=%q: got %v; want an error naming SKER_ROLES", bad, err)
		}
	}
}
