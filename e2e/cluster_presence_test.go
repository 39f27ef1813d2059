package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/skerhq/sker/testkit"
)

// listed is a canvas as GET /api/v1/canvases lists it, with who is on it.
type listed struct {
	ID      string `json:"id"`
	Present []struct {
		UserID      string `json:"user_id"`
		Name        string `json:"name"`
		Connections int    `json:"connections"`
	} `json:"present"`
}

// presentOn is who GET /api/v1/canvases through c says is on canvasID.
func presentOn(t *testing.T, ctx context.Context, c *Client, canvasID string) map[string]int {
	t.Helper()
	var out struct {
		Canvases []listed `json:"canvases"`
	}
	noErr(t, c.Do(ctx, http.MethodGet, "/api/v1/canvases", nil, &out))
	got := map[string]int{}
	for _, cv := range out.Canvases {
		if cv.ID != canvasID {
			continue
		}
		for _, p := range cv.Present {
			got[p.Name] = p.Connections
		}
	}
	return got
}

// waitPresent polls until presentOn answers want, within d.
func waitPresent(t *testing.T, ctx context.Context, c *Client, canvasID string, d time.Duration, want map[string]int) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		got := presentOn(t, ctx, c, canvasID)
		if len(got) == len(want) && func() bool {
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			return time.Since(t0)
		}
		if time.Since(t0) > d {
			t.Fatalf("canvas list on %s says %v are on the canvas; want %v", c.s.URL(), got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterPresenceListing: with Redis, the canvas list on node-1 says
// who is on a canvas through node-2, though no one on node-1 has opened
// it; a connection that leaves is unlisted at once, and those of a node
// killed with kill -9 once their entries expire (15 s).
func TestClusterPresenceListing(t *testing.T) {
	testkit.Redis(t) // fails, saying how to start it, when the machine's Redis is down
	nodes := startCluster(t, 2, 1, "REDIS_URL", testkit.DefaultRedisURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := nodes[0], nodes[1]
	ann, _, _, bobSes, cv := sharedCanvas(t, ctx, a, b)
	if got := presentOn(t, ctx, ann, cv.ID); len(got) != 0 {
		t.Fatalf("before anyone joined: %v on the canvas", got)
	}

	first := joinConn(t, ctx, b, bobSes.AccessToken, cv.ID)
	second := joinConn(t, ctx, b, bobSes.AccessToken, cv.ID)
	took := waitPresent(t, ctx, ann, cv.ID, 10*time.Second, map[string]int{"Bob": 2})
	t.Logf("node-1 listed bob's two connections on node-2 %v after they joined", took.Round(time.Millisecond))
	noErr(t, first.WriteJSON(map[string]any{"type": "leave", "canvas": cv.ID}))
	waitFrame(t, first, `"left"`, 10*time.Second)
	waitPresent(t, ctx, ann, cv.ID, 5*time.Second, map[string]int{"Bob": 1})
	_ = second

	killed := time.Now()
	b.Kill()
	took = waitPresent(t, ctx, ann, cv.ID, 30*time.Second, map[string]int{})
	t.Logf("node-2's entries vanished from node-1's list %v after its kill -9", (time.Since(killed)).Round(time.Millisecond))
	_ = took
}
