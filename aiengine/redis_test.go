package aiengine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/skerhq/sker/aiengine"
	"github.com/skerhq/sker/apierr"
	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/testkit"
	"github.com/skerhq/sker/testkit/testnode"
)

// TestRunsPerMinuteSharedThroughRedis: two nodes' engines on one Redis
// count one user's runs a minute together: after RunsPerMinute runs on
// node A, the next is refused on node B, while another user may start one.
func TestRunsPerMinuteSharedThroughRedis(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	const user, other = "u-ann", "u-bob"
	t.Cleanup(func() {
		for _, u := range []string{user, other} {
			rdb.Del(context.Background(), "rate:"+prefix+"ai:runs:"+u)
		}
	})
	shared := func(c *aiengine.Config) {
		c.RunsPerMinute, c.MaxRunsPerUser = 3, 10
		c.Redis, c.RedisPrefix = rdb, prefix
	}
	a := testnode.StartNode(t, testnode.NodeConfig{Engine: shared})
	b := testnode.StartNode(t, testnode.NodeConfig{Engine: shared})

	for i := range 3 {
		run := fmt.Sprintf("r%d", i)
		if err := a.AI.Admit(user, run); err != nil {
			t.Fatalf("run %d on A: %v", i+1, err)
		}
		a.AI.Release(run)
	}
	err := b.AI.Admit(user, "r3")
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeAIRateLimited {
		t.Errorf("fourth run, on B: got %v; want %s", err, apierr.CodeAIRateLimited)
	}
	if err := b.AI.Admit(other, "r4"); err != nil {
		t.Errorf("another user's run on B: %v", err)
	}
}

// TestRunsPerMinuteWithoutRedisAnswering: while Redis does not answer,
// the engine counts runs a minute on its own: runs are admitted up to the
// limit and refused past it.
func TestRunsPerMinuteWithoutRedisAnswering(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	n := testnode.StartNode(t, testnode.NodeConfig{Engine: func(c *aiengine.Config) {
		c.RunsPerMinute, c.MaxRunsPerUser = 2, 10
		c.Redis, c.RedisPrefix = rdb, "sker:"
	}})
	for i := range 2 {
		run := fmt.Sprintf("r%d", i)
		if err := n.AI.Admit("u-ann", run); err != nil {
			t.Fatalf("run %d with Redis down: %v", i+1, err)
		}
		n.AI.Release(run)
	}
	err = n.AI.Admit("u-ann", "r2")
	var opErr *canvas.OpError
	if !errors.As(err, &opErr) || opErr.Code != apierr.CodeAIRateLimited {
		t.Errorf("third run with Redis down: got %v; want %s", err, apierr.CodeAIRateLimited)
	}
}
