package config

import (
	"errors"
	"fmt"
	"os"
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

// bridgeConfig reads BRIDGE_CONFIG: the path of a file that exists and
// is not a folder (package bridge reads it, when the node starts).
func bridgeConfig(c *Config, v string) error {
	if v != "" {
		fi, err := os.Stat(v)
		if err != nil {
			return fmt.Errorf("want a YAML file of bridge mappings: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("want a YAML file of bridge mappings, got the folder %s", v)
		}
	}
	c.BridgeConfig = v
	return nil
}

// finishBridge checks the bridge settings together.
func (c *Config) finishBridge() error {
	if c.RabbitMQURL == "" {
		if c.AIWorkerQueue != "" {
			return errors.New("config: AI_WORKER_QUEUE: needs RABBITMQ_URL: the jobs go to the workers through the bridge")
		}
		if c.BridgeConfig != "" {
			return errors.New("config: BRIDGE_CONFIG: needs RABBITMQ_URL: its mappings run on the bridge")
		}
		return nil
	}
	if !c.BridgeCommands && !c.BridgeEvents && c.AIWorkerQueue == "" && c.BridgeConfig == "" {
		return errors.New("config: BRIDGE_COMMANDS, BRIDGE_EVENTS: both off with RABBITMQ_URL set and no AI_WORKER_QUEUE or BRIDGE_CONFIG leaves the bridge nothing to do; unset RABBITMQ_URL instead")
	}
	if c.BridgeCommands && c.BridgeCommandsQueue == c.BridgeDeadLetterQueue {
		return errors.New("config: BRIDGE_DEAD_LETTER_QUEUE: must differ from BRIDGE_COMMANDS_QUEUE")
	}
	return nil
}
