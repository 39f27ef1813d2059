package cluster

import (
	"testing"
	"time"

	"github.com/skerhq/sker/testkit"
)

// TestRouterGivesUpOnAGoneNode: a call waiting on a node that stops
// being live (its heartbeats stopped) is tried again at once, not after
// RequestTimeout: here the retry finds the canvas on the node that now
// owns it, well before the first attempt would have timed out.
func TestRouterGivesUpOnAGoneNode(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b", "node-c"}}
	id := canvasOwnedBy(t, "node-b", []string{"node-b", "node-c"}, 0)
	memB, memC := newMemCanvases(), newMemCanvases()
	slow := func(c *RouterConfig) { c.RequestTimeout, c.HoldFor = 30*time.Second, 30*time.Second }
	g := testRouter(t, ns, "node-g", nil, live, slow)
	// node-b takes the batch and does not answer before its own bound,
	// 4 s: without the check for gone nodes, g would wait that long.
	testRouter(t, ns, "node-b", memB, live, func(c *RouterConfig) { c.RequestTimeout = 4 * time.Second })
	testRouter(t, ns, "node-c", memC, live, slow)
	memB.hangNext(opSubmit, 1)

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := g.Submit(t.Context(), id, "ann", "cb-1", nodeOp("n"))
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	live.mu.Lock()
	live.names = []string{"node-c"} // node-b's heartbeats stopped
	live.mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("submit after its node went: %v; want it committed on node-c", err)
		}
	case <-time.After(3500 * time.Millisecond):
		t.Fatalf("submit still waiting %v after its node went; want it tried again within a second or two, before node-b's answer at 4 s", time.Since(start))
	}
	if got := memC.committed(id); len(got) != 1 {
		t.Fatalf("node-c committed %v; want the batch once", got)
	}
	t.Logf("answered %v after the call began", time.Since(start).Round(time.Millisecond))
}
