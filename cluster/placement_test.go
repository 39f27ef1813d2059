package cluster

import (
	"fmt"
	"testing"
)

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("canvas-%05d", i)
	}
	return out
}

// TestOwnerIsDeterministic: the owner depends on the canvas and the set of
// nodes only, not on their order, and is fixed across processes (the
// weights below are constants, so a seeded hash would fail here).
func TestOwnerIsDeterministic(t *testing.T) {
	nodes := []string{"node-1", "node-2", "node-3"}
	reversed := []string{"node-3", "node-2", "node-1"}
	for _, id := range ids(1000) {
		a, b := Owner(id, nodes), Owner(id, reversed)
		if a != b || a == "" {
			t.Fatalf("Owner(%q): got %q and %q for two orders; want one node", id, a, b)
		}
	}
	if got := Owner("c1", nil); got != "" {
		t.Errorf("Owner with no nodes: got %q; want \"\"", got)
	}
	if got := Owner("c1", []string{"only"}); got != "only" {
		t.Errorf("Owner with one node: got %q; want only", got)
	}
	// FNV-1a 64 of "a\x00b", then splitmix64's finaliser, computed apart
	// from this code.
	if got, want := Weight("b", "a"), uint64(0xeb38c838c62d597e); got != want {
		t.Errorf("Weight(b, a): got %#x; want %#x", got, want)
	}
}

// TestOwnerSharesFairly: 10,000 canvases on three nodes give each node
// close to a third.
func TestOwnerSharesFairly(t *testing.T) {
	nodes := []string{"node-1", "node-2", "node-3"}
	count := map[string]int{}
	for _, id := range ids(10_000) {
		count[Owner(id, nodes)]++
	}
	t.Logf("10,000 canvases on 3 nodes: %v", count)
	for _, n := range nodes {
		// A third is 3333; a fair hash stays within a few percent.
		if c := count[n]; c < 3100 || c > 3570 {
			t.Errorf("%s owns %d of 10,000; want about 3333 (3100-3570)", n, c)
		}
	}
}

// TestOwnerMovesLittle: a fourth node takes about a quarter of the
// canvases, every one of them from the others to itself; removing a node
// moves only the canvases it owned.
func TestOwnerMovesLittle(t *testing.T) {
	three := []string{"node-1", "node-2", "node-3"}
	four := append([]string{"node-4"}, three...)
	moved := 0
	for _, id := range ids(10_000) {
		before, after := Owner(id, three), Owner(id, four)
		if before != after {
			moved++
			if after != "node-4" {
				t.Errorf("%s moved from %s to %s; want moves only to the new node-4", id, before, after)
			}
		}
	}
	t.Logf("adding a 4th node moved %d of 10,000 canvases", moved)
	if moved < 2300 || moved > 2700 {
		t.Errorf("adding a 4th node moved %d of 10,000; want about 2500 (2300-2700)", moved)
	}
	two := []string{"node-1", "node-3"}
	moved = 0
	for _, id := range ids(10_000) {
		before, after := Owner(id, three), Owner(id, two)
		if before != after {
			moved++
			if before != "node-2" {
				t.Errorf("%s moved from %s to %s after node-2 left; want only node-2's canvases to move", id, before, after)
			}
		}
	}
	t.Logf("removing node-2 moved %d of 10,000 canvases", moved)
}
