package canvas

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
)

// ptr returns a pointer to a copy of v, for the optional fields of Op.
func ptr[T any](v T) *T { return &v }

// raws builds a data, set or settings map from key, JSON-text pairs.
func raws(kv ...string) map[string]json.RawMessage {
	if len(kv)%2 != 0 {
		panic("raws: odd number of arguments")
	}
	m := make(map[string]json.RawMessage, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

// exportJSON is the canonical byte form of s that the guarantees are stated
// in.
func exportJSON(t testing.TB, s *State) []byte {
	t.Helper()
	b, err := json.Marshal(s.Export())
	if err != nil {
		t.Fatalf("marshal export: %v", err)
	}
	return b
}

// mustApply applies b and fails the test if it is rejected or leaves the
// state inconsistent.
func mustApply(t testing.TB, s *State, b Batch) *Undo {
	t.Helper()
	u, err := s.Apply(b)
	if err != nil {
		t.Fatalf("apply %s: %v", opNames(b.Ops), err)
	}
	if u == nil {
		t.Fatalf("apply %s: nil undo without an error", opNames(b.Ops))
	}
	requireConsistent(t, s)
	return u
}

// applyEach applies each op as a batch of its own, all by author "setup".
func applyEach(t testing.TB, s *State, ops []Op) {
	t.Helper()
	for _, op := range ops {
		mustApply(t, s, Batch{Author: "setup", At: 1, Ops: []Op{op}})
	}
}

// asOpError returns err as an *OpError or fails the test.
func asOpError(t testing.TB, err error) *OpError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want an *OpError")
	}
	var oe *OpError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v is a %T; want *OpError", err, err)
	}
	return oe
}

func opNames(ops []Op) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = op.Op
	}
	return fmt.Sprint(names)
}

// requireConsistent fails the test when s breaks an invariant of State.
func requireConsistent(t testing.TB, s *State) {
	t.Helper()
	if err := checkState(s); err != nil {
		t.Fatalf("inconsistent state: %v", err)
	}
}

// checkState checks the invariants every reachable State holds: edges join
// existing nodes, links mirror Edges, caps are respected, maps are keyed by
// the ids they hold, data is never nil and numbers are in range, with no
// negative zero.
func checkState(s *State) error {
	if err := checkLinks(s); err != nil {
		return err
	}
	for id, c := range s.Comments {
		switch {
		case c == nil || c.ID != id:
			return fmt.Errorf("comment under %q is %+v", id, c)
		case c.Thread != "" && (s.Comments[c.Thread] == nil || s.Comments[c.Thread].Thread != ""):
			return fmt.Errorf("comment %q replies to %q, which is not a thread", id, c.Thread)
		case c.Thread != "" && (c.Resolved || c.Node != ""):
			return fmt.Errorf("reply %q has a thread's fields: %+v", id, c)
		}
	}
	if n := len(s.Nodes); n > s.limits.MaxNodes {
		return fmt.Errorf("%d nodes; cap %d", n, s.limits.MaxNodes)
	}
	for id, n := range s.Nodes {
		if n == nil {
			return fmt.Errorf("node %q is nil", id)
		}
		if n.ID != id {
			return fmt.Errorf("node under %q has id %q", id, n.ID)
		}
		if n.Data == nil {
			return fmt.Errorf("node %q has nil data", id)
		}
		if size := dataSize(n.Data); size > s.limits.MaxDataBytes {
			return fmt.Errorf("node %q data is %d bytes; cap %d", id, size, s.limits.MaxDataBytes)
		}
		if !NodeKinds[n.Kind] {
			return fmt.Errorf("node %q has kind %q", id, n.Kind)
		}
		if err := checkGeometry(n); err != nil {
			return fmt.Errorf("node %q: %v", id, err)
		}
		if err := checkZeros(n.Data); err != nil {
			return fmt.Errorf("node %q data: %v", id, err)
		}
	}
	for id, e := range s.Edges {
		if e == nil {
			return fmt.Errorf("edge %q is nil", id)
		}
		if e.ID != id {
			return fmt.Errorf("edge under %q has id %q", id, e.ID)
		}
		if s.Nodes[e.Source] == nil || s.Nodes[e.Target] == nil {
			return fmt.Errorf("edge %q joins %q and %q; a node is missing", id, e.Source, e.Target)
		}
		if e.Source == e.Target {
			return fmt.Errorf("edge %q is a self-loop on %q", id, e.Source)
		}
		if e.Data == nil {
			return fmt.Errorf("edge %q has nil data", id)
		}
		if size := dataSize(e.Data); size > s.limits.MaxDataBytes {
			return fmt.Errorf("edge %q data is %d bytes; cap %d", id, size, s.limits.MaxDataBytes)
		}
		if !EdgeKinds[e.Kind] {
			return fmt.Errorf("edge %q has kind %q", id, e.Kind)
		}
		if err := checkZeros(e.Data); err != nil {
			return fmt.Errorf("edge %q data: %v", id, err)
		}
	}
	if s.Meta.Settings == nil {
		return fmt.Errorf("settings are nil")
	}
	if size := dataSize(s.Meta.Settings); size > MaxSettingsBytes {
		return fmt.Errorf("settings are %d bytes; cap %d", size, MaxSettingsBytes)
	}
	if err := checkZeros(s.Meta.Settings); err != nil {
		return fmt.Errorf("settings: %v", err)
	}
	return nil
}

// checkZeros fails on a negative zero among the values of m: the canvas
// holds -0 as 0.
func checkZeros(m map[string]json.RawMessage) error {
	for k, v := range m {
		if z := negativeZeroIn(v); z != "" {
			return fmt.Errorf("%q holds %s in %s; want it as 0", k, z, v)
		}
	}
	return nil
}

func checkGeometry(n *Node) error {
	for _, v := range [...]float64{n.X, n.Y, n.W, n.H} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("non-finite geometry %v", v)
		}
	}
	if math.Abs(n.X) > MaxCoord || math.Abs(n.Y) > MaxCoord {
		return fmt.Errorf("position (%g, %g) out of range", n.X, n.Y)
	}
	if n.W < 1 || n.W > MaxSize || n.H < 1 || n.H > MaxSize {
		return fmt.Errorf("size %gx%g out of range", n.W, n.H)
	}
	if n.Z < -MaxZ || n.Z > MaxZ {
		return fmt.Errorf("z %d out of range", n.Z)
	}
	if math.Signbit(n.X) && n.X == 0 || math.Signbit(n.Y) && n.Y == 0 {
		return fmt.Errorf("position (%g, %g) has a negative zero; want 0", n.X, n.Y)
	}
	return nil
}

// checkLinks checks that s.links is exactly the index Edges implies: each
// edge listed under both of its ends, nothing else, and no empty sets left
// behind.
func checkLinks(s *State) error {
	want := map[string]map[string]struct{}{}
	for id, e := range s.Edges {
		for _, end := range [2]string{e.Source, e.Target} {
			if want[end] == nil {
				want[end] = map[string]struct{}{}
			}
			want[end][id] = struct{}{}
		}
	}
	for node, set := range s.links {
		if len(set) == 0 {
			return fmt.Errorf("links[%q] is an empty set", node)
		}
		if got, exp := sortedKeys(nil, set), sortedKeys(nil, want[node]); fmt.Sprint(got) != fmt.Sprint(exp) {
			return fmt.Errorf("links[%q]: got %v; want %v", node, got, exp)
		}
	}
	for node, set := range want {
		if _, ok := s.links[node]; !ok {
			return fmt.Errorf("links[%q] missing; want %v", node, sortedKeys(nil, set))
		}
	}
	return nil
}

// fixture is the canvas most tests start from: three nodes and one edge.
func fixture() []Op {
	return []Op{
		{Op: OpNodeAdd, ID: "a", Kind: "text", X: ptr(10.0), Y: ptr(20.0), Data: raws("title", `"A"`)},
		{Op: OpNodeAdd, ID: "b", Kind: "note"},
		{Op: OpNodeAdd, ID: "c", Kind: "ai", Data: raws("model", `"m1"`)},
		{Op: OpEdgeAdd, ID: "ab", Source: "a", Target: "b"},
	}
}

// newFixture returns a state holding fixture() under limits.
func newFixture(t testing.TB, limits Limits) *State {
	t.Helper()
	s := NewState("cv1", Meta{Title: "Board"}, limits)
	applyEach(t, s, fixture())
	return s
}
