package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// SKER grew out of a Node.js deployment guide whose .env many
// installations still carry. Its names that mean what a SKER setting
// means are read as that setting (NODE_ENV, LOG_FORMAT=combined); its
// names SKER has no use for are ignored with a start-up message saying
// what to use instead, rather than refused: none of them is needed to run
// safely. The settings the guide and SKER share by name and meaning
// (PORT, HOST, DATABASE_URL, REDIS_URL, JWT_SECRET, CORS_ORIGIN,
// UPLOAD_PATH, MAX_FILE_SIZE, LOG_LEVEL) need nothing here.

// guideSettings are the guide's names SKER does not read, with what to
// do instead.
var guideSettings = []struct{ name, instead string }{
	{"JWT_EXPIRES_IN", "use ACCESS_TOKEN_TTL (a duration like 15m; refresh tokens: REFRESH_TOKEN_TTL)"},
	{"JWT_REFRESH_EXPIRES_IN", "use REFRESH_TOKEN_TTL (a duration like 720h)"},
	{"SESSION_SECRET", "SKER has no cookie sessions; JWT_SECRET signs its tokens"},
	{"RATE_LIMIT_WINDOW_MS", rateLimits},
	{"RATE_LIMIT_MAX_REQUESTS", rateLimits},
	{"RATE_LIMIT_MAX", rateLimits},
	{"PM2_INSTANCES", pm2},
	{"PM2_EXEC_MODE", pm2},
	{"PM2_MAX_MEMORY_RESTART", pm2},
	{"LOG_FILE", "SKER logs to stderr (journald keeps it under systemd)"},
}

// guidePrefixes catch the rest of the guide's families in a .env file
// (the environment cannot be listed through getenv).
var guidePrefixes = []struct{ prefix, instead string }{
	{"RATE_LIMIT_", rateLimits},
	{"PM2_", pm2},
}

const (
	rateLimits = "SKER's limits are built in (login failures per address and per email, " +
		"AI_RUNS_PER_MINUTE, AI_MAX_RUNS_PER_USER, WebSocket ops per second); " +
		"for a limit on all requests use nginx's limit_req"
	pm2 = "SKER is one binary: run it under systemd (docs/operations.md), " +
		"several nodes as a cluster (docs/cluster.md)"
)

// morganFormats are the guide's LOG_FORMAT values (morgan's formats of an
// access-log line); SKER reads each as text, its one-line-per-request
// key=value log, the nearest it has.
var morganFormats = []string{"combined", "common", "dev", "short", "tiny"}

// fromGuide reads the guide's names in raw (the .env file and the
// settings' environment values) and getenv: NODE_ENV becomes SKER_ENV
// when SKER_ENV is unset, and every name SKER ignores gets a notice.
func fromGuide(raw map[string]string, getenv func(string) string) ([]string, error) {
	lookup := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return strings.TrimSpace(raw[name])
	}
	notices, err := nodeEnv(raw, lookup)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, g := range guideSettings {
		if lookup(g.name) != "" {
			seen[g.name] = true
			notices = append(notices, ignored(g.name, g.instead))
		}
	}
	var more []string
	for k := range raw {
		if !seen[k] && !isSetting(k) {
			more = append(more, k)
		}
	}
	slices.Sort(more)
	for _, k := range more {
		for _, p := range guidePrefixes {
			if strings.HasPrefix(k, p.prefix) {
				notices = append(notices, ignored(k, p.instead))
				break
			}
		}
	}
	return notices, nil
}

func ignored(name, instead string) string {
	return fmt.Sprintf("config: %s is not a SKER setting (it comes from the deployment guide) and is ignored; %s", name, instead)
}

// nodeEnv reads NODE_ENV as SKER_ENV when SKER_ENV is unset: production
// and development mean the same; test means development.
func nodeEnv(raw map[string]string, lookup func(string) string) ([]string, error) {
	v := lookup("NODE_ENV")
	if v == "" {
		return nil, nil
	}
	if cur := strings.TrimSpace(raw["SKER_ENV"]); cur != "" {
		if cur == v {
			return []string{"config: NODE_ENV is the deployment guide's name of SKER_ENV, which is set too; NODE_ENV can go"}, nil
		}
		return []string{fmt.Sprintf("config: NODE_ENV=%s is ignored: SKER_ENV=%s is set and wins", v, cur)}, nil
	}
	switch v {
	case "production", "development":
		raw["SKER_ENV"] = v
		return []string{fmt.Sprintf("config: NODE_ENV=%s read as SKER_ENV=%s (the deployment guide's name); rename it SKER_ENV", v, v)}, nil
	case "test":
		raw["SKER_ENV"] = "development"
		return []string{"config: NODE_ENV=test read as SKER_ENV=development (SKER has no test mode); set SKER_ENV instead"}, nil
	}
	return nil, fmt.Errorf("config: NODE_ENV (read as SKER_ENV, as SKER_ENV is unset): want development or production, got %q", v)
}

func isSetting(name string) bool {
	for _, s := range settings {
		if s.env == name {
			return true
		}
	}
	return false
}

// logFormat parses LOG_FORMAT: text or json, or one of the guide's morgan
// formats, read as text with a notice.
func logFormat(c *Config, v string) error {
	for _, f := range morganFormats {
		if strings.EqualFold(v, f) {
			c.LogFormat = "text"
			c.Notices = append(c.Notices, fmt.Sprintf("config: LOG_FORMAT=%s (the deployment guide's morgan format) read as text: "+
				"one key=value line per request (method, route, status, duration, client, user_id); set text or json", v))
			return nil
		}
	}
	return oneOf([]string{"text", "json"}, func(c *Config) *string { return &c.LogFormat })(c, v)
}

// LogNotices logs each of Notices as a warning, at start-up.
func (c Config) LogNotices(log *slog.Logger) {
	for _, n := range c.Notices {
		log.Warn(n)
	}
}
