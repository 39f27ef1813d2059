package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skerhq/sker/config"
)

// TestBridgeViewWithoutBridge: GET /bridge on a node that runs no bridge
// says so for both mappings, and why, with no counters.
func TestBridgeViewWithoutBridge(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{NodeName: "n1", Roles: config.Roles}, "RABBITMQ_URL"},
		{config.Config{NodeName: "n1", RabbitMQURL: "amqp://127.0.0.1/", Roles: []string{"gateway", "canvases"}}, "SKER_ROLES"},
	} {
		a := &App{cfg: tc.cfg}
		v := a.bridgeView()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range map[string]BridgeMapping{"commands": v.Commands, "events": v.Events} {
			if m.Enabled || m.MappingStatus != nil || !strings.Contains(m.Disabled, tc.want) {
				t.Errorf("%s: got %s; want disabled, naming %s, without counters", name, b, tc.want)
			}
		}
		if v.Node != "n1" || strings.Contains(string(b), `"lag"`) {
			t.Errorf("got %s; want node n1 and no counters", b)
		}
	}
}
