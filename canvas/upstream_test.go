package canvas

import (
	"fmt"
	"testing"
)

func TestUpstreamOrderAndCycles(t *testing.T) {
	s := NewState("c", Meta{Title: "t"}, Limits{})
	var ops []Op
	for _, id := range []string{"q", "a", "b", "c", "d", "x"} {
		ops = append(ops, Op{Op: OpNodeAdd, ID: id, Kind: "text"})
	}
	// d → c → a → q, b → q, c → b, q → d (a cycle back), x unrelated.
	for i, e := range [][2]string{{"a", "q"}, {"b", "q"}, {"c", "a"}, {"c", "b"}, {"d", "c"}, {"q", "d"}, {"q", "x"}} {
		ops = append(ops, Op{Op: OpEdgeAdd, ID: fmt.Sprint("e", i), Source: e[0], Target: e[1]})
	}
	if _, err := s.Apply(Batch{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range s.Upstream("q") {
		got = append(got, n.ID)
	}
	if fmt.Sprint(got) != "[d c a b]" {
		t.Fatalf("upstream of q: got %v; want [d c a b] (farthest first, ties by id)", got)
	}
	if up := s.Upstream("x"); len(up) != 5 || up[len(up)-1].ID != "q" || up[0].ID != "d" {
		t.Fatalf("upstream of x: got %d nodes; want d first, q last of 5", len(up))
	}
	if up := s.Upstream("missing"); len(up) != 0 {
		t.Fatalf("upstream of a missing node: got %v", up)
	}
}
