package e2e

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestClusterRestartsAtOnce: the three nodes of a cluster stop together
// (SIGTERM to all at once, as an operator's "restart everything" does) and
// start again together on the same data, twice; each time every node
// comes up and the canvas holds every batch written before.
func TestClusterRestartsAtOnce(t *testing.T) {
	nodes := startCluster(t, 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ann := nodes[0].NewClient()
	_, err := ann.Register(ctx, "ann@example.com", "correct horse battery", "Ann")
	noErr(t, err)
	cv, err := ann.CreateCanvas(ctx, "Shared")
	noErr(t, err)
	written := 0
	for round := range 3 {
		for k := range 5 {
			_, err := ann.PostOps(ctx, cv.ID, fmt.Sprintf("r%d-%d", round, k), Op{Op: "node.add", ID: fmt.Sprintf("r%d-%d", round, k), Kind: "note"})
			noErr(t, err)
			written++
		}
		if round == 2 {
			break
		}
		var wg sync.WaitGroup
		for _, s := range nodes {
			s.Signal(syscall.SIGTERM)
		}
		for _, s := range nodes {
			_, done := s.current()
			select {
			case <-done:
			case <-time.After(stopTimeout):
				t.Fatalf("round %d: a node did not exit within %v of SIGTERM", round, stopTimeout)
			}
			s.clear()
		}
		errs := make([]error, len(nodes))
		for i, s := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = s.tryStart() }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: node-%d did not start again: %v", round, i+1, err)
			}
		}
		got := canvasEventually(t, ctx, ann, cv.ID)
		if got.Seq == nil || int(*got.Seq) != written || len(got.Nodes) != written {
			t.Fatalf("round %d, after the restart: seq %v with %d cards; want %d", round, got.Seq, len(got.Nodes), written)
		}
	}
	got := canvasEventually(t, ctx, &Client{s: nodes[2], Token: ann.Token}, cv.ID)
	if int(*got.Seq) != written {
		t.Fatalf("node-3 serves seq %d; want %d", *got.Seq, written)
	}
}
