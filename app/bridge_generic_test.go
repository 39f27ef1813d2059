package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/testkit"
)

// TestBridgeViewGenericWithoutBridge: on a node without the bridge role,
// GET /bridge lists each mapping of BRIDGE_CONFIG as disabled, and why.
func TestBridgeViewGenericWithoutBridge(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bridge.yaml")
	yaml := "mappings:\n  - name: orders-in\n    from_queue: orders\n    to_subject: sker.ext.orders\n" +
		"  - name: alerts-out\n    from_subject: sker.ext.alerts.>\n    to_exchange: alerts\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &App{cfg: config.Config{NodeName: "n1", RabbitMQURL: "amqp://127.0.0.1/", Roles: []string{"gateway"}, BridgeConfig: file}}
	v := a.bridgeView()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders-in", "alerts-out"} {
		m, ok := v.Generic[name]
		if !ok || m.Enabled || m.MappingStatus != nil || !strings.Contains(m.Disabled, "SKER_ROLES") {
			t.Errorf("%s: got %s; want it under generic, disabled naming SKER_ROLES", name, b)
		}
	}
	if !strings.Contains(string(b), `"generic":{`) {
		t.Errorf("got %s; want a generic object", b)
	}
}

// TestBridgeViewGeneric: a bridge's generic mappings are under generic,
// by name, with their counters; the built-in ones keep their places.
func TestBridgeViewGeneric(t *testing.T) {
	_, js := testkit.Connect(t, testkit.NATSServer(t))
	ms, err := bridge.ParseGenericConfig([]byte("mappings:\n  - name: orders-in\n    from_queue: orders\n    to_subject: sker.ext.orders\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(context.Background(), bridge.Config{URL: "amqp://127.0.0.1/", DisableCommands: true, DisableEvents: true, JS: js, Generic: ms})
	if err != nil {
		t.Fatal(err)
	}
	a := &App{cfg: config.Config{NodeName: "n1", RabbitMQURL: "amqp://127.0.0.1/", Roles: config.Roles, BridgeEvents: false, BridgeConfig: "unused"}, bridge: b}
	v := a.bridgeView()
	m, ok := v.Generic["orders-in"]
	if !ok || !m.Enabled || m.MappingStatus == nil || m.Name != "orders-in" || m.Consuming {
		t.Errorf("got %+v; want orders-in enabled, with counters, not consuming (never connected)", v.Generic)
	}
	if v.Commands.Enabled || v.Events.Enabled {
		t.Errorf("commands %+v, events %+v; want both disabled", v.Commands, v.Events)
	}
}
