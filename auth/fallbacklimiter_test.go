package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/testkit"
)

// fallbackNode is one node's Service whose login limits are a
// FallbackLimiter over the test's own redis-server.
type fallbackNode struct {
	svc  *auth.Service
	lim  *auth.FallbackLimiter
	logs *testkit.LogBuffer
	reg  *prometheus.Registry
}

// fallbackNodes returns two nodes on one store and one redis-server, each
// with its own client, local counts and log, and a limit of 3 failures
// per email.
func fallbackNodes(t *testing.T, srv *testkit.RedisServer) (a, b fallbackNode) {
	t.Helper()
	st := openStore(t)
	cfg := auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost,
		LoginPerAccount: auth.Rule{Limit: 3, Window: time.Minute}}
	node := func() fallbackNode {
		n := fallbackNode{logs: &testkit.LogBuffer{}, reg: prometheus.NewRegistry()}
		n.lim = auth.NewFallbackLimiter(auth.FallbackConfig{
			Shared:     auth.NewRedisLimiter(srv.Client(), "sker:"),
			Local:      auth.NewMemoryLimiter(0, nil),
			Logger:     slog.New(slog.NewTextHandler(n.logs, nil)),
			Registerer: n.reg,
			RetryAfter: 200 * time.Millisecond,
		})
		n.svc = auth.New(cfg, st, n.lim, nil)
		return n
	}
	return node(), node()
}

// login tries a login and fails the test when it takes more than 3 s: the
// client's timeouts are 500 ms, and no login may wait on Redis longer.
func (n fallbackNode) login(t *testing.T, email, password string) error {
	t.Helper()
	start := time.Now()
	_, err := n.svc.Login(context.Background(), email, password, "10.0.0.1")
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("login of %s took %v; want under 3s whatever Redis does", email, took)
	}
	return err
}

// mustFail is a wrong-password login that must be counted (401).
func (n fallbackNode) mustFail(t *testing.T, email string) {
	t.Helper()
	if err := n.login(t, email, "wrong password"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password for %s: got %v; want ErrInvalidCredentials", email, err)
	}
}

// refused fails the test unless the right password is refused as rate
// limited.
func (n fallbackNode) refused(t *testing.T, email, where string) {
	t.Helper()
	err := n.login(t, email, "correct horse battery")
	if err == nil {
		t.Fatalf("%s: login of %s succeeded; want rate_limited", where, email)
	}
	wantCode(t, err, "rate_limited")
}

// allowed fails the test unless the right password logs in.
func (n fallbackNode) allowed(t *testing.T, email, where string) {
	t.Helper()
	if err := n.login(t, email, "correct horse battery"); err != nil {
		t.Fatalf("%s: login of %s: got %v; want success", where, email, err)
	}
}

// sharedLimit checks that the nodes share one count: two failures on A,
// one on B, and the next attempt is refused on both.
func sharedLimit(t *testing.T, a, b fallbackNode, email, where string) {
	t.Helper()
	register(t, a.svc, email)
	a.mustFail(t, email)
	a.mustFail(t, email)
	b.mustFail(t, email)
	a.refused(t, email, where+", on A")
	b.refused(t, email, where+", on B")
}

// TestFallbackLimiterRedisStopped: with Redis up the two nodes share one
// login limit; with redis-server killed, logins still work, answer
// quickly, and each node counts on its own (warning once, and counting on
// the metric); with redis-server back, both return to the shared count
// without a restart.
func TestFallbackLimiterRedisStopped(t *testing.T) {
	srv := testkit.StartRedisServer(t)
	a, b := fallbackNodes(t, srv)
	sharedLimit(t, a, b, "ann@example.com", "Redis up")

	srv.Stop()
	register(t, a.svc, "bob@example.com")
	for range 3 {
		a.mustFail(t, "bob@example.com")
	}
	a.refused(t, "bob@example.com", "Redis down, on A after 3 failures on A")
	// B did not see A's failures: it counts on its own.
	b.allowed(t, "bob@example.com", "Redis down, on B")
	// A kept the two failures of ann it saw while Redis was up: one more
	// on A makes three.
	a.mustFail(t, "ann@example.com")
	a.refused(t, "ann@example.com", "Redis down, on A, 2 failures seen before and 1 after")
	if a.lim.Shared() || b.lim.Shared() {
		t.Error("Redis down: a limiter still reports shared counting")
	}
	if n := strings.Count(a.logs.String(), "Redis does not answer"); n != 1 {
		t.Errorf("Redis down: node A warned %d times; want once\n%s", n, a.logs)
	}
	if v := metricValue(t, a.reg, "sker_login_limits_shared"); v != 0 {
		t.Errorf("sker_login_limits_shared with Redis down: got %v; want 0", v)
	}
	if v := metricValue(t, a.reg, "sker_login_limits_fallback_total"); v < 5 {
		t.Errorf("sker_login_limits_fallback_total after 5 logins with Redis down: got %v; want at least 5", v)
	}

	srv.Start() // empty: the counts made while it was up are gone
	time.Sleep(300 * time.Millisecond)
	sharedLimit(t, a, b, "cy@example.com", "Redis back")
	if !a.lim.Shared() || !b.lim.Shared() {
		t.Error("Redis back: a limiter still counts on its own")
	}
	if !strings.Contains(a.logs.String(), "Redis answers again") {
		t.Errorf("Redis back: node A did not say so\n%s", a.logs)
	}
	if v := metricValue(t, a.reg, "sker_login_limits_shared"); v != 1 {
		t.Errorf("sker_login_limits_shared with Redis back: got %v; want 1", v)
	}
}

// TestFallbackLimiterRedisHangs: a frozen redis-server accepts connections
// and answers nothing; a login waits for the client's timeout at most
// (well under 3 s), then counts on this node. After RetryAfter the next
// login asks Redis again, and once it answers the counts are shared.
func TestFallbackLimiterRedisHangs(t *testing.T) {
	srv := testkit.StartRedisServer(t)
	a, b := fallbackNodes(t, srv)
	srv.Pause()
	register(t, a.svc, "dee@example.com")
	for range 3 {
		a.mustFail(t, "dee@example.com")
	}
	a.refused(t, "dee@example.com", "Redis frozen, on A")
	srv.Resume()
	time.Sleep(300 * time.Millisecond)
	sharedLimit(t, a, b, "eve@example.com", "Redis resumed")
}

// TestFallbackLimiterSkipsRedisAfterAFailure: a call of a hung Redis
// waits for Timeout at most, even with a client whose own timeouts are
// longer; after that failure, calls go to the local counts without asking
// Redis until RetryAfter has passed, so that a hung Redis costs one
// timeout per RetryAfter, not one per call.
func TestFallbackLimiterSkipsRedisAfterAFailure(t *testing.T) {
	srv := testkit.StartRedisServer(t)
	slow := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 5 * time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { slow.Close() })
	if err := slow.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	lim := auth.NewFallbackLimiter(auth.FallbackConfig{
		Shared: auth.NewRedisLimiter(slow, "sker:"), Local: auth.NewMemoryLimiter(0, nil), Timeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&testkit.LogBuffer{}, nil)), RetryAfter: time.Hour,
	})
	ctx := context.Background()
	rule := auth.Rule{Limit: 2, Window: time.Minute}
	srv.Pause()
	start := time.Now()
	if err := lim.Fail(ctx, "k", rule); err != nil {
		t.Fatalf("Fail with Redis frozen: %v", err)
	}
	if first := time.Since(start); first > time.Second {
		t.Errorf("first call with Redis frozen took %v; want about the 300ms Timeout", first)
	}
	start = time.Now()
	for i := range 20 {
		if err := lim.Fail(ctx, fmt.Sprint("k", i), rule); err != nil {
			t.Fatalf("Fail with Redis frozen: %v", err)
		}
	}
	if d, err := lim.Check(ctx, "k", rule); err != nil || d != 0 {
		t.Fatalf("Check after one failure of a limit of 2: got %v, %v; want 0, nil", d, err)
	}
	_ = lim.Fail(ctx, "k", rule)
	if d, err := lim.Check(ctx, "k", rule); err != nil || d <= 0 {
		t.Fatalf("Check after two failures of a limit of 2: got %v, %v; want a wait", d, err)
	}
	if rest := time.Since(start); rest > 100*time.Millisecond {
		t.Errorf("23 calls after the first failure took %v; want them to skip Redis", rest)
	}
	srv.Resume()
}

// metricValue is the value of the gauge or counter registered under name.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}
