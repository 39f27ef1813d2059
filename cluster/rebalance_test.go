package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// fakeNode is the canvases one node owns, as Owned and Handoff see them.
type fakeNode struct {
	mu    sync.Mutex
	owned []string
	moved []string
}

func (f *fakeNode) Owned(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.owned), nil
}

func (f *fakeNode) Handoff(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owned = slices.DeleteFunc(f.owned, func(s string) bool { return s == id })
	f.moved = append(f.moved, id)
	return nil
}

// TestRebalanceRounds: when a node joins, each round hands off at most a
// tenth of the canvases, only ones the new list places elsewhere, until
// every such canvas has moved; a node that is not live moves nothing.
func TestRebalanceRounds(t *testing.T) {
	f := &fakeNode{}
	for i := range 200 {
		f.owned = append(f.owned, fmt.Sprintf("c%03d", i))
	}
	r := NewRebalancer(RebalanceConfig{Node: "a", Owned: f.Owned, Handoff: f.Handoff})
	if n := r.Round([]string{"a"}); n != 0 {
		t.Fatalf("alone: moved %d; want 0", n)
	}
	if n := r.Round([]string{"b", "c"}); n != 0 {
		t.Fatalf("a not live (leaving): moved %d; want 0", n)
	}
	live := []string{"a", "b", "c"}
	want := 0
	for i := range 200 {
		if Owner(fmt.Sprintf("c%03d", i), live) != "a" {
			want++
		}
	}
	for round := 0; ; round++ {
		before := len(f.owned)
		n := r.Round(live)
		if limit := max(1, before/10); n > limit {
			t.Fatalf("round %d: moved %d of %d; want at most %d", round, n, before, limit)
		}
		if n == 0 {
			break
		}
	}
	if len(f.moved) != want {
		t.Fatalf("moved %d canvases; want the %d that a third and second node take", len(f.moved), want)
	}
	for _, id := range f.moved {
		if Owner(id, live) == "a" {
			t.Fatalf("moved %s, which placement keeps on a", id)
		}
	}
	for _, id := range f.owned {
		if Owner(id, live) != "a" {
			t.Fatalf("kept %s, which placement gives to %s", id, Owner(id, live))
		}
	}
	t.Logf("a third node of three: %d of 200 canvases moved (%.0f%%)", want, 100*float64(want)/200)
}
