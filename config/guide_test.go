package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGuideEnvFile: the deployment guide's .env starts SKER, its names
// read where they mean a SKER setting and the others named in notices.
func TestGuideEnvFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".env")
	guide := `NODE_ENV=production
PORT=3000
HOST=0.0.0.0
DATABASE_URL=postgresql://sker:secret@localhost:5432/sker
REDIS_URL=redis://localhost:6379
JWT_SECRET=0123456789abcdef0123456789abcdef
JWT_EXPIRES_IN=7d
CORS_ORIGIN=https://sker.example.com
UPLOAD_PATH=./uploads
MAX_FILE_SIZE=10485760
LOG_LEVEL=info
LOG_FORMAT=combined
RATE_LIMIT_WINDOW_MS=900000
RATE_LIMIT_MAX_REQUESTS=100
SESSION_SECRET=another-secret
PM2_INSTANCES=max
PM2_KILL_TIMEOUT=5000
`
	if err := os.WriteFile(file, []byte(guide), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(nil, env(nil), file)
	if err != nil {
		t.Fatalf("the guide's .env: %v", err)
	}
	if c.Env != "production" || c.LogFormat != "text" || c.MaxFileSize != 10485760 || c.Port != 3000 {
		t.Fatalf("got env %q, log format %q, max file size %d, port %d; want production, text, 10485760, 3000",
			c.Env, c.LogFormat, c.MaxFileSize, c.Port)
	}
	notices := strings.Join(c.Notices, "\n")
	for _, want := range []string{
		"NODE_ENV=production read as SKER_ENV=production",
		"LOG_FORMAT=combined (the deployment guide's morgan format) read as text",
		"JWT_EXPIRES_IN is not a SKER setting",
		"use ACCESS_TOKEN_TTL",
		"RATE_LIMIT_WINDOW_MS is not a SKER setting",
		"RATE_LIMIT_MAX_REQUESTS is not a SKER setting",
		"SESSION_SECRET is not a SKER setting",
		"PM2_INSTANCES is not a SKER setting",
		"PM2_KILL_TIMEOUT is not a SKER setting", // by its prefix
	} {
		if !strings.Contains(notices, want) {
			t.Errorf("notices do not say %q:\n%s", want, notices)
		}
	}
	for _, shared := range []string{"PORT", "HOST", "DATABASE_URL", "CORS_ORIGIN", "UPLOAD_PATH"} {
		if strings.Contains(notices, "config: "+shared+" ") {
			t.Errorf("a notice about %s, a SKER setting of the same meaning:\n%s", shared, notices)
		}
	}
}

func TestNodeEnvAlias(t *testing.T) {
	for _, tc := range []struct {
		env    map[string]string
		want   string
		notice string
	}{
		{map[string]string{"NODE_ENV": "development"}, "development", "read as SKER_ENV=development"},
		{map[string]string{"NODE_ENV": "test"}, "development", "NODE_ENV=test read as SKER_ENV=development"},
		{map[string]string{"NODE_ENV": "development", "SKER_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32)}, "production", "NODE_ENV=development is ignored: SKER_ENV=production is set"},
		{map[string]string{}, "development", ""},
	} {
		c, _, err := Load(nil, env(tc.env), "")
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if c.Env != tc.want || !strings.Contains(strings.Join(c.Notices, "\n"), tc.notice) {
			t.Errorf("%v: got SKER_ENV %q, notices %q; want %q and a notice %q", tc.env, c.Env, c.Notices, tc.want, tc.notice)
		}
		if tc.notice == "" && len(c.Notices) != 0 {
			t.Errorf("%v: notices %q; want none", tc.env, c.Notices)
		}
	}
	// NODE_ENV=production needs JWT_SECRET as SKER_ENV=production does.
	if _, _, err := Load(nil, env(map[string]string{"NODE_ENV": "production"}), ""); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Errorf("NODE_ENV=production without JWT_SECRET: got %v; want the JWT_SECRET error", err)
	}
	_, _, err := Load(nil, env(map[string]string{"NODE_ENV": "staging"}), "")
	if err == nil || !strings.Contains(err.Error(), "NODE_ENV") || !strings.Contains(err.Error(), "staging") {
		t.Errorf("NODE_ENV=staging: got %v; want an error naming NODE_ENV and the value", err)
	}
}

func TestLogFormatGuideValues(t *testing.T) {
	for _, v := range []string{"combined", "common", "dev", "tiny", "short"} {
		c, _, err := Load([]string{"--log-format", v}, env(nil), "")
		if err != nil || c.LogFormat != "text" || len(c.Notices) != 1 {
			t.Errorf("LOG_FORMAT=%s: got %q, %v, notices %q; want text with one notice", v, c.LogFormat, err, c.Notices)
		}
	}
	if _, _, err := Load(nil, env(map[string]string{"LOG_FORMAT": "xml"}), ""); err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Errorf("LOG_FORMAT=xml: got %v; want an error naming LOG_FORMAT", err)
	}
}
