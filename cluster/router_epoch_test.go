package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skerhq/sker/canvases"
	"github.com/skerhq/sker/testkit"
)

// TestRouterEpochOn: a node asks another for the epoch of a canvas live
// there, whoever placement prefers; a canvas not live there answers
// live false; an error there comes back as itself; a node that takes no
// requests is unavailable, at once.
func TestRouterEpochOn(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-a", "node-b"}}
	memA, memB := newMemCanvases(), newMemCanvases()
	a := testRouter(t, ns, "node-a", memA, live, nil)
	testRouter(t, ns, "node-b", memB, live, nil)
	ctx := t.Context()
	id := canvasOwnedBy(t, "node-a", live.names, 0) // preferred elsewhere: answered by node-b anyway
	if _, err := memB.Submit(ctx, id, "ann", "c1", nodeOp("n1")); err != nil {
		t.Fatal(err)
	}

	epoch, seq, ok, err := a.EpochOn(ctx, "node-b", id)
	if err != nil || !ok || epoch != "epoch-of-"+id || seq != 1 {
		t.Fatalf("EpochOn(node-b) = %q, %d, %v, %v; want epoch-of-%s, 1, true, nil", epoch, seq, ok, err, id)
	}
	if n := memB.callCount(opEpoch); n != 1 {
		t.Fatalf("node-b answered %d epoch requests; want 1", n)
	}
	if _, _, ok, err := a.EpochOn(ctx, "node-b", "no-such-canvas"); err != nil || ok {
		t.Fatalf("EpochOn of a canvas not live = %v, %v; want false, nil", ok, err)
	}
	if _, _, ok, err := a.EpochOn(ctx, "node-a", id); err != nil || ok {
		t.Fatalf("EpochOn(self) of a canvas not live here = %v, %v; want false, nil", ok, err)
	}
	memB.inject(opEpoch, canvases.ErrUnavailable)
	if _, _, _, err := a.EpochOn(ctx, "node-b", id); !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("EpochOn with node-b failing = %v; want unavailable", err)
	}
	if _, _, _, err := a.EpochOn(ctx, "node-gone", id); !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("EpochOn(node-gone) = %v; want unavailable", err)
	}
}

// TestRouterCheckpoint: a checkpoint asked on any node is made by the
// canvas's owner; one the owner cannot make yet (it is behind) is tried
// again until the hold ends, then unavailable.
func TestRouterCheckpoint(t *testing.T) {
	ns := testkit.NATSServer(t)
	live := &liveNodes{names: []string{"node-a", "node-b"}}
	memA, memB := newMemCanvases(), newMemCanvases()
	a := testRouter(t, ns, "node-a", memA, live, func(c *RouterConfig) { c.HoldFor = time.Second })
	testRouter(t, ns, "node-b", memB, live, nil)
	ctx := t.Context()
	id := canvasOwnedBy(t, "node-b", live.names, 0)
	for i := range 3 {
		if _, err := a.Submit(ctx, id, "ann", fmt.Sprint("c", i), nodeOp(fmt.Sprint("n", i))); err != nil {
			t.Fatal(err)
		}
	}
	if seq, err := a.Checkpoint(ctx, id, 3); err != nil || seq != 3 {
		t.Fatalf("Checkpoint(3) = %d, %v; want 3, nil", seq, err)
	}
	if n := memB.callCount(opCheckpoint); n != 1 || memA.callCount(opCheckpoint) != 0 {
		t.Fatalf("checkpoints made: node-b %d, node-a %d; want 1 and 0", n, memA.callCount(opCheckpoint))
	}
	if _, err := a.Checkpoint(ctx, id, 9); !errors.Is(err, canvases.ErrUnavailable) {
		t.Fatalf("Checkpoint(9) of a canvas at 3 = %v; want unavailable", err)
	}
	if n := memB.callCount(opCheckpoint); n < 3 {
		t.Fatalf("node-b was asked %d times in all; want the behind checkpoint tried again", n)
	}
}
