package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestClusterOwnerCutOff: three nodes, each in a network namespace of its
// own; the owner of a canvas is cut off from the other two (its traffic to
// them really dropped; it still reaches PostgreSQL and its own clients)
// while a client on every node writes. The cut-off owner stops writing
// (nothing it is sent is acknowledged; its actor stops), the two others
// take the canvas over and write on; once the network heals, the cut-off
// node's client writes again through the new owner, and every node serves
// one and the same canvas: every acknowledged batch once, seqs contiguous,
// no connection ended.
func TestClusterOwnerCutOff(t *testing.T) {
	nw := newTestNet(t, 3)
	nodes := startClusterOn(t, nw, 3, 3, "OPS_TOKEN", "e2e-ops-token-of-the-cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, sess, cv, owner := ownedCanvas(t, ctx, nodes)

	writers := make([]*writer, len(nodes))
	var majority []*writer
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range nodes {
		w := &writer{c: dialCanvas(t, fmt.Sprintf("client on node-%d", i+1), s, sess.AccessToken, cv.ID),
			pause: 200 * time.Millisecond} // a history page holds them all
		writers[i] = w
		if i != owner {
			majority = append(majority, w)
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stop, fmt.Sprintf("w%d", i+1)) }()
	}
	finish := func() {
		close(stop)
		wg.Wait()
	}
	cutOff := writers[owner]

	time.Sleep(2 * time.Second)
	cutAt := time.Now()
	nw.Cut(owner)
	t.Logf("node-%d (the owner) cut off from the others", owner+1)
	if !writableAgain(majority, cutAt.Add(time.Second), 90*time.Second) {
		finish()
		t.Fatal("the two connected nodes acknowledged nothing in the 90 s after the owner was cut off")
	}
	writable := time.Since(cutAt)
	// The cut-off owner's actor stops: it cannot renew its claim, and it
	// cannot reach a majority of the journal's replicas.
	deadline := time.Now().Add(60 * time.Second)
	for !nodes[owner].LogContains("lost its claim on the canvas") && !nodes[owner].LogContains("another owner appended to the journal") {
		if time.Now().After(deadline) {
			finish()
			t.Fatalf("the cut-off owner node-%d did not log that its canvas actor stopped", owner+1)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // both sides write (or try to) while cut off
	healAt := time.Now()
	nw.Heal(owner)
	t.Logf("healed after %v; the majority was writable again %v after the cut", healAt.Sub(cutAt).Round(time.Millisecond), writable.Round(time.Millisecond))

	// Nothing the cut-off side was sent during the cut was acknowledged
	// (a batch in flight when the cut came may have been, just after it).
	cutOff.c.mu.Lock()
	for k, at := range cutOff.at {
		if at.After(cutAt.Add(2*time.Second)) && at.Before(healAt) {
			cutOff.c.mu.Unlock()
			finish()
			t.Fatalf("the cut-off node's client had batch %s acknowledged %v after the cut, while cut off", cutOff.acked[k], at.Sub(cutAt))
		}
	}
	cutOff.c.mu.Unlock()
	if !writableAgain([]*writer{cutOff}, healAt, 90*time.Second) {
		finish()
		t.Fatalf("the cut-off node-%d's client acknowledged nothing in the 90 s after the network healed", owner+1)
	}
	t.Logf("the cut-off node's client was writable again %v after the heal", sinceFirstAck(cutOff, healAt))
	time.Sleep(2 * time.Second)
	finish()

	// One canvas on every node, with everything acknowledged on it.
	var first Canvas
	for i, s := range nodes {
		got := canvasEventually(t, ctx, &Client{s: s, Token: sess.AccessToken}, cv.ID)
		if i == 0 {
			first = got
			checkWritten(t, got, writers...)
			continue
		}
		if *got.Seq != *first.Seq || !slices.Equal(nodeIDs(got), nodeIDs(first)) {
			t.Fatalf("node-%d serves seq %d with %d nodes; node-1 seq %d with %d nodes", i+1, *got.Seq, len(got.Nodes), *first.Seq, len(first.Nodes))
		}
		seqs := historySeqs(t, ctx, &Client{s: s, Token: sess.AccessToken}, cv.ID)
		if uint64(len(seqs)) != *got.Seq {
			t.Fatalf("node-%d history: %d batches; want %d", i+1, len(seqs), *got.Seq)
		}
		for k, seq := range seqs {
			if seq != uint64(k+1) {
				t.Fatalf("node-%d history: seq %d at position %d; want contiguous from 1", i+1, seq, k+1)
			}
		}
	}
	if p := placeOf(t, nodes[owner], cv.ID); p.Owner == "" {
		t.Fatalf("after healing, node-%d sees no owner of the canvas", owner+1)
	}
	var acked []int
	for _, w := range writers {
		acked = append(acked, len(w.acked))
	}
	t.Logf("owner node-%d cut off: acknowledged per node %v, seqs contiguous to %d on all three", owner+1, acked, *first.Seq)
}

// sinceFirstAck is how long after at w's first acknowledgement came.
func sinceFirstAck(w *writer, at time.Time) time.Duration {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	for _, a := range w.at {
		if a.After(at) {
			return a.Sub(at).Round(time.Millisecond)
		}
	}
	return -1
}
