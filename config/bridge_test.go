package config

import (
	"strings"
	"testing"
)

// TestBridgeSettings: both mappings are on by default with the documented
// names; each can be turned off and renamed.
func TestBridgeSettings(t *testing.T) {
	c, _, err := Load(nil, env(map[string]string{"RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.BridgeCommands || !c.BridgeEvents || c.BridgeCommandsQueue != "sker.commands" || c.BridgeDeadLetterQueue != "sker.commands.dead" ||
		c.BridgeEventsExchange != "sker.events" || c.BridgeEventsConsumer != "sker-bridge-events" ||
		c.BridgePrefetch != 64 || c.BridgeMaxInFlight != 256 || c.BridgeMaxAttempts != 5 {
		t.Fatalf("defaults: got %+v", c)
	}
	c, _, err = Load([]string{"--bridge-events=off", "--bridge-commands-queue=team.in"}, env(map[string]string{
		"RABBITMQ_URL": "amqp://h/", "BRIDGE_DEAD_LETTER_QUEUE": "team.dead", "BRIDGE_PREFETCH": "8", "BRIDGE_MAX_ATTEMPTS": "2",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.BridgeCommands || c.BridgeEvents || c.BridgeCommandsQueue != "team.in" || c.BridgeDeadLetterQueue != "team.dead" ||
		c.BridgePrefetch != 8 || c.BridgeMaxAttempts != 2 {
		t.Fatalf("set: got commands %v, events %v, queue %q, dead %q, prefetch %d, attempts %d",
			c.BridgeCommands, c.BridgeEvents, c.BridgeCommandsQueue, c.BridgeDeadLetterQueue, c.BridgePrefetch, c.BridgeMaxAttempts)
	}
}

// TestBridgeBadValues: every bad bridge value is an error naming its
// variable, as are settings that leave the bridge nothing to do.
func TestBridgeBadValues(t *testing.T) {
	rabbit := "amqp://h/"
	for _, tc := range []map[string]string{
		{"BRIDGE_COMMANDS": "maybe"},
		{"BRIDGE_EVENTS": "2"},
		{"BRIDGE_COMMANDS_QUEUE": "amq.mine"},
		{"BRIDGE_DEAD_LETTER_QUEUE": "has space"},
		{"BRIDGE_EVENTS_EXCHANGE": strings.Repeat("x", 256)},
		{"BRIDGE_EVENTS_CONSUMER": "a.b"},
		{"BRIDGE_PREFETCH": "0"},
		{"BRIDGE_MAX_IN_FLIGHT": "many"},
		{"BRIDGE_MAX_ATTEMPTS": "101"},
		{"RABBITMQ_URL": rabbit, "BRIDGE_COMMANDS": "off", "BRIDGE_EVENTS": "off"},
		{"RABBITMQ_URL": rabbit, "BRIDGE_COMMANDS_QUEUE": "q", "BRIDGE_DEAD_LETTER_QUEUE": "q"},
	} {
		var key string
		for k := range tc {
			if k != "RABBITMQ_URL" && (key == "" || k > key) {
				key = k
			}
		}
		_, _, err := Load(nil, env(tc), "")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%v: got %v; want an error naming %s", tc, err, key)
		}
	}
	// Without RABBITMQ_URL there is no bridge to check.
	if _, _, err := Load(nil, env(map[string]string{"BRIDGE_COMMANDS": "off", "BRIDGE_EVENTS": "off"}), ""); err != nil {
		t.Errorf("both mappings off without RABBITMQ_URL: got %v; want nil", err)
	}
}
