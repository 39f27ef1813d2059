package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/testkit"
)

// TestRedisTimeouts: REDIS_URL without timeouts gets SKER's short ones;
// the timeouts a URL sets are kept.
func TestRedisTimeouts(t *testing.T) {
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	rdb, err := newRedis("redis://127.0.0.1:6379/0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	o := rdb.Options()
	if o.DialTimeout != redisDialTimeout || o.ReadTimeout != redisReadTimeout || o.WriteTimeout != redisWriteTimeout ||
		o.PoolTimeout != redisPoolTimeout || o.MaxRetries != redisMaxRetries || o.DialerRetries != 1 {
		t.Errorf("defaults: got dial %v read %v write %v pool %v retries %d dials %d",
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries)
	}
	rdb2, err := newRedis("redis://127.0.0.1:6379/0?dial_timeout=3s&read_timeout=4s&write_timeout=5s&pool_timeout=6s&max_retries=2", log)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb2.Close()
	o = rdb2.Options()
	if o.DialTimeout != 3*time.Second || o.ReadTimeout != 4*time.Second || o.WriteTimeout != 5*time.Second ||
		o.PoolTimeout != 6*time.Second || o.MaxRetries != 2 {
		t.Errorf("from the URL: got dial %v read %v write %v pool %v retries %d",
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries)
	}
	if _, err := newRedis("http://nowhere", log); err == nil {
		t.Error("a URL that is not redis://: got no error")
	}
}

// TestRedisDeadAnswersQuickly: with the test's redis-server killed, a
// command and /ready's ping fail within a second, and go-redis's own log
// lines come out of the process logger as JSON lines.
func TestRedisDeadAnswersQuickly(t *testing.T) {
	srv := testkit.StartRedisServer(t)
	var logs testkit.LogBuffer
	rdb, err := newRedis(srv.URL(), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	a := &App{redis: rdb}
	if err := a.pingRedis(context.Background()); err != nil {
		t.Fatalf("ping with redis-server up: %v", err)
	}
	for _, stop := range []struct {
		name string
		do   func()
	}{{"paused", srv.Pause}, {"killed", func() { srv.Resume(); srv.Stop() }}} {
		stop.do()
		start := time.Now()
		err := a.pingRedis(context.Background())
		if took := time.Since(start); err == nil || took > 1500*time.Millisecond {
			t.Errorf("ping with redis-server %s: got %v after %v; want an error within 1.5s", stop.name, err, took)
		}
		start = time.Now()
		err = rdb.Get(context.Background(), "k").Err()
		if took := time.Since(start); err == nil || took > 1500*time.Millisecond {
			t.Errorf("GET with redis-server %s: got %v after %v; want an error within 1.5s", stop.name, err, took)
		}
	}
	found := false
	for _, line := range bytes.Split([]byte(logs.String()), []byte("\n")) {
		var rec struct {
			Level, Msg, Component string
		}
		if len(line) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec.Component == "redis" && rec.Level == "WARN" {
			found = true
		}
	}
	if !found {
		t.Errorf("no go-redis log line through the process logger; logs:\n%s", logs.String())
	}
}

// TestWarnPerNode: a node that may be one of several (clustered embedded
// NATS, or an external NATS) without REDIS_URL says once what it counts
// on its own; a node alone, or one with REDIS_URL, says nothing.
func TestWarnPerNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Config
		warn bool
	}{
		{"alone", config.Config{}, false},
		{"clustered", config.Config{NatsClusterListen: "127.0.0.1:6222"}, true},
		{"external NATS", config.Config{NatsURL: "nats://127.0.0.1:4222"}, true},
		{"clustered with Redis", config.Config{NatsClusterListen: "127.0.0.1:6222", RedisURL: "redis://127.0.0.1:6379"}, false},
	} {
		var logs testkit.LogBuffer
		a := &App{cfg: tc.cfg, log: slog.New(slog.NewJSONHandler(&logs, nil))}
		a.warnPerNode()
		got := strings.Count(logs.String(), "REDIS_URL is not set")
		if want := map[bool]int{true: 1, false: 0}[tc.warn]; got != want {
			t.Errorf("%s: got %d warnings; want %d\n%s", tc.name, got, want, logs.String())
		}
		if tc.warn && !strings.Contains(logs.String(), "login limits") {
			t.Errorf("%s: the warning does not name the login limits: %s", tc.name, logs.String())
		}
	}
}

// TestRedisLoggerDropsRepeats: go-redis logs each failed dial; a line the
// same as the last is dropped for redisLogRepeat, and the next line says
// how many were.
func TestRedisLoggerDropsRepeats(t *testing.T) {
	var logs testkit.LogBuffer
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &redisLogger{log: slog.New(slog.NewTextHandler(&logs, nil)), now: func() time.Time { return now }}
	for range 5 {
		l.Printf(context.Background(), "redis: dial %s: refused", "127.0.0.1:1")
		now = now.Add(time.Second)
	}
	if got := strings.Count(logs.String(), "dial 127.0.0.1:1: refused"); got != 1 {
		t.Fatalf("5 same lines within %v: got %d logged; want 1\n%s", redisLogRepeat, got, logs.String())
	}
	now = now.Add(redisLogRepeat)
	l.Printf(context.Background(), "redis: dial %s: refused", "127.0.0.1:1")
	if !strings.Contains(logs.String(), "dropped_repeats_of_previous_line=4") {
		t.Errorf("the line after the pause does not count the 4 dropped:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "msg=\"redis: ") {
		t.Errorf("go-redis's own \"redis: \" prefix kept:\n%s", logs.String())
	}
}
