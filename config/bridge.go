package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// bridgeName is what a queue or exchange of the RabbitMQ bridge may be
// called (as package bridge checks it): what RabbitMQ accepts for an
// exchange, without the reserved "amq." prefix.
var bridgeName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)

func amqpName(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if !bridgeName.MatchString(v) || strings.HasPrefix(v, "amq.") {
			return fmt.Errorf("want 1 to 255 letters, digits, '_', '.', ':' or '-', not starting with \"amq.\", got %q", v)
		}
		*dst(c) = v
		return nil
	}
}

var consumerPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func consumerName(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if !consumerPattern.MatchString(v) {
			return fmt.Errorf("want 1 to 64 letters, digits, '_' or '-', got %q", v)
		}
		*dst(c) = v
		return nil
	}
}

// onOff reads on/off (also true/false, 1/0, yes/no).
func onOff(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "1", "yes":
			*dst(c) = true
		case "off", "false", "0", "no":
			*dst(c) = false
		default:
			return fmt.Errorf("want on or off, got %q", v)
		}
		return nil
	}
}

// finishBridge checks the bridge settings together.
func (c *Config) finishBridge() error {
	if c.RabbitMQURL == "" {
		return nil
	}
	if !c.BridgeCommands && !c.BridgeEvents {
		return errors.New("config: BRIDGE_COMMANDS, BRIDGE_EVENTS: both off with RABBITMQ_URL set leaves the bridge nothing to do; unset RABBITMQ_URL instead")
	}
	if c.BridgeCommands && c.BridgeCommandsQueue == c.BridgeDeadLetterQueue {
		return errors.New("config: BRIDGE_DEAD_LETTER_QUEUE: must differ from BRIDGE_COMMANDS_QUEUE")
	}
	return nil
}
