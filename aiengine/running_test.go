package aiengine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/skerhq/sker/aiengine"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/testkit/testnode"
)

// atOnce configures an engine on rdb with at most 2 runs at once per user
// (and runs a minute that do not get in the way), slots living ttl.
func atOnce(rdb redis.UniversalClient, prefix string, ttl time.Duration) func(*aiengine.Config) {
	return func(c *aiengine.Config) {
		c.MaxRunsPerUser, c.RunsPerMinute = 2, 1000
		c.Redis, c.RedisPrefix, c.RunSlotTTL = rdb, prefix, ttl
	}
}

// admit admits run for user on n, failing the test on a refusal or when
// it takes more than 2 s (Redis is asked for at most a second).
func admit(t *testing.T, n *testnode.Node, user, run, where string) {
	t.Helper()
	if err := timedAdmit(t, n, user, run); err != nil {
		t.Fatalf("%s: run %s: %v", where, run, err)
	}
}

// refusedAtOnce fails the test unless run is refused with ai_limit.
func refusedAtOnce(t *testing.T, n *testnode.Node, user, run, where string) {
	t.Helper()
	err := timedAdmit(t, n, user, run)
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeAILimit {
		t.Fatalf("%s: run %s: got %v; want %s", where, run, err, apierr.CodeAILimit)
	}
}

func timedAdmit(t *testing.T, n *testnode.Node, user, run string) error {
	t.Helper()
	start := time.Now()
	err := n.AI.Admit(user, run)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Admit(%s) took %v; want under 2s whatever Redis does", run, took)
	}
	return err
}

// TestRunsAtOnceSharedThroughRedis: two nodes' engines on one Redis count
// one user's runs at once together: one run on A and one on B make the
// limit of 2, and a third is refused on either; a run released on A frees
// a slot for B; another user is not counted with the first.
func TestRunsAtOnceSharedThroughRedis(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	a := testnode.StartNode(t, testnode.NodeConfig{Engine: atOnce(rdb, prefix, 0)})
	b := testnode.StartNode(t, testnode.NodeConfig{Engine: atOnce(rdb, prefix, 0)})

	admit(t, a, "u-ann", "r1", "first run, on A")
	admit(t, b, "u-ann", "r2", "second run, on B")
	refusedAtOnce(t, a, "u-ann", "r3", "third run, on A")
	refusedAtOnce(t, b, "u-ann", "r4", "third run, on B")
	admit(t, b, "u-bob", "r5", "another user, on B")

	a.AI.Release("r1")
	b.AI.Release("r1") // on another engine than the one that admitted it: nothing
	admit(t, b, "u-ann", "r6", "after A released a run, on B")
	refusedAtOnce(t, a, "u-ann", "r7", "two running again, on A")
}

// TestRunsAtOnceSlotsOutliveNoNode: the slots of an engine's runs stay
// while it runs (refreshed past their TTL), and expire once it is gone,
// freeing the user's runs on the other node.
func TestRunsAtOnceSlotsOutliveNoNode(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	const ttl = time.Second
	a := testnode.StartNode(t, testnode.NodeConfig{Engine: atOnce(rdb, prefix, ttl)})
	b := testnode.StartNode(t, testnode.NodeConfig{Engine: atOnce(rdb, prefix, ttl)})

	admit(t, a, "u-ann", "r1", "on A")
	admit(t, a, "u-ann", "r2", "on A")
	time.Sleep(3 * ttl)
	refusedAtOnce(t, b, "u-ann", "r3", "three TTLs later, A's runs still going, on B")

	// A stops without releasing its runs, as a killed node would.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.AI.Stop(ctx); err != nil {
		t.Fatalf("stop A's engine: %v", err)
	}
	refusedAtOnce(t, b, "u-ann", "r4", "just after A stopped, on B")
	deadline := time.Now().Add(3 * ttl)
	for b.AI.Admit("u-ann", "r5") != nil {
		if time.Now().After(deadline) {
			t.Fatalf("A's slots did not expire within %v of its stop", 3*ttl)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunsAtOnceWhileRedisDown: with the test's redis-server killed, each
// engine counts its own runs at once (2 on A and 2 on B, the third
// refused on each) and no Admit waits long; with redis-server back, the
// engines count together again without a restart, including the runs
// admitted while it was down.
func TestRunsAtOnceWhileRedisDown(t *testing.T) {
	srv := testkit.StartRedisServer(t)
	const ttl = 900 * time.Millisecond
	a := testnode.StartNode(t, testnode.NodeConfig{Engine: atOnce(srv.Client(), "sker:", ttl)})
	b := testnode.StartNode(t, testnode.NodeConfig{Engine: atOnce(srv.Client(), "sker:", ttl)})
	if !shared(t, a, b, "u-up") {
		t.Fatal("Redis up: the engines do not count runs at once together")
	}

	srv.Stop()
	admit(t, a, "u-ann", "r1", "Redis down, on A")
	admit(t, a, "u-ann", "r2", "Redis down, on A")
	refusedAtOnce(t, a, "u-ann", "r3", "Redis down, third run on A")
	admit(t, b, "u-ann", "r4", "Redis down, on B (counting on its own)")
	admit(t, b, "u-ann", "r5", "Redis down, on B (counting on its own)")
	refusedAtOnce(t, b, "u-ann", "r6", "Redis down, third run on B")

	srv.Start() // empty
	// Each engine's refresh adds the runs it admitted while Redis was down.
	rdb := srv.Client()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := rdb.ZCard(context.Background(), "sker:ai:running:u-ann").Result()
		if err == nil && n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back: the running runs in Redis: got %d (%v); want the 4 admitted while it was down", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.AI.Release("r1")
	a.AI.Release("r2")
	refusedAtOnce(t, a, "u-ann", "r7", "Redis back, A's runs released, B's two running, on A")
	b.AI.Release("r4")
	b.AI.Release("r5")
	if !shared(t, a, b, "u-back") {
		t.Fatal("Redis back: the engines do not count runs at once together")
	}
}

// shared reports whether a and b count together: a fresh user gets one
// run on each and the third is refused on both. The runs are released.
func shared(t *testing.T, a, b *testnode.Node, user string) bool {
	t.Helper()
	for i, n := range []*testnode.Node{a, b} {
		if err := timedAdmit(t, n, user, fmt.Sprintf("%s-%d", user, i)); err != nil {
			t.Fatalf("shared check: run %d of %s: %v", i, user, err)
		}
	}
	errA := timedAdmit(t, a, user, user+"-2")
	errB := timedAdmit(t, b, user, user+"-3")
	for _, run := range []string{user + "-0", user + "-1", user + "-2", user + "-3"} {
		a.AI.Release(run)
		b.AI.Release(run)
	}
	return errA != nil && errB != nil
}
