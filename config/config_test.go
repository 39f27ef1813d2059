package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, rest, err := Load(nil, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3000 || c.DataDir != "./data" || c.Env != "development" || c.LogLevel != "info" || c.LogFormat != "text" ||
		c.AccessTokenTTL != 15*time.Minute || c.CanvasIdleTimeout != 5*time.Minute || c.CanvasHistory != 1000 || c.CanvasHistorySize != 8<<20 || c.BodyLimit != 4<<20 ||
		c.UploadPath != "./data/uploads" || c.AIWorkers != 4 || c.NatsPrefix != "SKER" || len(rest) != 0 {
		t.Fatalf("defaults: got %+v", c)
	}
}

// TestPrecedence: flags override the environment, which overrides .env.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".env")
	if err := os.WriteFile(file, []byte("PORT=4000\nDATA_DIR=/from-dotenv\nLOG_LEVEL=debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load([]string{"--port", "6000"}, env(map[string]string{"PORT": "5000", "DATA_DIR": "/from-env"}), file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 6000 || c.DataDir != "/from-env" || c.LogLevel != "debug" {
		t.Fatalf("got port %d, data dir %s, log level %s; want 6000 (flag), /from-env (env), debug (.env)", c.Port, c.DataDir, c.LogLevel)
	}
}

// TestBadValuesNameTheVariable: every bad value is an error naming its
// variable.
func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"PORT", "abc"}, {"PORT", "70000"}, {"SKER_ENV", "staging"}, {"DATABASE_URL", "mysql://x/y"},
		{"REDIS_URL", "http://x"}, {"NATS_URL", "nats//broken"}, {"JWT_SECRET", "short"},
		{"ACCESS_TOKEN_TTL", "forever"}, {"MAX_FILE_SIZE", "-3MB"}, {"LOG_LEVEL", "loud"}, {"LOG_FORMAT", "xml"},
		{"AI_WORKERS", "-1"}, {"CANVAS_IDLE_TIMEOUT", "1ms"}, {"CANVAS_HISTORY", "5"}, {"CANVAS_HISTORY", "many"}, {"CANVAS_HISTORY_SIZE", "lots"}, {"OPENAI_BASE_URL", "ftp://x"},
		{"BACKUP_INTERVAL", "5s"}, {"BACKUP_INTERVAL", "soon"}, {"BACKUP_INTERVAL", "-1d"}, {"BACKUP_INTERVAL", "1.5d"},
		{"BACKUP_RETENTION", "5m"}, {"BACKUP_RETENTION", "99999d"}, {"OPS_TOKEN", "short"},
		{"NATS_PREFIX", "a.b"}, {"NATS_PREFIX", "sker*"}, {"NATS_PREFIX", "-x"}, {"NATS_PREFIX", strings.Repeat("P", 33)},
	} {
		_, _, err := Load(nil, env(map[string]string{tc.key: tc.value}), "")
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: got %v; want an error naming %s", tc.key, tc.value, err, tc.key)
		}
	}
}

// TestNATSPrefix: NATS_PREFIX takes letters, digits, '_' and '-', and a
// flag set to nothing is refused rather than taken as the default.
func TestNATSPrefix(t *testing.T) {
	c, _, err := Load(nil, env(map[string]string{"NATS_PREFIX": "team-b_2"}), "")
	if err != nil || c.NatsPrefix != "team-b_2" {
		t.Fatalf("NATS_PREFIX=team-b_2: got %q, %v; want team-b_2, nil", c.NatsPrefix, err)
	}
	if _, _, err := Load([]string{"--nats-prefix="}, env(nil), ""); err == nil || !strings.Contains(err.Error(), "NATS_PREFIX") {
		t.Fatalf("--nats-prefix=: got %v; want an error naming NATS_PREFIX", err)
	}
}

func TestProductionNeedsASecret(t *testing.T) {
	_, _, err := Load(nil, env(map[string]string{"SKER_ENV": "production"}), "")
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Fatalf("production without a secret: got %v; want an error naming JWT_SECRET", err)
	}
	if _, _, err := Load(nil, env(map[string]string{"SKER_ENV": "production", "JWT_SECRET": strings.Repeat("x", 32)}), ""); err != nil {
		t.Fatalf("production with a secret: %v", err)
	}
}

func TestReadReplicaNeedsPrimary(t *testing.T) {
	_, _, err := Load(nil, env(map[string]string{"DATABASE_READ_URL": "postgres://h/db"}), "")
	if err == nil || !strings.Contains(err.Error(), "DATABASE_READ_URL") {
		t.Fatalf("got %v; want an error naming DATABASE_READ_URL", err)
	}
}

func TestURLPasswordIsRedacted(t *testing.T) {
	_, _, err := Load(nil, env(map[string]string{"DATABASE_URL": "mysql://user:secret@h/db"}), "")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("got %v; want an error without the password", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "64KB": 64 << 10, "10mb": 10 << 20, "1GB": 1 << 30, " 2 MB ": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q): got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "KB", "1TB", "1.5MB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q): got nil error", bad)
		}
	}
}

func TestModelLists(t *testing.T) {
	c, _, err := Load(nil, env(map[string]string{"OPENAI_MODELS": " a, b ,,c "}), "")
	if err != nil || strings.Join(c.OpenAIModels, "|") != "a|b|c" {
		t.Fatalf("got %v, %v; want [a b c]", c.OpenAIModels, err)
	}
}

// TestReadTimeouts: HEADER_TIMEOUT and BODY_TIMEOUT default to 20s and 60s,
// take durations, and refuse anything under a second.
func TestReadTimeouts(t *testing.T) {
	c, _, err := Load(nil, env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.HeaderTimeout != 20*time.Second || c.BodyTimeout != 60*time.Second {
		t.Fatalf("got header %v, body %v; want 20s, 60s", c.HeaderTimeout, c.BodyTimeout)
	}
	c, _, err = Load(nil, env(map[string]string{"HEADER_TIMEOUT": "5s", "BODY_TIMEOUT": "2m"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.HeaderTimeout != 5*time.Second || c.BodyTimeout != 2*time.Minute {
		t.Fatalf("got header %v, body %v; want 5s, 2m", c.HeaderTimeout, c.BodyTimeout)
	}
	for _, key := range []string{"HEADER_TIMEOUT", "BODY_TIMEOUT"} {
		for _, v := range []string{"10ms", "soon", "0"} {
			if _, _, err := Load(nil, env(map[string]string{key: v}), ""); err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%s=%q: got %v; want an error naming %s", key, v, err, key)
			}
		}
	}
}

// TestBackupSettings: scheduled backups are off unless BACKUP_INTERVAL is
// set, go to DATA_DIR/backups and are kept 30 days; durations take days.
func TestBackupSettings(t *testing.T) {
	c, _, err := Load(nil, env(map[string]string{"DATA_DIR": "/srv/sker"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.BackupInterval != 0 || c.BackupDir != "/srv/sker/backups" || c.BackupRetention != 30*24*time.Hour || c.OpsToken != "" {
		t.Fatalf("defaults: got interval %v, dir %q, retention %v, ops token %q; want 0, /srv/sker/backups, 720h, empty",
			c.BackupInterval, c.BackupDir, c.BackupRetention, c.OpsToken)
	}
	for _, tc := range []struct {
		interval, retention string
		wantI, wantR        time.Duration
	}{
		{"6h", "7d", 6 * time.Hour, 7 * 24 * time.Hour},
		{"1d", "0", 24 * time.Hour, 0},
		{"0", "36h", 0, 36 * time.Hour},
	} {
		c, _, err := Load(nil, env(map[string]string{"BACKUP_INTERVAL": tc.interval, "BACKUP_RETENTION": tc.retention,
			"BACKUP_DIR": "/backups", "OPS_TOKEN": "0123456789abcdef"}), "")
		if err != nil {
			t.Fatalf("BACKUP_INTERVAL=%s BACKUP_RETENTION=%s: %v", tc.interval, tc.retention, err)
		}
		if c.BackupInterval != tc.wantI || c.BackupRetention != tc.wantR || c.BackupDir != "/backups" || c.OpsToken != "0123456789abcdef" {
			t.Errorf("BACKUP_INTERVAL=%s BACKUP_RETENTION=%s: got %v, %v, %q, %q; want %v, %v, /backups, the token",
				tc.interval, tc.retention, c.BackupInterval, c.BackupRetention, c.BackupDir, c.OpsToken, tc.wantI, tc.wantR)
		}
	}
}
