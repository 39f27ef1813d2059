package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/skerhq/sker/app"
	"github.com/skerhq/sker/config"
	"github.com/skerhq/sker/store"
)

// inProcServer is a whole sker node inside the test process (embedded
// NATS, SQLite in a temporary folder, loopback port), so that the smoke
// run needs no separate build. It can restart on the same data, as cold
// needs.
type inProcServer struct {
	cfg    config.Config
	mu     sync.Mutex
	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

func startInProc(t *testing.T) *inProcServer {
	t.Helper()
	s := newInProc(t, nil)
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// newInProc configures a node on a free port and a fresh folder, with
// extra settings (a cluster node's) on top; it does not start it.
func newInProc(t *testing.T, extra map[string]string) *inProcServer {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": strconv.Itoa(port), "DATA_DIR": t.TempDir(),
		"JWT_SECRET": "smoke-test-secret-of-at-least-32-bytes", "LOG_LEVEL": "error",
	}
	maps.Copy(env, extra)
	cfg, _, err := config.Load(nil, func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	return &inProcServer{cfg: cfg}
}

func (s *inProcServer) start(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SKER_TEST_LOG") != "" {
		log = app.NewLogger(s.cfg, os.Stderr)
	}
	a, err := app.New(ctx, s.cfg, log, "smoke")
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	s.mu.Lock()
	s.app, s.cancel, s.done = a, cancel, done
	s.mu.Unlock()
	rc := newRESTClient(s.BaseURL())
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if rc.health(ctx) {
			return nil
		}
	}
	return errors.New("in-process sker did not answer /health")
}

func (s *inProcServer) stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// token makes a user and an access token for it directly, skipping the
// bcrypt of registration (seconds under -race); make bench registers
// through the REST API.
func (s *inProcServer) token(t *testing.T) string {
	t.Helper()
	s.mu.Lock()
	a := s.app
	s.mu.Unlock()
	u := store.User{ID: uuid.NewString(), Email: "smoke@load.test", Name: "smoke", PasswordHash: "-", CreatedAt: time.Now().UTC()}
	if err := a.Store().CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Auth().IssueAccess(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *inProcServer) BaseURL() string { return "http://" + s.cfg.Addr() }

// Stats: the server shares the test's process, so it has no figures of
// its own.
func (s *inProcServer) Stats() (ProcStats, bool) { return ProcStats{}, false }
func (s *inProcServer) PprofURL() string         { return "" }

func (s *inProcServer) Restart(ctx context.Context) (bool, error) {
	s.stop()
	return true, s.start(ctx)
}

// smokeConfig is every scenario at a tiny size: the whole run takes a few
// seconds even under -race.
func smokeConfig() Config {
	return Config{
		Warmup: 200 * time.Millisecond, Duration: time.Second, Drain: 5 * time.Second, Timeout: 40 * time.Second,
		DialConcurrency: 8,
		Fanout:          FanoutConfig{Clients: 5, Rate: 20},
		Spread:          SpreadConfig{Canvases: 4, Clients: 3, Rate: 5},
		Burst:           BurstConfig{Via: "rest", Clients: 3, Batch: 20, Window: 2},
		Cold:            ColdConfig{Cards: 600, Canvases: 2},
		Idle:            IdleConfig{Conns: 60, Canvases: 6},
		Failover:        FailoverConfig{Clients: 4, Rate: 5, Window: 4 * time.Second},
	}
}

// TestSmoke runs every scenario against a real server at tiny sizes: each
// must complete with no protocol error, no disconnect, every window send
// acked and delivered to every client of its canvas.
func TestSmoke(t *testing.T) {
	srv := startInProc(t)
	cfg := smokeConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rest := newRESTClient(srv.BaseURL())
	rest.token = srv.token(t)
	// Clients that receive each window batch: every client of the canvas
	// (burst via REST: the one watcher).
	receivers := map[string]int64{"fanout": 5, "spread": 3, "burst": 1, "burst-ws": 3}
	for _, name := range append(standardSet, "burst-ws") {
		t.Run(name, func(t *testing.T) {
			cfg := cfg
			scenario := name
			if name == "burst-ws" {
				scenario, cfg.Burst.Via = "burst", "ws"
			}
			res := runScenario(context.Background(), scenario, &cfg, srv, rest, nil)
			if res.Failure != "" {
				t.Fatalf("run failed: %s", res.Failure)
			}
			if res.ErrorCount != 0 || res.DisconnectCount != 0 {
				t.Errorf("errors %v, disconnects %v; want none", res.Errors, res.Disconnects)
			}
			if n, ok := receivers[name]; ok {
				if res.Sent == 0 || res.Acked != res.Sent {
					t.Errorf("window: %d sent, %d acked; want every send acked", res.Sent, res.Acked)
				}
				if res.Delivered != n*res.Sent {
					t.Errorf("window: %d delivered of %d sent to %d clients each; want %d", res.Delivered, res.Sent, n, n*res.Sent)
				}
				if res.Latency.Count != res.Delivered || res.AckLatency.Count != res.Acked {
					t.Errorf("latency samples %d (want %d), ack samples %d (want %d)", res.Latency.Count, res.Delivered, res.AckLatency.Count, res.Acked)
				}
			}
			switch name {
			case "cold":
				if res.OpenLatency == nil || res.OpenLatency.Count != int64(cfg.Cold.Canvases) {
					t.Errorf("open latency %+v; want %d opens", res.OpenLatency, cfg.Cold.Canvases)
				}
			case "idle":
				if got := res.Extra["connections_open"]; got != float64(cfg.Idle.Conns) {
					t.Errorf("connections open at the end = %v; want %d", got, cfg.Idle.Conns)
				}
			}
		})
	}
}
