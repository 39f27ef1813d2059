package config

import (
	"strings"
	"testing"
	"time"
)

// TestVersionSweepInterval: VERSION_SWEEP_INTERVAL defaults to an hour,
// takes a duration from a second to a day, and refuses anything else
// with an error naming it.
func TestVersionSweepInterval(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"", time.Hour},
		{"1s", time.Second},
		{"15m", 15 * time.Minute},
		{"24h", 24 * time.Hour},
	} {
		c, _, err := Load(nil, env(map[string]string{"VERSION_SWEEP_INTERVAL": tc.value}), "")
		if err != nil {
			t.Fatalf("VERSION_SWEEP_INTERVAL=%q: %v", tc.value, err)
		}
		if c.VersionSweepInterval != tc.want {
			t.Errorf("VERSION_SWEEP_INTERVAL=%q: got %v; want %v", tc.value, c.VersionSweepInterval, tc.want)
		}
	}
	for _, v := range []string{"10ms", "0", "-1h", "25h", "hourly"} {
		_, _, err := Load(nil, env(map[string]string{"VERSION_SWEEP_INTERVAL": v}), "")
		if err == nil || !strings.Contains(err.Error(), "VERSION_SWEEP_INTERVAL") {
			t.Errorf("VERSION_SWEEP_INTERVAL=%q: got %v; want an error naming VERSION_SWEEP_INTERVAL", v, err)
		}
	}
}
