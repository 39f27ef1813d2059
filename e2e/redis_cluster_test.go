package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/ai/aitest"
	"github.com/skerhq/sker/testkit"
)

// The per-user AI runs at once of TestRedisClusterLimits
// (AI_MAX_RUNS_PER_USER).
const aiAtOnce = 2

// TestRedisClusterLimits: two clustered nodes on the test's own
// redis-server share one login limit and one limit of AI runs at once per
// user: the attempt past either limit is refused on both nodes. With
// redis-server frozen, then killed, no login waits past loginTimeout,
// logins keep working and each node counts on its own (login limits and
// AI runs at once), warning once. With redis-server started again, both
// nodes share the limits again without a restart.
func TestRedisClusterLimits(t *testing.T) {
	srv := testkit.StartRedisServer(t)
	model := aitest.NewOpenAI(t)
	// Runs stay "running" until cancelled: each holds its slot.
	model.SetDefault(aitest.Reply{Deltas: []string{"thinking"}, Break: aitest.Hang})
	nodes := startCluster(t, 2, 1, "REDIS_URL", srv.URL(), "OPENAI_BASE_URL", model.URL,
		"AI_MAX_RUNS_PER_USER", fmt.Sprint(aiAtOnce), "AI_RUN_TIMEOUT", "2m")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	n1, n2 := nodes[0], nodes[1]
	ann := n1.NewClient()
	_, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	for _, email := range []string{"bob@example.com", "cy@example.com"} {
		_, err := n1.NewClient().Register(ctx, email, "correct horse battery", "")
		noErr(t, err)
	}
	for i, s := range nodes {
		if s.LogContains("REDIS_URL is not set") {
			t.Errorf("node-%d warns that REDIS_URL is not set, with REDIS_URL", i+1)
		}
	}
	for _, s := range nodes { // so that placement gives node-2 its share
		if v := waitNodeNames(t, s, 30*time.Second, "node-1", "node-2"); len(v.Nodes) != 2 {
			t.Fatalf("%s lists %v; want both nodes", s.URL(), nodeNames(v))
		}
	}
	// A canvas owned by each node: each node's engine admits the runs of
	// its canvases.
	cv := [2]string{aiCanvasOn(t, ctx, ann, nodes, 0), aiCanvasOn(t, ctx, ann, nodes, 1)}
	on := [2]*Client{{s: n1, Token: ann.Token}, {s: n2, Token: ann.Token}}

	// Redis up: one limit for both nodes.
	sharedLoginLimit(t, ctx, []*Sker{n1, n1, n1, n2, n2}, "ann@example.com", "Redis up")
	runAI(t, ctx, on[0], cv[0], "q1", "Redis up, node-1's canvas")
	runAI(t, ctx, on[1], cv[1], "q1", "Redis up, node-2's canvas")
	aiRefused(t, ctx, on[0], cv[0], "q2", "Redis up, 2 running, node-1's canvas")
	aiRefused(t, ctx, on[1], cv[1], "q2", "Redis up, 2 running, node-2's canvas")
	cancelAI(t, ctx, on[0], cv[0], "q1")
	cancelAI(t, ctx, on[1], cv[1], "q1")

	// Redis frozen: connections hang; logins answer within the timeout.
	srv.Pause()
	loginWorks(t, ctx, n1, "cy@example.com", "Redis frozen, node-1")
	loginWorks(t, ctx, n2, "cy@example.com", "Redis frozen, node-2")
	redisNotReady(t, ctx, n1, "Redis frozen")

	// Redis killed: each node counts on its own.
	srv.Stop()
	redisNotReady(t, ctx, n2, "Redis killed")
	for range loginLimit {
		failLogin(t, ctx, n1, "bob@example.com", "Redis down, node-1")
	}
	loginRefused(t, ctx, n1, "bob@example.com", "Redis down, node-1 after its 5 failures")
	loginWorks(t, ctx, n2, "bob@example.com", "Redis down, node-2, which saw none of them")
	for i, s := range nodes {
		if got := logCount(s, "login limits: Redis does not answer"); got != 1 {
			t.Errorf("Redis down: node-%d warned %d times about the login limits; want once", i+1, got)
		}
	}
	// AI runs at once: each engine counts its own, aiAtOnce on each.
	for i := range 2 {
		runAI(t, ctx, on[i], cv[i], "q1", fmt.Sprintf("Redis down, node-%d's canvas", i+1))
		runAI(t, ctx, on[i], cv[i], "q2", fmt.Sprintf("Redis down, node-%d's canvas", i+1))
	}
	aiRefused(t, ctx, on[0], cv[0], "q3", "Redis down, node-1's canvas, 2 running there")
	for i := range 2 {
		cancelAI(t, ctx, on[i], cv[i], "q1")
		cancelAI(t, ctx, on[i], cv[i], "q2")
	}

	// Redis back (empty): shared again, without a restart of sker.
	srv.Start()
	for i, s := range nodes {
		waitRedisReady(t, ctx, s, i)
	}
	time.Sleep(3 * time.Second) // past the 2 s during which a node skips Redis after a failure
	_, err = n1.NewClient().Register(ctx, "dee@example.com", "correct horse battery", "")
	noErr(t, err)
	sharedLoginLimit(t, ctx, []*Sker{n2, n1, n2, n1, n1}, "dee@example.com", "Redis back")
	runAI(t, ctx, on[0], cv[0], "q1", "Redis back, node-1's canvas")
	runAI(t, ctx, on[1], cv[1], "q1", "Redis back, node-2's canvas")
	aiRefused(t, ctx, on[0], cv[0], "q2", "Redis back, 2 running, node-1's canvas")
	aiRefused(t, ctx, on[1], cv[1], "q2", "Redis back, 2 running, node-2's canvas")
	for i, s := range nodes {
		if !s.LogContains("login limits: Redis answers again") {
			t.Errorf("Redis back: node-%d did not log that the login limits are shared again", i+1)
		}
	}
}

// aiCanvasOn creates canvases with three AI cards (q1, q2, q3) until one
// is owned by nodes[want], and returns its id.
func aiCanvasOn(t *testing.T, ctx context.Context, c *Client, nodes []*Sker, want int) string {
	t.Helper()
	for i := range 30 {
		cv, err := c.CreateCanvas(ctx, fmt.Sprintf("AI %d-%d", want, i))
		noErr(t, err)
		var ops []Op
		for _, q := range []string{"q1", "q2", "q3"} {
			ops = append(ops, Op{Op: "node.add", ID: q, Kind: "ai", Data: map[string]any{"prompt": "question " + q}})
		}
		_, err = c.PostOps(ctx, cv.ID, "", ops...)
		noErr(t, err)
		if placeOf(t, nodes[0], cv.ID).Owner == fmt.Sprintf("node-%d", want+1) {
			return cv.ID
		}
	}
	t.Fatalf("no canvas of 30 is owned by node-%d", want+1)
	return ""
}

// runAI starts card's run. A run cancelled just before may hold its slot
// until its worker has stopped: an ai_limit is tried again for up to 15 s.
func runAI(t *testing.T, ctx context.Context, c *Client, canvasID, card, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.PostOps(ctx, canvasID, "", Op{Op: "ai.run", ID: card})
		if err == nil {
			return
		}
		if e := (*APIError)(nil); !errors.As(err, &e) || e.Code != "ai_limit" || time.Now().After(deadline) {
			t.Fatalf("%s: ai.run %s: %v", what, card, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// aiRefused checks that card's run is refused with ai_limit.
func aiRefused(t *testing.T, ctx context.Context, c *Client, canvasID, card, what string) {
	t.Helper()
	_, err := c.PostOps(ctx, canvasID, "", Op{Op: "ai.run", ID: card})
	wantAPIError(t, what+": ai.run "+card, err, 400, "ai_limit")
}

// cancelAI cancels card's run and waits until the card is no longer
// running.
func cancelAI(t *testing.T, ctx context.Context, c *Client, canvasID, card string) {
	t.Helper()
	_, err := c.PostOps(ctx, canvasID, "", Op{Op: "ai.cancel", ID: card})
	noErr(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for cardStatus(t, c, canvasID, card) == "running" {
		if time.Now().After(deadline) {
			t.Fatalf("card %s still running 10 s after ai.cancel", card)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// redisNotReady checks that s's /ready answers 503 within 3 s, naming
// Redis.
func redisNotReady(t *testing.T, ctx context.Context, s *Sker, what string) {
	t.Helper()
	start := time.Now()
	code, checks, err := s.NewClient().Ready(ctx)
	took := time.Since(start)
	if err != nil || code != 503 || checks["redis"] == "ok" || took > 3*time.Second {
		t.Errorf("%s: /ready: got %d %v (%v) after %v; want 503 with a failed redis check within 3s", what, code, checks, err, took)
	}
}

// TestClusterWithoutRedisWarns: each node of a cluster without REDIS_URL
// says once, at start-up, which limits it counts on its own.
func TestClusterWithoutRedisWarns(t *testing.T) {
	nodes := startCluster(t, 2, 1)
	for i, s := range nodes {
		if got := logCount(s, "REDIS_URL is not set: on a cluster, each node counts these limits on its own"); got != 1 {
			t.Errorf("node-%d: got %d warnings that REDIS_URL is not set; want 1", i+1, got)
		}
		if !s.LogContains("login limits per address and per email") {
			t.Errorf("node-%d: the warning does not name the login limits", i+1)
		}
	}
}

// waitRedisReady waits until s's /ready says Redis answers.
func waitRedisReady(t *testing.T, ctx context.Context, s *Sker, i int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, checks, err := s.NewClient().Ready(ctx)
		if err == nil && checks["redis"] == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-%d: /ready does not see Redis 20 s after its start: %v %v", i+1, checks, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
