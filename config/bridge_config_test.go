package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBridgeConfigFile: BRIDGE_CONFIG names a file that exists, and needs
// RABBITMQ_URL; with it, the bridge has something to do even with both
// built-in mappings off.
func TestBridgeConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(file, []byte("mappings: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(nil, env(map[string]string{
		"RABBITMQ_URL": "amqp://h/", "BRIDGE_CONFIG": file, "BRIDGE_COMMANDS": "off", "BRIDGE_EVENTS": "off",
	}), "")
	if err != nil || c.BridgeConfig != file {
		t.Fatalf("got %q, %v; want BRIDGE_CONFIG %s", c.BridgeConfig, err, file)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"BRIDGE_CONFIG": file}, "BRIDGE_CONFIG: needs RABBITMQ_URL"},
		{map[string]string{"RABBITMQ_URL": "amqp://h/", "BRIDGE_CONFIG": filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{map[string]string{"RABBITMQ_URL": "amqp://h/", "BRIDGE_CONFIG": dir}, "folder"},
	} {
		_, _, err := Load(nil, env(tc.env), "")
		if err == nil || !strings.Contains(err.Error(), "BRIDGE_CONFIG") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v; want an error naming BRIDGE_CONFIG and %q", tc.env, err, tc.want)
		}
	}
}
