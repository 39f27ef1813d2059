package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/testkit"
)

// TestRouterKeepsOrder: 1000 batches pipelined by one goroutine are
// committed in their order, straight to the owner and through a redirect
// of every one of them.
func TestRouterKeepsOrder(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-a", "node-b"}}
	memA, memB := newMemCanvases(), newMemCanvases()
	memA.setOwns(false)
	testRouter(t, ns, "node-a", memA, live, nil)
	b := testRouter(t, ns, "node-b", memB, live, nil)
	g := testRouter(t, ns, "node-g", nil, live, func(c *RouterConfig) { c.HoldFor = 20 * time.Second })

	redirected := canvasOwnedBy(t, "node-a", live.names, 0)
	lease, err := b.cfg.Leases.Claim(t.Context(), redirected, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Stop()
	for _, id := range []string{canvasOwnedBy(t, "node-b", live.names, 0), redirected} {
		const n = 1000
		waits := make([]func(context.Context) (uint64, error), n)
		for i := range n {
			waits[i] = g.SubmitAsync(id, fmt.Sprintf("u%d", i%3), "", []canvas.Op{{Op: "add_node", ID: fmt.Sprint(i)}})
		}
		for i, w := range waits {
			if _, err := w(t.Context()); err != nil {
				t.Fatalf("%s: batch %d: %v", id, i, err)
			}
		}
		ex, _ := memB.Snapshot(t.Context(), id)
		if len(ex.Nodes) != n {
			t.Fatalf("%s: committed %d batches; want %d", id, len(ex.Nodes), n)
		}
		// Straight to the owner, the order is the submit order; through
		// retries, it is that of each author's batches.
		last := map[string]int{}
		for i, node := range ex.Nodes {
			var k int
			fmt.Sscan(node.ID, &k)
			if id != redirected && k != i {
				t.Fatalf("%s: batch %d committed %dth", id, k, i)
			}
			if prev, ok := last[node.Author]; ok && k <= prev {
				t.Fatalf("%s: batch %d of %s committed after its batch %d", id, k, node.Author, prev)
			}
			last[node.Author] = k
		}
	}
	if n := retryCount(t, g, "not_owner"); n < 1 {
		t.Fatalf("redirects %v; want the first batches redirected", n)
	}
}

// TestRouterNeverCommitsOutOfOrder: when the owner is unavailable for
// some batches of a pipeline and takes the later ones, the earlier ones
// are not committed after them: they return ErrUnavailable.
func TestRouterNeverCommitsOutOfOrder(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-b"}}
	memB := newMemCanvases()
	testRouter(t, ns, "node-b", memB, live, nil)
	g := testRouter(t, ns, "node-g", nil, live, nil)
	const n = 200
	unavailable := fmt.Errorf("actors: %w: moving", canvases.ErrUnavailable)
	memB.inject(opSubmit, nil, nil, nil, unavailable, unavailable, unavailable)
	waits := make([]func(context.Context) (uint64, error), n)
	for i := range n {
		waits[i] = g.SubmitAsync("order", "ann", fmt.Sprintf("cb-%d", i), []canvas.Op{{Op: "add_node", ID: fmt.Sprint(i)}})
	}
	failed := 0
	for i, w := range waits {
		if _, err := w(t.Context()); err != nil {
			if !errors.Is(err, canvases.ErrUnavailable) {
				t.Fatalf("batch %d: %v; want ErrUnavailable", i, err)
			}
			failed++
		}
	}
	ex, _ := memB.Snapshot(t.Context(), "order")
	prev := -1
	for _, node := range ex.Nodes {
		var i int
		fmt.Sscan(node.ID, &i)
		if i <= prev {
			t.Fatalf("batch %d committed after batch %d", i, prev)
		}
		prev = i
	}
	if len(ex.Nodes)+failed != n {
		t.Fatalf("committed %d and failed %d of %d", len(ex.Nodes), failed, n)
	}
}
