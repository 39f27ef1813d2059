package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Values of ACCESS_LOG besides a file path.
const (
	AccessLogOn  = "on"
	AccessLogOff = "off"
)

// accessLog parses ACCESS_LOG: on, off, or an absolute file path (the
// file is opened at start-up, where an error names ACCESS_LOG too).
func accessLog(c *Config, v string) error {
	switch lower := strings.ToLower(v); {
	case lower == AccessLogOn || lower == AccessLogOff:
		c.AccessLog = lower
	case filepath.IsAbs(v) && !strings.HasSuffix(v, "/"):
		c.AccessLog = filepath.Clean(v)
	default:
		return fmt.Errorf("want on, off or an absolute file path, got %q", v)
	}
	return nil
}

// AccessLogFile is the file ACCESS_LOG names, or "" when it is on or off.
func (c Config) AccessLogFile() string {
	if c.AccessLog == AccessLogOn || c.AccessLog == AccessLogOff {
		return ""
	}
	return c.AccessLog
}
