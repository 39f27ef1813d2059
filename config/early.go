package config

import (
	"strings"

	"github.com/joho/godotenv"
)

// LogFormatOf is the LOG_FORMAT a command would run with (a --log-format
// flag, the environment, then envFile), read without validating the rest
// of the configuration: a command that fails before it has a Config (a
// bad setting, an unknown command) still writes its last line in the
// chosen format. It is "json" or "text".
func LogFormatOf(args []string, getenv func(string) string, envFile string) string {
	v := ""
	if envFile != "" {
		if file, err := godotenv.Read(envFile); err == nil {
			v = file["LOG_FORMAT"]
		}
	}
	if e := getenv("LOG_FORMAT"); e != "" {
		v = e
	}
	flag := FlagName("LOG_FORMAT")
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != flag {
			continue
		}
		if hasVal {
			v = val
		} else if i+1 < len(args) {
			v = args[i+1]
		}
	}
	if strings.EqualFold(strings.TrimSpace(v), "json") {
		return "json"
	}
	return "text"
}
