package auth_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/auth"
	"github.com/skerhq/sker/testkit"
	"golang.org/x/crypto/bcrypt"
)

// limiters are the Limiter implementations every contract test runs
// against; each call gives a fresh limiter.
var limiters = []struct {
	name string
	new  func(t *testing.T) auth.Limiter
}{
	{"memory", func(t *testing.T) auth.Limiter { return auth.NewMemoryLimiter(0, nil) }},
	{"redis", func(t *testing.T) auth.Limiter {
		rdb, prefix := testkit.Redis(t)
		return auth.NewRedisLimiter(rdb, prefix)
	}},
}

// TestLimiterContract holds every Limiter to the same rule: a fixed window
// opened by the first failure, Check only looks, Reset forgets one key.
func TestLimiterContract(t *testing.T) {
	for _, impl := range limiters {
		t.Run(impl.name, func(t *testing.T) {
			ctx := context.Background()
			lim := impl.new(t)
			rule := auth.Rule{Limit: 3, Window: time.Minute}
			check := func(key string) time.Duration {
				t.Helper()
				d, err := lim.Check(ctx, key, rule)
				if err != nil {
					t.Fatalf("Check(%s): %v", key, err)
				}
				return d
			}
			fail := func(key string) {
				t.Helper()
				if err := lim.Fail(ctx, key, rule); err != nil {
					t.Fatalf("Fail(%s): %v", key, err)
				}
			}
			if d := check("a"); d != 0 {
				t.Errorf("unknown key: got wait %v; want 0", d)
			}
			for i := range 3 {
				for range 5 { // Check records nothing
					if d := check("a"); d != 0 {
						t.Fatalf("before failure %d: got wait %v; want 0", i+1, d)
					}
				}
				fail("a")
			}
			if d := check("a"); d <= 0 || d > time.Minute {
				t.Errorf("after 3 failures: got wait %v; want in (0, 1m]", d)
			}
			if d := check("b"); d != 0 {
				t.Errorf("other key: got wait %v; want 0", d)
			}
			if d, err := lim.Check(ctx, "a", auth.Rule{Limit: 4, Window: time.Minute}); err != nil || d != 0 {
				t.Errorf("3 failures under a limit of 4: got wait %v, %v; want 0, nil", d, err)
			}
			if err := lim.Reset(ctx, "a"); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if d := check("a"); d != 0 {
				t.Errorf("after Reset: got wait %v; want 0", d)
			}
			if err := lim.Reset(ctx, "never-failed"); err != nil {
				t.Errorf("Reset of an unknown key: %v", err)
			}

			// The window is opened by the first failure and not moved
			// by later ones: it ends, and the key is free again.
			short := auth.Rule{Limit: 2, Window: 300 * time.Millisecond}
			if err := lim.Fail(ctx, "c", short); err != nil {
				t.Fatalf("Fail: %v", err)
			}
			time.Sleep(150 * time.Millisecond)
			if err := lim.Fail(ctx, "c", short); err != nil {
				t.Fatalf("Fail: %v", err)
			}
			if d, _ := lim.Check(ctx, "c", short); d <= 0 || d > 150*time.Millisecond {
				t.Errorf("second failure 150ms into a 300ms window: got wait %v; want in (0, 150ms]", d)
			}
			time.Sleep(200 * time.Millisecond)
			if d, _ := lim.Check(ctx, "c", short); d != 0 {
				t.Errorf("window over: got wait %v; want 0", d)
			}
		})
	}
}

// twoNodes returns two Services on one store, as two nodes of a cluster
// are, each with the Limiter lim gives it.
func twoNodes(t *testing.T, limA, limB auth.Limiter) (a, b *auth.Service) {
	t.Helper()
	st := openStore(t)
	cfg := auth.Config{Secret: testSecret, BcryptCost: bcrypt.MinCost,
		LoginPerAccount: auth.Rule{Limit: 3, Window: time.Minute}}
	return auth.New(cfg, st, limA, nil), auth.New(cfg, st, limB, nil)
}

// redisLimiter is a RedisLimiter with its own client of the test Redis,
// as each node has.
func redisLimiter(t *testing.T, prefix string) auth.Limiter {
	t.Helper()
	rdb, _ := testkit.Redis(t)
	return auth.NewRedisLimiter(rdb, prefix)
}

// TestRedisLimiterSharedAcrossNodes: failed logins on node A count on node
// B, a success on B resets them for A, and another prefix counts apart.
func TestRedisLimiterSharedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	_, prefix := testkit.Redis(t)
	a, b := twoNodes(t, redisLimiter(t, prefix), redisLimiter(t, prefix))
	register(t, a, "ann@example.com")

	for i := range 2 {
		if _, err := a.Login(ctx, "ann@example.com", "wrong password", "10.0.0.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failure %d on A: got %v; want ErrInvalidCredentials", i+1, err)
		}
	}
	if _, err := b.Login(ctx, "ann@example.com", "wrong password", "10.0.0.2"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("third failure, on B: got %v; want ErrInvalidCredentials", err)
	}
	// Three failures in all, on two nodes: the fourth attempt is refused
	// on either node, even with the right password.
	_, err := b.Login(ctx, "ann@example.com", "correct horse battery", "10.0.0.2")
	wantCode(t, err, "rate_limited")
	_, err = a.Login(ctx, "ann@example.com", "correct horse battery", "10.0.0.1")
	wantCode(t, err, "rate_limited")

	// A node on another prefix (another deployment on the same Redis)
	// counts on its own.
	_, other := testkit.Redis(t)
	c, _ := twoNodes(t, redisLimiter(t, other), nil)
	register(t, c, "ann@example.com")
	if _, err := c.Login(ctx, "ann@example.com", "correct horse battery", "10.0.0.1"); err != nil {
		t.Errorf("login on another prefix: got %v; want success", err)
	}
}

// TestRedisLimiterResetAcrossNodes: a success on node B clears the
// failures node A recorded.
func TestRedisLimiterResetAcrossNodes(t *testing.T) {
	ctx := context.Background()
	_, prefix := testkit.Redis(t)
	a, b := twoNodes(t, redisLimiter(t, prefix), redisLimiter(t, prefix))
	register(t, a, "bob@example.com")

	for range 2 {
		_, _ = a.Login(ctx, "bob@example.com", "wrong password", "10.0.0.1")
	}
	if _, err := b.Login(ctx, "bob@example.com", "correct horse battery", "10.0.0.2"); err != nil {
		t.Fatalf("login on B: %v", err)
	}
	// Were the two failures still counted, the next two would make four.
	for range 2 {
		_, _ = a.Login(ctx, "bob@example.com", "wrong password", "10.0.0.1")
	}
	if _, err := a.Login(ctx, "bob@example.com", "correct horse battery", "10.0.0.1"); err != nil {
		t.Errorf("login on A after B's reset and two failures: got %v; want success", err)
	}
}

// TestRedisLimiterDown: a RedisLimiter on its own reports a Redis that
// does not answer, and Login fails with an internal error rather than
// letting attempts go uncounted. SKER wraps it in a FallbackLimiter,
// which counts on the node instead (fallbacklimiter_test.go).
func TestRedisLimiterDown(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s, _ := twoNodes(t, auth.NewRedisLimiter(rdb, "sker:"), nil)
	register(t, s, "cy@example.com")

	_, err = s.Login(ctx, "cy@example.com", "correct horse battery", "10.0.0.1")
	if err == nil {
		t.Fatal("login with Redis down: got success; want an error")
	}
	if e := apierr.From(err); e.Status != 500 || e.Code != apierr.CodeInternal {
		t.Errorf("login with Redis down: got %d %s (%v); want 500 internal", e.Status, e.Code, err)
	}
}
